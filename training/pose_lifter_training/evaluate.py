"""Evaluation through the runtime's own path: normalise -> lift -> ``placement.place`` -> metrics.

All accuracy numbers are DESIGN §7 metrics (``pose_lifter.core.metrics``) in mm on camera-frame
poses of the fixed evaluation cameras. MPJPE uses the contract's body-size prior ``bone_sum_m``
for scale; N-MPJPE and PA-MPJPE (no reflection) are independent of it.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pose_lifter.core import metrics as M
from pose_lifter.core.camera import pixels_to_normalized
from pose_lifter.core.corruptions import KINDS, corrupt_mixed
from pose_lifter.core.normalization import NormalisationSpec, normalise
from pose_lifter.core.placement import place
from pose_lifter.core.skeleton import H36M17

from .data import EvalSet, insert_root
from .models import LiftingModel, reprojection_error

HIST_BINS = np.linspace(0.0, 300.0, 61)   # PJPE histogram bins, mm (last bin open-ended)


@torch.no_grad()
def predict(model: LiftingModel, inputs: np.ndarray, batch: int = 8192,
            device: torch.device | str = 'cpu') -> dict[str, np.ndarray]:
    """Mean lift of (N, J-1, 2) inputs: pose (N, J-1, 3), realism (N,), mu (N, latent) and
    the reprojection error (N,)."""
    model.eval()
    out: dict[str, list[np.ndarray]] = {'pose': [], 'realism': [], 'mu': [], 'reproj': []}
    for s in range(0, len(inputs), batch):
        x = torch.as_tensor(inputs[s:s + batch], dtype=torch.float32, device=device)
        flat = x.reshape(len(x), -1)
        mu, _ = model.generator.encoder(flat)
        pose, realism = model(flat, torch.zeros_like(mu))
        reproj = reprojection_error(pose, x)
        for k, v in (('pose', pose), ('realism', realism), ('mu', mu), ('reproj', reproj)):
            out[k].append(v.cpu().numpy())
    return {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in out.items()}


def place_mm(pose_units: np.ndarray, es: EvalSet, bone_sum_m: float,
             spec: NormalisationSpec = NormalisationSpec()) -> np.ndarray:
    """(N, J-1, 3) body units -> (N, J, 3) camera frame mm, exactly as the runtime places."""
    joints, _ = place(insert_root(pose_units.astype(np.float64)), es.virtual, es.rotation,
                      es.scale, spec.depth, bone_sum_m, anchor=True)
    return joints * 1000.0


def pjpe_pa(pred_mm: np.ndarray, gt_mm: np.ndarray) -> np.ndarray:
    """(N, J) per-joint errors after reflection-free Procrustes (root-aligned inputs)."""
    p, g = M.root_align(pred_mm), M.root_align(gt_mm)
    return M.per_joint_error(M.procrustes_align(p, g), g)


def accuracy_report(pred_mm: np.ndarray, es: EvalSet, breakdown: bool = True
                    ) -> dict[str, Any]:
    """Overall §7 metrics, plus per-joint and per-clip breakdowns."""
    report: dict[str, Any] = {'overall': M.pose_metrics(pred_mm, es.gt_mm)}
    if not breakdown:
        return report
    p, g = M.root_align(pred_mm), M.root_align(es.gt_mm)
    raw = M.per_joint_error(p, g).mean(0)
    pa = pjpe_pa(pred_mm, es.gt_mm).mean(0)
    report['per_joint'] = {n: {'mpjpe': float(raw[j]), 'pa_mpjpe': float(pa[j])}
                           for j, n in enumerate(H36M17.joint_names)}
    per_clip = {}
    for c in np.unique(es.clip):
        rows = es.clip == c
        m = M.pose_metrics(pred_mm[rows], es.gt_mm[rows])
        per_clip[str(es.clip_names[c])] = {k: m[k] for k in ('mpjpe', 'n_mpjpe', 'pa_mpjpe',
                                                             'mirror_rate', 'count')}
    report['per_clip'] = per_clip
    return report


def baseline_poses(es: EvalSet, mean_pose: np.ndarray,
                   spec: NormalisationSpec = NormalisationSpec()) -> dict[str, np.ndarray]:
    """Trivial lifts in body units, (N, J-1, 3) each.

    zero_depth: the normalised 2D at z = 0 (it reprojects exactly onto the input at depth c);
    mean_pose: the mean training pose (virtual frame) for every input.
    """
    zero = np.concatenate([es.inputs * spec.depth, np.zeros_like(es.inputs[..., :1])], -1)
    return {'zero_depth': zero, 'mean_pose': np.broadcast_to(mean_pose, zero.shape).copy()}


def realism_threshold(realism: np.ndarray, percentile: float) -> float:
    """The calibration rule of the contract (see ``checkpoint.realism_rule``)."""
    return float(np.percentile(realism, percentile)) if len(realism) else 0.5


def gating_report(model: LiftingModel, es: EvalSet, threshold: float, seed: int = 0,
                  device: torch.device | str = 'cpu') -> dict[str, Any]:
    """ROC-AUC of realism, real vs corrupted 2D (all kinds and per kind), and rejection rates."""
    rng = np.random.default_rng(seed)
    real = predict(model, es.inputs, device=device)
    bad_px, kinds = corrupt_mixed(es.pixels, rng)
    norm = normalise(pixels_to_normalized(bad_px, es.K))
    fake = predict(model, norm.inputs[norm.ok], device=device)
    kinds = kinds[norm.ok]
    report = M.gating_metrics(real['realism'], fake['realism'], threshold)
    report['threshold'] = threshold
    # for comparison: the reprojection error alone as a (negated) score
    report['reprojection_auc'] = M.roc_auc(-real['reproj'], -fake['reproj'])
    for kind in KINDS:
        report[f'auc_{kind}'] = M.roc_auc(real['realism'], fake['realism'][kinds == kind])
    return report


def validate(model: LiftingModel, es: EvalSet, bone_sum_m: float, percentile: float,
             device: torch.device | str = 'cpu') -> dict[str, Any]:
    """What the trainer logs per epoch: §7 metrics, realism threshold, PJPE histogram."""
    out = predict(model, es.inputs, device=device)
    pred = place_mm(out['pose'], es, bone_sum_m)
    metrics = M.pose_metrics(pred, es.gt_mm)
    hist, _ = np.histogram(np.clip(pjpe_pa(pred, es.gt_mm), 0, HIST_BINS[-1] - 1e-6),
                           HIST_BINS)
    metrics['realism_mean'] = float(out['realism'].mean())
    metrics['realism_threshold'] = realism_threshold(out['realism'], percentile)
    metrics['pjpe_hist'] = hist.tolist()
    return metrics


def full_report(model: LiftingModel, es: EvalSet, bone_sum_m: float, threshold: float,
                mean_pose: np.ndarray, device: torch.device | str = 'cpu') -> dict[str, Any]:
    """Model metrics with breakdowns, trivial baselines and gating, for one split."""
    out = predict(model, es.inputs, device=device)
    report = {'model': accuracy_report(place_mm(out['pose'], es, bone_sum_m), es)}
    for name, pose in baseline_poses(es, mean_pose).items():
        report[name] = accuracy_report(place_mm(pose, es, bone_sum_m), es, breakdown=False)
    report['gating'] = gating_report(model, es, threshold, device=device)
    report['bone_sum_m'] = bone_sum_m
    return report


def format_table(report: dict[str, Any]) -> str:
    """Plain-text table of the overall metrics of the model and the baselines."""
    cols = ('mpjpe', 'n_mpjpe', 'pa_mpjpe', 'pck150', 'auc', 'mirror_rate', 'legacy_thesis')
    lines = [f'{"":<12}' + ''.join(f'{c:>14}' for c in cols)]
    for name in ('model', 'zero_depth', 'mean_pose'):
        if name in report:
            m = report[name]['overall']
            lines.append(f'{name:<12}' + ''.join(f'{m[c]:>14.3f}' for c in cols))
    g = report.get('gating')
    if g:
        lines.append(f'gating: ROC-AUC {g["gating_auc"]:.3f} (real vs corrupted), real rejected '
                     f'{100 * g["real_rejected"]:.1f} %, corrupted rejected '
                     f'{100 * g["corrupted_rejected"]:.1f} % at threshold {g["threshold"]:.4f}; '
                     f'reprojection error alone: ROC-AUC {g["reprojection_auc"]:.3f}')
    return '\n'.join(lines)


def evaluate_checkpoint(checkpoint: str, split: str = 'test', data_path: str | None = None,
                        device: str = 'cpu') -> dict[str, Any]:
    """Full report for ``split`` ('val' or 'test') of the checkpoint's own data config."""
    from .checkpoint import load_checkpoint, restore
    from .data import build_eval_set, load_splits
    from .models import build_lifting_model

    ckpt = load_checkpoint(checkpoint)
    cfg, generator, critic, contract = restore(ckpt)
    if split not in ('val', 'test'):
        raise ValueError(f'split must be val or test, not {split!r}')
    splits = load_splits(cfg.data, data_path)
    es = build_eval_set(splits.val if split == 'val' else splits.test)
    model = build_lifting_model(generator, critic, cfg.model, cfg.loss).to(device)
    report = full_report(model, es, contract.bone_sum_m, contract.realism_threshold,
                         np.asarray(ckpt['mean_pose'], np.float64), device)
    report.update(split=split, checkpoint=str(checkpoint), epoch=int(ckpt['epoch']),
                  subjects=cfg.data.val_subjects if split == 'val' else cfg.data.test_subjects)
    return report
