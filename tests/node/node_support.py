"""Helpers for the node tests without ROS imports: domain ids, child environments, waits,
and the known scene (real poses seen by the first evaluation camera)."""
from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pose_lifter.core.cameras import EVAL_CAMERAS, eval_views
from pose_lifter.core.poses import load_pose_file

ROOT = Path(__file__).resolve().parents[2]
FRAME = 'camera_optical_frame'
WAIT_S = 15.0
# Domain ids for this pytest process: a pid-derived start, one new id per test (Fast DDS
# accepts 0..232). The pytest process's own ROS_DOMAIN_ID (tests/conftest.py) is never used.
_DOMAINS = itertools.count(0)
_BASE = 1 + (os.getpid() * 37) % 200


def fresh_domain_id() -> int:
    while True:
        domain = 1 + (_BASE + next(_DOMAINS)) % 231
        if str(domain) != os.environ.get('ROS_DOMAIN_ID'):
            return domain


def subprocess_env(domain_id: int) -> dict[str, str]:
    """Environment for a child process that starts DDS: loopback only, its own domain."""
    env = dict(os.environ)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env['ROS_DOMAIN_ID'] = str(domain_id)
    env['PYTHONUNBUFFERED'] = '1'
    return env


def wait_until(predicate: Callable[[], bool], timeout_s: float = WAIT_S,
               what: str = 'condition') -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout_s} s waiting for {what}')
        time.sleep(0.005)


class Scene:
    """Known 3D poses and their 2D views: (F, 17, 3) metres, (F, 17, 2) px, (3, 3) K."""

    def __init__(self, demo_poses: Path, frames: int = 24):
        poses = load_pose_file(demo_poses)
        pick = np.linspace(0, len(poses) - 1, frames).astype(int)
        self.joints3d, self.pixels, K = eval_views(poses.joints[pick], EVAL_CAMERAS[:1])
        self.K = K[0]


def send_until(send: Callable[[], object], done: Callable[[], bool], what: str,
               timeout_s: float = WAIT_S, resend_s: float = 0.3) -> None:
    """Call ``send`` every ``resend_s`` until ``done()`` (best-effort input may be lost)."""
    deadline = time.monotonic() + timeout_s
    while True:
        send()
        until = min(time.monotonic() + resend_s, deadline)
        while time.monotonic() < until:
            if done():
                return
            time.sleep(0.005)
        if time.monotonic() >= deadline:
            raise AssertionError(f'timed out after {timeout_s} s waiting for {what}')
