"""scripts/gate_oracle.py: an oracle that knows the true 2D bounds the gate on eval's persons."""
from __future__ import annotations

import numpy as np
import pytest
from model_factory import build_tiny_model
from script_module import load_script

from pose_lifter.core.backends import create_backend
from pose_lifter.core.detector_noise import DetectorNoise
from pose_lifter.core.pipeline import Lifter
from pose_lifter.core.poses import load_pose_file


def _script():
    return load_script('gate_oracle')


def test_statistics_of_exact_and_displaced_joints():
    script = _script()
    truth = np.zeros((2, 4, 2))
    seen = truth.copy()
    seen[1, 2] = (3.0, 4.0)                   # one joint 5 px off
    seen[1, 3] = np.nan                       # a missing joint adds nothing
    dev = script.whitened_sq(seen, truth, np.array([1.0, 1.0, 2.0, 1.0]))
    assert dev[0].tolist() == [0.0] * 4 and dev[1, 2] == pytest.approx(25.0 / 4.0)
    scores = script.oracle_scores(dev)
    assert scores['chi2'].tolist() == pytest.approx([0.0, 6.25])
    assert scores['top3'].tolist() == pytest.approx([0.0, 6.25])


def test_oracle_scores_eval_s_persons_and_bounds_the_gate(tmp_path, pose_file):
    script = _script()
    lifter = Lifter(create_backend(build_tiny_model(tmp_path / 'm.onnx'), 'onnxruntime'))
    poses = load_pose_file(pose_file).subsample(10.0)
    noise = DetectorNoise(noise_px=4.0, drop_prob=0.05)
    row = script.level_row(lifter, poses, 'coco17', noise, seed=0)   # checks the stream
    kinds = row['kinds']
    assert set(kinds) == {'displace', 'limb_swap', 'shuffle', 'noise'}
    for scores in kinds.values():            # an untrained model cannot beat the truth
        assert scores['chi2'] >= scores['model'] - 0.02
    assert kinds['noise']['chi2'] > 0.99


def test_a_different_stream_is_refused(tmp_path, pose_file, monkeypatch):
    script = _script()
    lifter = Lifter(create_backend(build_tiny_model(tmp_path / 'm.onnx'), 'onnxruntime'))
    poses = load_pose_file(pose_file).subsample(10.0)
    real = script.evaluate_pose_set

    def other_seed(*args, **kwargs):          # eval drew other persons than the script
        return real(*args, **{**kwargs, 'seed': kwargs['seed'] + 1})
    monkeypatch.setattr(script, 'evaluate_pose_set', other_seed)
    with pytest.raises(SystemExit, match='not the ones eval scored'):
        script.level_row(lifter, poses, 'coco17', DetectorNoise(noise_px=4.0, drop_prob=0.05),
                         seed=0)
