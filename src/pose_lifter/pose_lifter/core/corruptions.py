"""Corrupted poses for gating tests: realistic-looking failures a realism gate should reject.

numpy only; works on 2D or 3D poses in any unit (pixels, normalised, metres) because every
magnitude is relative to the pose's own size. Missing joints (NaN) stay missing. Used by the
training evaluation (gating ROC-AUC) and the rosbag tools.

Kinds:
- ``displace``: 2 to 3 random non-root joints moved by 0.5 to 1 times the pose's RMS radius.
- ``limb_swap``: one limb pair (arms or legs, never both) gets its left/right labels swapped,
  the classic detector error that twists the body.
- ``shuffle``: the non-root joints are randomly permuted.
- ``noise``: every joint drawn uniformly inside the pose's bounding box.
"""
from __future__ import annotations

import numpy as np

from .skeleton import H36M17, Skeleton

KINDS = ('displace', 'limb_swap', 'shuffle', 'noise')


def limbs(skeleton: Skeleton = H36M17) -> list[np.ndarray]:
    """Left limbs as joint-index chains starting at a side joint attached to the midline."""
    side, parents = skeleton.side, np.asarray(skeleton.parents)
    out = []
    for j in range(skeleton.num_joints):
        if side[j] == 1 and side[parents[j]] == 0:
            chain, frontier = [j], [j]
            while frontier:
                kids = [c for c in range(skeleton.num_joints) if parents[c] in frontier]
                chain += kids
                frontier = kids
            out.append(np.array(chain))
    return out


def _radius(pose: np.ndarray) -> float:
    """RMS distance of the valid joints to their centroid; pose (J, D)."""
    valid = pose[np.isfinite(pose).all(-1)]
    if len(valid) < 2:
        return 0.0
    return float(np.sqrt(((valid - valid.mean(0)) ** 2).sum(-1).mean()))


def _displace(pose: np.ndarray, rng: np.random.Generator, skeleton: Skeleton) -> np.ndarray:
    out = pose.copy()
    joints = rng.choice(skeleton.non_root, size=rng.integers(2, 4), replace=False)
    d = rng.normal(size=(len(joints), pose.shape[-1]))
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    out[joints] += d * rng.uniform(0.5, 1.0, (len(joints), 1)) * _radius(pose)
    return out


def _limb_swap(pose: np.ndarray, rng: np.random.Generator, skeleton: Skeleton) -> np.ndarray:
    out = pose.copy()
    left = limbs(skeleton)[rng.integers(len(limbs(skeleton)))]
    right = skeleton.flip_permutation[left]
    out[left], out[right] = pose[right], pose[left]
    return out


def _shuffle(pose: np.ndarray, rng: np.random.Generator, skeleton: Skeleton) -> np.ndarray:
    out = pose.copy()
    idx = skeleton.non_root
    out[idx] = pose[rng.permutation(idx)]
    return out


def _noise(pose: np.ndarray, rng: np.random.Generator, skeleton: Skeleton) -> np.ndarray:
    valid = pose[np.isfinite(pose).all(-1)]
    if len(valid) == 0:
        return pose.copy()
    lo, hi = valid.min(0), valid.max(0)
    return rng.uniform(lo, hi, pose.shape)


_GENERATORS = {'displace': _displace, 'limb_swap': _limb_swap, 'shuffle': _shuffle,
               'noise': _noise}


def corrupt(points: np.ndarray, kind: str, rng: np.random.Generator,
            skeleton: Skeleton = H36M17) -> np.ndarray:
    """Corrupt every pose of (N, J, D) ``points`` with ``kind``; returns (N, J, D)."""
    if kind not in _GENERATORS:
        raise ValueError(f'unknown corruption {kind!r}; known: {list(KINDS)}')
    points = np.asarray(points, dtype=np.float64)
    out = np.stack([_GENERATORS[kind](p, rng, skeleton) for p in points]) if len(points) \
        else points.copy()
    out[~np.isfinite(points)] = np.nan
    return out


def corrupt_mixed(points: np.ndarray, rng: np.random.Generator,
                  kinds: tuple[str, ...] = KINDS, skeleton: Skeleton = H36M17
                  ) -> tuple[np.ndarray, np.ndarray]:
    """One random kind per pose: (N, J, D) -> corrupted (N, J, D), kind labels (N,) str."""
    points = np.asarray(points, dtype=np.float64)
    labels = np.asarray(kinds)[rng.integers(len(kinds), size=len(points))]
    out = points.copy()
    for kind in kinds:
        rows = labels == kind
        if rows.any():
            out[rows] = corrupt(points[rows], kind, rng, skeleton)
    return out, labels
