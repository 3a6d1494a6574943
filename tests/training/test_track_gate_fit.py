"""pose-lifter-train track-gate: fit a model's track gate and store it in its contract."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pose_lifter.core.backends import create_backend
from pose_lifter.core.track_gate import FEATURES, TrackGate
from pose_lifter_training.cli import main


@pytest.fixture(scope='module')
def exported(tmp_path_factory, tiny_run):
    out = tmp_path_factory.mktemp('tg') / 'model.onnx'
    assert main(['export', '--checkpoint', str(tiny_run / 'best.pt'), '--out', str(out)]) == 0
    return out


def test_track_gate_is_fitted_into_the_contract(tmp_path, default_model, shared_data, capsys):
    """The shipped default (its realism separates): the gate goes into the contract, the
    graph stays as it was."""
    out = tmp_path / 'with_gate.onnx'
    before = create_backend(default_model, 'onnxruntime').contract
    assert main(['track-gate', '--model', str(default_model), '--out', str(out), '--data',
                 str(shared_data), '--max-frames', '150', '--seed', '1']) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[0])
    assert summary['features'] == list(FEATURES) and summary['val_auc_track_gate'] > 0.9
    after = create_backend(out, 'onnxruntime').contract
    gate = TrackGate.from_dict(after.track_gate)
    assert gate.threshold == pytest.approx(summary['threshold'], abs=1e-3)
    assert gate.fit['cameras'] == 'evaluation' and gate.fit['seed'] == 1
    assert gate.weights[0] > 0
    # the graph is the same: the content hash and every other contract field
    assert after.content_hash == before.content_hash
    assert after.realism_threshold == before.realism_threshold
    x = np.random.default_rng(0).normal(0, 0.05, (3, before.input_dim)).astype(np.float32)
    a, b = create_backend(default_model, 'onnxruntime'), create_backend(out, 'onnxruntime')
    np.testing.assert_array_equal(a.infer(x)[0], b.infer(x)[0])


def test_a_model_whose_realism_does_not_separate_gets_no_gate(tmp_path, exported, pose_file,
                                                              capsys, monkeypatch):
    """A fit that puts no positive weight on the model's realism (here forced): a clear error,
    nothing written."""
    import pose_lifter_training.track_gate as fitting
    monkeypatch.setattr(fitting.tg, 'fit_logistic',
                        lambda x, y: (np.r_[-0.4, np.zeros(len(FEATURES) - 1)], 0.0))
    out = tmp_path / 'tiny_gate.onnx'
    assert main(['track-gate', '--model', str(exported), '--out', str(out), '--data',
                 str(pose_file), '--max-frames', '60']) == 2
    assert 'does not tell real from corrupted' in capsys.readouterr().err
    assert not out.exists()


def test_bad_requests_are_clear_errors(tmp_path, exported, capsys, demo_poses):
    # a pose file without the subjects the model was trained and validated on
    assert main(['track-gate', '--model', str(exported), '--data', str(demo_poses),
                 '--out', str(tmp_path / 'x.onnx')]) == 2
    assert 'has no frames of the training' in capsys.readouterr().err
    assert main(['track-gate', '--model', str(exported), '--max-frames', '3']) == 2
    assert '--max-frames' in capsys.readouterr().err
    missing = tmp_path / 'none.onnx'
    assert main(['track-gate', '--model', str(missing)]) == 2
    assert 'none.onnx' in capsys.readouterr().err


def test_the_threshold_follows_the_detector_noise_it_is_chosen_on(tmp_path, default_model,
                                                                   shared_data, capsys):
    """--threshold-noise-px: real persons with more noise score lower, so the threshold that
    keeps accepting (100 - percentile) % of them is lower; the rule says which noise."""
    thresholds = {}
    for px in ('4', '8'):
        out = tmp_path / f'gate{px}.onnx'
        assert main(['track-gate', '--model', str(default_model), '--out', str(out), '--data',
                     str(shared_data), '--max-frames', '150', '--threshold-noise-px', px]) == 0
        capsys.readouterr()
        gate = TrackGate.from_dict(create_backend(out, 'onnxruntime').contract.track_gate)
        assert f'{px} px' in gate.rule
        thresholds[px] = gate.threshold
    assert thresholds['8'] < thresholds['4']
    assert main(['track-gate', '--model', str(default_model), '--threshold-noise-px', '-1']) == 2
    assert '--threshold-noise-px' in capsys.readouterr().err
