"""``pose-lifter bench``: latency and throughput of every available backend, as JSON (§10)."""
from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

from ..bag.node_process import param_assignments
from ..core.backends import BackendError, create_backend
from ..core.cameras import EVAL_CAMERAS, eval_views
from ..core.pipeline import Lifter
from ..core.poses import load_pose_file


def percentiles(samples_s: list[float]) -> dict:
    """p50/p99/mean in ms of durations in seconds (None for no samples)."""
    ms = np.asarray(samples_s, dtype=np.float64) * 1000.0
    if not ms.size:
        return {'p50_ms': None, 'p99_ms': None, 'mean_ms': None, 'runs': 0}
    return {'p50_ms': float(np.percentile(ms, 50)), 'p99_ms': float(np.percentile(ms, 99)),
            'mean_ms': float(ms.mean()), 'runs': int(ms.size)}


def _time(fn, repeats: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def sample_inputs(data: Path | None, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 17, 2) pixels and (n, 3, 3) K of real poses seen by the evaluation cameras."""
    poses = load_pose_file(data)
    pick = np.random.default_rng(seed).choice(len(poses), size=min(n, len(poses)), replace=False)
    _, px, K = eval_views(poses.joints[pick], EVAL_CAMERAS[:1])
    reps = int(np.ceil(n / len(px)))
    return np.tile(px, (reps, 1, 1))[:n], np.tile(K, (reps, 1, 1))[:n]


def bench_backend(lifter: Lifter, px: np.ndarray, K: np.ndarray, repeats: int) -> dict:
    out = {'backend': lifter.backend.describe()}
    for persons in (1, 10):
        out[f'pipeline_{persons}_person'] = percentiles(
            _time(lambda n=persons: lifter.lift(px[:n], K[:n]), repeats))
        x = np.zeros((persons, lifter.contract.input_dim), np.float32)
        out[f'backend_{persons}_person'] = percentiles(
            _time(lambda x=x: lifter.backend.infer(x), repeats))
    for persons in (1, 10):
        out[f'temporal_filter_{persons}_person'] = percentiles(
            _time(filter_frames(lifter.lift(px[:persons], K[:persons]).joints3d), repeats))
    if lifter.contract.track_gate:
        for persons in (1, 10):
            out[f'track_gate_{persons}_person'] = percentiles(
                _time(gate_frames(lifter, px[:persons], K[:persons]), repeats))
    big = min(len(px), 1024)
    t = _time(lambda: lifter.lift(px[:big], K[:big]), max(3, repeats // 20), warmup=1)
    out['throughput_poses_per_s'] = float(big / np.median(t))
    out['throughput_batch'] = big
    return out


def filter_frames(joints: np.ndarray, seed: int = 0):
    """A call that filters the next frame of ``joints`` (N, 17, 3) (every person a track of
    its own, 1 cm of noise, 30 Hz stamps) with the node's default temporal filter
    (config/lifter.yaml, temporal_filter forced on): the filter's own cost per frame."""
    from ..core.temporal import from_parameters
    from ..node.params import load_defaults

    temporal = from_parameters({**load_defaults(), 'temporal_filter': True})
    noise = np.random.default_rng(seed).normal(0.0, 0.01, (64,) + joints.shape)
    ids = [f'p{k}' for k in range(len(joints))]
    frame = iter(range(10**9))

    def step() -> None:
        k = next(frame)
        temporal.update('camera', k * 33_333_333, ids, joints + noise[k % len(noise)])
    step.temporal = temporal       # for a look at its tracks and counts
    return step


def gate_frames(lifter: Lifter, px: np.ndarray, K: np.ndarray, seed: int = 0):
    """A call that judges the next frame of ``px`` (N, 17, 2) pixels (every person a track of
    its own, 1 px of jitter, 30 Hz stamps) with the model's track gate as the node does (its
    seen points, the tracks' previous detections, the verdict, the history kept): the gate's
    own cost per frame."""
    from ..core.track_gate import TrackGate, TrackHistory, judge_frame

    gate = TrackGate.from_dict(lifter.contract.track_gate)
    history = TrackHistory(gate.max_gap_s)
    result = lifter.lift(px, K)
    noise = np.random.default_rng(seed).normal(0.0, 1.0, (64,) + px.shape)
    conf = np.ones(px.shape[:2])
    ids = [f'p{k}' for k in range(len(px))]
    frame = iter(range(10**9))

    def step() -> None:
        k = next(frame)
        stamp = k * 33_333_333
        judge_frame(gate, history, 'camera', ids, stamp, 'h36m17', px + noise[k % len(noise)],
                    conf, lifter.min_confidence, result.realism, result.status,
                    lifter.threshold)
    step.history = history         # for a look at the tracks it keeps
    return step


def _bench_node(args: argparse.Namespace, result: dict) -> None:
    """End-to-end node latency over loopback DDS (cli/bench_node.py): on by default where
    rclpy and pose_lifter_msgs import, ``--no-node`` to skip, ``--node`` to insist."""
    if args.node is False:
        return
    if not result['backends']:
        result['skipped']['node'] = 'no backend could load the model (see the other skips)'
        return
    try:
        import pose_lifter_msgs.msg  # noqa: F401
        import rclpy  # noqa: F401
    except ImportError as exc:
        if args.node:
            raise BackendError(f'--node needs rclpy and pose_lifter_msgs: {exc}') from None
        result['skipped']['node'] = f'rclpy/pose_lifter_msgs not importable: {exc}'
        return
    from .bench_node import run_node_bench
    try:
        result['node'] = run_node_bench(str(args.model), args.backend, Path(args.data),
                                        seconds=args.node_seconds, overload=args.overload,
                                        floor=args.floor, params=_node_params(args.node_param))
    except RuntimeError as exc:
        result['skipped']['node'] = str(exc)


def _node_threads() -> int:
    """The node's onnxruntime intra-op threads (config/lifter.yaml): the pipeline is timed as
    the node runs it."""
    from ..node.params import load_defaults
    return int(load_defaults()['threads'])


def _node_params(items: list[str] | None) -> dict[str, str]:
    """``KEY:=VALUE`` strings -> {KEY: VALUE} (BackendError on a malformed one)."""
    return param_assignments(items, '--node-param', BackendError)


def run(args: argparse.Namespace) -> int:
    _node_params(args.node_param)                    # a malformed one fails before the work
    px, K = sample_inputs(Path(args.data), 1024)
    result = {'model': str(args.model), 'backends': {}, 'skipped': {}}
    names = [args.backend] if args.backend != 'auto' else ['onnxruntime', 'onnxruntime-cuda',
                                                             'tensorrt']
    threads = args.threads if args.threads is not None else _node_threads()
    result['threads'] = threads
    for name in names:
        try:
            lifter = Lifter(create_backend(args.model, name, threads=threads))
        except (BackendError, ImportError) as exc:
            result['skipped'][name] = str(exc)
            continue
        result['backends'][name] = bench_backend(lifter, px, K, args.repeats)
    result['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    _bench_node(args, result)
    text = json.dumps(result, indent=2)
    if args.json:
        Path(args.json).write_text(text + '\n')
    print(text)
    return 0


def add_parser(sub, default_data) -> None:
    p = sub.add_parser('bench', help='latency/throughput of the available backends (JSON)')
    p.add_argument('--json', help='also write the JSON here')
    p.add_argument('--data', default=str(default_data), help='pose file to draw inputs from')
    p.add_argument('--repeats', type=int, default=200)
    p.add_argument('--threads', type=int, default=None,
                   help='onnxruntime intra-op threads of the pipeline timings (default: the '
                   "node's, config/lifter.yaml; 0 = one per core)")
    p.add_argument('--node', action=argparse.BooleanOptionalAction, default=None,
                   help='end-to-end node latency over loopback DDS (default: when rclpy '
                   'imports)')
    p.add_argument('--node-seconds', type=float, default=10.0,
                   help='seconds of 30 Hz input per person count for --node')
    p.add_argument('--overload', type=float, default=10.0,
                   help='--node also runs at this many times 30 Hz (0: not)')
    p.add_argument('--floor', action=argparse.BooleanOptionalAction, default=True,
                   help='--node also measures the transport floor (a minimal relay of the '
                   'same message sizes) and reports the node p50/p99 as ratios to it')
    p.add_argument('--node-param', action='append', metavar='KEY:=VALUE',
                   help='extra node parameter for --node (repeatable), e.g. threads:=0')
    p.set_defaults(func=run)
