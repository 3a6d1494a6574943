"""Temporal metrics of a replay: acceleration error (jitter) per track, accuracy by number of
visible input joints, root error by distance (numpy only)."""
from __future__ import annotations

import numpy as np

from ..core.metrics import root_align

GAP_TOLERANCE = 0.1     # a frame gap within 10 % of the track's median gap is consecutive
DISTANCE_BINS_M = (0.0, 5.0, 10.0, 15.0, 20.0, 30.0, np.inf)


def triplets(stamp: np.ndarray, frame_id: np.ndarray, track: np.ndarray) -> np.ndarray:
    """Rows (T, 3) (previous, current, next) of three consecutive frames of one track in one
    camera: both gaps within GAP_TOLERANCE of the track's median gap. stamp (N,) ns,
    frame_id (N,), track (N,) ids."""
    out = []
    keys = np.char.add(np.char.add(frame_id.astype(str), '\x00'), track.astype(str))
    for key in np.unique(keys):
        rows = np.flatnonzero(keys == key)
        rows = rows[np.argsort(stamp[rows], kind='stable')]
        if len(rows) < 3:
            continue
        gaps = np.diff(stamp[rows]).astype(np.float64)
        nominal = np.median(gaps)
        if nominal <= 0:
            continue
        ok = np.abs(gaps - nominal) <= GAP_TOLERANCE * nominal
        both = ok[:-1] & ok[1:]
        idx = np.flatnonzero(both)
        out.append(np.stack([rows[idx], rows[idx + 1], rows[idx + 2]], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 3), int)


def acceleration_error(pred_mm: np.ndarray, gt_mm: np.ndarray, rows: np.ndarray) -> dict:
    """Mean per-joint acceleration error (mm/frame^2) over triplets ``rows`` (T, 3):
    |second difference of the prediction - that of the truth|, root-aligned joints (the
    pose) and the root itself (the placement). pred_mm, gt_mm: (N, 17, 3) mm."""
    if not len(rows):
        return {'triplets': 0, 'accel_error_mm': float('nan'),
                'root_accel_error_mm': float('nan')}

    def second(a: np.ndarray) -> np.ndarray:
        return a[rows[:, 2]] - 2 * a[rows[:, 1]] + a[rows[:, 0]]

    rel = second(root_align(pred_mm)) - second(root_align(gt_mm))        # (T, 17, 3)
    root = second(pred_mm[:, 0]) - second(gt_mm[:, 0])                    # (T, 3)
    return {'triplets': int(len(rows)),
            'accel_error_mm': float(np.linalg.norm(rel[:, 1:], axis=-1).mean()),
            'root_accel_error_mm': float(np.linalg.norm(root, axis=-1).mean())}


def by_visible_joints(err_mm: np.ndarray, visible: np.ndarray) -> dict[str, dict]:
    """MPJPE (mm) per number of visible input joints: err_mm (N,) per-person MPJPE,
    visible (N,) counts (negative: unknown, left out)."""
    out = {}
    for v in np.unique(visible[visible >= 0]):
        rows = visible == v
        out[str(int(v))] = {'count': int(rows.sum()), 'mpjpe': float(err_mm[rows].mean())}
    return out


def by_distance(root_err_m: np.ndarray, depth_m: np.ndarray,
                bins: tuple[float, ...] = DISTANCE_BINS_M) -> dict[str, dict]:
    """Root position error (m) per bin of true root depth: root_err_m, depth_m (N,)."""
    out = {}
    for lo, hi in zip(bins[:-1], bins[1:]):
        rows = (depth_m >= lo) & (depth_m < hi)
        if rows.any():
            label = f'{lo:g}-{hi:g} m' if np.isfinite(hi) else f'>= {lo:g} m'
            e = root_err_m[rows]
            out[label] = {'count': int(rows.sum()), 'mean': float(e.mean()),
                          'p50': float(np.median(e)),
                          'rel_p50': float(np.median(e / depth_m[rows]))}
    return out
