"""The shipped default model on unseen mocap (the test subject's demo clips): sane metric 3D,
correct handedness, realism that separates real from corrupted input, and accuracy that beats
the trivial baselines. Thresholds are loose bounds around the model card's measured numbers,
so a broken export, normalisation or placement fails here."""
import numpy as np
import pytest

from pose_lifter.core import metrics, skeleton
from pose_lifter.core.backends import create_backend
from pose_lifter.core.cameras import eval_views
from pose_lifter.core.corruptions import corrupt_mixed
from pose_lifter.core.evaluation import lift_in_chunks
from pose_lifter.core.pipeline import Lifter
from pose_lifter.core.poses import load_pose_file
from pose_lifter.core.skeleton import H36M17


@pytest.fixture(scope='module')
def lifted(default_model, demo_poses):
    poses = load_pose_file(demo_poses).subsample(5)
    cam3d, px, K = eval_views(poses.joints)
    lifter = Lifter(create_backend(default_model, 'onnxruntime'))
    joints, realism, status = lift_in_chunks(lifter, px, K)
    return lifter, cam3d, px, K, joints, realism, status


def torso_handedness(p: np.ndarray) -> np.ndarray:
    """(N, 17, 3) -> (N,) sign of the body frame's determinant (left, up, forward-ish)."""
    i = H36M17.index
    left = p[:, i('l_shoulder')] - p[:, i('r_shoulder')] + p[:, i('l_hip')] - p[:, i('r_hip')]
    up = p[:, i('thorax')] - p[:, i('pelvis')]
    nose = p[:, i('neck_nose')] - p[:, i('thorax')]
    return np.sign(np.einsum('ni,ni->n', np.cross(left, up), nose))


def test_every_real_pose_is_lifted_in_front_of_the_camera(lifted):
    _, cam3d, _, _, joints, _, status = lifted
    assert (status != 'too_few_joints').all()
    assert np.isfinite(joints).all()
    depth_err = np.abs(joints[:, 0, 2] - cam3d[:, 0, 2]) / cam3d[:, 0, 2]
    assert np.median(depth_err) < 0.15


def test_bone_lengths_are_human(lifted):
    joints = lifted[4]
    bones = skeleton.bone_lengths(joints)
    assert 3.5 < np.median(bones.sum(-1)) < 4.4                 # metres, whole skeleton
    femur = bones[:, list(map(tuple, H36M17.bones)).index((1, 2))]
    assert 0.3 < np.median(femur) < 0.6


def test_handedness_is_mostly_correct(lifted):
    _, cam3d, _, _, joints, _, _ = lifted
    agree = torso_handedness(joints) == torso_handedness(cam3d)
    assert agree.mean() > 0.8
    assert metrics.mirror_rate(joints * 1000, cam3d * 1000) < 0.15


def test_beats_the_trivial_baselines(lifted, tiny_model):
    _, cam3d, px, K, joints, _, _ = lifted
    ours = metrics.pose_metrics(joints * 1000, cam3d * 1000)
    # tiny_model is exactly the zero-depth baseline, placed by the same pipeline
    zero, _, _ = lift_in_chunks(Lifter(create_backend(tiny_model)), px, K)
    base = metrics.pose_metrics(zero * 1000, cam3d * 1000)
    assert ours['pa_mpjpe'] < 0.9 * base['pa_mpjpe']
    assert ours['n_mpjpe'] < 0.9 * base['n_mpjpe']


def test_realism_separates_real_from_corrupted(lifted):
    lifter, _, px, K, _, realism, _ = lifted
    bad, _ = corrupt_mixed(px, np.random.default_rng(1))
    _, bad_realism, bad_status = lift_in_chunks(lifter, bad, K)
    ok = bad_status != 'too_few_joints'
    g = metrics.gating_metrics(realism, bad_realism[ok], lifter.threshold)
    assert g['gating_auc'] > 0.8
    assert g['real_rejected'] < 0.15
