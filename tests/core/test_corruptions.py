"""Corruption generators used for gating evaluation and by the rosbag tools."""
from __future__ import annotations

import numpy as np
import pytest

from pose_lifter.core.corruptions import KINDS, corrupt, corrupt_mixed, limbs
from pose_lifter.core.skeleton import H36M17


def poses(n: int = 20, d: int = 2, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(1, H36M17.num_joints, d)) * 100 + 500
    return base + rng.normal(size=(n, H36M17.num_joints, d)) * 5


def test_limbs_come_from_the_skeleton_table():
    names = [[H36M17.joint_names[j] for j in limb] for limb in limbs()]
    assert sorted(names) == [['l_hip', 'l_knee', 'l_ankle'],
                             ['l_shoulder', 'l_elbow', 'l_wrist']]


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('d', [2, 3])
def test_every_kind_changes_the_pose_and_keeps_shape(kind, d):
    p = poses(d=d)
    out = corrupt(p, kind, np.random.default_rng(1))
    assert out.shape == p.shape and np.isfinite(out).all()
    moved = np.linalg.norm(out - p, axis=-1).max(axis=-1)
    assert (moved > 10).all()
    if kind in ('displace', 'limb_swap', 'shuffle'):
        np.testing.assert_array_equal(out[:, H36M17.root], p[:, H36M17.root])


def test_limb_swap_swaps_exactly_one_limb_pair():
    p = poses(n=50)
    out = corrupt(p, 'limb_swap', np.random.default_rng(2))
    changed = ~np.isclose(out, p).all(-1)                  # (N, J)
    assert (changed.sum(-1) == 6).all()                    # 3 left + 3 right joints
    np.testing.assert_array_equal(np.sort(out, axis=1), np.sort(p, axis=1))


def test_missing_joints_stay_missing_and_mixed_labels():
    p = poses(n=40)
    p[:, 5] = np.nan
    out, labels = corrupt_mixed(p, np.random.default_rng(3))
    assert np.isnan(out[:, 5]).all()
    assert set(labels) <= set(KINDS) and len(set(labels)) > 1
    assert len(labels) == len(p)
    with pytest.raises(ValueError, match='unknown corruption'):
        corrupt(p, 'melt', np.random.default_rng(0))
