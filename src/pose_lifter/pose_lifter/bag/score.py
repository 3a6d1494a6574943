"""``bag score``: accuracy, gating and latency of a recorded replay (JSON-ready dicts).

Outputs are matched to ground truth by (header stamp, person id). Accuracy uses the real
persons (GT status ``gt``) the node lifted: every metric of core.metrics on root-aligned mm,
per joint and per clip, plus the metric placement error of the root, and beside it the same
metrics of the zero-depth and mean-pose baselines on the same persons (bag/baselines.py).
Gating compares the realism of real and corrupted persons (labels from the GT status; a
corrupted person keeps its track id, so the node's track gate judges it against the same
track's previous detection) and reads the node's decisions from ``plausible``.
``inputs`` says what went in: the ``bag make`` options and source, the replay options, the
model (path, content hash, threshold from its contract) and the backend the node reported.
Latency is output receive time minus input publish time for the same stamp (both wall clock,
recorded by ``bag replay``); without publish times, receive time minus header stamp (only
meaningful for a node on wall-clock time). Inputs without an output are drops.
Temporal metrics (bag/jitter.py): acceleration error over consecutive frames of a track,
accuracy by number of visible input joints, root error by distance. ``compare`` puts a second
replay of the same bag (e.g. ``--param temporal_filter:=false``) beside this one.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from ..core.evaluation import spearman
from ..core.metrics import gating_metrics, per_joint_error, pose_metrics, roc_auc, root_align
from ..core.skeleton import H36M17
from .baselines import baseline_metrics, read_model, resolve_model
from .io import (
    CAMERA_INFO,
    DIAGNOSTICS,
    GT,
    KEYPOINTS,
    META_MAKE,
    META_REPLAY,
    SKELETON2D_ARRAY,
    SKELETON3D_ARRAY,
    SKELETONS,
    BagReader,
    TopicSpec,
)
from .jitter import acceleration_error, by_distance, by_visible_joints, triplets
from .scene import CORRUPT_PREFIX, GT_STATUS
from .tables import (
    PersonTable,
    keypoint_frames,
    last_diagnostics,
    match,
    message_times,
    person_table,
)

EXAMPLES = 4    # skeleton renderings in the report: best to worst by MPJPE
ENVELOPE = ('outside_image', 'out_of_range')   # node statuses of impossible persons
# (name, path in the score) of the numbers ``compare`` puts beside another replay's
COMPARED = (('accel_error_mm', ('accuracy', 'temporal', 'accel_error_mm')),
            ('root_accel_error_mm', ('accuracy', 'temporal', 'root_accel_error_mm')),
            ('mpjpe', ('accuracy', 'metrics', 'mpjpe')),
            ('pa_mpjpe', ('accuracy', 'metrics', 'pa_mpjpe')),
            ('root_error_p50_m', ('accuracy', 'root_error_m', 'p50')),
            ('uncertainty_coverage', ('accuracy', 'uncertainty', 'coverage')),
            ('latency_p50_ms', ('latency', 'ms', 'p50')),
            ('latency_p99_ms', ('latency', 'ms', 'p99')))


def _stats(values: np.ndarray) -> dict[str, float]:
    v = np.asarray(values, float)
    if v.size == 0:
        return {'count': 0}
    return {'count': int(v.size), 'mean': float(v.mean()), 'p50': float(np.percentile(v, 50)),
            'p90': float(np.percentile(v, 90)), 'p99': float(np.percentile(v, 99)),
            'max': float(v.max())}


def accuracy(pred: PersonTable, gt: PersonTable, clip_names: dict[str, str],
             visible: dict[tuple[int, str], int] | None = None) -> dict:
    """§7 metrics over matched real persons with a lifted pose; pred/gt rows aligned;
    visible: (stamp, id) -> visible input joints (None: not known)."""
    lifted = np.isfinite(pred.joints).all(axis=(1, 2))
    p_mm, g_mm = pred.joints[lifted] * 1000.0, gt.joints[lifted] * 1000.0
    out: dict = {'real_persons': int(len(pred)), 'lifted': int(lifted.sum()),
                 'statuses': dict(Counter(pred.status.tolist()))}
    if not lifted.any():
        return out
    out['metrics'] = pose_metrics(p_mm, g_mm)
    err = per_joint_error(root_align(p_mm), root_align(g_mm))       # (M, 17)
    out['per_joint_mpjpe'] = {n: float(err[:, j].mean())
                              for j, n in enumerate(H36M17.joint_names)}
    frames = pred.frame_id[lifted]
    out['per_clip'] = {}
    for frame in dict.fromkeys(frames.tolist()):          # clips in bag order
        rows = frames == frame
        out['per_clip'][clip_names.get(frame, frame)] = {
            'frame_id': frame, **pose_metrics(p_mm[rows], g_mm[rows])}
    root = p_mm[:, 0] - g_mm[:, 0]
    depth = np.abs(root[:, 2]) / np.maximum(g_mm[:, 0, 2], 1e-6)
    root_m = np.linalg.norm(root, axis=-1) / 1000.0
    out['root_error_m'] = _stats(root_m)
    out['root_depth_error_rel'] = _stats(depth)
    per_pose = err.mean(axis=1)
    out['temporal'] = acceleration_error(
        p_mm, g_mm, triplets(pred.stamp[lifted], frames, pred.id[lifted]))
    if visible:
        seen = np.array([visible.get((int(t), str(i)), -1) for t, i in
                         zip(pred.stamp[lifted].tolist(), pred.id[lifted].tolist())], int)
        out['by_visible_joints'] = by_visible_joints(per_pose, seen)
    out['root_error_by_distance'] = by_distance(root_m, g_mm[:, 0, 2] / 1000.0)
    radii = pred.uncertainty[lifted]
    if np.isfinite(radii[:, 1:]).any():
        out['uncertainty'] = uncertainty_calibration(radii[:, 1:] * 1000.0, err[:, 1:],
                                                     pred.inferred[lifted][:, 1:])
    picks = np.argsort(per_pose)[np.unique(np.linspace(0, len(per_pose) - 1, EXAMPLES)
                                           .astype(int))]      # best to worst
    out['examples'] = {'pred_mm': root_align(p_mm[picks]), 'gt_mm': root_align(g_mm[picks]),
                       'mpjpe': per_pose[picks],
                       'clip': [clip_names.get(f, f) for f in frames[picks].tolist()],
                       'frame_id': frames[picks].tolist(),
                       'distance_m': np.linalg.norm(g_mm[picks, 0], axis=-1) / 1000.0
                       }       # for the report; not JSON
    out['keys'] = list(zip(pred.stamp[lifted].tolist(), pred.id[lifted].tolist()))
    out['gt_mm'] = g_mm    # baselines are scored on these persons; not JSON
    return out


def uncertainty_calibration(radii_mm: np.ndarray, err_mm: np.ndarray,
                            inferred: np.ndarray, bins: int = 8) -> dict:
    """How the published 90 % radii (M, J) hold against the actual root-aligned errors (M, J):
    coverage, rank correlation, and per radius bin (quantiles of the radius) the mean radius
    beside the observed 90th percentile of the error -- on the diagonal when calibrated."""
    ok = np.isfinite(radii_mm) & np.isfinite(err_mm)
    r, e = radii_mm[ok], err_mm[ok]
    edges = np.unique(np.quantile(r, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, r, side='right') - 1, 0, max(len(edges) - 2, 0))
    curve = [{'radius_mm': float(r[which == k].mean()),
              'error_p90_mm': float(np.quantile(e[which == k], 0.9)),
              'count': int((which == k).sum())}
             for k in range(max(len(edges) - 1, 1)) if (which == k).any()]
    hidden = inferred & ok
    return {'coverage': float((e <= r).mean()), 'spearman': spearman(r, e),
            'coverage_inferred': (float((err_mm[hidden] <= radii_mm[hidden]).mean())
                                  if hidden.any() else None),
            'inferred_joints': int(hidden.sum()), 'joints': int(ok.sum()), 'curve': curve}


def gating(pred: PersonTable, labels: np.ndarray,
           node_threshold: tuple[float, str] | None) -> dict:
    """Realism of real vs corrupted persons; labels (N,) '' for real, else the kind;
    node_threshold: (value, where it came from) or None (then inferred from the decisions)."""
    envelope = np.isin(pred.status, ENVELOPE)     # never plausible; outside_image: no realism
    scored = np.isfinite(pred.realism) | envelope
    real, bad = scored & (labels == ''), scored & (labels != '')
    out: dict = {'real': int(real.sum()), 'corrupted': int(bad.sum()),
                 'envelope': {'real': dict(Counter(pred.status[real & envelope].tolist())),
                              'corrupted': dict(Counter(pred.status[bad & envelope].tolist()))}}
    lifted = np.isfinite(pred.realism)
    if not real.any() and not bad.any():
        return out
    threshold, source = node_threshold if node_threshold is not None else (None, None)
    if threshold is None and (pred.plausible & lifted).any():
        threshold = float(pred.realism[pred.plausible & lifted].min())
        source = 'lowest realism the node accepted'
    out['threshold'], out['threshold_source'] = threshold, source
    real_r, bad_r = pred.realism[real & lifted], pred.realism[bad & lifted]
    out['auc'] = roc_auc(real_r, bad_r)
    out['accepted_real'] = float(pred.plausible[real].mean()) if real.any() else float('nan')
    out['rejected_corrupted'] = float((~pred.plausible[bad]).mean()) if bad.any() \
        else float('nan')
    if threshold is not None:
        out['at_threshold'] = gating_metrics(real_r, bad_r, threshold)
    out['per_kind_auc'] = {k: roc_auc(real_r, pred.realism[lifted & (labels == k)])
                           for k in sorted(set(labels[bad & lifted].tolist()))}
    out['realism_real'] = real_r          # arrays for the plots; not JSON
    out['realism_corrupted'] = bad_r
    return out


def latency(pub_stamps: np.ndarray, pub_times: np.ndarray | None, out_stamps: np.ndarray,
            out_times: np.ndarray) -> dict:
    """Per input frame: output receive time - input publish time (ms); drops."""
    first_out: dict[int, int] = {}
    for s, t in zip(out_stamps.tolist(), out_times.tolist()):
        first_out.setdefault(s, t)
    source = 'publish_time' if pub_times is not None else 'header_stamp'
    base = pub_times if pub_times is not None else pub_stamps
    ms = [(first_out[s] - b) / 1e6 for s, b in zip(pub_stamps.tolist(), base.tolist())
          if s in first_out]
    dropped = int(sum(s not in first_out for s in pub_stamps.tolist()))
    return {'source': source, 'inputs': int(len(pub_stamps)),
            'outputs': int(len(pub_stamps)) - dropped,
            'dropped': dropped, 'drop_rate': dropped / len(pub_stamps) if len(pub_stamps)
            else float('nan'), 'ms': _stats(np.asarray(ms)), 'samples_ms': np.asarray(ms)}


def _labels(pred: PersonTable, gt_status: np.ndarray | None) -> np.ndarray:
    """'' for real persons, else the corruption kind (from GT status; without GT, from the
    ``corrupt:<kind>:`` id prefix of bags made by earlier versions)."""
    if gt_status is not None:
        src = np.where(np.char.startswith(gt_status, CORRUPT_PREFIX), gt_status, '')
        return np.array([s[len(CORRUPT_PREFIX):] if s else '' for s in src.tolist()], dtype=str)
    return np.array([i[len(CORRUPT_PREFIX):].split(':', 1)[0]
                     if i.startswith(CORRUPT_PREFIX) else '' for i in pred.id.tolist()],
                    dtype=str)


def node_threshold(diag: dict, replay: dict | None, given: float | None,
                   warnings: list[str] | None = None) -> tuple[float, str] | None:
    """The realism threshold the node gated with, and where it was found. A model contract
    that cannot be read is said in ``warnings`` (the threshold is then inferred from the
    node's decisions)."""
    if 'realism_threshold' in diag:
        return float(diag['realism_threshold']), 'node diagnostics'
    if given is not None:
        return float(given), '--threshold'
    model = ((replay or {}).get('options') or {}).get('model')
    if model:
        from ..core.backends.base import BackendError
        from ..core.backends.onnx_backend import read_contract
        from ..core.contract import ContractError
        try:
            return float(read_contract(model).realism_threshold), f'contract of {model}'
        except (BackendError, ContractError, OSError) as exc:  # gone, moved or not a model
            if warnings is not None:
                warnings.append(f'realism threshold: cannot read the contract of {model} '
                                f"({exc}); inferred from the node's decisions")
            return None
    return None


def describe_inputs(made: dict, replay: dict | None, diag: dict, model: Path,
                    contract, model_error: str | None) -> dict:
    """What went into the scored run: bag make options, replay options, model, backend."""
    opts = (replay or {}).get('options') or {}
    clips = made.get('clips') or []
    fps = sorted({round(c['fps'], 3) for c in clips if 'fps' in c})
    info = {'bag_make': {**(made.get('options') or {}), **(made.get('selection') or {}),
                         'source': made.get('source'), 'frames': made.get('frames'),
                         'clips': len(clips), 'clip_fps': fps} if made else None,
            'replay': {k: opts.get(k) for k in ('rate', 'backend', 'attach', 'node_params')
                       } if opts else None,
            'model': {'path': str(model)},
            'backend': diag.get('backend') or opts.get('backend') or 'unknown (no diagnostics)',
            'precision': diag.get('precision')}
    if contract is not None:
        info['model'].update(content_hash=contract.content_hash,
                             realism_threshold=contract.realism_threshold,
                             format_version=contract.format_version)
    else:
        info['model']['error'] = model_error
    recorded = (replay or {}).get('model') or {}
    if recorded.get('content_hash'):
        info['model']['content_hash_at_replay'] = recorded['content_hash']
        if recorded['content_hash'] != info['model'].get('content_hash'):
            info['model']['warning'] = ('the model scored here is not the one the replay '
                                        f'recorded ({recorded.get("path")}); the baselines '
                                        'use the one here')
    return info


def score(out_path: str | Path, gt_path: str | Path | None = None,
          threshold: float | None = None, model: str | Path | None = None) -> dict:
    """Score a replay output bag (GT from ``gt_path`` or the output's own copy).

    ``threshold``: the node's realism threshold when its diagnostics do not say (informative;
    acceptance and rejection rates come from the node's ``plausible`` decisions). ``model``:
    the node's model when the replay did not start the node itself (``--attach``); it gives
    the inputs section its hash and the baselines their contract."""
    with BagReader(out_path) as out:
        # the topic names the replay used (``bag replay --*-topic``), else the defaults
        opts = (out.custom.get(META_REPLAY) or {}).get('options') or {}
        skeletons = opts.get('skeletons_topic') or SKELETONS
        keypoints = opts.get('keypoints_topic') or KEYPOINTS
        camera_info = opts.get('camera_info_topic') or CAMERA_INFO
        diagnostics = opts.get('diagnostics_topic') or DIAGNOSTICS
        out.check([TopicSpec(skeletons, (SKELETON3D_ARRAY,)),
                   TopicSpec(keypoints, (SKELETON2D_ARRAY,), required=False),
                   TopicSpec(GT, (SKELETON3D_ARRAY,), required=False)])
        pred = person_table(out, skeletons)
        out_stamps, out_times = message_times(out, skeletons)
        pub_stamps, pub_times = message_times(out, keypoints)
        diag = last_diagnostics(out, diagnostics)
        custom, gt, in_stamps = out.custom, None, None
        frames = keypoint_frames(out, keypoints, camera_info)
        if gt_path is None and GT in out.topics:
            gt = person_table(out, GT)
        warnings = list(out.problems)
    if gt_path is not None:
        with BagReader(gt_path) as src:
            src.check([TopicSpec(GT, (SKELETON3D_ARRAY,), required=False),
                       TopicSpec(keypoints, (SKELETON2D_ARRAY,), required=False)])
            gt = person_table(src, GT) if GT in src.topics else None
            in_stamps = message_times(src, keypoints)[0]
            frames = keypoint_frames(src, keypoints, camera_info)
            custom = {**src.custom, **{k: v for k, v in custom.items() if k == META_REPLAY}}
            warnings += src.problems
    if len(pub_stamps) == 0:
        pub_stamps, pub_times = (in_stamps if in_stamps is not None else out_stamps), None
    made = custom.get(META_MAKE, {})
    clip_names = {c['frame_id']: c['name'] for c in made.get('clips', [])}
    result = {'output_bag': str(out_path), 'gt_bag': str(gt_path) if gt_path else None,
              'outputs': {'messages': int(len(out_stamps)), 'persons': int(len(pred))},
              'replay': custom.get(META_REPLAY), 'bag_make': made.get('options'),
              'diagnostics': diag}
    model_path = resolve_model(str(model) if model else None, custom.get(META_REPLAY))
    contract, model_error = read_model(model_path)
    result['inputs'] = describe_inputs(made, custom.get(META_REPLAY), diag, model_path,
                                       contract, model_error)
    threshold = node_threshold(diag, custom.get(META_REPLAY), threshold, warnings)
    if gt is not None and len(gt):
        a, b = match(pred, gt)
        matched, truth = pred.select(a), gt.select(b)
        result['matched_persons'] = int(len(a))
        labels = _labels(matched, truth.status)
        real = truth.status == GT_STATUS
        result['accuracy'] = accuracy(matched.select(real), truth.select(real), clip_names,
                                      visible_joints(frames))
        result['gating'] = gating(matched, labels, threshold)
        result['baselines'] = _baselines(result['accuracy'], frames, contract, model_error,
                                         custom.get(META_REPLAY))
    else:
        result['accuracy'] = None
        labels = _labels(pred, None)
        if not labels.any() and float((made.get('options') or {}).get('corrupt_prob', 0)) > 0:
            # this version's bags label a corrupted person in the ground truth only
            warnings.append('no ground truth: the corrupted persons of this bag are labelled '
                            'there only (they keep their track ids), so the gating is not '
                            'scored; give the input bag with --gt')
            result['gating'] = None
        else:
            result['gating'] = gating(pred, labels, threshold)
    result['latency'] = latency(pub_stamps, pub_times, out_stamps, out_times)
    result['warnings'] = warnings     # what was skipped or could not be read, never silent
    return result


def visible_joints(frames) -> dict[tuple[int, str], int]:
    """(stamp, id) -> input joints with a finite position and confidence > 0."""
    out = {}
    for f in frames:
        seen = (np.isfinite(f.keypoints).all(-1) & (f.confidence > 0)).sum(-1)
        out.update({(int(f.stamp), str(i)): int(n) for i, n in zip(f.ids, seen.tolist())})
    return out


def _get(result: dict, path: tuple[str, ...]):
    for key in path:
        result = (result or {}).get(key) if isinstance(result, dict) else None
    return result


def compare(result: dict, other: dict) -> dict:
    """This replay's headline numbers beside those of ``other`` (another replay of the same
    bag, e.g. the node with ``temporal_filter:=false``): value, other value, relative
    change (this / other - 1)."""
    params = lambda r: ((r.get('replay') or {}).get('options') or {}).get('node_params')  # noqa: E731
    out: dict = {'other_bag': other['output_bag'], 'node_params': params(result),
                 'other_node_params': params(other), 'metrics': {}}
    for name, path in COMPARED:
        a, b = _get(result, path), _get(other, path)
        if a is None or b is None:
            continue
        change = a / b - 1.0 if b and np.isfinite(a) and np.isfinite(b) else float('nan')
        out['metrics'][name] = {'value': a, 'other': b, 'change_rel': change}
    return out


def _baselines(acc: dict, frames, contract, model_error: str | None, replay: dict | None
               ) -> dict:
    """Model and baseline metrics on the same persons: {'model': ..., baseline: ...}."""
    if 'metrics' not in acc:
        return {'error': 'the model lifted no real person'}
    out = {'model': acc['metrics']}
    if contract is None:
        return {**out, 'error': f'baselines need the model contract ({model_error})'}
    params = ((replay or {}).get('options') or {}).get('node_params') or {}
    anchor = str(params.get('anchor_to_rays', 'true')).lower() not in ('false', '0')
    return {**out, **baseline_metrics(frames, contract, acc['keys'], acc['gt_mm'], anchor)}
