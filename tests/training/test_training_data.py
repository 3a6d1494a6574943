"""Loaders (project pose file, VideoPose3D 3D and 2D), epoch sampling and evaluation sets."""
from __future__ import annotations

import numpy as np
import pytest
from training_synthetic import random_poses, synthetic_set

from pose_lifter.core.camera import project as project_px
from pose_lifter.core.cameras import EVAL_CAMERAS
from pose_lifter.core.poses import H36M32_TO_17, PoseFileError
from pose_lifter.core.skeleton import H36M17
from pose_lifter_training.config import DataConfig
from pose_lifter_training.data import (
    TrainData,
    build_eval_set,
    insert_root,
    limb_joints,
    load_splits,
)
from pose_lifter_training.sources import (
    H36M_APPROX_K,
    detect_format,
    load_poses,
    load_videopose3d_2d,
    normalise_keypoints,
)


def write_vp3d_3d(path, rng):
    """VideoPose3D data_3d_h36m.npz layout: positions_3d[subject][action] (F, 32, 3) m, Z up."""
    data = {}
    for subject in ('S1', 'S5'):
        data[subject] = {}
        for action in ('Walking', 'Eating 2'):
            yup = random_poses(12, rng) / 1000.0
            full = np.zeros((12, 32, 3), np.float32)
            full[:, list(H36M32_TO_17)] = np.stack([yup[..., 0], -yup[..., 2], yup[..., 1]], -1)
            data[subject][action] = full
    np.savez_compressed(path, positions_3d=data)
    return data


def write_vp3d_2d(path, rng, K=H36M_APPROX_K):
    """VideoPose3D data_2d_h36m_gt.npz: positions_2d[subject][action][cam] (F, 17, 2) px."""
    data = {}
    for subject in ('S1', 'S9'):
        data[subject] = {'Walking': []}
        for _ in range(4):
            cam = random_poses(10, rng) / 1000.0 * np.array([1, -1, 1])
            cam = cam - cam[:, :1] + np.array([0.0, 0.0, 5.0])
            data[subject]['Walking'].append(project_px(cam, K).astype(np.float32))
    meta = {'layout_name': 'h36m', 'num_joints': 17,
            'keypoints_symmetry': [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
    np.savez_compressed(path, positions_2d=data, metadata=meta)


def test_videopose3d_3d_loader(tmp_path):
    data = write_vp3d_3d(tmp_path / 'data_3d_h36m.npz', np.random.default_rng(0))
    assert detect_format(tmp_path / 'data_3d_h36m.npz') == 'videopose3d_3d'
    poses = load_poses(tmp_path / 'data_3d_h36m.npz', trust_pickle=True)
    assert poses.joints.shape == (48, 17, 3)
    assert sorted(set(poses.subjects)) == ['S1', 'S5']
    first = data['S1']['Eating 2'][:, list(H36M32_TO_17)] * 1000.0      # sorted action order
    np.testing.assert_allclose(poses.joints[:12, :, 0], first[..., 0], rtol=1e-5)
    assert poses.joints[:, 10, 1].mean() > poses.joints[:, 3, 1].mean() + 1000   # head up (Y)


def test_videopose3d_2d_loader(tmp_path):
    write_vp3d_2d(tmp_path / 'data_2d_h36m_gt.npz', np.random.default_rng(1))
    assert detect_format(tmp_path / 'data_2d_h36m_gt.npz') == 'videopose3d_2d'
    kp = load_videopose3d_2d(tmp_path / 'data_2d_h36m_gt.npz', trust_pickle=True)
    assert kp.pixels.shape == (80, 17, 2) and kp.K.shape == (80, 3, 3)
    assert sorted(set(kp.subjects)) == ['S1', 'S9'] and set(kp.camera) == {0, 1, 2, 3}
    x = normalise_keypoints(kp)
    assert x.shape == (80, 16, 2)
    chain = np.linalg.norm(np.diff(insert_root(x)[:, H36M17.scale_chain_indices], axis=1),
                           axis=-1).sum(-1)
    np.testing.assert_allclose(chain, 0.1, rtol=1e-4)
    with pytest.raises(PoseFileError, match='2D keypoints only'):
        load_poses(tmp_path / 'data_2d_h36m_gt.npz')


def test_extra_2d_rows_join_the_training_set(tmp_path, pose_file):
    write_vp3d_2d(tmp_path / 'kp.npz', np.random.default_rng(2))
    cfg = DataConfig(path=str(pose_file), extra_2d=str(tmp_path / 'kp.npz'), trust_pickle=True,
                     train_subjects=['s1', 'S1'], val_subjects=['v1'], test_subjects=['t1'],
                     train_fps=50.0)
    splits = load_splits(cfg)
    assert splits.extra_2d.shape == (40, 16, 2)          # S1 only, all 4 cameras
    epoch = TrainData(splits.train, cfg, splits.extra_2d).sample_epoch(np.random.default_rng(0))
    assert np.isnan(epoch.targets).all(axis=(1, 2)).sum() == 40


def test_missing_files_and_subjects(tmp_path, pose_file):
    with pytest.raises(PoseFileError, match='not found'):
        load_poses(tmp_path / 'nope.npz')
    (tmp_path / 'bad.npz').write_bytes(b'not a zip')
    with pytest.raises(PoseFileError, match='readable'):
        detect_format(tmp_path / 'bad.npz')
    with pytest.raises(PoseFileError, match=r"\['zz'\]"):
        load_splits(DataConfig(path=str(pose_file), train_subjects=['zz']))


def test_epoch_sampling_is_consistent():
    cfg = DataConfig(flip_prob=0.5, missing_prob=0.5, missing_max=2)
    data = TrainData(synthetic_set(subjects=('a',), frames=100), cfg)
    ep = data.sample_epoch(np.random.default_rng(0))
    n = len(ep.inputs)
    assert ep.inputs.shape == (n, 16, 2) and ep.targets.shape == (n, 16, 3)
    assert ep.inputs.dtype == np.float32
    # body units: the target at depth c reprojects onto the normalised 2D (flipped rows too),
    # up to the perspective strength, which is that of depth c, not of the real distance
    reproj = ep.targets[..., :2] / (ep.targets[..., 2:] + 10.0)
    err = np.abs(reproj - ep.inputs).max(axis=(1, 2)) / np.abs(ep.inputs).max(axis=(1, 2))
    assert np.median(err) < 0.03 and err.max() < 0.1
    dropped = ~ep.visible
    assert 0.3 < dropped.any(axis=1).mean() < 0.7 and dropped.sum(axis=1).max() <= 2
    assert set(np.flatnonzero(dropped.any(axis=0))) <= set(limb_joints())
    names = [H36M17.joint_names[j] for j in H36M17.non_root[limb_joints()]]
    assert sorted(names) == sorted(['r_knee', 'r_ankle', 'l_knee', 'l_ankle', 'l_elbow',
                                    'l_wrist', 'r_elbow', 'r_wrist'])
    again = data.sample_epoch(np.random.default_rng(0))
    np.testing.assert_array_equal(again.inputs, ep.inputs)


def test_eval_set_goes_through_the_fixed_cameras():
    poses = synthetic_set(subjects=('v',), clips=2, frames=5)
    es = build_eval_set(poses)
    assert len(es) == len(poses) * len(EVAL_CAMERAS)
    assert es.gt_mm.shape == (len(es), 17, 3) and es.target.shape == (len(es), 16, 3)
    assert set(es.camera) == set(range(len(EVAL_CAMERAS)))
    depth = np.linalg.norm(es.gt_mm[:, 0], axis=-1) / 1000.0
    assert 2.5 < depth.min() and depth.max() < 30.0


def test_default_splits_of_the_cmu_file(shared_data):
    """The shared CMU file (skipped when ../shared is absent): default subject splits."""
    cfg = DataConfig(path=str(shared_data))
    splits = load_splits(cfg)
    assert set(splits.train.subjects) == set(cfg.train_subjects)
    assert set(splits.val.subjects) == {'14'} and set(splits.test.subjects) == {'07'}
    assert 25_000 < len(splits.train) < 35_000          # ~30 fps
    from pose_lifter_training.data import bone_sum_m
    assert 3.5 < bone_sum_m(splits.train) < 4.5
