"""Calibrated uncertainty: radii that hold their nominal coverage, root covariance on the ray."""
from __future__ import annotations

import numpy as np
import pytest

from pose_lifter.core.evaluation import spearman
from pose_lifter.core.uncertainty import (
    BIN_EDGES,
    UncertaintyCalibration,
    calibrate,
    coverage,
    joint_radii,
    root_covariance,
    root_errors,
    root_relative_errors,
)

SCALE = np.linspace(0.01, 0.1, 17)   # per-joint error scale, m


def synthetic(n: int, rng: np.random.Generator, hidden_share: float = 0.2):
    """Persons 5-20 m away whose joint errors grow with the joint index and double when the
    joint is inferred; the root errs along its ray by 5 %."""
    gt = rng.normal(0.0, 0.4, (n, 17, 3))
    gt[:, 0] = 0.0
    root = np.stack([rng.uniform(-2, 2, n), rng.uniform(-1, 1, n), rng.uniform(5, 20, n)], 1)
    gt += root[:, None]
    inferred = rng.random((n, 17)) < hidden_share
    inferred[:, 0] = False
    sd = SCALE * np.where(inferred, 2.0, 1.0)
    pred = gt + rng.normal(size=(n, 17, 3)) * sd[..., None]
    pred[:, 0] = gt[:, 0]                              # root-relative errors as drawn
    shift = root * rng.normal(0.0, 0.05, (n, 1))       # then the whole person along its ray
    return pred + shift[:, None], gt, inferred


def test_calibrated_radii_hold_their_coverage_on_new_persons():
    rng = np.random.default_rng(0)
    cal = calibrate(*synthetic(6000, rng))
    pred, gt, inferred = synthetic(6000, rng)
    radii = joint_radii(cal, inferred)
    err = root_relative_errors(pred, gt)
    assert coverage(radii[:, 1:], err[:, 1:]) == pytest.approx(0.9, abs=0.02)
    assert coverage(radii[:, 1:][inferred[:, 1:]], err[:, 1:][inferred[:, 1:]]) == \
        pytest.approx(0.9, abs=0.03)
    # bigger radius, bigger error: the rank correlation a user can rely on
    assert spearman(radii[:, 1:].ravel(), err[:, 1:].ravel()) > 0.4
    one = cal.bins[0]
    assert np.all(np.asarray(one.inferred_m[1:]) >= np.asarray(one.seen_m[1:]))
    assert one.seen_m[16] > 5 * one.seen_m[1]       # a wrist errs farther than a hip


def test_bins_by_inferred_count_and_fallback():
    rng = np.random.default_rng(1)
    pred, gt, inferred = synthetic(3000, rng, hidden_share=0.0)
    cal = calibrate(pred, gt, inferred)
    assert [b.min_inferred for b in cal.bins] == list(BIN_EDGES[:-1])
    assert cal.bins[0].persons == 3000 and cal.bins[1].persons == 0
    # an empty bin takes the previous bin's radii, never zeros
    assert cal.bins[2].seen_m == cal.bins[0].seen_m
    assert cal.bins[0].inferred_m[5] == pytest.approx(2.0 * cal.bins[0].seen_m[5])
    again = UncertaintyCalibration.from_dict(cal.to_dict())
    assert again.bins[0].seen_m == pytest.approx(cal.bins[0].seen_m, abs=1e-5)
    hidden = np.zeros((2, 17), bool)
    hidden[1, 1:6] = True
    assert list(cal.bin_of(hidden[:, 1:].sum(1))) == [0, 2]
    counts = np.arange(40)        # the lookup table is searchsorted over the bins' edges
    np.testing.assert_array_equal(
        cal.bin_of(counts), np.searchsorted(BIN_EDGES[:-1], np.minimum(counts, 16), 'right') - 1)


def test_root_covariance_lies_along_the_ray():
    rng = np.random.default_rng(2)
    cal = calibrate(*synthetic(3000, rng))
    assert cal.bins[0].depth_rel == pytest.approx(0.05, rel=0.15)
    root = np.array([[0.0, 0.0, 10.0], [3.0, 0.0, 4.0]])
    cov = root_covariance(cal, root, np.zeros((2, 17), bool))
    for c, r in zip(cov, root):
        w, v = np.linalg.eigh(c)
        u = r / np.linalg.norm(r)
        assert abs(abs(v[:, -1] @ u) - 1) < 1e-9                       # largest axis = ray
        assert np.sqrt(w[-1]) == pytest.approx(cal.bins[0].depth_rel * np.linalg.norm(r))
    along, across = root_errors(root * 1.1, root)
    assert along == pytest.approx([0.1, 0.1]) and across == pytest.approx([0.0, 0.0])


@pytest.mark.parametrize('bad', [{}, {'nominal': 0.9, 'bins': []},
                                 {'nominal': 0.9, 'bins': [{'min_inferred': 0}]},
                                 {'nominal': 0.9, 'bins': [
                                     {'min_inferred': 1, 'persons': 1, 'seen_m': [0] * 17,
                                      'inferred_m': [0] * 17, 'depth_rel': 0,
                                      'lateral_rel': 0}]}])
def test_invalid_calibration_is_a_clear_error(bad):
    with pytest.raises(ValueError, match='uncertainty_calibration'):
        UncertaintyCalibration.from_dict(bad)


def test_too_few_persons_to_calibrate():
    rng = np.random.default_rng(3)
    with pytest.raises(ValueError, match='need at least'):
        calibrate(*synthetic(10, rng))
    with pytest.raises(ValueError, match='nominal'):
        calibrate(*synthetic(100, rng), nominal=1.5)


def test_radii_grow_with_distance_when_errors_do():
    rng = np.random.default_rng(4)

    def far_errs(n):
        pred, gt, inferred = synthetic(n, rng, hidden_share=0.0)
        dist = np.linalg.norm(pred[:, 0], axis=-1)
        rel = pred - pred[:, :1]
        rel_gt = gt - gt[:, :1]
        pred = pred[:, :1] + rel_gt + (rel - rel_gt) * (dist / 10.0)[:, None, None]
        return pred, gt, inferred, dist
    pred, gt, inferred, _ = far_errs(6000)
    cal = calibrate(pred, gt, inferred)
    assert cal.distance_exponent == pytest.approx(1.0, abs=0.1)
    pred, gt, inferred, dist = far_errs(6000)
    err = root_relative_errors(pred, gt)[:, 1:]
    near, far = dist < 8, dist > 16
    with_d = joint_radii(cal, inferred, dist)[:, 1:]
    flat = joint_radii(cal, inferred)[:, 1:]
    # with the distance law the near and the far persons are both covered ~90 %
    assert coverage(with_d[near], err[near]) == pytest.approx(0.9, abs=0.04)
    assert coverage(with_d[far], err[far]) == pytest.approx(0.9, abs=0.04)
    assert coverage(flat[far], err[far]) < 0.8
    assert UncertaintyCalibration.from_dict(cal.to_dict()).distance_exponent == \
        pytest.approx(cal.distance_exponent, abs=1e-4)
