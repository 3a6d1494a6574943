"""The ``pose_lifter_node`` child process of ``bag replay``: loopback-only DDS in its own domain,
sim time, output to a log file, and a bounded stop (SIGINT, then SIGTERM, then SIGKILL).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pose_lifter

STOP_WAIT_S = (8.0, 4.0, 2.0)   # after SIGINT, SIGTERM, SIGKILL


def dds_env(domain_id: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a process that starts DDS: loopback only, domain ``domain_id``."""
    env = dict(os.environ if base is None else base)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env['ROS_DOMAIN_ID'] = str(int(domain_id))
    env['PYTHONUNBUFFERED'] = '1'
    return env


def pick_domain_id() -> int:
    """A domain id (1..232) for a private node and its peer (replay, bench), varied by
    process and time."""
    return 1 + (os.getpid() * 7919 + time.time_ns() // 1_000_000) % 232


def node_command() -> list[str]:
    """The node's console script next to this interpreter, else ``python -m pose_lifter.node``
    (the same code as this process: the checkout or the install it was imported from)."""
    script = shutil.which('pose_lifter_node', path=str(Path(sys.executable).parent))
    source = Path(pose_lifter.__file__).resolve().parents[1]
    if script and not (source / 'package.xml').is_file():
        return [script]
    return [sys.executable, '-m', 'pose_lifter.node']


def ros_args(model: str | None, backend: str | None, remap: dict[str, str],
             params: dict[str, object] | None = None) -> list[str]:
    """``--ros-args`` for the node: sim time, model/backend overrides, topic remaps."""
    args = ['--ros-args', '-p', 'use_sim_time:=true']
    values = dict(params or {})
    if model:
        values['model'] = model
    if backend:
        values['backend'] = backend
    for key, value in values.items():
        args += ['-p', f'{key}:={value}']
    for src, dst in remap.items():
        if src != dst:
            args += ['-r', f'{src}:={dst}']
    return args


def param_assignments(items: list[str] | None, option: str,
                      error: type[Exception] = ValueError) -> dict[str, str]:
    """``['KEY:=VALUE', ...]`` (the node parameters a CLI ``option`` passes on) -> {KEY: VALUE};
    raises ``error`` naming ``option`` for a malformed item."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition(':=')
        if not sep or not key:
            raise error(f'{option} wants KEY:=VALUE, got {item!r}')
        out[key] = value
    return out


class NodeProcess:
    """A running node child; ``log_path`` collects its stdout and stderr. ``program``: the
    command before ``args`` (default: the pose_lifter node)."""

    def __init__(self, args: list[str], domain_id: int, log_path: Path,
                 program: list[str] | None = None):
        self.log_path = Path(log_path)
        self._log = self.log_path.open('wb')
        env = dds_env(domain_id)
        source = str(Path(pose_lifter.__file__).resolve().parents[1])
        env['PYTHONPATH'] = os.pathsep.join([source] + [p for p in env.get(
            'PYTHONPATH', '').split(os.pathsep) if p])
        self.command = (program or node_command()) + args
        self.proc = subprocess.Popen(self.command, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def exited(self) -> int | None:
        """Exit code if the node has ended, else None."""
        return self.proc.poll()

    def log_tail(self, lines: int = 15) -> str:
        self._log.flush()
        try:
            text = self.log_path.read_text(errors='replace').splitlines()
        except OSError:
            return ''
        return '\n'.join(text[-lines:])

    def stop(self) -> int | None:
        """Stop the node (bounded); returns its exit code (None if it could not be reaped)."""
        for sig, wait in zip((signal.SIGINT, signal.SIGTERM, signal.SIGKILL), STOP_WAIT_S):
            if self.proc.poll() is not None:
                break
            try:
                self.proc.send_signal(sig)
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                break
        self._log.close()
        return self.proc.poll()
