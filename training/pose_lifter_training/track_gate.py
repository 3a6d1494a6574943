"""Fit the track gate (``pose_lifter.core.track_gate``) of an exported model.

The model's own realism is combined with how far each joint moved since the same person's
previous detection. Both come from the training subjects' motion capture at 10 and 30 fps,
seen by the evaluation cameras (``core.cameras.EVAL_CAMERAS``: 3-25 m, 600-2000 px focal; a
camera stays where it is between two frames) as a detector reports them (2, 4 and 6 px noise,
5 % dropped joints, COCO-17 and H36M-17): real persons, and persons whose current frame went
through ``gate.training_corruptions`` (the gate's own generator, not the evaluation's), each
with the same clip's previous frame detected as it was (a clip's first frame has none). A
logistic model is fitted on them; its threshold is the contract's realism percentile of the
validation subjects' real persons (10 fps, COCO-17, 4 px, 5 % dropped). Nothing of the test
subjects is used. The result is stored in the model contract (``track_gate``); the graph is
unchanged. Fitting through random cameras of the whole operating envelope instead (persons
28-1100 px tall, anywhere in the image) gave a gate that separated displaced joints on the
test subject worse (ROC-AUC 0.942 against 0.958; training/README.md).

    pose-lifter-train track-gate --model models/default.onnx [--out M.onnx] [--seed 0]
        [--threshold-noise-px 4]    # the noise of the persons the threshold is chosen on
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from pose_lifter.core import track_gate as tg
from pose_lifter.core.backends import create_backend
from pose_lifter.core.cameras import EVAL_CAMERAS, eval_views
from pose_lifter.core.detector_noise import DetectorNoise, synthesise_detections
from pose_lifter.core.evaluation import lift_all, previous_frames
from pose_lifter.core.metrics import roc_auc
from pose_lifter.core.pipeline import Lifter
from pose_lifter.core.poses import PoseSet, load_pose_file

from .adapt import read_model
from .checkpoint import realism_rule
from .config import ConfigError, config_from_dict
from .export import save_model
from .gate import training_corruptions

FPS = (10.0, 30.0)           # the frame rates fitted (10: the evaluation's, 30: a camera's)
NOISE_PX = (2.0, 4.0, 6.0)
FORMATS = ('coco17', 'h36m17')
VAL = (10.0, 4.0, 'coco17')  # the threshold's condition: the evaluation's
MAX_FRAMES = 3000            # frames per fitted condition (whole clips, drawn at random)


def clips_sample(poses: PoseSet, max_frames: int, rng: np.random.Generator) -> PoseSet:
    """Whole clips of ``poses`` in random order until about ``max_frames`` frames."""
    order = rng.permutation(np.unique(poses.clip))
    sizes = np.array([(poses.clip == c).sum() for c in order])
    keep = order[:max(1, int(np.searchsorted(np.cumsum(sizes), max_frames)) + 1)]
    return poses.select(np.isin(poses.clip, keep))


def labelled_views(lifter: Lifter, poses: PoseSet, noise_px: float, joint_format: str,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Track-gate features (M, len(FEATURES)) and labels (M,) (1 real, 0 corrupted) of the
    lifted persons of ``poses`` seen by the evaluation cameras as a detector reports them
    (``noise_px``, 5 % dropped), each with the clip's previous frame seen by the same camera
    (``evaluation.previous_frames``); corrupted persons through ``gate.training_corruptions``."""
    cam3d, _, K = eval_views(poses.joints, EVAL_CAMERAS)
    noise = DetectorNoise(noise_px=noise_px, drop_prob=0.05)
    prev, dt = previous_frames(poses, EVAL_CAMERAS, K, joint_format, noise,
                               int(rng.integers(2 ** 31)))
    bad, _ = training_corruptions(cam3d, rng)
    xs = []
    for cam in (cam3d, bad):
        px, conf = synthesise_detections(cam, K, joint_format, noise, rng)
        realism = lift_all(lifter, px, K, joint_format=joint_format, confidence=conf).realism
        ok = np.isfinite(realism)
        xs.append(tg.features(realism[ok], px[ok], prev[ok], dt[ok], joint_format))
    return np.concatenate(xs), np.r_[np.ones(len(xs[0])), np.zeros(len(xs[1]))]


def fit_track_gate(model_path: str | Path, out: str | Path | None = None,
                   data_path: str | None = None, seed: int = 0,
                   percentile: float | None = None, max_frames: int = MAX_FRAMES,
                   threshold_on: tuple[float, float, str] = VAL) -> dict[str, Any]:
    """Fit the track gate of ``model_path`` and store it in the contract of ``out`` (default:
    the model file itself). ``threshold_on``: (fps, noise px, joint format) of the validation
    persons the threshold is chosen on (your detector's noise: its real persons keep being
    accepted at the percentile). Returns the fit's summary (weights, threshold, AUCs)."""
    rng = np.random.default_rng(seed)
    proto, contract = read_model(model_path)
    cfg = config_from_dict((contract.training or {}).get('config') or {})
    poses = load_pose_file(data_path or cfg.data.path)
    train = poses.subjects_only(cfg.data.train_subjects)
    val = poses.subjects_only(cfg.data.val_subjects)
    if not len(train.joints) or not len(val.joints):
        raise ConfigError(f'{data_path or cfg.data.path} has no frames of the training '
                         f'({cfg.data.train_subjects}) or validation ({cfg.data.val_subjects}) '
                         'subjects the model was trained with')
    lifter = Lifter(create_backend(str(model_path), 'onnxruntime'))
    conditions = [(f, n, j) for f in FPS for n in NOISE_PX for j in FORMATS]
    xs, ys = [], []
    for fps, noise_px, fmt in tqdm(conditions, desc='track gate: training views'):
        x, y = labelled_views(lifter, clips_sample(train.subsample(fps), max_frames, rng),
                              noise_px, fmt, rng)
        xs.append(x)
        ys.append(y)
    x, y = np.concatenate(xs), np.concatenate(ys)
    weights, bias = tg.fit_logistic(x, y)
    if weights[0] <= 0:
        raise ConfigError(f'{model_path}: its realism does not tell real from corrupted '
                          f'persons on the training views (weight {weights[0]:.3f} <= 0); a '
                          'track gate needs a model whose realism does (pose-lifter-train gate)')
    fps, noise_px, fmt = threshold_on
    vx, vy = labelled_views(lifter, val.subsample(fps), noise_px, fmt,
                            np.random.default_rng(1))    # the same persons for every seed
    score = vx @ weights + bias
    pct = percentile if percentile is not None else float(
        contract.realism_calibration.get('percentile', cfg.train.realism_percentile))
    # the threshold from the persons with a previous frame: the others keep the model's verdict
    real = 1.0 / (1.0 + np.exp(-score[(vy == 1) & (vx[:, 1] == 1)]))
    gate = tg.TrackGate(tuple(float(w) for w in weights), bias,
                        float(np.percentile(real, pct)),
                        rule=realism_rule(pct) + ' (the track gate: validation persons, '
                        f'{fps:g} fps, {fmt}, {noise_px:g} px, 5 % dropped)',
                        fit={'persons': int(len(y)), 'seed': seed, 'fps': list(FPS),
                             'noise_px': list(NOISE_PX), 'drop': 0.05,
                             'joint_formats': list(FORMATS), 'cameras': 'evaluation',
                             'corruptions': 'gate.training_corruptions',
                             'subjects': list(cfg.data.train_subjects),
                             'val_subjects': list(cfg.data.val_subjects)})
    judged = gate.realism(vx, lifter.threshold) >= gate.threshold
    summary = {
        'features': list(tg.FEATURES), 'weights': list(gate.weights), 'bias': gate.bias,
        'threshold': gate.threshold, 'percentile': pct, 'persons': int(len(y)),
        'val_auc_track_gate': roc_auc(score[vy == 1], score[vy == 0]),
        'val_auc_model': roc_auc(vx[vy == 1, 0], vx[vy == 0, 0]),
        'val_accepted': float(judged[vy == 1].mean()),
        'val_rejected': float(1.0 - judged[vy == 0].mean())}
    contract.track_gate = gate.to_dict()
    save_model(proto, contract, out or model_path, rehash=False)
    return summary


def main_summary(summary: dict[str, Any]) -> str:
    """One JSON line for the command line."""
    return json.dumps({k: (round(v, 4) if isinstance(v, float) else v)
                       for k, v in summary.items() if k not in ('weights',)})
