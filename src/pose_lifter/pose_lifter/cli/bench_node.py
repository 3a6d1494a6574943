"""End-to-end latency of the live node over real DDS on loopback, against the transport floor.

Starts ``pose_lifter_node`` and the floor relay (cli/bench_relay.py: answers each input with
messages of the node's output sizes, nothing else) as separate processes in a private domain
(loopback only), publishes Skeleton2DArray + CameraInfo at a fixed rate with 1 and 10 persons
(real poses seen by an evaluation camera), at the base rate and at ``overload`` times it, and
times publish -> receipt of skeletons_3d and markers in this process: the node's run, then the
floor's run with the same schedule, one scenario after the other. Per scenario: the node's
p50/p99 as ratios to the floor's, the CPU use of each process (% of one core over its run) and
every drop: frames published but never answered, split into those the node overwrote in its
one-slot buffer or skipped (its /diagnostics counts) and the rest (lost before the node).
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
from ..core.stamps import stamp_to_ns
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
        return stamp_to_ns(stamp)

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


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system, all threads) used so far by process ``pid``, from
    /proc/<pid>/stat (Linux; None elsewhere or once the process is gone). Resolution: one
    clock tick (10 ms)."""
    try:
        stat = Path(f'/proc/{int(pid)}/stat').read_text()
        fields = stat[stat.rindex(')') + 2:].split()     # after "pid (comm) "
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, ValueError, IndexError):
        return None


class _Target:
    """One process under test (the node or the floor relay): its publishers, receiver and
    process; ``prefix`` is its topic namespace ('' for the node)."""

    def __init__(self, bench, prefix: str, proc: NodeProcess, diagnostics: bool):
        from diagnostic_msgs.msg import DiagnosticArray
        from pose_lifter_msgs.msg import Skeleton2DArray, Skeleton3DArray
        from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
        from sensor_msgs.msg import CameraInfo
        from visualization_msgs.msg import MarkerArray

        self.proc = proc
        self.receiver = _Receiver()
        reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.pubs = (
            bench.create_publisher(Skeleton2DArray, prefix + 'keypoints_2d',
                                   qos_profile_sensor_data),
            bench.create_publisher(CameraInfo, prefix + 'camera_info', qos_profile_sensor_data))
        self.subs = [
            bench.create_subscription(Skeleton3DArray, prefix + 'skeletons_3d',
                                      self.receiver.on_skeletons, reliable),
            bench.create_subscription(MarkerArray, prefix + 'markers', self.receiver.on_markers,
                                      reliable)]
        if diagnostics:
            self.subs.append(bench.create_subscription(
                DiagnosticArray, '/diagnostics', self.receiver.on_diagnostics, reliable))

    def matched(self) -> bool:
        return (all(p.get_subscription_count() > 0 for p in self.pubs)
                and all(s.get_publisher_count() > 0 for s in self.subs))


def run_node_bench(model: str, backend: str, data: Path, seconds: float = 10.0,
                   rate_hz: float = 30.0, persons: tuple[int, ...] = (1, 10),
                   overload: float = 10.0, floor: bool = True,
                   params: dict[str, str] | None = None) -> dict:
    """Start the node (and the floor relay), stream frames at ``rate_hz`` (and at ``overload``
    times it; 0 = no overload runs) for ``seconds`` per person count. ``params``: extra node
    parameters (e.g. ``{'threads': '1'}``)."""
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'  # before any DDS starts
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    from ..node.params import load_defaults
    from .bench import sample_inputs
    from .bench_relay import RelayProcess

    domain = pick_domain_id()
    px, K = sample_inputs(data, 64)
    workdir = Path(tempfile.mkdtemp(prefix='pose_lifter_bench_'))
    t_start = time.perf_counter()
    extra = [a for k, v in (params or {}).items() for a in ('-p', f'{k}:={v}')]
    node = NodeProcess(['--ros-args', '-p', f'model:={model}', '-p', f'backend:={backend}',
                        '-p', 'diagnostics_period_s:=0.5'] + extra, domain,
                       workdir / 'node.log')
    # the floor spins with the node's executor (a parameter of the node, default in its file)
    kind = (params or {}).get('executor') or load_defaults()['executor']
    relay = (RelayProcess(['--ros-args', '-r', '__ns:=/floor'], domain, workdir / 'floor.log',
                          executor=kind) if floor else None)
    context = Context()
    rclpy.init(context=context, domain_id=domain)
    executor = SingleThreadedExecutor(context=context)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    try:
        bench = Node('pose_lifter_bench', context=context)
        targets = {'node': _Target(bench, '', node, diagnostics=True)}
        if relay is not None:
            targets['floor'] = _Target(bench, 'floor/', relay, diagnostics=False)
        executor.add_node(bench)
        spinner.start()
        for name, target in targets.items():
            _wait(target.matched, START_TIMEOUT_S, target.proc,
                  f'the {name} to come up (discovery)')
        sender = _Sender(px, K)
        for name, target in targets.items():
            _warm_up(sender, target, name)
        startup_s = time.perf_counter() - t_start
        out = {'transport': 'Fast DDS, loopback, node and floor relay in separate processes',
               'command': ' '.join(node.command), 'rate_hz': rate_hz,
               'overload_rate_hz': rate_hz * overload if overload else None,
               'seconds_per_run': seconds, 'startup_to_first_answer_s': startup_s,
               'executor': kind,
               'floor_command': ' '.join(relay.command) if relay else None}
        for n in persons:
            for factor in (1, overload) if overload else (1,):
                key = (f'{n}_person' if n == 1 else f'{n}_persons') + (
                    '_overload' if factor != 1 else '')
                hz = rate_hz * factor
                run = _run(sender, targets['node'], n, hz, seconds)
                if 'floor' in targets:
                    run['floor'] = _run(sender, targets['floor'], n, hz, seconds)
                    run['ratio_to_floor'] = _ratios(run, run['floor'])
                out[key] = run
        return out
    except RuntimeError as exc:
        raise RuntimeError(f'{exc}; node command: {" ".join(node.command)}; its log ends:\n'
                           + node.log_tail()
                           + (f'\nthe floor relay log ends:\n{relay.log_tail()}' if relay
                              else '')) from None
    finally:
        executor.shutdown(timeout_sec=5.0)
        spinner.join(timeout=5.0)
        rclpy.try_shutdown(context=context)
        node.stop()
        if relay is not None:
            relay.stop()
        shutil.rmtree(workdir, ignore_errors=True)


class _Sender:
    """Publishes frames of n real persons (cycling through the sample) to a target."""

    def __init__(self, px: np.ndarray, K: np.ndarray):
        self.px, self.K, self.frame = px, K, 0

    def send(self, target: _Target, n: int) -> tuple[int, float]:
        """Publish one frame of n persons; returns its stamp (ns) and send time (taken
        before publish: the answer may arrive before publish returns)."""
        from ..node.convert import camera_info_msg, frame_to_msg
        idx = (self.frame * n + np.arange(n)) % len(self.px)
        self.frame += 1
        kp_msg = frame_to_msg(_header(), self.px[idx], ids=[f'track{i}' for i in range(n)])
        stamp_ns = time.time_ns()
        kp_msg.header.stamp.sec, kp_msg.header.stamp.nanosec = divmod(stamp_ns, 10**9)
        info = camera_info_msg(kp_msg.header, self.K[0])
        sent_at = time.perf_counter()
        target.pubs[1].publish(info)
        target.pubs[0].publish(kp_msg)
        return stamp_ns, sent_at


def _warm_up(sender: _Sender, target: _Target, name: str) -> None:
    """Send until the target answers (best-effort frames sent before its subscriptions
    matched ours are lost)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not target.receiver.skeletons:
        if time.monotonic() > deadline or _failed(target.proc):
            raise RuntimeError(_failed(target.proc) or f'the {name} never answered')
        sender.send(target, 1)
        _poll(lambda: bool(target.receiver.skeletons), 0.2)


def _header():
    from std_msgs.msg import Header
    return Header(frame_id='camera_optical_frame')


def _ratios(node: dict, floor: dict) -> dict:
    """The node's p50/p99 over the floor's, for skeletons and markers (None without data)."""
    out = {}
    for kind in ('skeletons', 'markers'):
        for p in ('p50', 'p99'):
            a, b = node[f'{kind}_latency'][f'{p}_ms'], floor[f'{kind}_latency'][f'{p}_ms']
            out[f'{kind}_{p}'] = a / b if a is not None and b else None
    return out


def _counts(diag: dict[str, str]) -> dict[str, int]:
    """The node's drop and skip counters from its /diagnostics values."""
    return {k: int(v) for k, v in diag.items()
            if k == 'dropped_overwritten' or k.startswith('skipped_')}


def _run(sender: _Sender, target: _Target, n: int, rate_hz: float, seconds: float) -> dict:
    """Publish ``n`` persons per frame at ``rate_hz`` for ``seconds``; latencies in ms."""
    receiver = target.receiver
    with receiver.lock:
        receiver.skeletons.clear()
        receiver.markers.clear()
        before = _counts(receiver.diagnostics)
    sent: dict[int, float] = {}
    period = 1.0 / rate_hz
    cpu0 = process_cpu_s(target.proc.pid)
    t0 = time.perf_counter()
    for k in range(int(seconds * rate_hz)):
        delay = t0 + k * period - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        stamp, sent_at = sender.send(target, n)
        sent[stamp] = sent_at
    elapsed = time.perf_counter() - t0
    cpu1 = process_cpu_s(target.proc.pid)
    # late answers still count for latency, not for throughput
    _poll(lambda: all(t in receiver.skeletons and t in receiver.markers for t in sent), DRAIN_S)
    count = receiver.diagnostics_count                # the node's counts after the run
    if target.subs[2:]:
        _poll(lambda: receiver.diagnostics_count > count, DRAIN_S)
    with receiver.lock:
        skel = {s: receiver.skeletons[s] - t for s, t in sent.items() if s in receiver.skeletons}
        mark = {s: receiver.markers[s] - t for s, t in sent.items() if s in receiver.markers}
        diag = dict(receiver.diagnostics)
    after = _counts(diag)
    delta = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}
    dropped = len(sent) - len(skel)
    in_node = sum(delta.values())
    out = {'persons': n, 'rate_hz': rate_hz, 'published': len(sent),
           'skeletons_received': len(skel), 'markers_received': len(mark), 'dropped': dropped,
           'throughput_fps': len(skel) / elapsed,
           'cpu_percent_of_core': (100.0 * (cpu1 - cpu0) / elapsed
                                   if cpu0 is not None and cpu1 is not None else None),
           'skeletons_latency': percentiles(list(skel.values())),
           'markers_latency': percentiles(list(mark.values()))}
    if target.subs[2:]:
        out.update({'dropped_in_node_overwritten': delta.get('dropped_overwritten', 0),
                    'skipped_in_node': {k: v for k, v in delta.items()
                                        if k.startswith('skipped_')},
                    'dropped_not_counted_by_node': dropped - in_node,
                    'node_internal_latency_p50_ms': diag.get('latency_p50_ms'),
                    'node_internal_latency_p99_ms': diag.get('latency_p99_ms'),
                    'backend': diag.get('backend')})
    return out
