"""Pose-accuracy and gating metrics (explained in docs/bags.md#glossary). numpy in, float (or
per-item arrays) out.

All poses are (N, J, 3) in millimetres unless stated; errors are averaged over joints then poses.
Names follow the literature (VideoPose3D's ``loss.py``): MPJPE is Protocol #1, PA-MPJPE
Protocol #2 — here strictly without reflection, unlike scipy's ``procrustes``.
"""
from __future__ import annotations

import numpy as np


def root_align(pose: np.ndarray, root: int = 0) -> np.ndarray:
    """(N, J, 3) -> the same poses with the root joint moved to the origin."""
    return pose - pose[:, root:root + 1]


def per_joint_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N, J, 3), (N, J, 3) -> (N, J) Euclidean distances."""
    return np.linalg.norm(pred - gt, axis=-1)


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean per-joint position error (Protocol #1) of already aligned poses."""
    return float(per_joint_error(pred, gt).mean())


def scale_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Optimal per-pose scale of ``pred`` onto ``gt`` (N-MPJPE, Rhodin et al. 2018)."""
    num = (pred * gt).sum(axis=(-1, -2))
    den = np.maximum((pred * pred).sum(axis=(-1, -2)), 1e-12)
    return pred * (num / den)[:, None, None]


def n_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """MPJPE after the optimal scale only (root-aligned inputs)."""
    return mpjpe(scale_align(pred, gt), gt)


def procrustes_align(pred: np.ndarray, gt: np.ndarray, allow_reflection: bool = False
                     ) -> np.ndarray:
    """Similarity transform (rotation, translation, scale) of ``pred`` onto ``gt``.

    pred, gt: (N, J, 3) -> (N, J, 3) aligned prediction. With ``allow_reflection=False`` the
    rotation is proper (det = +1), as Protocol #2 intends; True reproduces scipy's behaviour.
    """
    mu_p, mu_g = pred.mean(axis=1, keepdims=True), gt.mean(axis=1, keepdims=True)
    p, g = pred - mu_p, gt - mu_g
    h = np.swapaxes(p, 1, 2) @ g                      # (N, 3, 3)
    u, s, vt = np.linalg.svd(h)
    d = np.ones_like(s)
    if not allow_reflection:
        d[:, -1] = np.sign(np.linalg.det(u @ vt))
        d[d == 0] = 1.0
    r = (u * d[:, None, :]) @ vt                       # (N, 3, 3), applied as p @ r
    scale = (s * d).sum(axis=-1) / np.maximum((p * p).sum(axis=(-1, -2)), 1e-12)
    return scale[:, None, None] * (p @ r) + mu_g


def pa_mpjpe_per_pose(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N,) reflection-free Procrustes-aligned error per pose."""
    return per_joint_error(procrustes_align(pred, gt), gt).mean(axis=-1)


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """PA-MPJPE (Protocol #2) with a proper rotation: a depth-mirrored pose is an error."""
    return float(pa_mpjpe_per_pose(pred, gt).mean())


def pck(pred: np.ndarray, gt: np.ndarray, threshold: float = 150.0) -> float:
    """Share of joints within ``threshold`` mm (aligned inputs)."""
    return float((per_joint_error(pred, gt) <= threshold).mean())


def auc(pred: np.ndarray, gt: np.ndarray, max_threshold: float = 150.0, steps: int = 31) -> float:
    """Area under the PCK curve for thresholds 0..max_threshold mm, normalised to 0..1."""
    err = per_joint_error(pred, gt)
    return float(np.mean([(err <= t).mean() for t in np.linspace(0, max_threshold, steps)]))


def mirrored(pred: np.ndarray, gt: np.ndarray, margin: float = 0.2) -> np.ndarray:
    """(N,) bool: the reflection-allowing alignment beats the proper one by > ``margin``.

    Flags the depth-flip failure that a reflection-allowing metric hides.
    """
    proper = pa_mpjpe_per_pose(pred, gt)
    reflected = per_joint_error(procrustes_align(pred, gt, allow_reflection=True), gt).mean(-1)
    return reflected < (1.0 - margin) * proper


def mirror_rate(pred: np.ndarray, gt: np.ndarray, margin: float = 0.2) -> float:
    """Share of poses flagged by ``mirrored``."""
    return float(mirrored(pred, gt, margin).mean())


def legacy_thesis_error(pred: np.ndarray, gt: np.ndarray, root: int = 0) -> float:
    """The thesis code's metric, for comparison only.

    scipy-style similarity Procrustes *allowing reflection* on the non-root joints, then a
    zero-error root added and the mean taken over all J joints.
    """
    keep = [j for j in range(pred.shape[1]) if j != root]
    aligned = procrustes_align(pred[:, keep], gt[:, keep], allow_reflection=True)
    err = per_joint_error(aligned, gt[:, keep])
    return float(err.sum(axis=-1).mean() / pred.shape[1])


def roc_auc(scores_pos: np.ndarray, scores_neg: np.ndarray) -> float:
    """ROC-AUC that a positive scores higher than a negative (ties count half)."""
    pos, neg = np.asarray(scores_pos, float), np.asarray(scores_neg, float)
    if pos.size == 0 or neg.size == 0:
        return float('nan')
    allv = np.concatenate([pos, neg])
    order = allv.argsort(kind='mergesort')
    ranks = np.empty(allv.size)
    sorted_v = allv[order]
    # average ranks for ties
    uniq, start, counts = np.unique(sorted_v, return_index=True, return_counts=True)
    avg = start + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    r_pos = ranks[:pos.size].sum()
    return float((r_pos - pos.size * (pos.size + 1) / 2.0) / (pos.size * neg.size))


def pose_metrics(pred_mm: np.ndarray, gt_mm: np.ndarray, root: int = 0) -> dict[str, float]:
    """All accuracy metrics for (N, J, 3) poses in mm (root-aligned here)."""
    p, g = root_align(pred_mm, root), root_align(gt_mm, root)
    return {
        'mpjpe': mpjpe(p, g),
        'n_mpjpe': n_mpjpe(p, g),
        'pa_mpjpe': pa_mpjpe(p, g),
        'pck150': pck(p, g, 150.0),
        'auc': auc(p, g),
        'mirror_rate': mirror_rate(p, g),
        'legacy_thesis': legacy_thesis_error(p, g, root),
        'count': int(p.shape[0]),
    }


def gating_metrics(real: np.ndarray, corrupted: np.ndarray, threshold: float) -> dict[str, float]:
    """ROC-AUC of realism (real vs corrupted) and acceptance rates at ``threshold``."""
    real, corrupted = np.asarray(real, float), np.asarray(corrupted, float)
    return {
        'gating_auc': roc_auc(real, corrupted),
        'real_rejected': float((real < threshold).mean()) if real.size else float('nan'),
        'corrupted_rejected': float((corrupted < threshold).mean()) if corrupted.size
        else float('nan'),
    }
