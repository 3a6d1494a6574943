"""Skeleton tables: the canonical Human3.6M-17 layout and everything derived from it.

Everything that depends on the joint layout (network sizes, flip augmentation, bones for
markers and plots, the normalisation chain) is derived from these tables, never from literals.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


def _frozen(values) -> np.ndarray:
    """A read-only int array (the tables below are computed once and shared)."""
    arr = np.array(values, dtype=np.int64)
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True)
class Skeleton:
    """A kinematic tree with named joints and left/right symmetry."""

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    # Joints whose chain fixes the 2D scale of a pose (ordered from the top down to the root).
    scale_chain: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.joint_names) != len(self.parents):
            raise ValueError('joint_names and parents differ in length')
        if sum(p < 0 for p in self.parents) != 1:
            raise ValueError('a skeleton needs exactly one root')

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @cached_property
    def root(self) -> int:
        return self.parents.index(-1)

    @cached_property
    def non_root(self) -> np.ndarray:
        """Indices of the joints the network sees, (J-1,) (read-only)."""
        return _frozen([j for j in range(self.num_joints) if j != self.root])

    @cached_property
    def non_root_index(self) -> slice | np.ndarray:
        """``non_root`` as an index: a slice where the root is the first joint (a view, and
        cheaper per frame than an index array)."""
        return slice(1, None) if self.root == 0 else self.non_root

    @cached_property
    def bones(self) -> np.ndarray:
        """(J-1, 2) int pairs (parent, child) (read-only)."""
        return _frozen([(p, c) for c, p in enumerate(self.parents) if p >= 0])

    @cached_property
    def bone_ends(self) -> tuple[np.ndarray, np.ndarray | slice]:
        """Parents (J-1,) and children of ``bones`` as indices for ``bone_lengths``: the
        children as a slice where they are consecutive (cheaper than an index array)."""
        parents, children = self.bones[:, 0], self.bones[:, 1]
        if (np.diff(children) == 1).all():
            children = slice(int(children[0]), int(children[-1]) + 1)
        return parents, children

    def index(self, name: str) -> int:
        return self.joint_names.index(name)

    @cached_property
    def flip_permutation(self) -> np.ndarray:
        """(J,) permutation swapping every ``l_*`` joint with its ``r_*`` twin (read-only)."""
        perm = list(range(self.num_joints))
        for j, name in enumerate(self.joint_names):
            for a, b in (('l_', 'r_'), ('r_', 'l_')):
                if name.startswith(a):
                    perm[j] = self.index(b + name[len(a):])
        return _frozen(perm)

    @cached_property
    def side(self) -> np.ndarray:
        """(J,) +1 for left joints, -1 for right joints, 0 on the midline (read-only)."""
        return _frozen([1 if n.startswith('l_') else -1 if n.startswith('r_') else 0
                        for n in self.joint_names])

    @cached_property
    def scale_chain_indices(self) -> np.ndarray:
        """(C,) joint indices of the scale chain (read-only)."""
        return _frozen([self.index(n) for n in self.scale_chain])


H36M17 = Skeleton(
    name='h36m17',
    joint_names=('pelvis', 'r_hip', 'r_knee', 'r_ankle', 'l_hip', 'l_knee', 'l_ankle', 'spine',
                 'thorax', 'neck_nose', 'head', 'l_shoulder', 'l_elbow', 'l_wrist',
                 'r_shoulder', 'r_elbow', 'r_wrist'),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    # Thesis normalisation: head -> thorax -> spine -> pelvis 2D chain length.
    scale_chain=('head', 'thorax', 'spine', 'pelvis'),
)


def chain_length(points: np.ndarray, skeleton: Skeleton = H36M17) -> np.ndarray:
    """Length of the skeleton's scale chain.

    points: (..., J, D) -> (...,)
    """
    idx = skeleton.scale_chain_indices
    seg = points[..., idx[:-1], :] - points[..., idx[1:], :]
    return np.sqrt((seg * seg).sum(axis=-1)).sum(axis=-1)


def bone_lengths(points: np.ndarray, skeleton: Skeleton = H36M17) -> np.ndarray:
    """(..., J, D) -> (..., J-1) lengths of the skeleton's bones (order of ``skeleton.bones``)."""
    parents, children = skeleton.bone_ends
    d = points[..., children, :] - points.take(parents, axis=-2)   # take: 2x cheaper than [...]
    return np.sqrt((d * d).sum(axis=-1))


def flip_left_right(points: np.ndarray, skeleton: Skeleton = H36M17) -> np.ndarray:
    """Mirror a pose in its own x axis and swap left/right labels: (..., J, D) -> (..., J, D).

    The result is again a pose of a real (non-mirrored) body, seen in a mirror.
    """
    out = points[..., skeleton.flip_permutation, :].copy()
    out[..., 0] = -out[..., 0]
    return out
