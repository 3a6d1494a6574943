"""Running the real ``ros2`` tools (ros2 launch, lifecycle, param, node) as a user does.

They come from ../shared/ros-wheels (scripts/setup_ros_tools.sh, run by ``make setup``). Where
that folder is beside the repository the tests that use them must run: a missing tool is then a
set-up error, not a reason to skip.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from node_support import ROOT

ROS2 = Path(sys.executable).parent / 'ros2'
SHARED_WHEELS = ROOT.parent / 'shared' / 'ros-wheels'
CLI_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
SPIN_S = 1.0


def ros_tools_missing() -> str | None:
    """Why ``ros2 launch`` cannot run here, or None."""
    if not ROS2.is_file():
        return f'{ROS2} not installed'
    for module in ('launch', 'launch_ros', 'ros2cli', 'ros2launch', 'ros2lifecycle'):
        if importlib.util.find_spec(module) is None:
            return f'ROS 2 launch/CLI module {module} not installed'
    return None


def require_ros_tools() -> None:
    """Skip without ../shared (the tools are not on PyPI); fail where it should have them."""
    missing = ros_tools_missing()
    if missing is None:
        return
    if SHARED_WHEELS.is_dir():
        pytest.fail(f'{missing}, although {SHARED_WHEELS} exists: run make setup')
    pytest.skip(f'{missing}: the ROS 2 launch/CLI wheels come from ../shared/ros-wheels, '
                'which is not beside this repository (or use a ROS 2 install)')


class Launched:
    """A process (ros2 launch or a node) in its own process group, output in a file."""

    def __init__(self, cmd: list[str], env: dict[str, str], log: Path, cwd: Path):
        self.log = log
        self._out = open(log, 'wb')
        self.proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=self._out,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def text(self) -> str:
        return self.log.read_text(errors='replace')

    def signal_group(self, signum: int = signal.SIGINT,
                     timeout_s: float = STOP_TIMEOUT_S) -> int:
        """``signum`` to the whole process group (as Ctrl-C in a terminal); the exit code.
        Whatever is still running after ``timeout_s`` is killed (and the test fails on it)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signum)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f'still running {timeout_s} s after {signum!r}:\n'
                                     f'{self.text()}') from None
        self._out.close()
        return self.proc.returncode

    def group_alive(self) -> bool:
        """Whether any process of the group is left (a node orphaned by its launcher)."""
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill(self) -> None:
        if self.group_alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)
        self._out.close()


def ros2(args: list[str], env: dict[str, str], expect: Callable[[str], bool] | None = None,
         timeout_s: float = CLI_TIMEOUT_S) -> str:
    """``ros2 <args>`` until it succeeds and ``expect(stdout)`` holds; its stdout.

    Graph verbs run with no daemon (nothing outlives the call) and a short discovery time
    (SPIN_S), repeated while discovery is not complete yet, never a fixed long wait.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        out = subprocess.run([str(ROS2)] + args, env=env, capture_output=True, text=True,
                             timeout=timeout_s, start_new_session=True)
        if out.returncode == 0 and (expect is None or expect(out.stdout)):
            return out.stdout
        if time.monotonic() > deadline:
            raise AssertionError(f'ros2 {" ".join(args)} -> {out.returncode}\n{out.stdout}\n'
                                 f'{out.stderr}')


def graph_args() -> list[str]:
    """Options of the ros2 verbs that look at the graph: no daemon, time to discover."""
    return ['--no-daemon', '--spin-time', str(SPIN_S)]
