#!/usr/bin/env python3
"""Where the node's time per frame goes: its worker's stages, back to back and paced.

Builds the real ``PoseLifterNode`` in this process (shipped model, defaults, a markers
subscriber so markers are built), feeds its worker entry point ``_process`` the same
Skeleton2DArray + CameraInfo frames (``--persons`` persons of the test subject through one
evaluation camera) back to back and then with ``--pace`` seconds of idling before each, and
times every stage by wrapping the functions ``_process`` calls (read the message, lift,
temporal filter, skeletons message, publish, marker geometry, marker messages, publish).
No DDS peer: what the node does per frame, not the transport. DDS stays on loopback
(ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST), in ROS_DOMAIN_ID or a domain from the process id.

    .venv/bin/python scripts/node_stages.py [--persons 1] [--frames 400] [--pace 0.033]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _timed(name: str, fn, log: dict):
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            log[name].append(time.perf_counter() - t0)
    return wrapper


def run(persons: int, frames: int, pace: float, warmup: int = 50) -> dict:
    """p50 ms per stage and of the whole ``_process``, back to back and paced."""
    import rclpy
    from builtin_interfaces.msg import Time
    from std_msgs.msg import Header
    from visualization_msgs.msg import MarkerArray

    from pose_lifter.cli.bench import sample_inputs
    from pose_lifter.node import convert, lifter_node, sources
    from pose_lifter.node.lifter_node import PoseLifterNode

    rclpy.init()
    node = PoseLifterNode()
    try:
        if not node.autostart():
            raise SystemExit('the node did not activate')
        node.create_subscription(MarkerArray, 'markers', lambda msg: None, 10)
        px, K = sample_inputs(ROOT / 'models' / 'demo_poses.npz', max(persons, 1))
        msgs = []
        for i in range(2 * frames + warmup):
            h = Header(stamp=Time(sec=100 + i // 30, nanosec=(i % 30) * 33_333_333),
                       frame_id='camera')
            msgs.append((convert.frame_to_msg(h, px[:persons],
                                              ids=[f'p{k}' for k in range(persons)]),
                         convert.camera_info_msg(h, K[0])))
        log: dict[str, list[float]] = defaultdict(list)
        patches = [(sources, 'read_frame'), (convert, 'result_to_msg'),
                   (lifter_node, 'skeleton_markers')]
        for module, name in patches:
            setattr(module, name, _timed(name, getattr(module, name), log))
        node.lifter.lift = _timed('lift', node.lifter.lift, log)
        node._temporal.update = _timed('temporal_filter', node._temporal.update, log)
        node._marker_msgs = _timed('marker_messages', node._marker_msgs, log)
        for key, pub in node._pubs.items():
            pub.publish = _timed(f'publish_{key}', pub.publish, log)
        out = {'persons': persons, 'frames': frames, 'pace_s': pace}
        for label, wait, batch in (('back_to_back', 0.0, msgs[:warmup + frames]),
                                   ('paced', pace, msgs[warmup + frames:])):
            whole = []
            for i, (msg, info) in enumerate(batch):
                if wait:
                    time.sleep(wait)
                t0 = time.perf_counter()
                node._process(msg, info, t0)
                whole.append(time.perf_counter() - t0)
                if i + 1 == warmup and label == 'back_to_back':
                    whole.clear()
                    log.clear()
            out[label] = {'process': 1000 * float(np.median(whole)),
                          **{k: 1000 * float(np.median(v)) for k, v in log.items()}}
            log.clear()
        return out
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--persons', type=int, default=1)
    ap.add_argument('--frames', type=int, default=400)
    ap.add_argument('--pace', type=float, default=1 / 30, help='idle seconds before each paced '
                    'frame (default: 30 Hz)')
    ap.add_argument('--json', type=Path)
    args = ap.parse_args()
    # DDS stays on loopback, in a domain of its own unless ROS_DOMAIN_ID names one
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ.setdefault('ROS_DOMAIN_ID', str(1 + (os.getpid() * 31) % 200))
    out = run(args.persons, args.frames, args.pace)
    for label in ('back_to_back', 'paced'):
        row = out[label]
        print(f"{label:12s} process {row['process']:.3f} ms | " + '  '.join(
            f'{k} {v:.3f}' for k, v in row.items() if k != 'process'))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + '\n')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
