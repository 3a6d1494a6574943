"""Start/stop check of ``ros2 launch pose_lifter lift.launch.py cameras:=front,left``, N times.

Each run: start the launch in its own process group; wait until both nodes answer
``ros2 lifecycle get`` with ``active``; send SIGINT (or --signal TERM) to the whole group, as
Ctrl-C in a terminal does; record the exit code, tracebacks in the output, and whether any
process of the group outlived the launch. Prints one line per run and the tally; exits 1 unless
every run was clean.

    .venv/bin/python scripts/launch_sigint_check.py [--runs 20] [--signal INT|TERM]

Needs the real launch/CLI (make setup with ../shared beside the repository, or a ROS 2 install
with the package built). DDS stays on loopback, in its own domain (ROS_DOMAIN_ID or a
pid-derived one).
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROS2 = Path(sys.executable).parent / 'ros2'
NODES = ('/front/pose_lifter', '/left/pose_lifter')


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


def one_run(env: dict[str, str], signum: int, log: Path, timeout_s: float) -> dict:
    with open(log, 'wb') as out:
        proc = subprocess.Popen([str(ROS2), 'launch', 'pose_lifter', 'lift.launch.py',
                                 'cameras:=front,left'], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        up = all(answers(node, env, timeout_s) for node in NODES)
        os.killpg(proc.pid, signum)
        try:
            rc = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            rc = 'hung'
        left = group_alive(proc.pid)
        if left or rc == 'hung':
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    text = log.read_text(errors='replace')
    return {'up': up, 'rc': rc, 'tracebacks': text.count('Traceback'), 'left': left}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=20)
    parser.add_argument('--signal', choices=('INT', 'TERM'), default='INT')
    parser.add_argument('--timeout', type=float, default=60.0, help='seconds per wait')
    args = parser.parse_args(argv)
    if not ROS2.is_file():
        print(f'{ROS2} not found: make setup (with ../shared) or use a ROS 2 install',
              file=sys.stderr)
        return 2
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    env.setdefault('ROS_DOMAIN_ID', str(1 + (os.getpid() * 31) % 200))
    signum = getattr(signal, f'SIG{args.signal}')
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            start = time.monotonic()
            r = one_run(env, signum, Path(tmp) / f'run{i}.log', args.timeout)
            r['ok'] = r['up'] and r['rc'] == 0 and not r['tracebacks'] and not r['left']
            results.append(r)
            print(f'run {i + 1:2d}: both nodes answered={r["up"]} exit={r["rc"]} '
                  f'tracebacks={r["tracebacks"]} processes left={r["left"]} '
                  f'({time.monotonic() - start:.1f} s)' + ('' if r['ok'] else '  <-- FAIL'),
                  flush=True)
            if not r['ok']:
                print((Path(tmp) / f'run{i}.log').read_text(errors='replace')[-3000:])
    clean = sum(r['ok'] for r in results)
    codes = sorted({str(r['rc']) for r in results})
    print(f'SIG{args.signal}: {clean}/{len(results)} clean; exit codes {", ".join(codes)}; '
          f'tracebacks {sum(r["tracebacks"] for r in results)}; both nodes answered '
          f'{sum(r["up"] for r in results)}/{len(results)}; runs leaving processes '
          f'{sum(r["left"] for r in results)}')
    return 0 if clean == len(results) else 1


if __name__ == '__main__':
    sys.exit(main())
