"""Calibrated uncertainty of a lifted pose: per-joint radii and the root position covariance.

A lifted joint's error depends above all on which joint it is (a wrist errs three times as far
as a hip) and on whether the joint was in the input or inferred by the lifter (an occluded
knee). The calibration, measured on validation persons as a detector reports them and stored
in the model contract (``uncertainty_calibration``), holds for every joint the radius around
the root-relative prediction that contained ``nominal`` (90 %) of the true joints, once for
seen and once for inferred joints. The root's position error lies mostly along its camera ray
(the body-size prior puts a child or a tall adult at the wrong depth); its covariance is that
of the calibration's relative depth and lateral errors, scaled by the distance.

Pure functions, numpy only; ``calibrate`` runs on arrays the caller lifted through the runtime
pipeline (pose-lifter-train calibrate).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .skeleton import H36M17

NOMINAL = 0.9
MIN_SAMPLES = 50      # fewer samples of a joint in a bin: the previous bin's radius
INFERRED_FALLBACK = 2.0  # no inferred sample at all: this x the seen radius


# Persons are calibrated by how many of their joints were inferred: the error of every joint
# grows when limbs are missing (the metric scale comes from the whole predicted skeleton).
# Bin k holds persons with BIN_EDGES[k] <= inferred joints < BIN_EDGES[k + 1].
BIN_EDGES = (0, 1, 3, 18)


@dataclass(frozen=True)
class UncertaintyBin:
    """Radii (m) per H36M-17 joint holding ``nominal`` of the true root-relative joints, and
    the root's RMS relative errors, for persons with ``min_inferred``.. inferred joints."""

    min_inferred: int
    persons: int
    seen_m: tuple[float, ...]        # (17,) joint in the input
    inferred_m: tuple[float, ...]    # (17,) joint predicted without input
    depth_rel: float                 # RMS (depth error / true depth) of the root
    lateral_rel: float               # RMS (error across the ray / true depth) of the root

    def to_dict(self) -> dict:
        return {'min_inferred': self.min_inferred, 'persons': self.persons,
                'seen_m': [round(v, 5) for v in self.seen_m],
                'inferred_m': [round(v, 5) for v in self.inferred_m],
                'depth_rel': round(self.depth_rel, 5), 'lateral_rel': round(self.lateral_rel, 5)}


@dataclass(frozen=True)
class UncertaintyCalibration:
    """Per-bin radii (``BIN_EDGES``) for the ``nominal`` coverage, for a person at
    ``distance_ref_m``; a person at distance d gets them x (d / distance_ref_m) **
    ``distance_exponent`` (farther persons err more: fewer pixels per metre)."""

    nominal: float
    bins: tuple[UncertaintyBin, ...]
    distance_exponent: float = 0.0
    distance_ref_m: float = 1.0

    def to_dict(self) -> dict:
        return {'nominal': self.nominal, 'bins': [b.to_dict() for b in self.bins],
                'distance_exponent': round(self.distance_exponent, 4),
                'distance_ref_m': round(self.distance_ref_m, 4)}

    def distance_factor(self, distance_m: np.ndarray) -> np.ndarray:
        """(N,) root distances (m) -> (N,) radius factors."""
        d = np.maximum(np.asarray(distance_m, np.float64), 1e-3)
        return (d / self.distance_ref_m) ** self.distance_exponent

    @classmethod
    def from_dict(cls, d: dict) -> UncertaintyCalibration:
        """Raises ValueError for a dict that is not a calibration of 17 joints."""
        try:
            bins = tuple(UncertaintyBin(
                int(b['min_inferred']), int(b['persons']),
                tuple(float(v) for v in b['seen_m']), tuple(float(v) for v in b['inferred_m']),
                float(b['depth_rel']), float(b['lateral_rel'])) for b in d['bins'])
            cal = cls(float(d['nominal']), bins, float(d.get('distance_exponent', 0.0)),
                      float(d.get('distance_ref_m', 1.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f'uncertainty_calibration is invalid: {exc}') from None
        if not bins or any(len(b.seen_m) != H36M17.num_joints or
                           len(b.inferred_m) != H36M17.num_joints for b in bins):
            raise ValueError('uncertainty_calibration needs bins of 17 seen and 17 inferred '
                             'radii')
        if not cal.distance_ref_m > 0 or not np.isfinite(cal.distance_exponent):
            raise ValueError('uncertainty_calibration: distance_ref_m must be > 0 and '
                             'distance_exponent finite')
        if [b.min_inferred for b in bins] != sorted(b.min_inferred for b in bins) or \
                bins[0].min_inferred != 0:
            raise ValueError('uncertainty_calibration bins must start at 0 inferred joints '
                             'and be sorted')
        return cal

    @cached_property
    def tables(self) -> dict[str, np.ndarray]:
        """The bins as arrays (computed once): ``edges`` (B,) min_inferred, ``seen`` and
        ``inferred`` (B, 17) radii, ``depth`` and ``lateral`` (B,) relative root errors,
        ``lateral2`` and ``depth2_minus_lateral2`` (B,) their squares as ``root_covariance``
        uses them, ``bin_of_count`` (17,) the bin of 0..16 inferred joints."""
        edges = np.asarray([b.min_inferred for b in self.bins])
        depth = np.asarray([b.depth_rel for b in self.bins])
        lateral = np.asarray([b.lateral_rel for b in self.bins])
        return {'edges': edges,
                'seen': np.asarray([b.seen_m for b in self.bins]),
                'inferred': np.asarray([b.inferred_m for b in self.bins]),
                'depth': depth, 'lateral': lateral, 'lateral2': lateral ** 2,
                'depth2_minus_lateral2': depth ** 2 - lateral ** 2,
                'bin_of_count': np.searchsorted(edges, np.arange(H36M17.num_joints),
                                                side='right') - 1}

    def bin_of(self, inferred_count: np.ndarray) -> np.ndarray:
        """(N,) inferred joints per person (>= 0) -> (N,) bin index."""
        lut = self.tables['bin_of_count']      # a lookup: searchsorted costs 4x more per frame
        return lut[np.minimum(inferred_count, len(lut) - 1)]


_EYE3 = np.eye(3)
_EYE3.flags.writeable = False


def root_relative_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N, J, 3), (N, J, 3) metres -> (N, J) distances after moving both roots to the origin."""
    p = pred - pred[:, :1]
    g = gt - gt[:, :1]
    return np.sqrt(((p - g) ** 2).sum(axis=-1))


def root_errors(pred_root: np.ndarray, gt_root: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3), (N, 3) camera frame -> relative depth and lateral errors (N,) (over the true
    distance): along the true root's ray and across it."""
    dist = np.sqrt((gt_root ** 2).sum(axis=-1))
    u = gt_root / dist[:, None]
    d = pred_root - gt_root
    along = (d * u).sum(axis=-1)
    across = np.sqrt(np.maximum((d ** 2).sum(axis=-1) - along ** 2, 0.0))
    return along / dist, across / dist


def _bin(pred: np.ndarray, gt: np.ndarray, inferred: np.ndarray, nominal: float,
         lo: int, fallback: UncertaintyBin | None, err: np.ndarray) -> UncertaintyBin:
    """One bin's radii from its errors ``err`` (N, 17) (already divided by the distance
    factor); joints with fewer than MIN_SAMPLES samples take ``fallback``'s (or, inferred,
    INFERRED_FALLBACK x the seen radius)."""
    seen, hidden = [], []
    for j in range(pred.shape[1]):
        s, h = err[~inferred[:, j], j], err[inferred[:, j], j]
        r = float(np.quantile(s, nominal)) if len(s) >= MIN_SAMPLES else \
            (fallback.seen_m[j] if fallback else 0.0)
        if len(h) >= MIN_SAMPLES:
            hr = max(float(np.quantile(h, nominal)), r)
        elif fallback is not None and fallback.inferred_m[j] > 0:
            hr = max(fallback.inferred_m[j], r)
        else:
            hr = INFERRED_FALLBACK * r
        seen.append(r)
        hidden.append(hr)
    if len(pred) >= MIN_SAMPLES or fallback is None:
        depth, lateral = root_errors(pred[:, 0], gt[:, 0])
        d, la = float(np.sqrt((depth ** 2).mean())), float(np.sqrt((lateral ** 2).mean()))
    else:
        d, la = fallback.depth_rel, fallback.lateral_rel
    return UncertaintyBin(lo, int(len(pred)), tuple(seen), tuple(hidden), d, la)


def calibrate(pred: np.ndarray, gt: np.ndarray, inferred: np.ndarray,
              nominal: float = NOMINAL) -> UncertaintyCalibration:
    """Radii from lifted persons: pred, gt (N, 17, 3) metres in the camera frame, inferred
    (N, 17) bool (joint not in the input), per bin of inferred-joint count (``BIN_EDGES``).
    A bin (or a joint of it) with fewer than MIN_SAMPLES samples takes the previous bin's."""
    if not 0.0 < nominal < 1.0:
        raise ValueError(f'nominal coverage must be in (0, 1), got {nominal}')
    ok = np.isfinite(pred).all(axis=(1, 2)) & np.isfinite(gt).all(axis=(1, 2))
    if ok.sum() < MIN_SAMPLES:
        raise ValueError(f'{int(ok.sum())} lifted persons; need at least {MIN_SAMPLES} to '
                         'calibrate the uncertainty')
    pred, gt, inferred = pred[ok], gt[ok], np.asarray(inferred, bool)[ok]
    count = inferred[:, 1:].sum(axis=1)
    err = root_relative_errors(pred, gt)
    dist = np.sqrt((pred[:, 0] ** 2).sum(axis=-1))
    exponent, ref = distance_law(dist, err[:, 1:].mean(axis=1))
    err = err / ((np.maximum(dist, 1e-3) / ref) ** exponent)[:, None]
    bins: list[UncertaintyBin] = []
    for lo, hi in zip(BIN_EDGES[:-1], BIN_EDGES[1:]):
        rows = (count >= lo) & (count < hi)
        bins.append(_bin(pred[rows], gt[rows], inferred[rows], nominal, lo,
                         bins[-1] if bins else None, err[rows]))
    return UncertaintyCalibration(float(nominal), tuple(bins), exponent, ref)


def distance_law(distance_m: np.ndarray, person_error: np.ndarray) -> tuple[float, float]:
    """Exponent (least squares of log error on log distance, within [0, 1]) and reference
    distance (the median) of how a person's mean joint error grows with its distance."""
    ok = (distance_m > 0) & (person_error > 0) & np.isfinite(person_error)
    ref = float(np.median(distance_m[ok])) if ok.any() else 1.0
    if ok.sum() < MIN_SAMPLES or np.ptp(np.log(distance_m[ok])) < 1e-6:
        return 0.0, ref
    slope = np.polyfit(np.log(distance_m[ok]), np.log(person_error[ok]), 1)[0]
    return float(np.clip(slope, 0.0, 1.0)), ref


def joint_radii(cal: UncertaintyCalibration, inferred: np.ndarray,
                distance_m: np.ndarray | None = None, bins: np.ndarray | None = None
                ) -> np.ndarray:
    """(N, 17) bool, (N,) root distances (None: the reference distance) -> (N, 17) radii (m)
    holding ``cal.nominal`` of the true joints. bins: (N,) ``cal.bin_of`` the persons'
    inferred counts when the caller has them."""
    k = cal.bin_of(inferred[:, 1:].sum(axis=1)) if bins is None else bins
    radii = np.where(inferred, cal.tables['inferred'][k], cal.tables['seen'][k])
    if distance_m is not None:
        radii = radii * cal.distance_factor(distance_m)[:, None]
    return radii


def root_covariance(cal: UncertaintyCalibration, root: np.ndarray,
                    inferred: np.ndarray, bins: np.ndarray | None = None) -> np.ndarray:
    """(N, 3) root positions (camera frame, m), (N, 17) inferred -> (N, 3, 3) covariance
    (m^2): the bin's depth_rel x distance along the ray, lateral_rel x distance across it.
    bins: as in ``joint_radii``."""
    k = cal.bin_of(inferred[:, 1:].sum(axis=1)) if bins is None else bins
    # depth^2 d^2 u u^T + lateral^2 d^2 (I - u u^T) with u = root / d, d^2 u u^T = root root^T:
    # (depth^2 - lateral^2) root root^T + lateral^2 d^2 I
    spread, lateral2 = cal.tables['depth2_minus_lateral2'][k], cal.tables['lateral2'][k]
    outer = root[:, :, None] * root[:, None, :]
    return spread[:, None, None] * outer + \
        (lateral2 * (root * root).sum(axis=-1))[:, None, None] * _EYE3


def coverage(radii: np.ndarray, errors: np.ndarray) -> float:
    """Share of (finite) errors within their radii; (N, J) each."""
    ok = np.isfinite(radii) & np.isfinite(errors)
    return float((errors[ok] <= radii[ok]).mean()) if ok.any() else float('nan')
