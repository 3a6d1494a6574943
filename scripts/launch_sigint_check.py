"""Start/stop check of ``ros2 launch pose_lifter lift.launch.py cameras:=front,left``, N times.

Each run: start the launch in its own process group; wait until both nodes answer
``ros2 lifecycle get`` with ``active``; send SIGINT (or --signal TERM) to the whole group, as
Ctrl-C in a terminal does; record the exit code, tracebacks in the output, and whether any
process of the group outlived the launch. Prints one line per run and the tally; exits 1 unless
every run was clean (exit 0, no traceback or error line, nothing left running).

With ``--load``, the signal arrives under load: from the moment both nodes are active, this
process publishes keypoints (10 persons: real poses seen by an evaluation camera) and
camera_info to both cameras at 300 Hz (``--rate``, ``--persons``), waits until each node has
answered 30 frames, and sends the signal while publishing on. Each run has its own publishing
participant (rclpy context), made after the launch and closed after it ended.

    .venv/bin/python scripts/launch_sigint_check.py [--runs 20] [--signal INT|TERM] [--load]

Needs the real launch/CLI (make setup with ../shared beside the repository, or a ROS 2 install
with the package built). DDS stays on loopback, in its own domain (ROS_DOMAIN_ID or a
pid-derived one).
"""
from __future__ import annotations

import argparse
import functools
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROS2 = Path(sys.executable).parent / 'ros2'
CAMERAS = ('front', 'left')
NODES = tuple(f'/{c}/pose_lifter' for c in CAMERAS)
ROOT = Path(__file__).resolve().parents[1]
# Lines in the launch output that make a run unclean besides a traceback: the shutdown race of
# issue 9 (publishing after the context went away) and any frame that failed in the node.
ERROR_MARKS = ('internal_error', 'context is invalid', 'RCLError')
SERVED_BEFORE_SIGNAL = 30        # answers per node before the signal goes out (--load)


@functools.cache
def scene():
    """(F, 17, 2) pixels and (3, 3) K: real poses seen by the first evaluation camera."""
    from pose_lifter.core.cameras import EVAL_CAMERAS, eval_views
    from pose_lifter.core.poses import load_pose_file

    poses = load_pose_file(ROOT / 'models' / 'demo_poses.npz')
    _, pixels, K = eval_views(poses.joints[::max(1, len(poses) // 64)], EVAL_CAMERAS[:1])
    return pixels, K[0]


class Load:
    """Keypoints + camera_info for every camera namespace at ``rate_hz`` from a thread, in this
    process's own rclpy context (domain ``domain_id``); counts each node's skeletons_3d."""

    def __init__(self, domain_id: int, rate_hz: float, persons: int):
        import rclpy
        from pose_lifter_msgs.msg import Skeleton2DArray, Skeleton3DArray
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
        from sensor_msgs.msg import CameraInfo

        self.pixels, self.K = scene()
        self.rate_hz, self.persons = rate_hz, persons
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node('sigint_check_load', context=self.context)
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.pubs = [(self.node.create_publisher(Skeleton2DArray, f'/{c}/keypoints_2d',
                                                 qos_profile_sensor_data),
                      self.node.create_publisher(CameraInfo, f'/{c}/camera_info',
                                                 qos_profile_sensor_data)) for c in CAMERAS]
        self.answers = dict.fromkeys(CAMERAS, 0)
        self.subs = [self.node.create_subscription(Skeleton3DArray, f'/{c}/skeletons_3d',
                                                   lambda msg, c=c: self._answer(c), reliable)
                     for c in CAMERAS]
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._spinner = threading.Thread(target=self._spin, daemon=True)
        self._spinner.start()
        self._stop = threading.Event()
        self._sender: threading.Thread | None = None
        self.sent = 0
        self.elapsed_s = 0.0

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException
        try:
            self.executor.spin()
        except ExternalShutdownException:
            pass

    def _answer(self, camera: str) -> None:
        self.answers[camera] += 1

    def start(self) -> None:
        """Start publishing."""
        self._sender = threading.Thread(target=self._send, daemon=True)
        self._sender.start()

    def _send(self) -> None:
        import numpy as np
        from std_msgs.msg import Header

        from pose_lifter.node.convert import camera_info_msg, frame_to_msg

        ids = [f'track{i}' for i in range(self.persons)]
        period = 1.0 / self.rate_hz
        t0 = time.perf_counter()
        while not self._stop.is_set():
            idx = (self.sent * self.persons + np.arange(self.persons)) % len(self.pixels)
            header = Header(frame_id='camera_optical_frame')
            header.stamp.sec, header.stamp.nanosec = divmod(time.time_ns(), 10**9)
            kp = frame_to_msg(header, self.pixels[idx], ids=ids)
            info = camera_info_msg(header, self.K)
            for kp_pub, info_pub in self.pubs:
                info_pub.publish(info)
                kp_pub.publish(kp)
            self.sent += 1
            delay = t0 + self.sent * period - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        self.elapsed_s = time.perf_counter() - t0

    def served(self, each: int) -> bool:
        return all(n >= each for n in self.answers.values())

    def stop(self) -> float:
        """Stop publishing; the rate achieved (frames per camera per second)."""
        self._stop.set()
        if self._sender is not None:
            self._sender.join(timeout=10.0)
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def close(self) -> None:
        import rclpy
        self.stop()
        self.executor.shutdown(timeout_sec=5.0)
        self._spinner.join(timeout=5.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def answers(node: str, env: dict[str, str], timeout_s: float) -> bool:
    """``ros2 lifecycle get node`` says active within ``timeout_s`` (repeated, 1 s discovery)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        out = subprocess.run([str(ROS2), 'lifecycle', 'get', node, '--no-daemon',
                              '--spin-time', '1'], env=env, capture_output=True, text=True,
                             timeout=60)
        if out.returncode == 0 and out.stdout.startswith('active'):
            return True
    return False


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def one_run(env: dict[str, str], signum: int, log: Path, timeout_s: float,
            load: dict | None = None) -> dict:
    """One launch, start to stop; ``load``: Load's arguments, or None for an idle stop."""
    loaded, rate, served = None, None, None
    with open(log, 'wb') as out:
        proc = subprocess.Popen([str(ROS2), 'launch', 'pose_lifter', 'lift.launch.py',
                                 f'cameras:={",".join(CAMERAS)}'], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        up = all(answers(node, env, timeout_s) for node in NODES)
        publisher = Load(**load) if load is not None and up else None
        if publisher is not None:
            publisher.start()
            deadline = time.monotonic() + timeout_s
            while not publisher.served(SERVED_BEFORE_SIGNAL) and time.monotonic() < deadline:
                time.sleep(0.01)
            loaded = publisher.served(SERVED_BEFORE_SIGNAL)
            counts = dict(publisher.answers)
        os.killpg(proc.pid, signum)
        try:
            rc = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            rc = 'hung'
        left = group_alive(proc.pid)
        if left or rc == 'hung':
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        if publisher is not None:
            rate = publisher.stop()
            publisher.close()
            served = counts
    text = log.read_text(errors='replace')
    errors = sum(1 for line in text.splitlines() if any(m in line for m in ERROR_MARKS))
    return {'up': up, 'rc': rc, 'tracebacks': text.count('Traceback'), 'errors': errors,
            'left': left, 'loaded': loaded, 'rate_hz': rate, 'answers': served}


def is_clean(r: dict) -> bool:
    return (r['up'] and r['rc'] == 0 and not r['tracebacks'] and not r['errors']
            and not r['left'] and r['loaded'] is not False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=20)
    parser.add_argument('--signal', choices=('INT', 'TERM'), default='INT')
    parser.add_argument('--timeout', type=float, default=60.0, help='seconds per wait')
    parser.add_argument('--load', action='store_true',
                        help='signal while keypoints + camera_info arrive (see --rate)')
    parser.add_argument('--rate', type=float, default=300.0, help='--load: frames/s per camera')
    parser.add_argument('--persons', type=int, default=10, help='--load: persons per frame')
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.persons < 1:
        parser.error('--rate must be > 0 and --persons >= 1')
    if not ROS2.is_file():
        print(f'{ROS2} not found: make setup (with ../shared) or use a ROS 2 install',
              file=sys.stderr)
        return 2
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'   # this process's DDS too
    env = dict(os.environ)
    env.setdefault('ROS_DOMAIN_ID', str(1 + (os.getpid() * 31) % 200))
    signum = getattr(signal, f'SIG{args.signal}')
    load = (dict(domain_id=int(env['ROS_DOMAIN_ID']), rate_hz=args.rate,
                 persons=args.persons) if args.load else None)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            start = time.monotonic()
            r = one_run(env, signum, Path(tmp) / f'run{i}.log', args.timeout, load)
            r['ok'] = is_clean(r)
            results.append(r)
            under = ('' if load is None else f'served {SERVED_BEFORE_SIGNAL} each under '
                     f'load={r["loaded"]} (answers {r["answers"]}, sent '
                     f'{r["rate_hz"] or 0:.0f} Hz) ')
            print(f'run {i + 1:2d}: both nodes answered={r["up"]} {under}exit={r["rc"]} '
                  f'tracebacks={r["tracebacks"]} error lines={r["errors"]} '
                  f'processes left={r["left"]} ({time.monotonic() - start:.1f} s)'
                  + ('' if r['ok'] else '  <-- FAIL'), flush=True)
            if not r['ok']:
                print((Path(tmp) / f'run{i}.log').read_text(errors='replace')[-3000:])
    clean = sum(r['ok'] for r in results)
    codes = sorted({str(r['rc']) for r in results})
    rates = [r['rate_hz'] for r in results if r['rate_hz']]
    under = ('' if load is None else f' under load ({args.persons} persons, '
             f'{min(rates, default=0):.0f}-{max(rates, default=0):.0f} Hz sent per camera)')
    print(f'SIG{args.signal}{under}: {clean}/{len(results)} clean; exit codes '
          f'{", ".join(codes)}; tracebacks {sum(r["tracebacks"] for r in results)}; error lines '
          f'{sum(r["errors"] for r in results)}; both nodes answered '
          f'{sum(r["up"] for r in results)}/{len(results)}; runs leaving processes '
          f'{sum(r["left"] for r in results)}')
    return 0 if clean == len(results) else 1


if __name__ == '__main__':
    sys.exit(main())
