"""Detector-like input: the noise model, one-sided hips/shoulders, min_confidence, and the
evaluation of a model on noisy COCO-17 detections."""
import numpy as np
import pytest
from model_factory import walking_poses

from pose_lifter.core.adapters import COCO17_NAMES, HIP_TO_SHOULDER, to_h36m17
from pose_lifter.core.backends import create_backend
from pose_lifter.core.detector_noise import (
    DetectorNoise,
    apply_noise,
    joint_kappa,
    person_height,
    synthesise_detections,
)
from pose_lifter.core.evaluation import evaluate_pose_set
from pose_lifter.core.pipeline import Lifter
from pose_lifter.core.poses import load_pose_file
from pose_lifter.core.skeleton import H36M17


def test_noise_scales_with_person_size_and_joint_spread():
    rng = np.random.default_rng(0)
    cam3d, px, K = walking_poses(64)
    noise = DetectorNoise(size_frac=0.02)
    small = px * 0.25            # the same people, a quarter of the size
    err_big = [np.nanmean(np.abs(apply_noise(px, 'h36m17', noise, rng)[0] - px))
               for _ in range(3)]
    err_small = [np.nanmean(np.abs(apply_noise(small, 'h36m17', noise, rng)[0] - small))
                 for _ in range(3)]
    assert np.mean(err_small) == pytest.approx(np.mean(err_big) / 4, rel=0.15)
    kappa = joint_kappa('coco17')
    assert kappa.mean() == pytest.approx(1.0)
    assert kappa[COCO17_NAMES.index('nose')] < kappa[COCO17_NAMES.index('l_hip')]
    h = person_height(px)
    assert (h > 50).all() and (h < 2000).all()


def test_confidence_follows_the_error_and_drops_are_missing():
    rng = np.random.default_rng(1)
    _, px, _ = walking_poses(64)
    noisy, conf = apply_noise(px, 'h36m17', DetectorNoise(noise_px=3.0, drop_prob=0.1,
                                                          low_conf_prob=0.2), rng)
    missing = ~np.isfinite(noisy).all(-1)
    assert 0.05 < missing.mean() < 0.15 and (conf[missing] == 0).all()
    err = np.linalg.norm(noisy - px, axis=-1)[~missing]
    c = conf[~missing]
    assert np.corrcoef(err, c)[0, 1] < -0.5          # large error, low confidence
    assert np.median(c[err > 9.0]) < 0.3
    with pytest.raises(ValueError):
        DetectorNoise(drop_prob=1.5)


def test_one_sided_hips_and_shoulders_still_give_pelvis_and_thorax():
    cam3d, _, K = walking_poses(16)
    rng = np.random.default_rng(2)
    px, conf = synthesise_detections(cam3d, K, 'coco17', DetectorNoise(), rng)
    full, full_conf = to_h36m17(px, conf, 'coco17')
    for dropped, derived in (('l_hip', 'pelvis'), ('r_shoulder', 'thorax')):
        conf2 = conf.copy()
        conf2[:, COCO17_NAMES.index(dropped)] = 0.0
        kp, c = to_h36m17(px, conf2, 'coco17')
        j = H36M17.index(derived)
        assert (c[:, j] > 0).all() and (c[:, j] <= 0.5).all() and (full_conf[:, j] > 0.5).all()
        assert (c[:, H36M17.index(dropped)] == 0).all()           # the joint stays missing
        width = np.linalg.norm(px[:, COCO17_NAMES.index('l_shoulder')] -
                               px[:, COCO17_NAMES.index('r_shoulder')], axis=-1)
        off = np.linalg.norm(kp[:, j] - full[:, j], axis=-1)
        assert np.median(off / width) < 0.5 * HIP_TO_SHOULDER
    conf3 = conf.copy()   # both hips gone: no guess
    conf3[:, [COCO17_NAMES.index('l_hip'), COCO17_NAMES.index('r_hip')]] = 0.0
    assert (to_h36m17(px, conf3, 'coco17')[1][:, H36M17.index('pelvis')] == 0).all()


def test_min_confidence_turns_weak_joints_into_missing(tiny_model):
    _, px, K = walking_poses(4)
    conf = np.full(px.shape[:2], 0.9)
    conf[:, 2:8] = 0.2                                 # six weak joints per person
    strict = Lifter(create_backend(tiny_model, 'onnxruntime'), min_confidence=0.3)
    loose = Lifter(create_backend(tiny_model, 'onnxruntime'))
    assert (loose.lift(px, K, conf).status != 'too_few_joints').all()
    res = strict.lift(px, K, conf)
    assert (res.valid_joints == 11).all() and (res.status == 'too_few_joints').all()


def test_evaluation_on_noisy_coco_detections(tiny_model, demo_poses):
    poses = load_pose_file(demo_poses).subsample(2)
    lifter = Lifter(create_backend(tiny_model, 'onnxruntime'), realism_threshold=0.0)
    clean = evaluate_pose_set(lifter, poses)
    noisy = evaluate_pose_set(lifter, poses, joint_format='coco17',
                              noise=DetectorNoise(noise_px=4.0, drop_prob=0.05))
    assert noisy['input']['joint_format'] == 'coco17'
    assert noisy['metrics']['pa_mpjpe'] > clean['metrics']['pa_mpjpe']
    g = noisy['gating']
    assert set(g['per_kind_rejected_all']) == {'displace', 'limb_swap', 'shuffle', 'noise'}
    # threshold 0: every lifted person passes, so 'all accepted' is the lifted share
    assert g['real_accepted_all'] == pytest.approx(noisy['lifted'] / noisy['views'])
    assert 0.9 < g['real_accepted_all'] < 1.0


@pytest.mark.parametrize('occlude, hidden', [('legs', 4), ('right', 4)])
def test_evaluation_with_occluded_joints(tiny_model, demo_poses, occlude, hidden):
    poses = load_pose_file(demo_poses).subsample(2)
    lifter = Lifter(create_backend(tiny_model, 'onnxruntime'), realism_threshold=0.0)
    out = evaluate_pose_set(lifter, poses, joint_format='coco17', occlude=occlude,
                            gating=False)
    occ = out['occluded']
    assert out['input']['occlude'] == occlude and len(occ['hidden_joints']) == hidden
    assert out['lifted'] == out['views']           # 13 joints left: still lifted
    assert 0 < occ['mpjpe_seen'] and 0 < occ['mpjpe_inferred']
    assert occ['pa_mpjpe_seen_when_all_visible'] < out['metrics']['pa_mpjpe'] * 2
    assert occ['ratio_to_all_visible'] == pytest.approx(
        occ['pa_mpjpe_seen'] / occ['pa_mpjpe_seen_when_all_visible'])
    with pytest.raises(ValueError, match='unknown occlusion'):
        evaluate_pose_set(lifter, poses, occlude='arms')
