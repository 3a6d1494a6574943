"""Evaluation through the full pipeline: poses -> fixed cameras -> pixels -> lift -> metrics."""
from __future__ import annotations

import numpy as np

from .cameras import EVAL_CAMERAS, CameraSpec, eval_views
from .detector_noise import DetectorNoise, synthesise_detections
from .metrics import gating_metrics, per_joint_error, pose_metrics, root_align
from .pipeline import STATUS_TOO_FEW, Lifter
from .poses import PoseSet
from .skeleton import H36M17


def lift_in_chunks(lifter: Lifter, pixels: np.ndarray, K: np.ndarray, chunk: int = 4096,
                   joint_format: str = 'h36m17', confidence: np.ndarray | None = None):
    """Lift (N, J, 2) pixels with (N, 3, 3) intrinsics and optional (N, J) confidences in
    chunks; returns (joints, realism, status) concatenated."""
    parts = [lifter.lift(pixels[i:i + chunk], K[i:i + chunk],
                         None if confidence is None else confidence[i:i + chunk], joint_format)
             for i in range(0, len(pixels), chunk)]
    return (np.concatenate([p.joints3d for p in parts]),
            np.concatenate([p.realism for p in parts]),
            np.concatenate([p.status for p in parts]))


def evaluate_pose_set(lifter: Lifter, poses: PoseSet,
                      cameras: tuple[CameraSpec, ...] = EVAL_CAMERAS,
                      gating: bool = True, seed: int = 0, joint_format: str = 'h36m17',
                      noise: DetectorNoise | None = None) -> dict:
    """All accuracy and gating metrics for ``poses`` seen by ``cameras``, lifted by ``lifter``.

    Without ``noise`` the lifter sees exact H36M-17 projections and the gating run corrupts
    them in 2D. With ``noise`` every person (real and corrupted, corruptions made in 3D as a
    confused detector would) goes through ``detector_noise.synthesise_detections`` in
    ``joint_format``; gating then also reports the share of *all* real persons accepted
    (persons not lifted count as not accepted) and the corrupted rejected per kind.
    Returns a JSON-ready dict: overall metrics, per joint, per clip, per camera, gating.
    """
    rng = np.random.default_rng(seed)
    cam3d, pixels, K = eval_views(poses.joints, cameras)
    conf = None
    if noise is not None:
        pixels, conf = synthesise_detections(cam3d, K, joint_format, noise, rng)
    joints, realism, status = lift_in_chunks(lifter, pixels, K, joint_format=joint_format,
                                             confidence=conf)
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
    if noise is not None:
        out['input'] = {'joint_format': joint_format, 'noise': noise.to_dict(),
                        'min_confidence': lifter.min_confidence}
        out['accepted_all_real'] = float((status == 'ok').mean())
    if gating:
        out['gating'] = _gating(lifter, realism[lifted], status, cam3d, pixels, K, rng,
                                joint_format, noise)
    return out


def _gating(lifter: Lifter, realism: np.ndarray, status: np.ndarray, cam3d: np.ndarray,
            pixels: np.ndarray, K: np.ndarray, rng: np.random.Generator, joint_format: str,
            noise: DetectorNoise | None) -> dict:
    """Realism of the real persons (lifted ones: ``realism``) against corrupted ones."""
    from .corruptions import corrupt_mixed
    if noise is None:
        bad_px, kinds = corrupt_mixed(pixels, rng)
        bad_conf = None
    else:
        bad3d, kinds = corrupt_mixed(cam3d, rng)
        bad_px, bad_conf = synthesise_detections(bad3d, K, joint_format, noise, rng)
    _, bad_realism, bad_status = lift_in_chunks(lifter, bad_px, K, joint_format=joint_format,
                                                confidence=bad_conf)
    ok_bad = bad_status != STATUS_TOO_FEW
    out = gating_metrics(realism, bad_realism[ok_bad], lifter.threshold)
    out['per_kind_auc'] = {
        str(k): gating_metrics(realism, bad_realism[ok_bad & (kinds == k)],
                               lifter.threshold)['gating_auc'] for k in np.unique(kinds)}
    # shares over every person, whether lifted or not (not lifted = not accepted)
    out['real_accepted_all'] = float((status == 'ok').mean())
    out['corrupted_rejected_all'] = float((bad_status != 'ok').mean())
    out['per_kind_rejected_all'] = {str(k): float((bad_status[kinds == k] != 'ok').mean())
                                    for k in np.unique(kinds)}
    return out
