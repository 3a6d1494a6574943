"""pose-lifter-train calibrate: an exported model's threshold recalibrated for detector noise."""
from __future__ import annotations

import shutil

import pytest
from model_factory import build_tiny_model

from pose_lifter.core.backends import create_backend
from pose_lifter_training.cli import main


def test_calibrate_rewrites_the_contract_not_the_graph(tmp_path, pose_file, capsys):
    model = build_tiny_model(tmp_path / 'm.onnx')
    before = create_backend(model, 'onnxruntime').contract
    args = ['calibrate', '--model', str(model), '--data', str(pose_file), '--subjects', 'v1',
            '--percentile', '5']
    assert main(args + ['--noise-px', '0', '--drop', '0', '--joint-format', 'h36m17']) == 0
    clean = create_backend(model, 'onnxruntime').contract
    shutil.copy(model, tmp_path / 'noisy.onnx')
    assert main(args + ['--model', str(tmp_path / 'noisy.onnx'), '--noise-px', '8']) == 0
    noisy = create_backend(tmp_path / 'noisy.onnx', 'onnxruntime').contract
    assert 'realism threshold' in capsys.readouterr().out
    assert noisy.content_hash == clean.content_hash == before.content_hash
    assert noisy.realism_calibration['noise']['noise_px'] == 8.0
    assert noisy.realism_calibration['joint_format'] == 'coco17'
    assert clean.realism_calibration['joint_format'] == 'h36m17'
    assert noisy.realism_threshold != pytest.approx(clean.realism_threshold)
    assert '5th percentile' in noisy.realism_rule


@pytest.mark.parametrize('extra, message', [
    (['--model', 'missing.onnx'], 'not found'),
    (['--drop', '2'], 'invalid detector noise'),
])
def test_calibrate_bad_input_is_one_line(tmp_path, pose_file, capsys, extra, message):
    model = build_tiny_model(tmp_path / 'm.onnx')
    args = ['calibrate', '--model', str(model), '--data', str(pose_file), '--subjects', 'v1']
    assert main(args + extra) == 2
    err = capsys.readouterr().err
    assert message in err and 'Traceback' not in err


def test_realism_rule_names_the_percentile_in_english():
    from pose_lifter_training.checkpoint import ordinal, realism_rule
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 2.5)] == \
        ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '22nd', '2.5th']
    assert '3rd percentile' in realism_rule(3.0) and 'about 97 %' in realism_rule(3.0)
