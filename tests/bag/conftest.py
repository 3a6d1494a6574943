"""Fixtures for the rosbag tools: small bags (a few dozen frames), private DDS domains."""
from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from pose_lifter.bag.make import make_bag
from pose_lifter.bag.scene import SceneOptions

# Domain ids for replays in this pytest process (not the node tests' sequence, not the
# process's own ROS_DOMAIN_ID).
_DOMAINS = itertools.count(0)
_BASE = (os.getpid() * 53 + 97) % 231


def fresh_domain_id() -> int:
    while True:
        domain = 1 + (_BASE + next(_DOMAINS)) % 231
        if str(domain) != os.environ.get('ROS_DOMAIN_ID'):
            return domain


@pytest.fixture
def domain_id() -> int:
    return fresh_domain_id()


@pytest.fixture(scope='session')
def small_bag(tmp_path_factory, demo_poses) -> Path:
    """24 frames (2 clips at 10 fps), 2 persons, some corrupted, COCO keypoints with noise."""
    out = tmp_path_factory.mktemp('bags') / 'small'
    make_bag(demo_poses, out, SceneOptions(joint_format='coco17', persons=2, corrupt_prob=0.25,
                                           noise_px=1.0, drop_prob=0.02, low_conf_prob=0.05,
                                           seed=3), fps=10.0, max_frames=24)
    return out


@pytest.fixture(scope='session')
def clean_bag(tmp_path_factory, demo_poses) -> Path:
    """40 frames (2 clips, 2 cameras), one person, H36M keypoints, no noise."""
    out = tmp_path_factory.mktemp('bags') / 'clean'
    make_bag(demo_poses, out, SceneOptions(cameras='eval'), fps=10.0, max_frames=40)
    return out
