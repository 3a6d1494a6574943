"""Fixtures of the training tests: a synthetic pose file, a tiny config, a tiny trained run."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from training_synthetic import tiny_config, write_synthetic  # noqa: E402


@pytest.fixture(scope='session')
def pose_file(tmp_path_factory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp('data') / 'synthetic.npz')


@pytest.fixture(scope='session')
def tiny_run(tmp_path_factory, pose_file) -> Path:
    """A 2-epoch default-preset run on the synthetic file (shared by several tests)."""
    from pose_lifter_training.train import fit
    out = tmp_path_factory.mktemp('run')
    fit(tiny_config(pose_file, extra=['train.epochs=2']), out)
    return out
