"""The lifting pipeline on a batch of persons (the same code for the node, the CLI and eval).

adapt -> validity mask from confidences -> image check -> normalise -> backend -> de-normalise
-> place -> envelope check -> gate
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .adapters import num_joints, to_h36m17
from .backends.base import Backend
from .camera import finite_points, pixels_to_normalized, validate_intrinsics
from .contract import ContractError
from .envelope import (
    STATUS_OUT_OF_RANGE,
    STATUS_OUTSIDE_IMAGE,
    Envelope,
    image_sizes,
    out_of_range,
    outside_image,
)
from .errors import InputContractError
from .normalization import normalise
from .placement import place
from .skeleton import H36M17
from .uncertainty import UncertaintyCalibration, joint_radii, root_covariance

STATUS_OK = 'ok'
STATUS_IMPLAUSIBLE = 'implausible'
STATUS_TOO_FEW = 'too_few_joints'
__all__ = ['Lifter', 'LiftResult', 'STATUS_OK', 'STATUS_IMPLAUSIBLE', 'STATUS_TOO_FEW',
           'STATUS_OUTSIDE_IMAGE', 'STATUS_OUT_OF_RANGE', 'Envelope']


@dataclass
class LiftResult:
    """Per-person outputs for a batch of N persons."""

    joints3d: np.ndarray        # (N, 17, 3) metres, camera optical frame; NaN when not lifted
    realism: np.ndarray         # (N,) critic score; NaN when not lifted
    plausible: np.ndarray       # (N,) bool
    status: np.ndarray          # (N,) str
    valid_joints: np.ndarray    # (N,) number of input joints present (after adaptation)
    # (N, 17) metres: the calibrated radius holding 90 % of the true joints (contract's
    # uncertainty_calibration), else the spread over latent samples; NaN when not lifted
    uncertainty: np.ndarray | None = None
    root_covariance: np.ndarray | None = None  # (N, 3, 3) m^2, camera frame; NaN: not lifted
    inferred: np.ndarray | None = None  # (N, 17) bool: joint not in the input, predicted

    def __len__(self) -> int:
        return len(self.status)


def _nan(shape: tuple[int, ...]) -> np.ndarray:
    """A float64 array of NaN (``np.full`` costs ten times more at the sizes of a frame)."""
    out = np.empty(shape)
    out.fill(np.nan)
    return out


# status of a lifted person by plausible (False, True), as an index (np.where on strings
# builds a unicode array and converts it: 4x slower per frame)
_VERDICT = np.array([STATUS_IMPLAUSIBLE, STATUS_OK], dtype=object)
_VERDICT.flags.writeable = False
_RANGE = np.arange(64)
_RANGE.flags.writeable = False


def _everyone(n: int) -> np.ndarray:
    """np.arange(n), a read-only view for frames of up to 64 persons."""
    return _RANGE[:n] if n <= len(_RANGE) else np.arange(n)


def _statuses(n: int) -> np.ndarray:
    """(n,) object array of STATUS_TOO_FEW (the status of a person not lifted)."""
    status = np.empty(n, dtype=object)
    status.fill(STATUS_TOO_FEW)
    return status


def _empty(n: int) -> LiftResult:
    return LiftResult(_nan((n, H36M17.num_joints, 3)), _nan((n,)), np.zeros(n, bool),
                      _statuses(n), np.zeros(n, int))


def _scatter(n: int, sel: slice | np.ndarray, values: np.ndarray) -> np.ndarray:
    """(M, ...) values of the persons ``sel`` -> (n, ...) with NaN (False for bool) for the
    others; ``values`` itself when ``sel`` is everyone (a slice)."""
    if isinstance(sel, slice):
        return values
    out = np.zeros((n,) + values.shape[1:], values.dtype)
    if values.dtype != bool:
        out.fill(np.nan)
    out[sel] = values
    return out


class Lifter:
    """Lifts batches of 2D skeletons with one backend call per batch.

    ``envelope`` (None: no limits) gives persons with keypoints outside the image (when
    ``lift`` gets an image size) the status ``outside_image`` (not lifted) and persons placed
    outside the depth/size limits ``out_of_range`` (joints NaN, never plausible).
    """

    def __init__(self, backend: Backend, realism_threshold: float | None = None,
                 min_valid_joints: int = 12, uncertainty_samples: int = 0, seed: int = 0,
                 anchor_to_rays: bool = True, min_confidence: float = 0.0,
                 envelope: Envelope | None = None):
        self.backend = backend
        self.contract = backend.contract
        self.threshold = (self.contract.realism_threshold if realism_threshold is None
                          else float(realism_threshold))
        self.min_valid_joints = int(min_valid_joints)
        self.uncertainty_samples = int(uncertainty_samples)
        self.anchor_to_rays = bool(anchor_to_rays)
        self.min_confidence = float(min_confidence)
        self.envelope = envelope
        self._rng = np.random.default_rng(seed)
        cal = self.contract.uncertainty_calibration
        try:
            self.calibration = UncertaintyCalibration.from_dict(cal) if cal else None
        except ValueError as exc:
            raise ContractError(f'model contract: {exc} (recalibrate the model with '
                                'pose-lifter-train calibrate)') from None

    def lift(self, keypoints: np.ndarray, K: np.ndarray, confidence: np.ndarray | None = None,
             joint_format: str = 'h36m17', image_size=None,
             image_points: np.ndarray | None = None) -> LiftResult:
        """keypoints: (N, J, 2) pixels (undistorted) in ``joint_format``; K: (3, 3) or
        (N, 3, 3); confidence: (N, J) or None; image_size: (w, h), (N, 2) or None (sizes
        <= 0: unknown; no image check); image_points: (N, J, 2) the same joints in pixels of
        that image when ``keypoints`` are not (the detector's distorted pixels of undistorted
        keypoints); None: ``keypoints``. Raises PoseLifterInputError (a ValueError, with the
        reason) for an unknown format, wrong shapes or invalid intrinsics; per-person problems
        become a ``status``. Joints with a confidence below ``min_confidence`` count as
        missing."""
        j = num_joints(joint_format)
        kp = np.asarray(keypoints, dtype=np.float64)
        if kp.ndim != 3 or kp.shape[1:] != (j, 2):
            raise InputContractError(f'keypoints must have shape (N, {j}, 2) for '
                                     f'{joint_format}, got {kp.shape}')
        K = validate_intrinsics(K)
        if K.ndim == 3 and len(K) != len(kp):
            raise InputContractError(f'K has {len(K)} matrices for {len(kp)} persons')
        n = len(kp)
        size = image_sizes(image_size, n)
        if n == 0:
            return _empty(0)
        if confidence is not None and self.min_confidence > 0:
            confidence = np.asarray(confidence, dtype=np.float64)
            confidence = np.where(confidence < self.min_confidence, 0.0, confidence)
        kp17, conf17 = to_h36m17(kp, confidence, joint_format)
        valid = conf17 > 0
        norm = normalise(pixels_to_normalized(kp17, K), self.contract.normalisation)
        count = valid.sum(axis=1)
        liftable = norm.ok & (count >= self.min_valid_joints)
        inferred = ~valid
        status = _statuses(n)
        if self.envelope is not None and size is not None:
            outside = self._outside(kp, image_points, confidence, size)
            status[outside] = STATUS_OUTSIDE_IMAGE
            liftable &= ~outside
        # the persons lifted: everyone (the usual case) as a view, else by index
        if liftable.all():
            idx, sel = _everyone(n), slice(None)
        else:
            idx = sel = np.flatnonzero(liftable)
            if len(idx) == 0:
                return LiftResult(_nan((n, H36M17.num_joints, 3)), _nan((n,)),
                                  np.zeros(n, bool), status, count, inferred=inferred)
        x = norm.inputs[sel].reshape(len(idx), -1)
        pose, realism = self.backend.infer(x)
        joints, k = self._place(pose, norm, sel)
        plausible = realism >= self.threshold
        status[sel] = _VERDICT[plausible.view(np.int8)]
        result = LiftResult(_scatter(n, sel, joints), _scatter(n, sel, realism.astype(np.float64)),
                            _scatter(n, sel, plausible), status, count, inferred=inferred)
        if self.calibration is not None:
            cal, lifted_inferred, root = self.calibration, inferred[sel], joints[:, 0]
            bins = cal.bin_of(lifted_inferred[:, 1:].sum(axis=1))
            result.uncertainty = _scatter(n, sel, joint_radii(
                cal, lifted_inferred, np.sqrt((root * root).sum(axis=-1)), bins))
            result.root_covariance = _scatter(n, sel, root_covariance(cal, root, lifted_inferred,
                                                                      bins))
        elif self.uncertainty_samples > 0:
            result.uncertainty = _nan((n, H36M17.num_joints))
            result.uncertainty[idx] = self._spread(x, norm, idx)
        if self.envelope is not None:
            self._enforce_range(result, idx)
        return result

    def _outside(self, kp: np.ndarray, image_points: np.ndarray | None,
                 confidence: np.ndarray | None, size: np.ndarray) -> np.ndarray:
        """(N,) persons with a present joint outside the image (input joint format)."""
        pts = kp if image_points is None else np.asarray(image_points, dtype=np.float64)
        if pts.shape != kp.shape:
            raise InputContractError(f'image_points must have the shape of keypoints '
                                     f'{kp.shape}, got {pts.shape}')
        present = finite_points(kp)
        if pts is not kp:
            present &= finite_points(pts)
        if confidence is not None:
            present &= np.asarray(confidence, dtype=np.float64) > 0
        return outside_image(pts, present, size, self.envelope.image_margin)

    def _enforce_range(self, result: LiftResult, idx: np.ndarray) -> None:
        """Lifted persons placed outside the envelope: status out_of_range, joints NaN."""
        far = idx[out_of_range(result.joints3d[idx], self.contract.bone_sum_m, self.envelope)]
        result.status[far] = STATUS_OUT_OF_RANGE
        result.plausible[far] = False
        result.joints3d[far] = np.nan
        if result.uncertainty is not None:
            result.uncertainty[far] = np.nan
        if result.root_covariance is not None:
            result.root_covariance[far] = np.nan

    def _place(self, pose: np.ndarray, norm, idx: np.ndarray | slice):
        """(M, 16, 3) body units of the persons ``idx`` of ``norm`` -> (M, 17, 3) metres in
        the camera frame."""
        full = np.zeros((len(pose), H36M17.num_joints, 3))
        full[:, H36M17.non_root_index] = pose
        return place(full, norm.virtual[idx], norm.rotation[idx], norm.scale[idx],
                     self.contract.normalisation.depth, self.contract.bone_sum_m,
                     anchor=self.anchor_to_rays)

    def _spread(self, x: np.ndarray, norm, idx: np.ndarray) -> np.ndarray:
        """Per-joint spread (m) of the metric pose over latent samples: (M, 17)."""
        s = self.uncertainty_samples
        noise = self._rng.standard_normal((s * len(x), self.contract.latent_dim))
        pose, _ = self.backend.infer(np.tile(x, (s, 1)), noise.astype(np.float32))
        placed, _ = self._place(pose, norm, np.tile(idx, s))
        placed = placed.reshape(s, len(x), H36M17.num_joints, 3)
        rel = placed - placed[:, :, :1]
        return np.linalg.norm(rel.std(axis=0), axis=-1)
