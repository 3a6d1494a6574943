"""End-of-run figures (matplotlib, Agg backend): training curves, PJPE histograms over epochs
(thesis fig 2.1.2), a UMAP of the validation latent means coloured by clip (fig 2.1.3) and
skeleton renderings of the best and worst validation predictions against ground truth."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pose_lifter.core import metrics as M  # noqa: E402
from pose_lifter.core.skeleton import H36M17  # noqa: E402

from .data import EvalSet  # noqa: E402
from .evaluate import HIST_BINS, place_mm, predict  # noqa: E402
from .models import LiftingModel  # noqa: E402

MAX_EMBED = 3000


def curves(history: list[dict[str, Any]], path: Path) -> Path:
    """Validation errors and training losses over epochs."""
    rows = [h for h in history if h['val']]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for key in ('mpjpe', 'n_mpjpe', 'pa_mpjpe', 'legacy_thesis'):
        a.plot([h['epoch'] for h in rows], [h['val'][key] for h in rows], label=key)
    a.set(xlabel='epoch', ylabel='mm', title='validation error')
    a.legend()
    keys = sorted({k for h in history for k in h['train']} - {'beta', 'd_real', 'd_fake'})
    for key in keys:
        b.plot([h['epoch'] for h in history], [h['train'].get(key, np.nan) for h in history],
               label=key)
    b.set(xlabel='epoch', yscale='log', title='training losses')
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def pjpe_histograms(history: list[dict[str, Any]], path: Path, max_lines: int = 8) -> Path:
    """Per-joint PA error histograms of several epochs, early (light) to late (dark)."""
    rows = [h for h in history if h['val'].get('pjpe_hist')]
    pick = rows if len(rows) <= max_lines else \
        [rows[i] for i in np.linspace(0, len(rows) - 1, max_lines).round().astype(int)]
    centres = 0.5 * (HIST_BINS[1:] + HIST_BINS[:-1])
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, h in enumerate(pick):
        counts = np.asarray(h['val']['pjpe_hist'], float)
        ax.plot(centres, counts / max(counts.sum(), 1.0),
                color=plt.cm.viridis(i / max(len(pick) - 1, 1)), label=f'epoch {h["epoch"]}')
    ax.set(xlabel='per-joint error after Procrustes (mm)', ylabel='share of joints',
           title='PJPE histogram over training')
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def embed_2d(x: np.ndarray, use_umap: bool, seed: int = 0) -> tuple[np.ndarray, str]:
    """(N, L) -> (N, 2) with UMAP (or PCA when ``use_umap`` is False or umap is missing)."""
    if use_umap:
        try:
            import umap
            return umap.UMAP(random_state=seed, n_jobs=1).fit_transform(x), 'UMAP'
        except ImportError:
            pass
    centred = x - x.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T, 'PCA'


def latent_map(model: LiftingModel, es: EvalSet, path: Path, use_umap: bool) -> Path:
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(len(es), min(len(es), MAX_EMBED), replace=False))
    mu = predict(model, es.inputs[rows])['mu']
    xy, method = embed_2d(mu, use_umap)
    fig, ax = plt.subplots(figsize=(7, 6))
    clips = es.clip[rows]
    for c in np.unique(clips):
        m = clips == c
        ax.scatter(xy[m, 0], xy[m, 1], s=3, label=str(es.clip_names[c]))
    ax.set(title=f'{method} of validation latent means, by clip')
    if len(np.unique(clips)) <= 12:
        ax.legend(fontsize=6, markerscale=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _draw(ax, pose: np.ndarray, color: str, label: str) -> None:
    for p, c in H36M17.bones:
        ax.plot(*[pose[[p, c], k] for k in (0, 2, 1)], color=color)
    ax.scatter(pose[:, 0], pose[:, 2], pose[:, 1], color=color, s=6, label=label)


def best_worst(model: LiftingModel, es: EvalSet, bone_sum_m: float, path: Path,
               count: int = 3) -> Path:
    """Scale-aligned predictions (red) vs ground truth (black), camera frame, root at 0."""
    pred = place_mm(predict(model, es.inputs)['pose'], es, bone_sum_m)
    p, g = M.root_align(pred), M.root_align(es.gt_mm)
    p = M.scale_align(p, g)
    err = M.per_joint_error(p, g).mean(-1)
    order = np.argsort(err)
    picks = [('best', i) for i in order[:count]] + [('worst', i) for i in order[::-1][:count]]
    fig = plt.figure(figsize=(4 * count, 8))
    for k, (tag, i) in enumerate(picks):
        ax = fig.add_subplot(2, count, k + 1, projection='3d')
        _draw(ax, g[i], 'black', 'ground truth')
        _draw(ax, p[i], 'tab:red', 'prediction')
        ax.set(title=f'{tag}: {err[i]:.0f} mm\n{es.clip_names[es.clip[i]]}',
               xlabel='x', ylabel='z (depth)', zlabel='y')
        lim = np.abs(np.concatenate([g[i], p[i]])).max()
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), zlim=(lim, -lim))   # camera y is down
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run_plots(out: Path, history: list[dict[str, Any]], model: LiftingModel,
              val: EvalSet | None, bone_sum_m: float, use_umap: bool = True) -> list[Path]:
    out = Path(out)
    paths = [curves(history, out / 'curves.png'), pjpe_histograms(history, out / 'pjpe_hist.png')]
    if val is not None and len(val):
        paths.append(latent_map(model, val, out / 'latent_map.png', use_umap))
        paths.append(best_worst(model, val, bone_sum_m, out / 'best_worst.png'))
    return paths
