"""Detector-format keypoints synthesised from H36M-17 3D poses (for test bags and adapters).

COCO-17 has five face points (nose, eyes, ears) that Human3.6M/CMU mocap does not record. This
module derives them from the H36M head geometry so that bags in ``coco17`` exercise the COCO
adapter (core/adapters.py) end to end. **An approximation**: the face points are placed with
fixed anthropometric ratios in a head frame built from the skeleton, not measured; real
detectors put them elsewhere by a few centimetres, and the adapter's derived H36M ``head``
differs from the mocap ``head`` accordingly (``bag score`` measures that cost).

Head frame (any right-handed frame, any units): ``up`` = thorax -> head, ``left`` =
r_shoulder -> l_shoulder made orthogonal to ``up``, ``forward`` = left x up (where the person
faces), ``s`` = |head - neck_nose| (about 0.15 m on the CMU data). Then

- nose = neck_nose (the H36M joint sits at the nose);
- eyes = nose + 0.25 s up - 0.15 s forward -+ 0.22 s left (about 3.5 cm above the nose tip,
  6.5 cm apart);
- ears = nose + 0.15 s up - 0.65 s forward -+ 0.50 s left (about 10 cm behind the nose tip,
  15 cm apart);
- shoulders, elbows, wrists, hips, knees, ankles: the H36M joints of the same name.
"""
from __future__ import annotations

import numpy as np

from .adapters import COCO17_NAMES
from .skeleton import H36M17

# (up, forward, left) offsets of the face points from the nose, in units of |head - nose|.
FACE_OFFSETS: dict[str, tuple[float, float, float]] = {
    'l_eye': (0.25, -0.15, 0.22),
    'r_eye': (0.25, -0.15, -0.22),
    'l_ear': (0.15, -0.65, 0.50),
    'r_ear': (0.15, -0.65, -0.50),
}


def _unit(v: np.ndarray) -> np.ndarray:
    """(..., 3) -> unit vectors (zero vectors stay zero)."""
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, n, out=np.zeros_like(v), where=n > 1e-12)


def head_frame(h36m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Head frame of H36M-17 poses.

    h36m: (..., 17, 3) -> up, forward, left (..., 3) unit vectors and head size s (...,).
    """
    j = H36M17.index
    up = _unit(h36m[..., j('head'), :] - h36m[..., j('thorax'), :])
    across = h36m[..., j('l_shoulder'), :] - h36m[..., j('r_shoulder'), :]
    left = _unit(across - (across * up).sum(-1, keepdims=True) * up)
    forward = np.cross(left, up)
    size = np.linalg.norm(h36m[..., j('head'), :] - h36m[..., j('neck_nose'), :], axis=-1)
    return up, forward, left, size


def coco17_from_h36m17(h36m: np.ndarray) -> np.ndarray:
    """COCO-17 3D keypoints from H36M-17 3D poses (approximate face points, see module doc).

    h36m: (..., 17, 3) in any units -> (..., 17, 3) in COCO17_NAMES order, same units.
    Non-finite inputs give non-finite outputs where they are used.
    """
    h36m = np.asarray(h36m, dtype=np.float64)
    if h36m.shape[-2:] != (H36M17.num_joints, 3):
        raise ValueError(f'h36m17 poses must have shape (..., 17, 3), got {h36m.shape}')
    up, forward, left, size = head_frame(h36m)
    nose = h36m[..., H36M17.index('neck_nose'), :]
    out = np.empty(h36m.shape[:-2] + (len(COCO17_NAMES), 3))
    for c, name in enumerate(COCO17_NAMES):
        if name == 'nose':
            out[..., c, :] = nose
        elif name in FACE_OFFSETS:
            a, b, d = FACE_OFFSETS[name]
            out[..., c, :] = nose + size[..., None] * (a * up + b * forward + d * left)
        else:
            out[..., c, :] = h36m[..., H36M17.index(name), :]
    return out


def from_h36m17(h36m: np.ndarray, joint_format: str) -> np.ndarray:
    """3D keypoints of ``joint_format`` ('h36m17' | 'coco17') from (..., 17, 3) H36M poses."""
    if joint_format == H36M17.name:
        return np.asarray(h36m, dtype=np.float64).copy()
    if joint_format == 'coco17':
        return coco17_from_h36m17(h36m)
    raise ValueError(f'cannot synthesise joint_format {joint_format!r}; '
                     f'supported: {list(SYNTH_FORMATS)}')


SYNTH_FORMATS = (H36M17.name, 'coco17')
