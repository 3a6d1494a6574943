"""A detector noise model: what real 2D keypoint detectors do to projected mocap.

Used to train the lifter on detector-like input, to calibrate the realism threshold on the
input it will meet, and by the rosbag tools to make test bags. numpy only.

For a person with pixel height ``h`` (extent of its valid keypoints), joint ``j`` gets
isotropic Gaussian pixel noise of standard deviation

    sigma_j = noise_px + size_frac * h * kappa_j / mean(kappa)

where ``kappa_j`` is the COCO keypoint-annotation spread of that joint (the per-keypoint
constants of the COCO OKS metric: faces are located precisely, hips loosely). ``noise_px`` is a
floor in pixels (blur, resolution), ``size_frac`` the part that grows with the person. A share
``low_conf_prob`` of joints are badly localised (``low_conf_factor`` x sigma) and a share
``drop_prob`` is not detected at all (NaN, confidence 0).

Confidence follows the error, as a detector's heatmap peak does:
``c = exp(-|e|^2 / (2 (2 sigma_ref)^2)) * U(0.85, 1)``, with ``sigma_ref`` the joint's
well-localised sigma, so a badly localised joint gets a low confidence (mostly < 0.3).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .adapters import JOINT_FORMATS
from .camera import project
from .synth_keypoints import from_h36m17

# COCO OKS per-keypoint constants (Ronchi & Perona 2017; cocoapi), by joint name. Joints that
# COCO does not annotate get the value of the keypoints an adapter derives them from.
KAPPA: dict[str, float] = {
    'nose': 0.026, 'l_eye': 0.025, 'r_eye': 0.025, 'l_ear': 0.035, 'r_ear': 0.035,
    'l_shoulder': 0.079, 'r_shoulder': 0.079, 'l_elbow': 0.072, 'r_elbow': 0.072,
    'l_wrist': 0.062, 'r_wrist': 0.062, 'l_hip': 0.107, 'r_hip': 0.107,
    'l_knee': 0.087, 'r_knee': 0.087, 'l_ankle': 0.089, 'r_ankle': 0.089,
    # derived or detector-specific joints
    'pelvis': 0.107, 'mid_hip': 0.107, 'spine': 0.093, 'thorax': 0.079, 'neck': 0.079,
    'neck_nose': 0.026, 'head': 0.035,
}
DEFAULT_KAPPA = float(np.mean(list(KAPPA.values())))


@dataclass(frozen=True)
class DetectorNoise:
    """Parameters of the noise model (pixels and shares)."""

    noise_px: float = 0.0
    size_frac: float = 0.0
    drop_prob: float = 0.0
    low_conf_prob: float = 0.0
    low_conf_factor: float = 3.0

    def __post_init__(self) -> None:
        if min(self.noise_px, self.size_frac, self.drop_prob, self.low_conf_prob) < 0 or \
                max(self.drop_prob, self.low_conf_prob) > 1 or self.low_conf_factor < 1:
            raise ValueError(f'invalid detector noise {self}: need noise_px, size_frac >= 0, '
                             'shares in [0, 1], low_conf_factor >= 1')

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> 'DetectorNoise':
        return cls(**{k: float(v) for k, v in d.items() if k in cls.__dataclass_fields__})


def joint_kappa(joint_format: str) -> np.ndarray:
    """(J,) relative localisation spread of each joint of ``joint_format`` (mean 1)."""
    names = JOINT_FORMATS[joint_format]
    kappa = np.array([KAPPA.get(n, DEFAULT_KAPPA) for n in names])
    return kappa / kappa.mean()


def person_height(pixels: np.ndarray) -> np.ndarray:
    """Extent of each person's valid keypoints (max of bbox width and height).

    pixels: (..., J, 2) with NaN for missing joints -> (...,), 0 where fewer than 2 are valid.
    """
    px = np.asarray(pixels, dtype=np.float64)
    valid = np.isfinite(px).all(-1)
    lo = np.where(valid[..., None], px, np.inf).min(-2)
    hi = np.where(valid[..., None], px, -np.inf).max(-2)
    ext = np.max(hi - lo, axis=-1)
    return np.where(valid.sum(-1) >= 2, ext, 0.0)


def joint_sigma(pixels: np.ndarray, joint_format: str, noise: DetectorNoise) -> np.ndarray:
    """Well-localised noise std per joint, pixels: (..., J, 2) -> (..., J)."""
    h = person_height(pixels)[..., None]
    return noise.noise_px + noise.size_frac * h * joint_kappa(joint_format)


def apply_noise(pixels: np.ndarray, joint_format: str, noise: DetectorNoise,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Detector-like keypoints from exact projections.

    pixels: (..., J, 2) (NaN = not visible) -> noisy pixels (..., J, 2) with NaN for missing
    joints, confidence (..., J) in [0, 1], 0 where missing.
    """
    px = np.asarray(pixels, dtype=np.float64)
    return perturb(px, joint_sigma(px, joint_format, noise), noise.drop_prob,
                   noise.low_conf_prob, noise.low_conf_factor, rng)


def perturb(pixels: np.ndarray, sigma: np.ndarray, drop_prob: float | np.ndarray,
            low_conf_prob: float | np.ndarray, low_conf_factor: float,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The noise model with explicit per-joint sigmas (training draws them per pose).

    pixels (..., J, 2), sigma (..., J), shares broadcastable to (..., J) -> noisy pixels
    (..., J, 2) with NaN where missing, confidence (..., J).
    """
    low = rng.random(sigma.shape) < low_conf_prob
    err = rng.standard_normal(pixels.shape) * np.where(low, low_conf_factor * sigma,
                                                       sigma)[..., None]
    ref = np.maximum(2.0 * sigma, 1e-9)
    conf = np.exp(-(err ** 2).sum(-1) / (2.0 * ref ** 2)) * rng.uniform(0.85, 1.0, sigma.shape)
    missing = ~np.isfinite(pixels).all(-1) | (rng.random(sigma.shape) < drop_prob)
    out = pixels + err
    out[missing] = np.nan
    conf[missing] = 0.0
    return out, conf


def synthesise_detections(points3d: np.ndarray, K: np.ndarray, joint_format: str,
                          noise: DetectorNoise, rng: np.random.Generator
                          ) -> tuple[np.ndarray, np.ndarray]:
    """What a detector of ``joint_format`` reports for camera-frame H36M-17 poses.

    points3d (N, 17, 3) camera frame (z forward), K (N, 3, 3) -> pixels (N, J, 2) with NaN
    for missing joints and confidences (N, J). Face points of COCO-17 are synthesised
    (``synth_keypoints``); joints behind the camera are missing.
    """
    return apply_noise(project_visible(from_h36m17(points3d, joint_format), K), joint_format,
                       noise, rng)


def project_visible(points3d: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(N, J, 3) camera frame, K (3, 3) or (N, 3, 3) -> (N, J, 2) pixels, NaN behind the
    camera."""
    pts = np.where(points3d[..., 2:3] > 1e-6, points3d, np.nan)
    return project(pts, K)
