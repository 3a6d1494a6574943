"""Evaluation through the full pipeline: poses -> fixed cameras -> pixels -> lift -> metrics."""
from __future__ import annotations

import numpy as np

from .cameras import EVAL_CAMERAS, CameraSpec, eval_views
from .metrics import gating_metrics, per_joint_error, pose_metrics, root_align
from .pipeline import STATUS_TOO_FEW, Lifter
from .poses import PoseSet
from .skeleton import H36M17


def lift_in_chunks(lifter: Lifter, pixels: np.ndarray, K: np.ndarray, chunk: int = 4096,
                   joint_format: str = 'h36m17'):
    """Lift (N, J, 2) pixels with (N, 3, 3) intrinsics in chunks; returns (joints, realism,
    status) concatenated."""
    parts = [lifter.lift(pixels[i:i + chunk], K[i:i + chunk], joint_format=joint_format)
             for i in range(0, len(pixels), chunk)]
    return (np.concatenate([p.joints3d for p in parts]),
            np.concatenate([p.realism for p in parts]),
            np.concatenate([p.status for p in parts]))


def evaluate_pose_set(lifter: Lifter, poses: PoseSet,
                      cameras: tuple[CameraSpec, ...] = EVAL_CAMERAS,
                      gating: bool = True, seed: int = 0) -> dict:
    """All DESIGN §7 metrics for ``poses`` seen by ``cameras``, lifted by ``lifter``.

    Returns a JSON-ready dict: overall metrics, per joint, per clip, per camera, gating.
    """
    cam3d, pixels, K = eval_views(poses.joints, cameras)
    joints, realism, status = lift_in_chunks(lifter, pixels, K)
    lifted = status != STATUS_TOO_FEW
    pred, gt = joints[lifted] * 1000.0, cam3d[lifted] * 1000.0
    out = {
        'model_threshold': lifter.threshold,
        'poses': int(len(poses)), 'views': int(len(pixels)), 'lifted': int(lifted.sum()),
        'cameras': len(cameras),
        'metrics': pose_metrics(pred, gt),
        'accepted_real': float((status[lifted] == 'ok').mean()) if lifted.any() else 0.0,
    }
    err = per_joint_error(root_align(pred), root_align(gt))
    out['per_joint_mpjpe'] = {name: float(err[:, j].mean())
                              for j, name in enumerate(H36M17.joint_names)}
    clip = np.tile(poses.clip, len(cameras))[lifted]
    out['per_clip_mpjpe'] = {str(poses.clip_names[c]): float(err[clip == c].mean())
                             for c in np.unique(clip)}
    cam = np.repeat(np.arange(len(cameras)), len(poses))[lifted]
    out['per_camera_mpjpe'] = [float(err[cam == c].mean()) for c in range(len(cameras))]
    if gating:
        from .corruptions import corrupt_mixed
        bad_px, kinds = corrupt_mixed(pixels, np.random.default_rng(seed))
        _, bad_realism, bad_status = lift_in_chunks(lifter, bad_px, K)
        ok_bad = bad_status != STATUS_TOO_FEW
        out['gating'] = gating_metrics(realism[lifted], bad_realism[ok_bad], lifter.threshold)
        out['gating']['per_kind_auc'] = {
            str(k): gating_metrics(realism[lifted], bad_realism[ok_bad & (kinds == k)],
                                   lifter.threshold)['gating_auc']
            for k in np.unique(kinds)}
    return out
