"""scripts/gate_by_size.py: the gate's ROC-AUC per person size is the eval's, split."""
from __future__ import annotations

import pytest
from model_factory import build_tiny_model
from script_module import load_script

from pose_lifter.core.backends import create_backend
from pose_lifter.core.detector_noise import DetectorNoise
from pose_lifter.core.evaluation import evaluate_pose_set
from pose_lifter.core.pipeline import Lifter
from pose_lifter.core.poses import load_pose_file


def _script():
    return load_script('gate_by_size')


def test_overall_aucs_are_the_evals_and_the_bands_cover_every_displaced_person(tmp_path,
                                                                              pose_file):
    model = build_tiny_model(tmp_path / 'm.onnx')
    out = _script().by_size(model, pose_file)
    ref = evaluate_pose_set(Lifter(create_backend(model, 'onnxruntime')),
                            load_pose_file(pose_file).subsample(10.0), joint_format='coco17',
                            noise=DetectorNoise(noise_px=4.0, drop_prob=0.05))
    assert out['auc'] == pytest.approx(ref['gating']['per_kind_auc'])
    assert len(out['by_height']) == 4
    lows = [row['height_px'][0] for row in out['by_height']]
    assert lows == sorted(lows) and all(0.0 <= row['displace'] <= 1.0
                                        for row in out['by_height'])
    assert sum(row['share'] for row in out['displace_by_move']) == pytest.approx(1.0)
