"""Model selection without 3D: criteria computed on held-out 2D rows alone.

For held-out normalised 2D x (M, J-1, 2) with visibility v, the model's mean lift Y = G(mu(x)):

- ``reproj_2d``: mean |pi(Y) - x| over visible joints (normalised units);
- ``cons_3d`` / ``cons_2d``: lift-rotate-project-lift consistency (Chen et al. 2019) at fixed
  angles ``CONSISTENCY_DEG``: re-lift the re-normalised novel view, rotate it back and compare it
  with Y (body units) and, projected, with x;
- ``realism_2d``: mean realism of the exported graph (this epoch's critic, so not comparable
  across checkpoints; reported, not used for selection);
- ``bone_cv``: per-bone coefficient of variation of the lifted bone lengths (as shares of their
  sum) over the rows -- one body's bones do not change length, and depth errors stretch them;
- ``bone_asym``: mean |left - right| / mean(left, right) of the twin bones of the lifted poses;
- ``plaus_2d`` = bone_cv + bone_asym, ``crit_2d`` = reproj_2d + cons_2d;
- ``prior_3d`` (with a ``PosePrior`` of 3D poses the lifter may know, e.g. its own training
  mocap, never the target's): mean distance of each lift to the nearest reference pose in a
  rotation-, scale- and mirror-free shape descriptor (``pose_descriptor``) -- a lift read
  from the wrong camera elevation is bent into a shape no person takes.

``spearman`` and ``rank_report`` measure how well a criterion orders the checkpoints of a run
like the 3D metric does (``history.json`` of a run that also had a 3D validation set).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from pose_lifter.core.skeleton import H36M17, Skeleton, bone_lengths

from .geometry import novel_views, project, rotate
from .models import LiftingModel

CONSISTENCY_DEG = (-90.0, -45.0, 45.0, 90.0)
METRICS_2D = ('plaus_2d', 'crit_2d', 'reproj_2d', 'cons_2d', 'cons_3d', 'bone_cv',
              'bone_asym', 'prior_3d')   # lower is better
REPORTED_2D = METRICS_2D + ('realism_2d',)


def _masked_l1(pred: torch.Tensor, target: torch.Tensor, visible: torch.Tensor
               ) -> torch.Tensor:
    """Per-row mean |pred - target| over visible joints: (B, J-1, 2) x2, (B, J-1) -> (B,)."""
    w = visible.to(pred.dtype)[..., None]
    return ((pred - target).abs() * w).sum(dim=(-1, -2)) / torch.clamp(2 * w.sum((-1, -2)),
                                                                       min=1.0)


def pose_descriptor(pose: np.ndarray) -> np.ndarray:
    """Root-relative poses (M, J-1, 3) (the root at the origin) -> (M, J(J-1)/2): the
    distances between every two joints over their sum (unchanged by rotation, scale and
    mirroring)."""
    full = np.concatenate([np.zeros(pose.shape[:-2] + (1, 3)), pose], axis=-2)
    i, j = np.triu_indices(full.shape[-2], 1)
    d = np.linalg.norm(full[..., i, :] - full[..., j, :], axis=-1)
    return d / np.maximum(d.sum(-1, keepdims=True), 1e-12)


class PosePrior:
    """Nearest-neighbour distance of lifted poses to reference 3D poses, in the
    ``pose_descriptor`` space. ``poses``: (N, J, 3) world or camera poses (root first), of
    which at most ``size`` (a fixed random subset) are kept."""

    def __init__(self, poses: np.ndarray, size: int = 20000, seed: int = 0):
        poses = np.asarray(poses, dtype=np.float64)
        if len(poses) > size:
            poses = poses[np.random.default_rng(seed).choice(len(poses), size, replace=False)]
        self.reference = pose_descriptor(poses[:, 1:] - poses[:, :1])
        self._norm = (self.reference ** 2).sum(-1)

    def distance(self, pose: np.ndarray, chunk: int = 1024) -> np.ndarray:
        """(M, J-1, 3) root-relative lifts -> (M,) distance to the nearest reference."""
        d = pose_descriptor(np.asarray(pose, dtype=np.float64))
        out = np.empty(len(d))
        for s in range(0, len(d), chunk):
            q = d[s:s + chunk]
            sq = (q ** 2).sum(-1)[:, None] + self._norm[None] - 2.0 * q @ self.reference.T
            out[s:s + chunk] = np.sqrt(np.maximum(sq.min(-1), 0.0))
        return out


@torch.no_grad()
def criterion_2d(model: LiftingModel, inputs: np.ndarray, visible: np.ndarray,
                 percentile: float = 5.0, batch: int = 4096,
                 device: torch.device | str = 'cpu', prior: PosePrior | None = None
                 ) -> dict[str, float]:
    """The 2D-only criteria (module docstring) of (M, J-1, 2) inputs with (M, J-1) visibility;
    ``prior_3d`` only with a ``prior``.

    Also returns ``realism_threshold_2d``: the ``percentile`` of the realism of these real rows
    (the contract's calibration rule applied to the user's own 2D).
    """
    model.eval()
    gen = model.generator
    sums = {'reproj_2d': 0.0, 'cons_2d': 0.0, 'cons_3d': 0.0, 'realism_2d': 0.0}
    realism_all, poses = [], []
    theta_deg = torch.tensor(CONSISTENCY_DEG, device=device)
    for s in range(0, len(inputs), batch):
        x = torch.as_tensor(inputs[s:s + batch], dtype=torch.float32, device=device)
        v = torch.as_tensor(visible[s:s + batch], device=device)
        x = x * v[..., None].to(x.dtype)
        noise = torch.zeros(len(x), gen.decoder.stem[0].in_features, device=device)
        pose, realism = model(x.reshape(len(x), -1), noise)
        theta = torch.deg2rad(theta_deg)[None].expand(len(x), -1)
        views, rot, factor = novel_views(pose, theta, model.renorm, model.spec, model.skeleton,
                                         model.view_axis)
        k = theta.shape[1]
        relift, _, _ = gen(views.reshape(len(x) * k, -1, 2),
                           noise.repeat_interleave(k, 0))
        relift = relift.reshape(len(x), k, -1, 3) / factor[..., None, None]
        back = rotate(relift, rot.transpose(-1, -2))
        sums['reproj_2d'] += _masked_l1(project(pose, model.spec.depth), x, v).sum().item()
        sums['cons_3d'] += (back - pose[:, None]).abs().mean(dim=(1, 2, 3)).sum().item()
        proj = project(back, model.spec.depth, min_z=1.0)
        sums['cons_2d'] += _masked_l1(proj.reshape(len(x) * k, -1, 2),
                                      x.repeat_interleave(k, 0),
                                      v.repeat_interleave(k, 0)).reshape(len(x), k).mean(1) \
            .sum().item()
        sums['realism_2d'] += realism.sum().item()
        realism_all.append(realism.cpu().numpy())
        poses.append(pose.cpu().numpy())
    n = max(len(inputs), 1)
    out = {k: v / n for k, v in sums.items()}
    out['crit_2d'] = out['reproj_2d'] + out['cons_2d']
    lifts = np.concatenate(poses) if poses else np.zeros((0, 16, 3))
    out.update(bone_statistics(lifts))
    if prior is not None:
        out['prior_3d'] = float(prior.distance(lifts).mean()) if len(lifts) else math.nan
    out['plaus_2d'] = out['bone_cv'] + out['bone_asym']
    real = np.concatenate(realism_all) if realism_all else np.zeros(0)
    out['realism_threshold_2d'] = float(np.percentile(real, percentile)) if len(real) else 0.5
    out['heldout_rows'] = int(len(inputs))
    return out


def bone_statistics(pose: np.ndarray, skeleton: Skeleton = H36M17) -> dict[str, float]:
    """``bone_cv`` and ``bone_asym`` (module docstring) of lifted poses (M, J-1, 3)."""
    if len(pose) < 2:
        return {'bone_cv': math.nan, 'bone_asym': math.nan}
    full = np.zeros((len(pose), skeleton.num_joints, 3))
    full[:, skeleton.non_root] = pose
    lengths = bone_lengths(full, skeleton)                       # (M, B)
    share = lengths / np.maximum(lengths.sum(-1, keepdims=True), 1e-12)
    cv = float((share.std(0) / np.maximum(share.mean(0), 1e-12)).mean())
    child = skeleton.bones[:, 1]
    twin = skeleton.flip_permutation[child]
    pairs = [(b, int(np.flatnonzero(child == t)[0])) for b, t in enumerate(twin)
             if skeleton.side[child[b]] > 0]
    left, right = lengths[:, [a for a, _ in pairs]], lengths[:, [b for _, b in pairs]]
    asym = float((np.abs(left - right) / np.maximum(0.5 * (left + right), 1e-12)).mean())
    return {'bone_cv': cv, 'bone_asym': asym}


def validate_run(model: LiftingModel, run, device: torch.device | str = 'cpu'
                 ) -> dict[str, Any]:
    """What the trainer logs per evaluation: the 3D metrics of ``run.val`` (when there is a
    3D validation set) and the 2D criteria of ``run.heldout_2d`` (when there are 2D rows)."""
    from .evaluate import validate
    pct = run.cfg.train.realism_percentile
    metrics = validate(model, run.val, run.bone_sum, pct, device) if run.val is not None else {}
    rows = getattr(run, 'heldout_2d', None)
    if rows is not None and len(rows):
        crit = criterion_2d(model, rows.inputs, rows.visible, pct, device=device)
        metrics.update(crit)
        metrics.setdefault('realism_threshold', crit['realism_threshold_2d'])
    return metrics


def rank(values: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 with ties averaged."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind='stable')
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=np.float64)
    for v in np.unique(values):
        tie = values == v
        ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two (n,) sequences (NaN for n < 3 or a constant one)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return math.nan
    ra, rb = rank(a[ok]), rank(b[ok])
    if ra.std() == 0 or rb.std() == 0:
        return math.nan
    return float(np.corrcoef(ra, rb)[0, 1])


def rank_report(history: list[dict[str, Any]], target: str = 'pa_mpjpe') -> dict[str, Any]:
    """Per 2D criterion: Spearman with the 3D ``target`` over the evaluated epochs, and the 3D
    value of the epoch each criterion would select (against the best possible)."""
    rows = [h['val'] for h in history if h.get('val') and target in h['val']]
    out: dict[str, Any] = {'epochs': len(rows), 'target': target}
    if not rows:
        return out
    t = np.array([r[target] for r in rows])
    out['best_possible'] = float(t.min())
    out['last'] = float(t[-1])
    for name in REPORTED_2D:
        if all(name in r for r in rows):
            c = np.array([r[name] for r in rows])
            sign = -1.0 if name == 'realism_2d' else 1.0   # higher realism = better
            out[name] = {'spearman': spearman(sign * c, t),
                         'selected': float(t[int(np.argmin(sign * c))])}
    return out
