"""``bag score`` report: a Markdown summary table, JSON, and a Markdown + HTML report with PNG
plots (matplotlib, Agg backend: no display needed)."""
from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np

from ..core.skeleton import H36M17

ACCURACY_ROWS = (('mpjpe', 'MPJPE (mm)', 1.0), ('n_mpjpe', 'N-MPJPE (mm)', 1.0),
                 ('pa_mpjpe', 'PA-MPJPE, no reflection (mm)', 1.0),
                 ('pck150', 'PCK@150mm (%)', 100.0), ('auc', 'AUC 0-150mm (%)', 100.0),
                 ('mirror_rate', 'mirror rate (%)', 100.0),
                 ('legacy_thesis', 'legacy thesis metric (mm)', 1.0))


def to_json(value):
    """The score dict without the plot arrays, NaN as null."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items() if not isinstance(v, np.ndarray)
                and k != 'examples'}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _f(value, scale: float = 1.0, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return 'n/a'
    return f'{value * scale:.{digits}f}'


def summary_rows(result: dict) -> list[tuple[str, str]]:
    """(label, value) rows of the headline numbers."""
    rows = []
    acc = result.get('accuracy')
    if acc and 'metrics' in acc:
        rows.append(('real persons lifted / matched', f'{acc["lifted"]} / {acc["real_persons"]}'))
        rows += [(label, _f(acc['metrics'][key], scale)) for key, label, scale in ACCURACY_ROWS]
        rows.append(('root position error, median (m)', _f(acc['root_error_m']['p50'], 1, 3)))
    elif acc is not None:
        rows.append(('real persons lifted / matched', f'{acc["lifted"]} / {acc["real_persons"]}'))
    else:
        rows.append(('accuracy', 'n/a (no ground truth)'))
    g = result.get('gating') or {}
    if 'auc' in g:
        rows += [('gating ROC-AUC real vs corrupted', _f(g['auc'], 1, 3)),
                 ('real persons accepted by the node (%)', _f(g['accepted_real'], 100)),
                 ('corrupted persons rejected by the node (%)', _f(g['rejected_corrupted'], 100)),
                 ('realism threshold', _f(g.get('threshold'), 1, 3))]
    lat = result['latency']
    rows += [(f'latency p50 / p99 (ms, {lat["source"]})',
              f'{_f(lat["ms"].get("p50"))} / {_f(lat["ms"].get("p99"))}'),
             ('input frames dropped', f'{lat["dropped"]} / {lat["inputs"]}')]
    diag = result.get('diagnostics') or {}
    if 'latency_p50_ms' in diag:
        rows.append(('node processing p50 / p99 (ms, its diagnostics)',
                     f'{diag["latency_p50_ms"]} / {diag.get("latency_p99_ms", "n/a")}'))
    return rows


def markdown_table(rows: list[tuple[str, str]]) -> str:
    return '\n'.join(['| metric | value |', '|---|---|'] + [f'| {a} | {b} |' for a, b in rows])


def _plots(result: dict, folder: Path) -> list[tuple[str, str]]:
    """Write the PNGs; returns (file name, caption)."""
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
        ax.bar(names, [acc['per_joint_mpjpe'][n] for n in names], color='tab:blue')
        ax.set_ylabel('root-aligned error (mm)')
        ax.tick_params(axis='x', rotation=60)
        save(fig, 'error_per_joint.png', 'Error per joint (root-aligned, mm)')
    lat = result['latency'].get('samples_ms')
    if lat is not None and len(lat):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.hist(lat, bins=40, color='tab:green')
        ax.set_xlabel(f'latency (ms, {result["latency"]["source"]})')
        ax.set_ylabel('frames')
        save(fig, 'latency.png', 'Latency: output received - input published')
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
        ax.legend()
        save(fig, 'realism.png', 'Realism of real vs corrupted persons')
    if 'examples' in acc:
        save(_skeletons(plt, acc['examples']), 'skeletons.png',
             'GT (black) vs predicted (colour), root-aligned; front (x-y) and side (z-y)')
    return made


def _skeletons(plt, ex: dict):
    """Front and side views of a few GT/predicted pairs (camera frame, y down)."""
    n = len(ex['mpjpe'])
    fig, axes = plt.subplots(2, n, figsize=(2.6 * n, 5.2), squeeze=False)
    for k in range(n):
        for row, (a, name) in enumerate(((0, 'x'), (2, 'z'))):
            ax = axes[row, k]
            for pose, style in ((ex['gt_mm'][k], 'k-'), (ex['pred_mm'][k], 'r-')):
                for p, c in H36M17.bones:
                    ax.plot([pose[p, a], pose[c, a]], [pose[p, 1], pose[c, 1]], style, lw=1.5)
            ax.invert_yaxis()
            ax.set_aspect('equal')
            ax.set_xlabel(f'{name} (mm)')
            if row == 0:
                ax.set_title(f'MPJPE {ex["mpjpe"][k]:.0f} mm', fontsize=9)
    return fig


def write_report(result: dict, folder: str | Path) -> Path:
    """report.md, report.html, score.json and PNGs into ``folder``; returns report.html."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plots = _plots(result, folder)
    data = to_json(result)
    (folder / 'score.json').write_text(json.dumps(data, indent=2) + '\n')
    rows = summary_rows(result)
    acc = result.get('accuracy') or {}
    md = [f'# pose_lifter bag score: {result["output_bag"]}', '', markdown_table(rows), '']
    if acc.get('per_clip'):
        md += ['## Per clip', '', '| clip | frame | persons | MPJPE | PA-MPJPE | mirror % |',
               '|---|---|---|---|---|---|']
        md += [f'| {c} | {v["frame_id"]} | {v["count"]} | {v["mpjpe"]:.1f} | '
               f'{v["pa_mpjpe"]:.1f} | {100 * v["mirror_rate"]:.1f} |'
               for c, v in acc['per_clip'].items()]
        md.append('')
    md += [f'![{cap}]({name})\n\n{cap}\n' for name, cap in plots]
    md += ['Full numbers: [score.json](score.json)', '']
    (folder / 'report.md').write_text('\n'.join(md))
    table = ''.join(f'<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td></tr>'
                    for a, b in rows)
    figures = ''.join(f'<figure><img src="{n}" alt="{html.escape(c)}"><figcaption>'
                      f'{html.escape(c)}</figcaption></figure>' for n, c in plots)
    page = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>pose_lifter bag score'
            f'</title><style>body{{font-family:sans-serif;max-width:60em}}td{{padding:2px 8px}}'
            f'</style></head><body><h1>pose_lifter bag score</h1><p>'
            f'{html.escape(result["output_bag"])}</p><table>{table}</table>{figures}'
            f'<p><a href="score.json">score.json</a> · <a href="report.md">report.md</a></p>'
            f'</body></html>\n')
    (folder / 'report.html').write_text(page)
    return folder / 'report.html'
