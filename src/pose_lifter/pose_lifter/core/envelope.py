"""The operating envelope: where a lifted person can possibly be.

Checked before lifting (keypoints inside the image, with a margin) and after placement (root
depth and distance, metric size against the body-size prior). A person outside it gets a
status of its own and is never ``ok`` or plausible: keypoints 1e7 px off the image, all
coordinates times 1e17, or absurd distortion coefficients would otherwise be published as a
plausible person kilometres away or beside the camera. Pure functions on arrays.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import InputContractError
from .skeleton import H36M17, bone_lengths

STATUS_OUTSIDE_IMAGE = 'outside_image'
STATUS_OUT_OF_RANGE = 'out_of_range'


@dataclass(frozen=True)
class Envelope:
    """Limits of a plausible placement (the node's ``envelope_*`` parameters).

    image_margin: keypoints may lie this fraction of the image width/height outside it
    (detectors extrapolate cut-off limbs); min_depth_m: the root at least this far in front of
    the camera (optical axis); max_depth_m: the root at most this far from the camera;
    max_size_ratio: the metric bone-length sum within [prior / ratio, prior * ratio].
    """

    image_margin: float
    min_depth_m: float
    max_depth_m: float
    max_size_ratio: float

    def __post_init__(self):
        if not (np.isfinite([self.image_margin, self.min_depth_m, self.max_depth_m,
                             self.max_size_ratio]).all() and self.image_margin >= 0
                and 0 <= self.min_depth_m < self.max_depth_m and self.max_size_ratio >= 1):
            raise InputContractError(
                f'envelope limits need image_margin >= 0, 0 <= min_depth_m < max_depth_m and '
                f'max_size_ratio >= 1, got {self}')


def image_sizes(image_size, n: int) -> np.ndarray | None:
    """(w, h), an (N, 2) array or None -> (1, 2) or (N, 2) float64, or None when no size is known.

    Rows with a width or height <= 0 (unknown, e.g. CameraInfo without width/height) are NaN:
    their persons skip the image check.
    """
    if image_size is None:
        return None
    size = np.asarray(image_size, dtype=np.float64)
    if size.shape == (2,):         # one camera (every frame of the node): plain floats
        w, h = size.tolist()
        return size[None] if math.isfinite(w + h) and w > 0 and h > 0 else None
    if size.shape != (n, 2):
        raise InputContractError(f'image_size must be (w, h) or (N, 2), got {size.shape} for '
                                 f'{n} persons')
    known = np.isfinite(size).all(axis=1) & (size > 0).all(axis=1)
    if not known.any():
        return None
    return np.where(known[:, None], size, np.nan)


def outside_image(keypoints: np.ndarray, valid: np.ndarray, size: np.ndarray | None,
                  margin: float) -> np.ndarray:
    """Persons with a valid keypoint outside the image extended by ``margin`` x its size.

    keypoints: (N, J, 2) pixels; valid: (N, J) bool; size: (N, 2) or (1, 2) width/height (NaN
    rows: unknown) or None -> (N,) bool. (Comparisons with NaN are False: missing joints and
    unknown sizes never count as outside.)
    """
    if size is None:
        return np.zeros(len(keypoints), bool)
    size = size[:, None, :]
    out = ((keypoints < -margin * size) | (keypoints > (1.0 + margin) * size)).any(axis=-1)
    return (out & valid).any(axis=-1)


def out_of_range(joints: np.ndarray, bone_sum_m: float, envelope: Envelope) -> np.ndarray:
    """Placed persons outside the depth/size limits (or not finite).

    joints: (N, 17, 3) metres in the camera optical frame (z forward) -> (N,) bool.
    """
    finite = np.isfinite(joints).all(axis=(1, 2))
    j = joints if finite.all() else np.where(finite[:, None, None], joints, 0.0)
    root = j[:, H36M17.root]
    distance = np.sqrt((root * root).sum(axis=-1))
    size = bone_lengths(j).sum(axis=-1) / bone_sum_m
    inside = ((root[:, 2] >= envelope.min_depth_m) & (distance <= envelope.max_depth_m)
              & (size >= 1.0 / envelope.max_size_ratio) & (size <= envelope.max_size_ratio))
    return ~(finite & inside)
