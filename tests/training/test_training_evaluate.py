"""Evaluation path: baselines through the runtime placement, gating, plots."""
from __future__ import annotations

import json

import numpy as np
from training_synthetic import synthetic_set

from pose_lifter.core.normalization import NormalisationSpec
from pose_lifter_training.checkpoint import load_checkpoint, restore
from pose_lifter_training.config import DataConfig
from pose_lifter_training.data import TrainData, build_eval_set
from pose_lifter_training.evaluate import accuracy_report, baseline_poses, place_mm
from pose_lifter_training.models import build_lifting_model
from pose_lifter_training.plots import run_plots


def test_ground_truth_body_units_place_back_to_ground_truth():
    """The true body-unit pose, placed like the runtime does, is the GT up to scale."""
    es = build_eval_set(synthetic_set(subjects=('v',), clips=1, frames=6))
    report = accuracy_report(place_mm(es.target, es, 3.9), es, breakdown=False)['overall']
    assert report['n_mpjpe'] < 1.0 and report['pa_mpjpe'] < 1.0
    assert report['mirror_rate'] == 0.0


def test_zero_depth_baseline_reprojects_onto_the_input():
    es = build_eval_set(synthetic_set(subjects=('v',), clips=1, frames=4))
    mean = TrainData(synthetic_set(subjects=('a',)), DataConfig()).mean_pose(
        np.random.default_rng(0))
    base = baseline_poses(es, mean)
    zero = base['zero_depth']
    depth = NormalisationSpec().depth
    np.testing.assert_allclose(zero[..., :2] / (zero[..., 2:] + depth), es.inputs, atol=1e-6)
    assert base['mean_pose'].shape == zero.shape
    report = accuracy_report(place_mm(zero, es, 3.9), es)
    assert report['overall']['pa_mpjpe'] > 10.0


def test_plots_are_written(tiny_run, tmp_path, pose_file):
    ckpt = load_checkpoint(tiny_run / 'best.pt')
    cfg, gen, critic, contract = restore(ckpt)
    es = build_eval_set(synthetic_set(subjects=('v',), clips=2, frames=5))
    history = json.loads((tiny_run / 'history.json').read_text())
    model = build_lifting_model(gen, critic, cfg.model, cfg.loss)
    paths = run_plots(tmp_path, history, model, es, contract.bone_sum_m, use_umap=False)
    assert [p.name for p in paths] == ['curves.png', 'pjpe_hist.png', 'latent_map.png',
                                       'best_worst.png']
    assert all(p.stat().st_size > 5000 for p in paths)
