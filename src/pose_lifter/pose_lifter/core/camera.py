"""Pinhole camera maths (REP-103 optical frame: x right, y down, z forward).

Like image_geometry's camera models, only plain arrays here; the node converts CameraInfo.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import PoseLifterInputError


class InvalidIntrinsics(PoseLifterInputError):
    """Raised for an intrinsics matrix that cannot describe a pinhole camera."""


# Up to this many entries (N <= 8 matrices) validate_intrinsics checks K as Python floats.
SMALL_K = 72
# Up to this many persons rotation_to_image_point computes in Python floats (numpy's per-call
# cost is most of a frame's time at these sizes).
SMALL_BATCH = 16


def validate_intrinsics(K: np.ndarray) -> np.ndarray:
    """Check a (3, 3) or (N, 3, 3) intrinsics matrix; returns it as float64.

    Raises InvalidIntrinsics for a wrong shape, non-finite entries or a focal length <= 0.
    """
    K = np.asarray(K, dtype=np.float64)
    if K.shape[-2:] != (3, 3) or K.ndim not in (2, 3):
        raise InvalidIntrinsics(f'K must have shape (3, 3) or (N, 3, 3), got {K.shape}')
    if K.size <= SMALL_K:     # a frame's camera(s): plain floats beat numpy's reductions
        rows = K.reshape(-1, 9).tolist()
        # a finite sum means every entry is finite (a NaN or an infinity propagates)
        if math.isfinite(sum(map(sum, rows))) and all(r[0] > 0 and r[4] > 0 for r in rows):
            return K
    if np.isfinite(K).all() and (K[..., 0, 0] > 0).all() and (K[..., 1, 1] > 0).all():
        return K                                  # a large batch (or a sum that overflowed)
    if not np.isfinite(K).all():
        raise InvalidIntrinsics('K has non-finite entries')
    raise InvalidIntrinsics('K has a focal length <= 0 (fx = K[0, 0], fy = K[1, 1])')


def intrinsics(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """(3, 3) pinhole intrinsics."""
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Camera-frame points to pixels.

    points: (N, J, 3) metres (z > 0); K: (3, 3) or (N, 3, 3) -> (N, J, 2) pixels.
    """
    K = np.broadcast_to(np.asarray(K, dtype=np.float64), points.shape[:-2] + (3, 3))
    rays = points / points[..., 2:3]
    return (rays @ np.swapaxes(K, -1, -2))[..., :2]


def pixels_to_normalized(pixels: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pixels to normalised image coordinates (x/z, y/z).

    pixels: (N, J, 2); K: (3, 3) or (N, 3, 3) -> (N, J, 2).
    """
    K = np.asarray(K, dtype=np.float64)
    if K.ndim == 2 or len(K) == 1:       # one camera for the batch (a frame): two operations
        fx, skew, cx, _, fy, cy = K.reshape(9)[:6].tolist()
        if skew == 0.0:
            return (pixels - np.array((cx, cy))) / np.array((fx, fy))
    k = K.reshape(-1, 9)[:, :, None] if K.ndim == 3 else K.reshape(1, 9, 1)  # (N|1, 9, 1)
    out = np.empty(pixels.shape)
    out[..., 1] = (pixels[..., 1] - k[:, 5]) / k[:, 4]
    out[..., 0] = (pixels[..., 0] - k[:, 2] - k[:, 1] * out[..., 1]) / k[:, 0]
    return out


def rotation_to_optical_axis(ray: np.ndarray) -> np.ndarray:
    """Smallest rotation taking the direction ``ray`` onto the optical axis (0, 0, 1).

    ray: (N, 3) -> R (N, 3, 3) with R @ ray / |ray| = e_z. Applying R to a camera's rays gives
    the view of a virtual camera turned to look straight at the ray (a perspective-correct
    crop), which removes the off-centre perspective distortion of people near the image edge.
    """
    ray = np.asarray(ray, dtype=np.float64)
    r = ray / np.sqrt((ray * ray).sum(axis=-1, keepdims=True))
    x, y, c = r[..., 0], r[..., 1], r[..., 2]
    # Rodrigues about the axis r x e_z = (y, -x, 0) / sin, in closed form (c = cos > -1)
    if (c <= -1.0 + 1e-12).any():
        raise ValueError('rotation_to_optical_axis: a ray points straight backwards')
    xf, yf = x / (1.0 + c), y / (1.0 + c)
    # one stack of the nine entries (row-major) instead of nine item assignments
    return np.stack([1.0 - x * xf, -x * yf, -x,
                     -x * yf, 1.0 - y * yf, -y,
                     x, y, c], axis=-1).reshape(r.shape[:-1] + (3, 3))


def finite_points(points: np.ndarray) -> np.ndarray:
    """(..., D) -> (...) bool: every coordinate finite (``np.isfinite(p).all(-1)`` without the
    slow boolean reduction; it runs on every frame)."""
    out = np.isfinite(points[..., 0])
    for d in range(1, points.shape[-1]):
        out &= np.isfinite(points[..., d])
    return out


_EYE2 = np.eye(2)
_EYE2.flags.writeable = False


def rotation_to_image_point(xy: np.ndarray) -> np.ndarray:
    """``rotation_to_optical_axis`` of the rays (x, y, 1) through normalised image points.

    xy: (N, 2) -> R (N, 3, 3). Such a ray never points backwards, so this needs no check and
    fewer steps than the general form (it runs on every frame): with (x, y, c) the unit ray
    and f = (x, y) / (1 + c), R = [[I - (x, y)^T f, -(x, y)^T], [(x, y), c]].
    """
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim == 2 and len(xy) <= SMALL_BATCH:   # a frame: plain floats, one array at the end
        rows = []
        for x, y in xy.tolist():
            c = 1.0 / math.sqrt(1.0 + x * x + y * y)
            vx, vy = x * c, y * c
            fx, fy = vx / (1.0 + c), vy / (1.0 + c)
            rows.append((1.0 - vx * fx, -vx * fy, -vx, -vy * fx, 1.0 - vy * fy, -vy, vx, vy, c))
        return np.array(rows).reshape(len(xy), 3, 3)
    c = 1.0 / np.sqrt(1.0 + (xy * xy).sum(axis=-1))                   # (N,)
    v = xy * c[..., None]                                              # (N, 2)
    R = np.empty(xy.shape[:-1] + (3, 3))
    R[..., :2, :2] = _EYE2 - v[..., :, None] * (v / (1.0 + c)[..., None])[..., None, :]
    R[..., :2, 2] = -v
    R[..., 2, :2] = v
    R[..., 2, 2] = c
    return R


def rotate_image_points(points: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Normalised image points through a camera rotation.

    points: (N, J, 2) normalised coordinates; R: (N, 3, 3) -> (N, J, 2) in the rotated camera.
    """
    # R @ (x, y, 1) for every point: (N, J, 2) @ (N, 2, 3) + the third column
    rotated = points @ np.swapaxes(R[..., :2], -1, -2) + R[..., None, :, 2]
    return rotated[..., :2] / rotated[..., 2:3]
