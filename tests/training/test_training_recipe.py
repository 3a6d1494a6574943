"""The convergence recipe: EMA of the lifter, cosine learning rate, anatomical priors, and
detector-like training input; and the export's threshold calibration on noisy detections."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from training_synthetic import tiny_config

from pose_lifter.core.contract import ModelContract
from pose_lifter_training.checkpoint import load_checkpoint
from pose_lifter_training.data import TrainData, load_splits
from pose_lifter_training.ema import WeightAverage
from pose_lifter_training.export import export_onnx, read_contract
from pose_lifter_training.geometry import bone_asymmetry, knee_backward
from pose_lifter_training.objective import lr_factor
from pose_lifter_training.train import fit

RECIPE = ['train.ema=0.9', 'train.lr_schedule=cosine', 'loss.knee_forward=1.0',
          'loss.bone_symmetry=0.1', 'data.noise_prob=0.7', 'data.coco_prob=0.5',
          'train.epochs=2']


def test_cosine_schedule_ends_at_the_floor():
    assert lr_factor(0, 10, 'cosine', 0.05) == pytest.approx(1.0)
    assert lr_factor(9, 10, 'cosine', 0.05) == pytest.approx(0.05)
    assert lr_factor(5, 10, 'constant', 0.05) == 1.0
    vals = [lr_factor(e, 10, 'cosine', 0.1) for e in range(10)]
    assert all(a > b for a, b in zip(vals, vals[1:]))


def test_weight_average_lags_the_live_weights():
    live = torch.nn.Linear(2, 1)
    avg = WeightAverage(live, decay=0.5)
    start = avg.module.weight.clone()
    with torch.no_grad():
        live.weight.add_(1.0)
    avg.update(live)
    np.testing.assert_allclose(avg.module.weight.numpy(), (start + 0.5).numpy(), rtol=1e-6)
    assert not avg.module.weight.requires_grad


def test_priors_are_zero_on_real_bodies_and_catch_depth_flips(pose_file):
    splits = load_splits(tiny_config(pose_file).data)
    td = TrainData(splits.train, tiny_config(pose_file).data)
    _, targets = td.views(np.random.default_rng(0))
    pose = torch.as_tensor(targets)
    assert knee_backward(pose).max() < 1e-6
    flipped = pose * torch.tensor([1.0, 1.0, -1.0])
    assert (knee_backward(flipped) > 0.01).all()
    assert bone_asymmetry(pose).max() < 1e-4
    stretched = pose.clone()
    stretched[:, 12] = stretched[:, 11] + 2.0 * (stretched[:, 12] - stretched[:, 11])  # l_wrist
    assert bone_asymmetry(stretched).mean() > 0.01


def test_detector_like_training_rows(pose_file):
    cfg = tiny_config(pose_file, extra=['data.noise_prob=1.0', 'data.coco_prob=1.0',
                                        'data.noise_drop=0.1', 'data.missing_prob=0.0'])
    splits = load_splits(cfg.data)
    epoch = TrainData(splits.train, cfg.data).sample_epoch(np.random.default_rng(0))
    clean_cfg = tiny_config(pose_file, extra=['data.missing_prob=0.0'])
    clean = TrainData(splits.train, clean_cfg.data).sample_epoch(np.random.default_rng(0))
    assert np.isfinite(epoch.inputs).all() and np.isfinite(epoch.targets).all()
    # dropped joints are invisible and zero; without noise every joint is seen
    assert 0.03 < 1.0 - epoch.visible.mean() < 0.2 and clean.visible.all()
    assert (epoch.inputs[~epoch.visible] == 0).all()
    assert len(epoch.inputs) <= len(clean.inputs)


def test_recipe_run_trains_and_exports_a_calibrated_model(tmp_path, pose_file):
    from pose_lifter.core.detector_noise import DetectorNoise
    fit(tiny_config(pose_file, extra=RECIPE), tmp_path)
    history = json.loads((tmp_path / 'history.json').read_text())
    lrs = [h['train']['lr'] for h in history]
    assert lrs[0] > lrs[1] and {'knee', 'symmetry'} <= set(history[0]['train'])
    ckpt = load_checkpoint(tmp_path / 'last.pt')
    # evaluation weights (EMA) differ from the live ones, and both are kept for resume
    assert not torch.equal(ckpt['generator']['decoder.out.weight'],
                           ckpt['generator_raw']['decoder.out.weight'])
    clean = export_onnx(tmp_path / 'best.pt', tmp_path / 'clean.onnx', card=False,
                        reproj_tau=0.005)
    noisy = export_onnx(tmp_path / 'best.pt', tmp_path / 'noisy.onnx', card=True,
                        reproj_tau=0.005, calibration=DetectorNoise(noise_px=4.0,
                                                                    drop_prob=0.05),
                        calibration_format='coco17')
    stored = read_contract(tmp_path / 'noisy.onnx')
    assert isinstance(stored, ModelContract)
    assert stored.realism_calibration['joint_format'] == 'coco17'
    assert stored.realism_calibration['noise']['noise_px'] == 4.0
    assert clean.realism_calibration['noise']['noise_px'] == 0.0
    assert noisy.realism_threshold < clean.realism_threshold   # noise lowers realism
    assert 'coco17 keypoints with detector noise 4 px' in \
        (tmp_path / 'noisy.md').read_text().replace('\n', ' ')
    assert math.isfinite(noisy.realism_threshold)


def test_critic_sees_novel_views_with_the_inputs_noise_and_holes():
    from pose_lifter_training.geometry import project
    from pose_lifter_training.objective import like_the_input
    g = torch.Generator().manual_seed(0)
    pose = torch.randn(4, 16, 3, generator=g) * 0.1
    inputs = project(pose) + 0.01 * torch.randn(4, 16, 2, generator=g)
    inputs[:, 3] = 0.0                              # an undetected joint
    views = torch.randn(4, 16, 2, generator=g) * 0.05
    judged = like_the_input(views, pose, inputs)
    assert (judged[:, 3] == 0).all()
    keep = [j for j in range(16) if j != 3]
    np.testing.assert_allclose(judged[:, keep], (views + inputs - project(pose))[:, keep],
                               atol=1e-6)


def test_depth_only_lifter_reprojects_exactly_onto_seen_joints():
    from pose_lifter_training.config import ModelConfig
    from pose_lifter_training.geometry import project
    from pose_lifter_training.models import Generator
    gen = Generator(ModelConfig(width=16, critic_width=16, depth_only=True)).eval()
    x = torch.randn(5, 16, 2, generator=torch.Generator().manual_seed(0)) * 0.05
    x[:, 4] = 0.0                                       # an unseen joint
    with torch.no_grad():
        pose, _, _ = gen(x)
        free, _, _ = Generator(ModelConfig(width=16, critic_width=16)).eval()(x)
    seen = [j for j in range(16) if j != 4]
    np.testing.assert_allclose(project(pose)[:, seen], x[:, seen], atol=1e-6)
    assert not torch.allclose(project(free)[:, seen], x[:, seen], atol=1e-3)
    assert torch.isfinite(pose[:, 4]).all() and not torch.allclose(project(pose)[:, 4], x[:, 4])
