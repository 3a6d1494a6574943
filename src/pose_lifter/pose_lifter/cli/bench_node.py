"""End-to-end latency of the live node over real DDS on loopback (docs/cli.md).

Starts ``pose_lifter_node`` as a separate process in a private domain (loopback only),
publishes Skeleton2DArray + CameraInfo at a fixed rate with 1 and 10 persons (real poses seen
by an evaluation camera), and times publish -> receipt of skeletons_3d and markers in this
process. Drops = frames published but never answered (best-effort input lost, or overwritten
in the node's one-slot buffer: the node's own count is reported from /diagnostics).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from ..bag.node_process import NodeProcess, pick_domain_id
from .bench import percentiles

START_TIMEOUT_S = 120.0
DRAIN_S = 2.0


class _Receiver:
    """Receipt times (perf_counter) by input stamp (ns) for skeletons_3d and markers."""

    def __init__(self):
        self.lock = threading.Lock()
        self.skeletons: dict[int, float] = {}
        self.markers: dict[int, float] = {}
        self.diagnostics: dict[str, str] = {}
        self.diagnostics_count = 0

    @staticmethod
    def _ns(stamp) -> int:
        return stamp.sec * 1_000_000_000 + stamp.nanosec

    def on_skeletons(self, msg) -> None:
        t = time.perf_counter()
        with self.lock:
            self.skeletons.setdefault(self._ns(msg.header.stamp), t)

    def on_markers(self, msg) -> None:
        t = time.perf_counter()
        if msg.markers:
            with self.lock:
                self.markers.setdefault(self._ns(msg.markers[0].header.stamp), t)

    def on_diagnostics(self, msg) -> None:
        for status in msg.status:
            if status.name.endswith(': lifting'):
                with self.lock:
                    self.diagnostics = {kv.key: kv.value for kv in status.values}
                    self.diagnostics_count += 1


def _poll(predicate, timeout_s: float) -> bool:
    """Poll ``predicate`` until true or ``timeout_s`` passed; returns its last value."""
    deadline = time.monotonic() + timeout_s
    while not (ok := predicate()) and time.monotonic() < deadline:
        time.sleep(0.005)
    return ok


def _failed(node: NodeProcess) -> str | None:
    """Why the node cannot answer (exited, or configure failed: it then stays up, idle)."""
    if node.exited() is not None:
        return f'the node exited (code {node.exited()})'
    if 'configure failed' in node.log_tail(200):
        return 'the node could not configure'
    return None


def _wait(predicate, timeout_s: float, node: NodeProcess, what: str) -> None:
    ok = _poll(lambda: predicate() or _failed(node) is not None, timeout_s)
    problem = _failed(node)
    if problem or not ok:
        raise RuntimeError(f'{problem or f"timed out after {timeout_s:.0f} s"} while waiting '
                           f'for {what}')


def run_node_bench(model: str, backend: str, data: Path, seconds: float = 10.0,
                   rate_hz: float = 30.0, persons: tuple[int, ...] = (1, 10)) -> dict:
    """Start the node, stream frames at ``rate_hz`` for ``seconds`` per person count."""
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'  # before any DDS starts
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor

    from ..node.convert import camera_info_msg, frame_to_msg
    from .bench import sample_inputs

    domain = pick_domain_id()
    px, K = sample_inputs(data, 64)
    workdir = Path(tempfile.mkdtemp(prefix='pose_lifter_bench_'))
    t_start = time.perf_counter()
    node = NodeProcess(['--ros-args', '-p', f'model:={model}', '-p', f'backend:={backend}',
                        '-p', 'diagnostics_period_s:=0.5'], domain, workdir / 'node.log')
    context = Context()
    rclpy.init(context=context, domain_id=domain)
    executor = SingleThreadedExecutor(context=context)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    try:
        bench, pubs, receiver = _bench_node(context)
        executor.add_node(bench)
        spinner.start()
        _wait(lambda: all(p.get_subscription_count() > 0 for p in pubs)
              and all(s.get_publisher_count() > 0 for s in bench.bench_subs), START_TIMEOUT_S,
              node, 'the node to come up (discovery)')
        frame = 0

        def send(n: int) -> tuple[int, float]:
            """Publish one frame of n persons; returns its stamp (ns) and send time (taken
            before publish: the answer may arrive before publish returns)."""
            nonlocal frame
            idx = (frame * n + np.arange(n)) % len(px)
            frame += 1
            kp_msg = frame_to_msg(_header(), px[idx], ids=[f'track{i}' for i in range(n)])
            stamp_ns = time.time_ns()
            kp_msg.header.stamp.sec, kp_msg.header.stamp.nanosec = divmod(stamp_ns, 10**9)
            info = camera_info_msg(kp_msg.header, K[0])
            sent_at = time.perf_counter()
            pubs[1].publish(info)
            pubs[0].publish(kp_msg)
            return stamp_ns, sent_at

        # Warm-up: until the node answers (best-effort frames sent before its subscriptions
        # matched ours are lost).
        deadline = time.monotonic() + START_TIMEOUT_S
        while not receiver.skeletons:
            if time.monotonic() > deadline or _failed(node):
                raise RuntimeError(_failed(node) or 'the node never answered')
            send(1)
            _poll(lambda: bool(receiver.skeletons), 0.2)
        startup_s = time.perf_counter() - t_start
        out = {'transport': 'Fast DDS, loopback, node in a separate process',
               'command': ' '.join(node.command), 'rate_hz': rate_hz,
               'seconds_per_run': seconds, 'startup_to_first_answer_s': startup_s}
        for n in persons:
            out[f'{n}_person' if n == 1 else f'{n}_persons'] = _run(
                send, n, receiver, rate_hz, seconds)
        return out
    except RuntimeError as exc:
        raise RuntimeError(f'{exc}; node command: {" ".join(node.command)}; its log ends:\n'
                           + node.log_tail()) from None
    finally:
        executor.shutdown(timeout_sec=5.0)
        spinner.join(timeout=5.0)
        rclpy.try_shutdown(context=context)
        node.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _header():
    from std_msgs.msg import Header
    return Header(frame_id='camera_optical_frame')


def _bench_node(context):
    from diagnostic_msgs.msg import DiagnosticArray
    from pose_lifter_msgs.msg import Skeleton2DArray, Skeleton3DArray
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo
    from visualization_msgs.msg import MarkerArray

    node = Node('pose_lifter_bench', context=context)
    receiver = _Receiver()
    reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    pubs = (node.create_publisher(Skeleton2DArray, 'keypoints_2d', qos_profile_sensor_data),
            node.create_publisher(CameraInfo, 'camera_info', qos_profile_sensor_data))
    node.bench_subs = [
        node.create_subscription(Skeleton3DArray, 'skeletons_3d', receiver.on_skeletons,
                                 reliable),
        node.create_subscription(MarkerArray, 'markers', receiver.on_markers, reliable),
        node.create_subscription(DiagnosticArray, '/diagnostics', receiver.on_diagnostics,
                                 reliable)]
    return node, pubs, receiver


def _run(send, n: int, receiver: _Receiver, rate_hz: float, seconds: float) -> dict:
    """Publish ``n`` persons per frame at ``rate_hz`` for ``seconds``; latencies in ms."""
    with receiver.lock:
        receiver.skeletons.clear()
        receiver.markers.clear()
        before = dict(receiver.diagnostics)
    sent: dict[int, float] = {}
    period = 1.0 / rate_hz
    t0 = time.perf_counter()
    for k in range(int(seconds * rate_hz)):
        delay = t0 + k * period - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        stamp, sent_at = send(n)
        sent[stamp] = sent_at
    elapsed = time.perf_counter() - t0
    # late answers still count for latency, not for throughput
    _poll(lambda: all(t in receiver.skeletons and t in receiver.markers for t in sent), DRAIN_S)
    count = receiver.diagnostics_count                # the node's counts after the run
    _poll(lambda: receiver.diagnostics_count > count, DRAIN_S)
    with receiver.lock:
        skel = {s: receiver.skeletons[s] - t for s, t in sent.items() if s in receiver.skeletons}
        mark = {s: receiver.markers[s] - t for s, t in sent.items() if s in receiver.markers}
        diag = dict(receiver.diagnostics)
    dropped_in_node = (int(diag.get('dropped_overwritten', 0))
                       - int(before.get('dropped_overwritten', 0)))
    return {'persons': n, 'published': len(sent), 'skeletons_received': len(skel),
            'markers_received': len(mark), 'dropped': len(sent) - len(skel),
            'dropped_in_node_overwritten': dropped_in_node,
            'throughput_fps': len(skel) / elapsed,
            'skeletons_latency': percentiles(list(skel.values())),
            'markers_latency': percentiles(list(mark.values())),
            'node_internal_latency_p50_ms': diag.get('latency_p50_ms'),
            'node_internal_latency_p99_ms': diag.get('latency_p99_ms'),
            'backend': diag.get('backend')}
