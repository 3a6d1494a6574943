"""``pose-lifter lift`` and ``pose-lifter eval`` as a user runs them (DESIGN §8)."""
import json

import numpy as np
import pytest
from model_factory import walking_poses

from pose_lifter.cli.main import main


def test_lift_round_trip(tiny_model, tmp_path, capsys):
    cam3d, px, K = walking_poses(4)
    conf = np.ones(px.shape[:2], np.float32)
    np.savez(tmp_path / 'kp.npz', keypoints=px.astype(np.float32), confidence=conf, K=K,
             joint_format='h36m17')
    rc = main(['lift', '--model', str(tiny_model), '--input', str(tmp_path / 'kp.npz'),
               '--output', str(tmp_path / 'out.npz')])
    assert rc == 0
    out = np.load(tmp_path / 'out.npz')
    assert out['joints3d'].shape == (len(px), 17, 3) and out['joints3d'].dtype == np.float32
    assert out['status'].dtype.kind == 'U' and out['plausible'].dtype == bool
    assert (out['joints3d'][:, 0, 2] > 1.0).all()
    assert 'lifted' in capsys.readouterr().out


@pytest.mark.parametrize('case,match', [
    ('missing', 'not found'),
    ('nokey', "missing array 'K'"),
    ('format', 'unknown joint_format'),
    ('shape', r'\(N, 17, 2\)'),
    ('zero_f', 'focal'),
])
def test_lift_bad_inputs_exit_nonzero_with_a_message(tiny_model, tmp_path, capsys, case, match):
    kp = tmp_path / 'kp.npz'
    good = dict(keypoints=np.zeros((2, 17, 2), np.float32), K=np.eye(3))
    if case == 'nokey':
        np.savez(kp, keypoints=good['keypoints'])
    elif case == 'format':
        np.savez(kp, joint_format='mpii16', **good)
    elif case == 'shape':
        np.savez(kp, keypoints=np.zeros((2, 15, 2)), K=np.eye(3))
    elif case == 'zero_f':
        np.savez(kp, keypoints=good['keypoints'], K=np.diag([0.0, 0.0, 1.0]))
    rc = main(['lift', '--model', str(tiny_model), '--input', str(kp),
               '--output', str(tmp_path / 'o.npz')])
    err = capsys.readouterr().err
    assert rc == 2 and 'error' in err
    assert __import__('re').search(match, err), err


def test_lift_with_a_corrupt_model(tmp_path, capsys):
    bad = tmp_path / 'm.onnx'
    bad.write_text('not a model')
    np.savez(tmp_path / 'kp.npz', keypoints=np.zeros((1, 17, 2)), K=np.eye(3))
    rc = main(['lift', '--model', str(bad), '--input', str(tmp_path / 'kp.npz'),
               '--output', str(tmp_path / 'o.npz')])
    assert rc == 2 and 'not a valid ONNX model' in capsys.readouterr().err


def test_eval_prints_all_metrics(tiny_model, demo_poses, tmp_path, capsys):
    rc = main(['eval', '--model', str(tiny_model), '--data', str(demo_poses), '--fps', '2',
               '--json', str(tmp_path / 'e.json')])
    assert rc == 0
    result = json.loads((tmp_path / 'e.json').read_text())
    assert set(result['metrics']) >= {'mpjpe', 'n_mpjpe', 'pa_mpjpe', 'pck150', 'auc',
                                      'mirror_rate', 'legacy_thesis'}
    assert 0.0 <= result['gating']['gating_auc'] <= 1.0
    assert result['lifted'] == result['views'] > 0
    assert json.loads(capsys.readouterr().out)['metrics'] == result['metrics']


def test_eval_track_gate(tiny_model, default_model, demo_poses, tmp_path, capsys):
    """--track-gate needs a model with one; the shipped default has one."""
    assert main(['eval', '--model', str(tiny_model), '--data', str(demo_poses), '--fps', '2',
                 '--track-gate']) == 2
    assert 'has no track gate' in capsys.readouterr().err
    rc = main(['eval', '--model', str(default_model), '--data', str(demo_poses), '--fps', '2',
               '--joint-format', 'coco17', '--noise-px', '4', '--drop', '0.05',
               '--track-gate', '--json', str(tmp_path / 'e.json')])
    assert rc == 0
    result = json.loads((tmp_path / 'e.json').read_text())
    assert 0.8 < result['gating']['track_gate']['history_share'] < 1.0
    assert result['model_threshold'] != pytest.approx(0.4714, abs=1e-3)   # the gate's own


def test_eval_missing_data_file(tiny_model, capsys):
    assert main(['eval', '--model', str(tiny_model), '--data', '/nonexistent.npz']) == 2
    assert 'pose file not found' in capsys.readouterr().err
