"""The 2D-only selection criterion and its rank correlation with the 3D metric."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pose_lifter_training.selection import criterion_2d, rank, rank_report, spearman


@pytest.fixture(scope='module')
def model_and_rows(tiny_run, pose_file):
    from pose_lifter.core.poses import load_pose_file
    from pose_lifter_training.checkpoint import load_checkpoint, restore
    from pose_lifter_training.data import build_eval_set
    from pose_lifter_training.models import build_lifting_model
    cfg, gen, critic, _ = restore(load_checkpoint(tiny_run / 'best.pt'))
    model = build_lifting_model(gen, critic, cfg.model, cfg.loss)
    es = build_eval_set(load_pose_file(pose_file).subjects_only(['t1']))
    return model, es.inputs[:200]


def test_spearman_and_ranks():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert rank([3.0, 1.0, 3.0]).tolist() == [1.5, 0.0, 1.5]
    assert math.isnan(spearman([1, 2], [1, 2])) and math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_rank_report_picks_the_epoch_of_the_lowest_criterion():
    history = [{'val': {'pa_mpjpe': p, 'crit_2d': c, 'reproj_2d': c, 'cons_2d': 0.0,
                        'cons_3d': -c, 'realism_2d': r}}
               for p, c, r in ((90, 0.3, 0.1), (70, 0.1, 0.3), (80, 0.2, 0.2))]
    rep = rank_report(history + [{'val': {}}])
    assert rep['epochs'] == 3 and rep['best_possible'] == 70 and rep['last'] == 80
    assert rep['crit_2d'] == {'spearman': pytest.approx(1.0), 'selected': 70.0}
    assert rep['cons_3d']['spearman'] == pytest.approx(-1.0)
    assert rep['realism_2d']['spearman'] == pytest.approx(1.0)   # higher realism = better
    assert math.isnan(rep['cons_2d']['spearman'])


def test_criterion_terms(model_and_rows):
    from pose_lifter_training.models import reprojection_error
    model, x = model_and_rows
    vis = np.ones(x.shape[:2], bool)
    m = criterion_2d(model, x, vis)
    assert m['crit_2d'] == pytest.approx(m['reproj_2d'] + m['cons_2d'])
    assert m['heldout_rows'] == 200 and 0.0 <= m['realism_threshold_2d'] <= 1.0
    with torch.no_grad():
        xt = torch.as_tensor(x)
        pose, _ = model(xt.reshape(len(x), -1), torch.zeros(len(x), 8))
        ref = reprojection_error(pose, xt).mean().item()
    assert m['reproj_2d'] == pytest.approx(ref, rel=1e-4)
    # batching does not change the result
    assert criterion_2d(model, x, vis, batch=7)['crit_2d'] == pytest.approx(m['crit_2d'],
                                                                           rel=1e-5)


def test_missing_joints_do_not_count(model_and_rows):
    model, x = model_and_rows
    vis = np.ones(x.shape[:2], bool)
    vis[:, 12] = False
    m = criterion_2d(model, x, vis)
    moved = x.copy()
    moved[:, 12] += 5.0   # a wild value where the joint is missing is ignored
    assert criterion_2d(model, moved, vis)['crit_2d'] == pytest.approx(m['crit_2d'])
    assert criterion_2d(model, moved, np.ones_like(vis))['crit_2d'] > m['crit_2d']


def test_pose_prior_is_blind_to_rotation_scale_and_mirror_not_to_shape(pose_file):
    from scipy.spatial.transform import Rotation

    from pose_lifter.core.poses import load_pose_file
    from pose_lifter_training.selection import PosePrior, pose_descriptor
    joints = load_pose_file(pose_file).joints.astype(np.float64)
    assert len(joints) > 100 and len(PosePrior(joints, size=100).reference) == 100
    rel = (joints[:, 1:] - joints[:, :1])[:50]
    turned = 0.003 * rel @ Rotation.random(random_state=1).as_matrix().T
    turned[..., 0] *= -1.0                                  # and mirrored
    np.testing.assert_allclose(pose_descriptor(turned), pose_descriptor(rel), atol=1e-12)
    full = PosePrior(joints, size=len(joints))
    assert full.distance(turned).max() < 1e-6               # every pose is its own neighbour
    bent = rel.copy()
    bent[:, 2:6, 2] += 400.0                                # one leg pushed 40 cm out of shape
    far = full.distance(bent)
    assert (far > 1e-3).all()
    np.testing.assert_allclose(full.distance(bent, chunk=7), far)


def test_prior_3d_only_with_a_prior(model_and_rows, pose_file):
    from pose_lifter.core.poses import load_pose_file
    from pose_lifter_training.selection import PosePrior
    model, x = model_and_rows
    vis = np.ones(x.shape[:2], bool)
    assert 'prior_3d' not in criterion_2d(model, x, vis)
    m = criterion_2d(model, x, vis, prior=PosePrior(load_pose_file(pose_file).joints))
    assert 0.0 < m['prior_3d'] < 0.1
