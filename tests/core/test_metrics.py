"""Metrics of DESIGN §7 against hand-computable cases."""
import numpy as np
import pytest

from pose_lifter.core import metrics


def random_pose(n=10, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.normal(0, 300, (n, 17, 3))
    return p - p[:, :1]


def rotation(axis_angle):
    from pose_lifter.core.camera import rotation_to_optical_axis
    return rotation_to_optical_axis(np.asarray(axis_angle, float)[None])[0]


def test_mpjpe_of_a_constant_offset():
    gt = random_pose()
    assert metrics.mpjpe(gt + [3.0, 4.0, 0.0], gt) == pytest.approx(5.0)


def test_n_mpjpe_removes_scale_only():
    gt = random_pose()
    assert metrics.n_mpjpe(gt * 1.7, gt) == pytest.approx(0.0, abs=1e-9)
    R = rotation([0.5, 0.2, 1.0])
    assert metrics.n_mpjpe(gt @ R, gt) > 10


def test_pa_mpjpe_removes_similarity_but_not_reflection():
    gt = random_pose()
    R = rotation([0.5, 0.2, 1.0])
    moved = 2.5 * gt @ R + [10.0, -20.0, 5.0]
    assert metrics.pa_mpjpe(moved, gt) == pytest.approx(0.0, abs=1e-6)
    mirrored = gt * [1.0, 1.0, -1.0]
    assert metrics.pa_mpjpe(mirrored, gt) > 50
    assert metrics.legacy_thesis_error(mirrored, gt) == pytest.approx(0.0, abs=1e-6)
    assert metrics.mirror_rate(mirrored, gt) == 1.0
    assert metrics.mirror_rate(moved, gt) == 0.0


def test_legacy_metric_is_16_of_17_of_the_non_root_error():
    gt = random_pose(5)
    pred = gt + np.random.default_rng(1).normal(0, 20, gt.shape)
    pred[:, 0] = 0
    keep = slice(1, None)
    aligned = metrics.procrustes_align(pred[:, keep], gt[:, keep], allow_reflection=True)
    sixteen = metrics.per_joint_error(aligned, gt[:, keep]).mean()
    assert metrics.legacy_thesis_error(pred, gt) == pytest.approx(sixteen * 16 / 17)


def test_pck_and_auc():
    gt = random_pose()
    pred = gt.copy()
    pred[:, 1:9] += [200.0, 0, 0]     # 8 of 17 joints off by 200 mm
    pred[:, 9:] += [75.0, 0, 0]       # the rest inside PCK@150, but only half of the AUC
    assert metrics.pck(pred, gt) == pytest.approx(9 / 17)
    assert 0 < metrics.auc(pred, gt) < metrics.pck(pred, gt)
    assert metrics.auc(gt, gt) == pytest.approx(1.0)


def test_roc_auc_with_ties():
    assert metrics.roc_auc([1, 2, 3], [0, 0, 0]) == 1.0
    assert metrics.roc_auc([0, 0], [1, 1]) == 0.0
    assert metrics.roc_auc([1, 1], [1, 1]) == 0.5
    assert np.isnan(metrics.roc_auc([], [1.0]))
    g = metrics.gating_metrics(np.array([0.9, 0.8, 0.2]), np.array([0.1, 0.3]), 0.5)
    assert g['real_rejected'] == pytest.approx(1 / 3) and g['corrupted_rejected'] == 1.0
