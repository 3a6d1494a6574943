"""PNG plots of a ``bag score`` report (matplotlib, Agg backend: no display needed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.skeleton import H36M17

SIDE_COLOURS = {1: 'tab:blue', -1: 'tab:red', 0: 'tab:gray'}   # left, right, midline
SIDE_NAMES = {1: 'left', -1: 'right', 0: 'midline'}


def write_plots(result: dict, folder: Path) -> list[tuple[str, str]]:
    """Write the PNGs into ``folder``; returns (file name, caption) of each."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    made = []

    def save(fig, name: str, caption: str) -> None:
        fig.tight_layout()
        fig.savefig(folder / name, dpi=90)
        plt.close(fig)
        made.append((name, caption))

    acc = result.get('accuracy') or {}
    if 'per_joint_mpjpe' in acc:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        names = list(acc['per_joint_mpjpe'])
        colours = [SIDE_COLOURS[int(s)] for s in H36M17.side]
        ax.bar(names, [acc['per_joint_mpjpe'][n] for n in names], color=colours)
        ax.set_ylabel('root-aligned error (mm)')
        ax.tick_params(axis='x', rotation=60)
        save(fig, 'error_per_joint.png', 'Error per joint (root-aligned, mm; blue left, '
             'red right, grey midline)')
    lat = result['latency'].get('samples_ms')
    if lat is not None and len(lat):
        save(latency_figure(plt, np.asarray(lat), result['latency']['source']), 'latency.png',
             'Latency per answered frame: output received - input published, with its p50 '
             'and p99')
    g = result.get('gating') or {}
    if len(g.get('realism_real', [])) or len(g.get('realism_corrupted', [])):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        both = np.concatenate([g['realism_real'], g['realism_corrupted']])
        bins = np.linspace(both.min(), both.max() + 1e-9, 40)
        ax.hist(g['realism_real'], bins=bins, alpha=0.6, label='real', color='tab:blue')
        ax.hist(g['realism_corrupted'], bins=bins, alpha=0.6, label='corrupted',
                color='tab:red')
        if g.get('threshold') is not None:
            ax.axvline(g['threshold'], color='k', ls='--', label='threshold')
        ax.set_xlabel('realism')
        ax.set_ylabel('persons')
        ax.legend()
        save(fig, 'realism.png', 'Realism of real vs corrupted persons')
    if acc.get('by_visible_joints'):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        items = sorted(acc['by_visible_joints'].items(), key=lambda kv: int(kv[0]))
        ax.bar([k for k, _ in items], [v['mpjpe'] for _, v in items], color='tab:blue')
        for k, (_, v) in enumerate(items):
            ax.annotate(str(v['count']), (k, v['mpjpe']), ha='center', va='bottom', fontsize=7)
        ax.set_xlabel('visible input joints')
        ax.set_ylabel('MPJPE (mm)')
        save(fig, 'by_visible_joints.png', 'MPJPE by number of visible input joints (persons '
             'above each bar)')
    unc = acc.get('uncertainty')
    if unc and unc.get('curve'):
        fig, ax = plt.subplots(figsize=(5, 4))
        radius = [c['radius_mm'] for c in unc['curve']]
        ax.plot(radius, [c['error_p90_mm'] for c in unc['curve']], 'o-', label='observed')
        top = max(max(radius), max(c['error_p90_mm'] for c in unc['curve']))
        ax.plot([0, top], [0, top], 'k--', lw=1, label='calibrated')
        ax.set_xlabel('published 90 % radius (mm)')
        ax.set_ylabel('90th percentile of the actual error (mm)')
        ax.legend()
        save(fig, 'uncertainty.png', 'Uncertainty calibration: per bin of published radius, '
             f'the 90th percentile of the error (coverage {100 * unc["coverage"]:.1f} %)')
    if acc.get('root_error_by_distance'):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        items = list(acc['root_error_by_distance'].items())
        ax.bar([k for k, _ in items], [v['p50'] for _, v in items], color='tab:orange')
        ax.set_xlabel('true root depth')
        ax.set_ylabel('root position error, median (m)')
        save(fig, 'root_error_by_distance.png', 'Root position error (median) by distance')
    comp = (result.get('comparison') or {}).get('metrics') or {}
    if comp:
        keys = [k for k in ('accel_error_mm', 'root_accel_error_mm', 'mpjpe', 'pa_mpjpe')
                if k in comp]
        fig, ax = plt.subplots(figsize=(6, 3.5))
        x = np.arange(len(keys))
        ax.bar(x - 0.2, [comp[k]['value'] for k in keys], 0.4, label='this replay')
        ax.bar(x + 0.2, [comp[k]['other'] for k in keys], 0.4, label='other replay')
        ax.set_xticks(x, [k.replace('_mm', '') for k in keys])
        ax.set_ylabel('mm (acceleration: mm/frame²)')
        ax.legend()
        save(fig, 'comparison.png', 'Jitter and accuracy of this replay beside the other '
             '(bag score --compare)')
    if 'examples' in acc:
        save(skeleton_figure(plt, acc['examples']), 'skeletons.png',
             'Ground truth (thin, dashed) vs prediction (thick), root-aligned, camera frame '
             'turned upright; blue left, red right; best to worst MPJPE')
    return made


def latency_figure(plt, ms: np.ndarray, source: str):
    """Histogram of latencies (ms) with labelled p50 and p99 lines."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(ms, bins=40, color='tab:green')
    for q, style in ((50, '--'), (99, ':')):
        value = float(np.percentile(ms, q))
        ax.axvline(value, color='k', ls=style, label=f'p{q} {value:.1f} ms')
        ax.annotate(f'p{q}', (value, 1.0), xycoords=('data', 'axes fraction'),
                    xytext=(3, -12), textcoords='offset points', fontsize=8)
    ax.set_xlabel(f'latency (ms, {source})')
    ax.set_ylabel('frames')
    ax.legend()
    return fig


def _upright(pose: np.ndarray) -> np.ndarray:
    """Camera optical frame (x right, y down, z forward) -> plot axes (x right, z up, y
    away from the camera): (J, 3) -> (J, 3)."""
    return np.stack([pose[:, 0], pose[:, 2], -pose[:, 1]], axis=-1)


def skeleton_figure(plt, ex: dict):
    """3D panels of GT/predicted pairs with equal axes and left/right colours."""
    n = len(ex['mpjpe'])
    fig = plt.figure(figsize=(3.4 * n, 4.0))
    side = H36M17.side
    for k in range(n):
        ax = fig.add_subplot(1, n, k + 1, projection='3d')
        gt, pred = _upright(ex['gt_mm'][k]), _upright(ex['pred_mm'][k])
        for pose, width, style in ((gt, 1.0, '--'), (pred, 2.2, '-')):
            for p, c in H36M17.bones:
                ax.plot(*pose[[p, c]].T, style, lw=width, color=SIDE_COLOURS[int(side[c])])
        both = np.concatenate([gt, pred])
        centre = (both.max(axis=0) + both.min(axis=0)) / 2
        half = float(np.ptp(both, axis=0).max()) / 2 + 50.0
        ax.set_xlim(centre[0] - half, centre[0] + half)
        ax.set_ylim(centre[1] - half, centre[1] + half)
        ax.set_zlim(centre[2] - half, centre[2] + half)
        ax.set_box_aspect((1, 1, 1))
        ax.view_init(elev=15, azim=-70)
        ax.set_xlabel('x (mm)', fontsize=7)
        ax.set_ylabel('depth (mm)', fontsize=7)
        ax.set_zlabel('up (mm)', fontsize=7)
        ax.tick_params(labelsize=6)
        clip = ex.get('clip', [''] * n)[k]
        frame = ex.get('frame_id', [''] * n)[k]
        dist = ex.get('distance_m', [float('nan')] * n)[k]
        ax.set_title(f'{clip} · {frame}\n{dist:.1f} m away · MPJPE {ex["mpjpe"][k]:.0f} mm',
                     fontsize=8)
    return fig
