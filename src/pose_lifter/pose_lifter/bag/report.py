"""``bag score`` report: a Markdown summary table, JSON, and a Markdown + HTML report that
explains itself: what went in, the headline numbers, the model beside the baselines, per-clip
numbers, PNG plots (plots.py) and a glossary of every metric (glossary.py)."""
from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np

from . import glossary
from .plots import write_plots

ACCURACY_ROWS = (('mpjpe', 'MPJPE (mm)', 1.0), ('n_mpjpe', 'N-MPJPE (mm)', 1.0),
                 ('pa_mpjpe', 'PA-MPJPE, no reflection (mm)', 1.0),
                 ('pck150', 'PCK@150mm (%)', 100.0), ('auc', 'AUC 0-150mm (%)', 100.0),
                 ('mirror_rate', 'mirror rate (%)', 100.0),
                 ('legacy_thesis', 'legacy thesis metric (mm)', 1.0))


NOT_JSON = ('examples', 'keys')    # report-only data in the score dict
BASELINE_COLUMNS = (('model', 'model'), ('zero_depth', 'zero-depth'),
                    ('mean_pose', 'mean-pose'))


def to_json(value):
    """The score dict without the plot arrays, NaN as null."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items() if not isinstance(v, np.ndarray)
                and k not in NOT_JSON}
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
        temporal = acc.get('temporal') or {}
        rows.append(('acceleration error, root-aligned / root (mm/frame²)',
                     f'{_f(temporal.get("accel_error_mm"))} / '
                     f'{_f(temporal.get("root_accel_error_mm"))}'))
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


def input_rows(result: dict) -> list[tuple[str, str]]:
    """(item, value) rows of what went into the run (``inputs`` of the score)."""
    info = result.get('inputs') or {}
    made = info.get('bag_make') or {}
    rows = []
    if made:
        share = lambda key: _f(made.get(key), 100, 1) + ' %'          # noqa: E731
        rows += [('source pose file', str(made.get('source'))),
                 ('joint format', str(made.get('joint_format'))),
                 ('pixel noise (std, px)', str(made.get('noise_px'))),
                 ('persons per frame', str(made.get('persons'))),
                 ('corrupted skeletons (per person and frame)', share('corrupt_prob')),
                 ('missing joints (drop probability)', share('drop_prob')),
                 ('low-confidence joints', share('low_conf_prob')),
                 ('lens distortion (plumb_bob k1,k2,p1,p2,k3)',
                  ', '.join(str(d) for d in made.get('distortion') or ()) or 'none'),
                 ('camera set / clips / frames',
                  f'{made.get("cameras")} / {made.get("clips")} / {made.get("frames")}'),
                 ('frame rate (fps)', ', '.join(f'{v:g}' for v in made.get('clip_fps') or [])),
                 ('seed', str(made.get('seed')))]
    else:
        rows.append(('input bag', 'not made by pose-lifter bag make (no options recorded)'))
    model = info.get('model') or {}
    rows += [('model', str(model.get('path'))),
             ('model content hash', model.get('content_hash') or
              f'unknown ({model.get("error")})'),
             ('backend (node diagnostics)', str(info.get('backend')))]
    if model.get('warning'):
        rows.insert(-1, ('model warning', f'{model["warning"]}: hash at replay '
                                          f'{model.get("content_hash_at_replay")}'))
    replay = info.get('replay') or {}
    if replay:
        rows.append(('replay rate / attached', f'{replay.get("rate")} / '
                                               f'{bool(replay.get("attach"))}'))
        if replay.get('node_params'):
            rows.append(('node parameters', ', '.join(f'{k}:={v}' for k, v in
                                                      replay['node_params'].items())))
    return rows


def baseline_rows(result: dict) -> tuple[list[str], list[list[str]]] | None:
    """Header and rows of the model-vs-baselines table (None without accuracy)."""
    base = result.get('baselines')
    if not base or 'model' not in base:
        return None
    cols = [(key, name) for key, name in BASELINE_COLUMNS if key in base]
    header = ['metric'] + [name for _, name in cols]
    rows = []
    for key, label, scale in ACCURACY_ROWS + (('count', 'persons', None),):
        row = [label]
        for col, _ in cols:
            m = base[col]
            if 'error' in m:
                row.append('n/a')
            elif scale is None:
                row.append(str(m.get(key)))
            else:
                row.append(_f(m.get(key), scale))
        rows.append(row)
    return header, rows


COMPARISON_ROWS = {'accel_error_mm': ('acceleration error, root-aligned (mm/frame²)', 1, 1),
                   'root_accel_error_mm': ('acceleration error, root (mm/frame²)', 1, 1),
                   'mpjpe': ('MPJPE (mm)', 1, 1), 'pa_mpjpe': ('PA-MPJPE (mm)', 1, 1),
                   'root_error_p50_m': ('root position error, median (m)', 1, 3),
                   'uncertainty_coverage': ('coverage of the 90 % radii (%)', 100, 1),
                   'latency_p50_ms': ('latency p50 (ms)', 1, 2),
                   'latency_p99_ms': ('latency p99 (ms)', 1, 2)}


def comparison_rows(result: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows of this replay beside another one (``bag score --compare``)."""
    comp = result['comparison']
    params = lambda p: ', '.join(f'{k}:={v}' for k, v in (p or {}).items()) or 'defaults'  # noqa: E731
    header = ['metric', f'this ({params(comp.get("node_params"))})',
              f'other ({params(comp.get("other_node_params"))})', 'change (%)']
    rows = []
    for key, m in comp['metrics'].items():
        label, scale, digits = COMPARISON_ROWS.get(key, (key, 1, 1))
        rows.append([label, _f(m['value'], scale, digits), _f(m['other'], scale, digits),
                     _f(m['change_rel'], 100, 1)])
    return header, rows


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)] + \
        ['| ' + ' | '.join(r) + ' |' for r in rows]


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = ''.join(f'<th>{html.escape(h)}</th>' for h in header)
    body = ''.join('<tr>' + ''.join(f'<td>{html.escape(c)}</td>' for c in r) + '</tr>'
                   for r in rows)
    return f'<table><tr>{head}</tr>{body}</table>'


def sections(result: dict) -> list[tuple[str, list[str], list[list[str]], str]]:
    """(heading, header, rows, note) of every table of the report, in order."""
    out = [('What went in', ['item', 'value'], [list(r) for r in input_rows(result)], ''),
           ('Summary', ['metric', 'value'], [list(r) for r in summary_rows(result)], '')]
    base = baseline_rows(result)
    if base is not None:
        errors = '; '.join(f'{k}: {v["error"]}' for k, v in result['baselines'].items()
                           if isinstance(v, dict) and 'error' in v)
        if 'error' in result['baselines'] and isinstance(result['baselines']['error'], str):
            errors = result['baselines']['error']
        out.append(('Model vs baselines', *base,
                    'The same real persons and the same pipeline (normalisation, body-size '
                    "prior, placement) for every column; the baselines lift the bag's "
                    'keypoints without the node: zero-depth puts every joint at the root '
                    'depth, mean-pose outputs the mean training pose.'
                    + (f' Not computed: {errors}.' if errors else '')))
    if result.get('comparison'):
        out.append(('This replay vs another', *comparison_rows(result),
                    f'The other replay: {result["comparison"]["other_bag"]} (same input bag, '
                    'scored the same way; node parameters as in the column headings).'))
    acc = result.get('accuracy') or {}
    if acc.get('temporal'):
        t = acc['temporal']
        out.append(('Jitter', ['metric', 'value'], [
            ['acceleration error, root-aligned joints (mm/frame²)', _f(t['accel_error_mm'])],
            ['acceleration error, root (mm/frame²)', _f(t['root_accel_error_mm'])],
            ['frame triplets', str(t['triplets'])]],
            'Second difference of the prediction minus that of the truth over three '
            'consecutive frames of one track in one camera (gaps within 10 % of the '
            "track's usual gap), mean over joints and triplets."))
    unc = acc.get('uncertainty')
    if unc:
        rows = [['coverage of the 90 % radii (%)', _f(unc['coverage'], 100)],
                ['rank correlation radius / error', _f(unc['spearman'], 1, 2)],
                ['coverage, inferred joints (%)', _f(unc['coverage_inferred'], 100)],
                ['joints (inferred)', f'{unc["joints"]} ({unc["inferred_joints"]})']]
        out.append(('Uncertainty', ['metric', 'value'], rows,
                    'The node publishes per joint the radius that should hold the true joint '
                    '90 % of the time (joint_uncertainty); scored on the root-aligned error '
                    'of the lifted real persons, root excluded.'))
    if acc.get('by_visible_joints'):
        rows = [[k, str(v['count']), _f(v['mpjpe'])] for k, v in
                sorted(acc['by_visible_joints'].items(), key=lambda kv: int(kv[0]))]
        out.append(('Accuracy by visible input joints', ['visible joints', 'persons',
                                                         'MPJPE (mm)'], rows, ''))
    if acc.get('root_error_by_distance'):
        rows = [[k, str(v['count']), _f(v['p50'], 1, 3), _f(v['mean'], 1, 3),
                 _f(v['rel_p50'], 100, 1)] for k, v in acc['root_error_by_distance'].items()]
        out.append(('Root error by distance', ['true root depth', 'persons', 'median (m)',
                                               'mean (m)', 'median / depth (%)'], rows, ''))
    g = result.get('gating') or {}
    if any((g.get('envelope') or {}).values()):
        rows = [[who, st, str(n)] for who, c in g['envelope'].items() for st, n in c.items()]
        out.append(('Outside the operating envelope', ['persons', 'node status', 'count'],
                    rows, 'Counted as rejected by the gating numbers (never plausible).'))
    if acc.get('per_clip'):
        rows = [[c, v['frame_id'], str(v['count']), _f(v['mpjpe']), _f(v['pa_mpjpe']),
                 _f(v['mirror_rate'], 100)] for c, v in acc['per_clip'].items()]
        out.append(('Per clip', ['clip', 'camera frame', 'persons', 'MPJPE (mm)',
                                 'PA-MPJPE (mm)', 'mirror rate (%)'], rows, ''))
    return out


def write_report(result: dict, folder: str | Path) -> Path:
    """report.md, report.html, score.json and PNGs into ``folder``; returns report.html."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plots = write_plots(result, folder)
    data = to_json(result)
    (folder / 'score.json').write_text(json.dumps(data, indent=2) + '\n')
    tables = sections(result)
    terms = glossary.lines()
    md = [f'# pose_lifter bag score: {result["output_bag"]}', '']
    for heading, header, rows, note in tables:
        md += [f'## {heading}', ''] + md_table(header, rows) + ['']
        md += [note, ''] if note else []
    md += ['## Plots', ''] + [f'![{cap}]({name})\n\n{cap}\n' for name, cap in plots]
    md += ['## Glossary', ''] + terms + ['', 'Full numbers: [score.json](score.json)', '']
    (folder / 'report.md').write_text('\n'.join(md))
    body = ''.join(f'<h2>{html.escape(h)}</h2>{_html_table(head, rows)}'
                   + (f'<p>{html.escape(note)}</p>' if note else '')
                   for h, head, rows, note in tables)
    figures = ''.join(f'<figure><img src="{n}" alt="{html.escape(c)}"><figcaption>'
                      f'{html.escape(c)}</figcaption></figure>' for n, c in plots)
    items = ''.join(f'<li>{html.escape(t[2:])}</li>' for t in terms)
    page = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>pose_lifter bag score'
            f'</title><style>body{{font-family:sans-serif;max-width:60em}}td,th{{padding:2px '
            f'8px;text-align:left}}</style></head><body><h1>pose_lifter bag score</h1><p>'
            f'{html.escape(result["output_bag"])}</p>{body}<h2>Plots</h2>{figures}'
            f'<h2>Glossary</h2><ul>{items}</ul>'
            f'<p><a href="score.json">score.json</a> · <a href="report.md">report.md</a></p>'
            f'</body></html>\n')
    (folder / 'report.html').write_text(page)
    return folder / 'report.html'
