"""End-to-end latency of the live node over real DDS on loopback (DESIGN §10).

Starts ``pose_lifter_node`` as a separate process in a private domain (loopback only),
publishes Skeleton2DArray + CameraInfo at a fixed rate with 1 and 10 persons (real poses seen
by an evaluation camera), and times publish -> receipt of skeletons_3d and markers in this
process. Drops = frames published but never answered (best-effort input lost, or overwritten
in the node's one-slot buffer: the node's own count is reported from /diagnostics).
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

START_TIMEOUT_S = 120.0
DRAIN_S = 2.0


def _percentiles(ms: list[float]) -> dict:
    a = np.asarray(ms)
    if not a.size:
        return {'p50_ms': None, 'p99_ms': None, 'mean_ms': None, 'runs': 0}
    return {'p50_ms': float(np.percentile(a, 50)), 'p99_ms': float(np.percentile(a, 99)),
            'mean_ms': float(a.mean()), 'runs': int(a.size)}


def domain_id() -> int:
    """A domain id for this run, not the caller's own (Fast DDS accepts 0..232)."""
    own = os.environ.get('ROS_DOMAIN_ID')
    rng = random.Random(os.getpid() ^ time.time_ns())
    while str(d := rng.randint(1, 230)) == own:
        pass
    return d


def node_command() -> tuple[list[str], dict[str, str]]:
    """How to start the node from the same code as this process, and extra environment:
    the installed console script, or the module of a source checkout."""
    import pose_lifter

    package_dir = Path(pose_lifter.__file__).resolve().parent
    script = Path(sys.executable).parent / 'pose_lifter_node'
    if script.is_file() and Path(sys.prefix).resolve() in package_dir.parents:
        return [str(script)], {}
    path = os.pathsep.join(p for p in (str(package_dir.parent), os.environ.get('PYTHONPATH'))
                           if p)
    return [sys.executable, '-m', 'pose_lifter.node'], {'PYTHONPATH': path}


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


def _failed(proc: subprocess.Popen, log) -> str | None:
    """Why the node cannot answer (exited, or configure failed: it then stays up, idle)."""
    if proc.poll() is not None:
        return f'the node exited (code {proc.returncode})'
    log.flush()
    if b'configure failed' in Path(log.name).read_bytes():
        return 'the node could not configure'
    return None


def _wait(predicate, timeout_s: float, proc: subprocess.Popen, log, what: str) -> None:
    ok = _poll(lambda: predicate() or _failed(proc, log) is not None, timeout_s)
    problem = _failed(proc, log)
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

    domain = domain_id()
    command, extra_env = node_command()
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST', ROS_DOMAIN_ID=str(domain),
               **extra_env)
    px, K = sample_inputs(data, 64)
    log = tempfile.NamedTemporaryFile('w+b', prefix='pose_lifter_node_', suffix='.log',
                                      delete=False)
    cmd = command + ['--ros-args', '-p', f'model:={model}', '-p', f'backend:={backend}',
                            '-p', 'diagnostics_period_s:=0.5']
    t_start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
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
              proc, log, 'the node to come up (discovery)')
        frame = 0

        def send(n: int) -> int:
            nonlocal frame
            idx = (frame * n + np.arange(n)) % len(px)
            frame += 1
            kp_msg = frame_to_msg(_header(), px[idx], ids=[f'track{i}' for i in range(n)])
            stamp_ns = time.time_ns()
            kp_msg.header.stamp.sec, kp_msg.header.stamp.nanosec = divmod(stamp_ns, 10**9)
            info = camera_info_msg(kp_msg.header, K[0])
            pubs[1].publish(info)
            pubs[0].publish(kp_msg)
            return stamp_ns

        # Warm-up: until the node answers (best-effort frames sent before its subscriptions
        # matched ours are lost).
        deadline = time.monotonic() + START_TIMEOUT_S
        while not receiver.skeletons:
            if time.monotonic() > deadline or _failed(proc, log):
                raise RuntimeError(_failed(proc, log) or 'the node never answered')
            send(1)
            _poll(lambda: bool(receiver.skeletons), 0.2)
        startup_s = time.perf_counter() - t_start
        out = {'transport': 'Fast DDS, loopback, node in a separate process',
               'command': ' '.join(command), 'rate_hz': rate_hz,
               'seconds_per_run': seconds, 'startup_to_first_answer_s': startup_s}
        for n in persons:
            out[f'{n}_person' if n == 1 else f'{n}_persons'] = _run(
                send, n, receiver, rate_hz, seconds)
        return out
    except RuntimeError as exc:
        log.seek(0)
        tail = log.read().decode(errors='replace').strip().splitlines()[-15:]
        raise RuntimeError(f'{exc}; node command: {" ".join(cmd)}; its log ends:\n'
                           + '\n'.join(tail)) from None
    finally:
        executor.shutdown(timeout_sec=5.0)
        spinner.join(timeout=5.0)
        rclpy.try_shutdown(context=context)
        _stop(proc)
        log.close()
        os.unlink(log.name)


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
        stamp = send(n)
        sent[stamp] = time.perf_counter()
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
            'skeletons_latency': _percentiles([v * 1000.0 for v in skel.values()]),
            'markers_latency': _percentiles([v * 1000.0 for v in mark.values()]),
            'node_internal_latency_p50_ms': diag.get('latency_p50_ms'),
            'node_internal_latency_p99_ms': diag.get('latency_p99_ms'),
            'backend': diag.get('backend')}


def _stop(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout_s)
