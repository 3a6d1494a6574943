"""Shared fixtures. Every DDS participant in the tests stays on loopback (see ros_env)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / 'shared' / 'data' / 'cmu_mocap_h36m17.npz'
sys.path.insert(0, str(Path(__file__).parent))

# Network rule: DDS never leaves loopback, whatever the test does.
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('ROS_DOMAIN_ID', str(100 + os.getpid() % 100))
# Kilted skips message field checks by default, and then numpy scalars serialise as garbage
# without an error: make every test fail loudly instead.
os.environ['ROS_PYTHON_CHECK_FIELDS'] = '1'


@pytest.fixture(scope='session')
def tiny_model(tmp_path_factory) -> Path:
    from model_factory import build_tiny_model
    return build_tiny_model(tmp_path_factory.mktemp('model') / 'tiny.onnx')


@pytest.fixture(scope='session')
def default_model() -> Path:
    path = ROOT / 'models' / 'default.onnx'
    if not path.is_file():
        pytest.skip('models/default.onnx is not there yet')
    return path


@pytest.fixture(scope='session')
def demo_poses() -> Path:
    return ROOT / 'models' / 'demo_poses.npz'


@pytest.fixture(scope='session')
def shared_data() -> Path:
    if not SHARED_DATA.is_file():
        pytest.skip(f'{SHARED_DATA} not present')
    return SHARED_DATA
