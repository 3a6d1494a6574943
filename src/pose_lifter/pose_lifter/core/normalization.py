"""The normalisation contract: what the network sees, the same in training and in the node.

Steps for one person (one preprocessing, shipped with the model; docs/model-contract.md):

1. Pixels -> normalised image coordinates with the intrinsics (done by the caller).
2. Turn a virtual camera to look straight at the root joint (``rotation_to_image_point``), so
   a person at the image edge is seen as if centred: the lifter never has to learn the
   off-centre perspective of wide-angle cameras.
3. Root-centre and divide by ``depth`` times the 2D length of the scale chain (head, thorax,
   spine, pelvis), so that every pose's chain measures 1 / depth. This is the per-pose form of
   the thesis' scaling (Chen et al. 2019: 2D scaled to 1/c, 3D placed at depth c); the thesis'
   global per-file constant cannot be used on a live camera whose people are 3 to 30 m away.
4. Drop the root; missing joints become 0.

The network's output lives in body units in the virtual camera frame: placed at depth ``depth``
on the optical axis it reprojects onto the normalised 2D.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from .camera import rotate_image_points, rotation_to_image_point
from .skeleton import H36M17, Skeleton

METHOD = 'virtual_camera_chain'


@dataclass(frozen=True)
class NormalisationSpec:
    """Constants of the normalisation, stored in the model contract."""

    method: str = METHOD
    depth: float = 10.0
    root: str = 'pelvis'
    chain: tuple[str, ...] = H36M17.scale_chain

    def to_dict(self) -> dict:
        d = asdict(self)
        d['chain'] = list(self.chain)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> 'NormalisationSpec':
        if d.get('method') != METHOD:
            raise ValueError(f'unknown normalisation method {d.get("method")!r}; '
                             f'this version understands {METHOD!r}')
        return cls(method=d['method'], depth=float(d['depth']), root=d['root'],
                   chain=tuple(d['chain']))


@dataclass
class Normalised:
    """Result of ``normalise`` for a batch of N persons with J joints."""

    inputs: np.ndarray      # (N, J-1, 2) network input, 0 for missing joints
    scale: np.ndarray       # (N,) s: virtual-camera coordinates = inputs * s
    rotation: np.ndarray    # (N, 3, 3) camera -> virtual camera
    virtual: np.ndarray     # (N, J, 2) normalised coordinates in the virtual camera, NaN missing
    ok: np.ndarray          # (N,) bool: root and scale chain present, scale > 0


def normalise(points: np.ndarray, spec: NormalisationSpec = NormalisationSpec(),
              skeleton: Skeleton = H36M17) -> Normalised:
    """Normalise a batch of 2D poses.

    points: (N, J, 2) normalised image coordinates (x/z, y/z) with NaN for missing joints.
    """
    points = np.asarray(points, dtype=np.float64)
    root, top, bottom, needs, keep = _indices(spec.root, spec.chain, skeleton)
    needed = np.isfinite(points.take(needs, axis=1)).all(axis=(-1, -2))
    rotation = rotation_to_image_point(np.where(needed[:, None], points[:, root], 0.0))
    virtual = rotate_image_points(points, rotation)
    virtual -= virtual[:, root:root + 1]
    seg = virtual.take(top, axis=1) - virtual.take(bottom, axis=1)
    scale = spec.depth * np.sqrt((seg * seg).sum(axis=-1)).sum(axis=-1)
    ok = needed & np.isfinite(scale) & (scale > 1e-9)
    inputs = virtual[:, keep] / np.where(ok, scale, 1.0)[:, None, None]
    inputs[~(np.isfinite(inputs) & ok[:, None, None])] = 0.0
    return Normalised(inputs=inputs.astype(np.float32), scale=scale,
                      rotation=rotation, virtual=virtual, ok=ok)


@lru_cache(maxsize=16)
def _indices(root_name: str, chain_names: tuple[str, ...], skeleton: Skeleton
             ) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, slice | np.ndarray]:
    """root, the scale chain's segment ends (upper, lower), the joints normalisation needs,
    and the other joints (``Skeleton.non_root_index`` when the root is the skeleton's)."""
    root = skeleton.index(root_name)
    chain = np.array([skeleton.index(j) for j in chain_names])
    keep = skeleton.non_root_index if root == skeleton.root else \
        np.array([j for j in range(skeleton.num_joints) if j != root])
    return root, chain[:-1], chain[1:], np.append(chain, root), keep


def normalise_camera_points(points3d: np.ndarray, spec: NormalisationSpec = NormalisationSpec(),
                            skeleton: Skeleton = H36M17) -> tuple[Normalised, np.ndarray]:
    """Project camera-frame 3D poses and normalise them (training and evaluation data).

    points3d: (N, J, 3) camera frame, z > 0. Returns the Normalised 2D and the root-relative
    3D pose in the virtual camera frame, (N, J, 3), in the input's units.
    """
    norm = normalise(points3d[..., :2] / points3d[..., 2:3], spec, skeleton)
    root = skeleton.index(spec.root)
    rel = points3d - points3d[:, root:root + 1]
    return norm, rel @ np.swapaxes(norm.rotation, -1, -2)

