"""Lens distortion: pixel keypoints of a distorted image -> ideal pinhole pixels of the same K.

The camera model mirrors sensor_msgs/CameraInfo (``distortion_model``, ``D``, ``K``, ``P``)
as plain arrays, like image_geometry's ``PinholeCameraModel``; only the node reads messages.
Undistortion uses OpenCV with ``P = K``, so the output stays in pixels of the same intrinsics
and the lifting pipeline can use K unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import validate_intrinsics
from .errors import PoseLifterInputError, clip

PLUMB_BOB = 'plumb_bob'
RATIONAL_POLYNOMIAL = 'rational_polynomial'
EQUIDISTANT = 'equidistant'
# Coefficient counts OpenCV accepts per model (CameraInfo D may be shorter: zero-padded).
MODEL_COEFFICIENTS = {PLUMB_BOB: (5,), RATIONAL_POLYNOMIAL: (8, 12, 14), EQUIDISTANT: (4,)}
# Iterative undistortion: converge far below a pixel even for strong distortion.
_CRITERIA = (3, 100, 1e-12)  # cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, iterations, eps
# An undistorted point that does not distort back onto its input within this many pixels lies
# where the lens model has no inverse (beyond its valid field, absurd coefficients): missing.
ROUND_TRIP_PX = 1.0


class UnknownDistortionModel(PoseLifterInputError):
    """A ``distortion_model`` (or coefficient count) this module cannot undo."""


@dataclass(frozen=True)
class CameraModel:
    """Intrinsics and distortion of one camera (CameraInfo as arrays)."""

    K: np.ndarray                     # (3, 3) intrinsics of the raw (distorted) image
    D: np.ndarray                     # (k,) distortion coefficients; empty = none
    distortion_model: str = PLUMB_BOB
    P: np.ndarray | None = None       # (3, 4) projection of the rectified image, if known

    @classmethod
    def from_arrays(cls, k: np.ndarray, d: np.ndarray, distortion_model: str,
                    p: np.ndarray | None = None) -> 'CameraModel':
        """k: 9 values (row-major K), d: (k,), p: 12 values or None. Validates K (raises
        camera.InvalidIntrinsics) and the distortion model (raises UnknownDistortionModel)."""
        K = validate_intrinsics(np.asarray(k, dtype=np.float64).reshape(3, 3))
        D = np.asarray(d, dtype=np.float64).ravel()
        if not np.isfinite(D).all():
            raise UnknownDistortionModel('distortion coefficients are not finite')
        model = distortion_model or PLUMB_BOB
        if D.any():
            _coefficients(model, D)  # validate now, once per camera
        P = None
        if p is not None and len(p) == 12 and np.any(p):
            P = np.asarray(p, dtype=np.float64).reshape(3, 4)
            validate_intrinsics(P[:, :3])  # once per camera, not per frame in rectified_K
        return cls(K, D, model, P)

    @property
    def distorted(self) -> bool:
        return bool(self.D.size and self.D.any())

    def rectified_K(self) -> np.ndarray:
        """(3, 3) intrinsics of the rectified image: P[:, :3] where given, else K."""
        return self.K if self.P is None else self.P[:, :3]


def _coefficients(model: str, D: np.ndarray) -> np.ndarray:
    """D padded with zeros to the nearest count OpenCV accepts for ``model``."""
    counts = MODEL_COEFFICIENTS.get(model)
    if counts is None:
        raise UnknownDistortionModel(f'unknown distortion_model {clip(model)}; supported: '
                                     f'{sorted(MODEL_COEFFICIENTS)}')
    fit = [c for c in counts if c >= len(D)]
    if not fit:
        raise UnknownDistortionModel(f'{model} takes at most {max(counts)} coefficients, '
                                     f'got {len(D)}')
    return np.concatenate([D, np.zeros(fit[0] - len(D))])


def undistort_points(pixels: np.ndarray, camera: CameraModel) -> np.ndarray:
    """Undistort pixel keypoints.

    pixels: (..., 2) in the distorted image -> (..., 2) ideal pinhole pixels of ``camera.K``.
    Non-finite points stay NaN, and so do points the lens model cannot undo (their undistorted
    position does not distort back onto them within ``ROUND_TRIP_PX``). Raises
    UnknownDistortionModel for a model OpenCV cannot undo.
    """
    pts = np.asarray(pixels, dtype=np.float64)
    if not camera.distorted:
        return pts.copy()
    import cv2

    D = _coefficients(camera.distortion_model, camera.D)
    flat = pts.reshape(-1, 2)
    out = np.full_like(flat, np.nan)
    ok = np.isfinite(flat).all(axis=-1)
    if ok.any():
        src = np.ascontiguousarray(flat[ok]).reshape(-1, 1, 2)
        if camera.distortion_model == EQUIDISTANT:
            dst = cv2.fisheye.undistortPoints(src, camera.K, D, R=np.eye(3), P=camera.K,
                                              criteria=_CRITERIA)
        else:
            dst = cv2.undistortPoints(src, camera.K, D, R=np.eye(3), P=camera.K,
                                      criteria=_CRITERIA)
        back = distort_points(dst.reshape(-1, 2), camera, D)
        good = np.linalg.norm(back - flat[ok], axis=-1) <= ROUND_TRIP_PX
        out[ok] = np.where(good[:, None], dst.reshape(-1, 2), np.nan)
    return out.reshape(pts.shape)


def distort_points(pixels: np.ndarray, camera: CameraModel, D: np.ndarray) -> np.ndarray:
    """Ideal pinhole pixels (M, 2) of ``camera.K`` -> pixels (M, 2) of the distorted image."""
    import cv2

    if len(pixels) == 0:
        return np.zeros((0, 2))
    rays = np.concatenate([pixels, np.ones((len(pixels), 1))], axis=-1) @ \
        np.linalg.inv(camera.K).T
    if camera.distortion_model == EQUIDISTANT:
        back = cv2.fisheye.distortPoints(np.ascontiguousarray(rays[:, None, :2]), camera.K, D)
    else:
        back, _ = cv2.projectPoints(np.ascontiguousarray(rays[:, None, :]), np.zeros(3),
                                    np.zeros(3), camera.K, D)
    return back.reshape(-1, 2)
