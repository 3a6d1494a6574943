"""Evaluation through the full pipeline: poses -> fixed cameras -> pixels -> lift -> metrics."""
from __future__ import annotations

import numpy as np

from .cameras import EVAL_CAMERAS, CameraSpec, eval_views, eval_views_before
from .detector_noise import DetectorNoise, from_h36m17, project_visible, synthesise_detections
from .metrics import gating_metrics, pa_mpjpe, per_joint_error, pose_metrics, root_align
from .pipeline import STATUS_TOO_FEW, Lifter, LiftResult
from .poses import PoseSet
from .skeleton import H36M17
from .track_gate import TrackGate, judge
from .uncertainty import coverage

# Body parts an occlusion hides (H36M-17 names; the same names in every joint format's layout)
OCCLUSIONS: dict[str, tuple[str, ...]] = {
    'legs': ('r_knee', 'r_ankle', 'l_knee', 'l_ankle'),          # behind a parked car
    'right': ('r_elbow', 'r_wrist', 'r_knee', 'r_ankle'),        # right side turned away
    'left': ('l_elbow', 'l_wrist', 'l_knee', 'l_ankle'),
}


def occlusion_columns(occlude: str, joint_format: str) -> list[int]:
    """Columns of ``joint_format`` keypoints an occlusion hides (ValueError: unknown name)."""
    from .adapters import JOINT_FORMATS
    if occlude not in OCCLUSIONS:
        raise ValueError(f'unknown occlusion {occlude!r}; known: {sorted(OCCLUSIONS)}')
    names = JOINT_FORMATS[joint_format]
    return [names.index(j) for j in OCCLUSIONS[occlude] if j in names]


def occlude_inputs(conf: np.ndarray | None, shape: tuple[int, ...], occlude: str,
                   joint_format: str) -> np.ndarray:
    """(N, J) confidences with the occluded joints at 0 (missing); None counts as all 1."""
    out = np.ones(shape[:2]) if conf is None else np.array(conf, dtype=np.float64)
    out[:, occlusion_columns(occlude, joint_format)] = 0.0
    return out


def lift_all(lifter: Lifter, pixels: np.ndarray, K: np.ndarray, chunk: int = 4096,
             joint_format: str = 'h36m17', confidence: np.ndarray | None = None) -> LiftResult:
    """Lift (N, J, 2) pixels with (N, 3, 3) intrinsics and optional (N, J) confidences in
    chunks of ``chunk`` persons; one LiftResult for all N."""
    parts = [lifter.lift(pixels[i:i + chunk], K[i:i + chunk],
                         None if confidence is None else confidence[i:i + chunk], joint_format)
             for i in range(0, len(pixels), chunk)]
    if len(parts) == 1:
        return parts[0]
    fields = {}
    for name in LiftResult.__dataclass_fields__:
        values = [getattr(p, name) for p in parts]
        fields[name] = None if any(v is None for v in values) else np.concatenate(values)
    return LiftResult(**fields)


def lift_in_chunks(lifter: Lifter, pixels: np.ndarray, K: np.ndarray, chunk: int = 4096,
                   joint_format: str = 'h36m17', confidence: np.ndarray | None = None):
    """``lift_all`` as (joints, realism, status)."""
    r = lift_all(lifter, pixels, K, chunk, joint_format, confidence)
    return r.joints3d, r.realism, r.status


def evaluate_pose_set(lifter: Lifter, poses: PoseSet,
                      cameras: tuple[CameraSpec, ...] = EVAL_CAMERAS,
                      gating: bool = True, seed: int = 0, joint_format: str = 'h36m17',
                      noise: DetectorNoise | None = None, occlude: str | None = None,
                      track_gate: TrackGate | None = None) -> dict:
    """All accuracy and gating metrics for ``poses`` seen by ``cameras``, lifted by ``lifter``.

    Without ``noise`` the lifter sees exact H36M-17 projections and the gating run corrupts
    them in 2D. With ``noise`` every person (real and corrupted, corruptions made in 3D as a
    confused detector would) goes through ``detector_noise.synthesise_detections`` in
    ``joint_format``; gating then also reports the share of *all* real persons accepted
    (persons not lifted count as not accepted) and the corrupted rejected per kind.
    ``track_gate`` judges every person with the track gate (core/track_gate.py): its
    realism combined with its motion since the same clip's previous evaluation frame seen by
    the same camera (the real detections there; a corrupted person was real a frame before);
    the first frame of a clip has no history. Its threshold replaces the model's.
    ``occlude`` (``OCCLUSIONS``: legs, right, left) hides those joints of every person, real
    and corrupted; ``occluded`` then scores the joints still seen (PA-MPJPE aligned on them),
    the inferred ones, and ``inferred_status`` the share whose status names what was inferred.
    Returns a JSON-ready dict: overall metrics, per joint, per clip, per camera, gating.
    """
    rng = np.random.default_rng(seed)
    cam3d, pixels, K = eval_views(poses.joints, cameras)
    conf = None
    if noise is not None:
        pixels, conf = synthesise_detections(cam3d, K, joint_format, noise, rng)
    unoccluded = conf
    if occlude is not None:
        conf = occlude_inputs(conf, pixels.shape, occlude, joint_format)
    lifted_all = lift_all(lifter, pixels, K, joint_format=joint_format, confidence=conf)
    joints, realism, status = lifted_all.joints3d, lifted_all.realism, lifted_all.status
    lifted = status != STATUS_TOO_FEW
    track = None
    if track_gate is not None:
        track = (track_gate, *previous_frames(poses, cameras, K, joint_format, noise, seed))
        realism, status = track_judged(track, realism, status, pixels, joint_format,
                                       lifter.threshold)
    pred, gt = joints[lifted] * 1000.0, cam3d[lifted] * 1000.0
    out = {
        'model_threshold': lifter.threshold if track_gate is None else track_gate.threshold,
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
    if noise is not None or occlude is not None:
        out['input'] = {'joint_format': joint_format, 'min_confidence': lifter.min_confidence,
                        'noise': None if noise is None else noise.to_dict(),
                        'occlude': occlude}
        out['accepted_all_real'] = float((status == 'ok').mean())
    if lifted_all.uncertainty is not None:
        out['uncertainty'] = uncertainty_metrics(lifted_all, cam3d, lifted)
    if occlude is not None:
        out['occluded'] = occluded_metrics(pred, gt, occlude)
        # the same persons with every joint seen, scored on the same joints: the ratio
        full, _, full_status = lift_in_chunks(lifter, pixels, K, joint_format=joint_format,
                                              confidence=unoccluded)
        both = lifted & (full_status != STATUS_TOO_FEW)
        ref = occluded_metrics(full[both] * 1000.0, cam3d[both] * 1000.0, occlude)
        out['occluded']['pa_mpjpe_seen_when_all_visible'] = ref['pa_mpjpe_seen']
        out['occluded']['ratio_to_all_visible'] = \
            out['occluded']['pa_mpjpe_seen'] / ref['pa_mpjpe_seen']
    if gating:
        out['gating'] = _gating(lifter, realism[lifted], status, cam3d, pixels, K, rng,
                                joint_format, noise, conf if occlude is not None else None,
                                track)
        if track is not None:
            out['gating']['track_gate'] = {'history_share': float(np.isfinite(track[2]).mean())}
    return out


def previous_frames(poses: PoseSet, cameras: tuple[CameraSpec, ...], K: np.ndarray,
                    joint_format: str, noise: DetectorNoise | None, seed: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """What a track saw a moment before each evaluation view: the same clip's previous frame,
    seen by that view's camera where it stands now (``eval_views`` places its cameras on each
    frame's root; a real camera does not follow the person between two frames) and detected
    with a noise draw of its own (a stream separate from the evaluation's, so its other
    numbers do not change). Returns pixels (C*F, J, 2) in ``joint_format``, NaN for a clip's
    first frame, and the time between the two frames (C*F,) s, NaN there."""
    f = len(poses.joints)
    has = np.zeros(f, bool)
    has[1:] = poses.clip[1:] == poses.clip[:-1]
    before = poses.joints[np.where(has, np.arange(f) - 1, np.arange(f))]
    cam3d = eval_views_before(poses.joints, before, cameras)
    rng = np.random.default_rng([seed, 1])
    if noise is None:
        prev = project_visible(from_h36m17(cam3d, joint_format), K)
    else:
        prev, _ = synthesise_detections(cam3d, K, joint_format, noise, rng)
    has = np.tile(has, len(cameras))
    prev[~has] = np.nan
    dt = np.where(has, 1.0 / np.tile(poses.clip_fps[poses.clip], len(cameras)), np.nan)
    return prev, dt


def track_judged(track: tuple, realism: np.ndarray, status: np.ndarray, pixels: np.ndarray,
                 joint_format: str, model_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(gate, previous pixels, dt) of ``previous_frames``, the model's realism (N,) and
    statuses (N,), the persons' pixels -> the track gate's realism (N,) and statuses
    (``track_gate.judge``)."""
    gate, prev, dt = track
    combined, status, _ = judge(gate, realism, status, pixels, prev, dt, joint_format,
                                model_threshold)
    return combined, status


def uncertainty_metrics(result: LiftResult, cam3d: np.ndarray, lifted: np.ndarray) -> dict:
    """How well the published uncertainty describes the actual error of lifted persons:
    coverage of the per-joint radii (non-root joints; nominal 90 % when calibrated), rank
    correlation of radius and error, the same for inferred joints, and the root's error in
    units of its predicted standard deviation along and across the ray."""
    from .uncertainty import root_errors, root_relative_errors
    err = root_relative_errors(result.joints3d[lifted], cam3d[lifted])[:, 1:]
    rad = result.uncertainty[lifted][:, 1:]
    out = {'coverage': coverage(rad, err), 'spearman': spearman(rad.ravel(), err.ravel()),
           'joints': int(np.isfinite(err).sum())}
    if result.inferred is not None:
        hidden = result.inferred[lifted][:, 1:]
        out['coverage_inferred'] = coverage(rad[hidden], err[hidden]) if hidden.any() \
            else None
        out['inferred_joints'] = int(hidden.sum())
    if result.root_covariance is not None:
        cov = result.root_covariance[lifted]
        root, true = result.joints3d[lifted][:, 0], cam3d[lifted][:, 0]
        along, across = root_errors(root, true)
        dist = np.sqrt((true ** 2).sum(-1))
        u = root / np.sqrt((root ** 2).sum(-1))[:, None]
        sd_along = np.sqrt(np.einsum('ni,nij,nj->n', u, cov, u))
        out['root_depth_error_rel_rms'] = float(np.sqrt(np.nanmean(along ** 2)))
        out['root_depth_z_within_1.645'] = float(
            (np.abs(along * dist) <= 1.645 * sd_along).mean())
        out['root_lateral_error_rel_rms'] = float(np.sqrt(np.nanmean(across ** 2)))
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation of two (N,) arrays (finite pairs; average ranks for ties)."""
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float('nan')
    ra, rb = _ranks(a[ok]), _ranks(b[ok])
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind='mergesort')
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=np.float64)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def occluded_metrics(pred_mm: np.ndarray, gt_mm: np.ndarray, occlude: str) -> dict:
    """Accuracy of lifted persons with ``occlude`` hidden: PA-MPJPE of the seen joints
    (aligned on them), MPJPE (root-aligned) of the seen and of the inferred joints."""
    hidden = [H36M17.index(j) for j in OCCLUSIONS[occlude]]
    seen = [j for j in range(H36M17.num_joints) if j not in hidden]
    p, g = root_align(pred_mm), root_align(gt_mm)
    err = per_joint_error(p, g)
    return {'occlude': occlude, 'hidden_joints': list(OCCLUSIONS[occlude]),
            'pa_mpjpe_seen': pa_mpjpe(p[:, seen], g[:, seen]) if len(p) else float('nan'),
            'mpjpe_seen': float(err[:, seen].mean()) if len(p) else float('nan'),
            'mpjpe_inferred': float(err[:, hidden].mean()) if len(p) else float('nan')}


def _gating(lifter: Lifter, realism: np.ndarray, status: np.ndarray, cam3d: np.ndarray,
            pixels: np.ndarray, K: np.ndarray, rng: np.random.Generator, joint_format: str,
            noise: DetectorNoise | None, occluded: np.ndarray | None = None,
            track: tuple | None = None) -> dict:
    """Realism of the real persons (lifted ones: ``realism``) against corrupted ones (judged
    by the track gate of ``track`` when given, see ``track_judged``)."""
    from .corruptions import corrupt_mixed
    if noise is None:
        bad_px, kinds = corrupt_mixed(pixels, rng)
        bad_conf = None
    else:
        bad3d, kinds = corrupt_mixed(cam3d, rng)
        bad_px, bad_conf = synthesise_detections(bad3d, K, joint_format, noise, rng)
    if occluded is not None:   # the same joints hidden as on the real persons
        bad_conf = np.where(occluded > 0, 1.0 if bad_conf is None else bad_conf, 0.0)
    _, bad_realism, bad_status = lift_in_chunks(lifter, bad_px, K, joint_format=joint_format,
                                                confidence=bad_conf)
    threshold = lifter.threshold
    if track is not None:
        bad_realism, bad_status = track_judged(track, bad_realism, bad_status, bad_px,
                                               joint_format, lifter.threshold)
        threshold = track[0].threshold
    ok_bad = bad_status != STATUS_TOO_FEW
    out = gating_metrics(realism, bad_realism[ok_bad], threshold)
    out['per_kind_auc'] = {
        str(k): gating_metrics(realism, bad_realism[ok_bad & (kinds == k)],
                               threshold)['gating_auc'] for k in np.unique(kinds)}
    # shares over every person, whether lifted or not (not lifted = not accepted)
    out['real_accepted_all'] = float((status == 'ok').mean())
    out['corrupted_rejected_all'] = float((bad_status != 'ok').mean())
    out['per_kind_rejected_all'] = {str(k): float((bad_status[kinds == k] != 'ok').mean())
                                    for k in np.unique(kinds)}
    return out
