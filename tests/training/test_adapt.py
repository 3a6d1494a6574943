"""Fine-tuning from an exported model on unlabelled 2D: ONNX weight import and a 2D-only run."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pose_lifter_training.adapt import lifting_model, load_weights, onnx_state, read_init
from pose_lifter_training.checkpoint import CheckpointError, load_checkpoint

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def exported(tiny_run, tmp_path_factory) -> Path:
    from pose_lifter_training.export import export_onnx
    out = tmp_path_factory.mktemp('exp') / 'tiny.onnx'
    export_onnx(tiny_run / 'best.pt', out, card=False)
    return out


@pytest.fixture(scope='module')
def tiny_bag(tmp_path_factory, pose_file) -> Path:
    pytest.importorskip('rosbags')
    from pose_lifter.bag.make import make_bag
    from pose_lifter.bag.scene import SceneOptions
    out = tmp_path_factory.mktemp('bag') / 'bag'
    make_bag(pose_file, out, SceneOptions(joint_format='coco17', noise_px=1.0),
             subjects=['t1'], max_frames=80)
    return out


def _parity(model_path: Path, realism: bool = True) -> float:
    import onnxruntime as ort
    model = lifting_model(model_path)
    sess = ort.InferenceSession(str(model_path), providers=['CPUExecutionProvider'])
    n_in = sess.get_inputs()[0].shape[1]
    latent = sess.get_inputs()[1].shape[1]
    rng = np.random.default_rng(0)
    x = (0.05 * rng.standard_normal((32, n_in))).astype(np.float32)
    noise = rng.standard_normal((32, latent)).astype(np.float32)
    pose, out_realism = sess.run(None, {'keypoints': x, 'noise': noise})
    with torch.no_grad():
        tp, tr = model(torch.as_tensor(x), torch.as_tensor(noise))
    gap = np.abs(tp.numpy() - pose).max()
    return max(gap, np.abs(tr.numpy() - out_realism).max()) if realism else gap


def test_weights_from_onnx_equal_the_checkpoint(exported, tiny_run):
    state, contract = onnx_state(exported)
    ckpt = load_checkpoint(tiny_run / 'best.pt')
    for prefix in ('generator', 'critic'):
        for name, value in ckpt[prefix].items():
            if name.endswith('num_batches_tracked'):
                continue
            np.testing.assert_array_equal(state[f'{prefix}.{name}'], value.numpy(), name)
    assert contract.latent_dim == 8


def test_torch_from_onnx_matches_onnxruntime(exported):
    assert _parity(exported) < 1e-4


def test_shipped_models_round_trip(default_model):
    # the default is gated (training.gate): its lifter comes back, the learned gate does not
    assert _parity(default_model, realism=False) < 1e-4
    assert _parity(default_model) > 1e-3
    shipped = read_init(default_model).model
    assert (shipped['width'], shipped['critic_width']) == (512, 256)
    single = default_model.parent / 'single.onnx'
    assert _parity(single) < 1e-4
    # the shipped ensemble's first member is single.onnx: fine-tuning from the ensemble
    # starts from that member, and every member can be read back (distillation teachers)
    ensemble = default_model.parent / 'ensemble.onnx'
    whole, one = read_init(ensemble), read_init(single)
    assert set(whole.generator) == set(one.generator)
    for name, value in one.generator.items():
        assert torch.equal(whole.generator[name], value), name
    last = read_init(ensemble, member=3)
    assert any(not torch.equal(last.generator[k], v) for k, v in one.generator.items())


def test_wrong_architecture_and_bad_files_are_clear(exported, tmp_path):
    from pose_lifter_training.config import ModelConfig
    from pose_lifter_training.models import build_networks
    init = read_init(exported)
    generator, _ = build_networks(ModelConfig(width=64, latent=8))
    with pytest.raises(CheckpointError, match='do not fit this architecture'):
        load_weights(generator, init.generator, 'generator', init.source)
    (tmp_path / 'x.onnx').write_bytes(b'junk')
    with pytest.raises(CheckpointError, match='not a readable ONNX model'):
        read_init(tmp_path / 'x.onnx')
    with pytest.raises(CheckpointError, match='not found'):
        read_init(tmp_path / 'none.onnx')


def test_fine_tune_on_2d_only_selects_by_the_2d_criterion(exported, tiny_bag, tmp_path,
                                                         capsys):
    from pose_lifter_training.cli import main
    out = tmp_path / 'adapt'
    code = main(['fit', '--data-2d', str(tiny_bag), '--init-from', str(exported),
                 '--out', str(out), '--set', 'train.epochs=1', 'train.batch=32',
                 'train.progress=false', 'train.plots=false', 'train.threads=1',
                 'data.unlabelled_holdout=0.5', 'data.unlabelled_block_s=0.5'])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert 'architecture of' in printed and 'model.width=32' in printed
    cfg = (out / 'config.yaml').read_text()
    assert "path: ''" in cfg and 'select_metric: crit_2d' in cfg
    best = load_checkpoint(out / 'best.pt')
    training = json.loads(best['contract'])['training']
    assert training['select_metric'] == 'crit_2d'
    assert training['val_metrics']['heldout_rows'] > 0
    assert 'n_mpjpe' not in training['val_metrics']
    assert training['data']['unlabelled']['keypoints_topic'] == '/keypoints_2d'
    # the realism threshold is calibrated on the held-out 2D, the bone prior comes from the init
    assert best['bone_sum_m'] == pytest.approx(read_init(exported).bone_sum_m)
    history = json.loads((out / 'history.json').read_text())
    assert np.isfinite(history[0]['val']['crit_2d'])
    # the run starts from the exported weights, not from a fresh initialisation
    from pose_lifter_training.data import TrainData  # noqa: F401  (import check only)
    first = torch.as_tensor(onnx_state(exported)[0]['generator.encoder.stem.0.weight'])
    assert torch.allclose(best['generator']['encoder.stem.0.weight'], first, atol=0.05)
    # and it exports to a model the runtime accepts
    assert main(['export', '--checkpoint', str(out / 'best.pt'),
                 '--out', str(tmp_path / 'adapted.onnx')]) == 0
    assert main(['check', '--model', str(exported), str(tmp_path / 'adapted.onnx'),
                 '--data-2d', str(tiny_bag)]) == 0
    assert 'crit_2d' in capsys.readouterr().out


def test_init_from_checkpoint_with_3d_data(tiny_run, tiny_bag, pose_file, tmp_path):
    from training_synthetic import tiny_config

    from pose_lifter_training.train import fit
    cfg = tiny_config(pose_file, extra=[f'train.init_from={tiny_run / "best.pt"}',
                                        f'data.unlabelled={tiny_bag}',
                                        'data.unlabelled_holdout=0.5',
                                        'data.unlabelled_block_s=0.5'])
    summary = fit(cfg, tmp_path / 'r')
    val = summary['best_val']
    assert summary['select_metric'] == 'n_mpjpe'   # 3D validation present: it selects
    assert 'crit_2d' in val and 'n_mpjpe' in val   # ... and the 2D criterion is logged beside
    info = json.loads(load_checkpoint(tmp_path / 'r' / 'best.pt')['contract'])['training']
    assert info['data']['extra_2d_rows'] == info['data']['unlabelled']['train_rows'] > 0


def test_distill_for_high_cameras_selects_by_the_2d_prior(exported, tiny_bag, pose_file,
                                                          tmp_path, capsys):
    """The camera adaptation: a student for cameras 3-4 m up, best.pt chosen by prior_3d on
    the bag's 2D (not trained on), its envelope recorded where gate/calibrate read it."""
    from pose_lifter_training.cli import main
    out = tmp_path / 'high'
    code = main(['distill', '--init', str(exported), '--member', str(exported), '--out',
                 str(out), '--epochs', '2', '--batch', '64', '--data', str(pose_file),
                 '--student-height', '3', '4', '--data-2d', str(tiny_bag),
                 '--select', 'prior_3d'])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert 'by prior_3d' in printed and 'prior_3d on the 2D' in printed
    history = json.loads((out / 'history.json').read_text())
    prior = [h['target_prior_3d'] for h in history]
    assert all(np.isfinite(prior)) and len(prior) == 2
    best = load_checkpoint(out / 'best.pt')
    assert best['epoch'] == 1 + int(np.argmin(prior))
    training = json.loads(best['contract'])['training']
    assert training['select_metric'] == 'prior_3d'
    envelope = training['distill']['student_envelope']
    assert envelope['height'] == [3.0, 4.0]
    assert envelope['distance'] == training['distill']['teacher_envelope']['distance']
    assert best['config']['data']['height_m'] == [3.0, 4.0]
    assert main(['check', '--model', str(exported), str(out / 'best.pt'), '--data-2d',
                 str(tiny_bag), '--prior-poses', str(pose_file)]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()
            if line.startswith(str(exported)[-40:]) or 'best.pt' in line]
    assert len(rows) == 2 and all(np.isfinite(float(r[-1])) for r in rows)


@pytest.mark.parametrize('extra, message', [
    (['--select', 'prior_3d'], 'needs unlabelled 2D'),
    (['--select', 'nonsense'], 'select: one of'),
    (['--student-camera', 'same', '--student-height', '3', '4'], 'need --student-camera own'),
    (['--student-height', '4', '3'], 'LO HI'),
    (['--teacher-views', '0'], 'teacher-views')])
def test_distill_camera_options_are_one_line_errors(exported, pose_file, tmp_path, capsys,
                                                    extra, message):
    from pose_lifter_training.cli import main
    assert main(['distill', '--init', str(exported), '--member', str(exported), '--out',
                 str(tmp_path / 'x'), '--epochs', '1', '--data', str(pose_file), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and 'Traceback' not in err


def test_calibrate_on_the_users_own_2d(exported, tiny_bag, tmp_path, capsys):
    import shutil

    from pose_lifter.core.backends import create_backend
    from pose_lifter_training.cli import main
    from pose_lifter_training.sources2d import load_2d
    model = tmp_path / 'm.onnx'
    shutil.copy(exported, model)
    before = create_backend(model).contract
    assert main(['calibrate', '--model', str(model), '--data-2d', str(tiny_bag),
                 '--percentile', '20']) == 0
    assert '20th percentile' in capsys.readouterr().out
    assert main(['calibrate', '--model', str(model), '--data-2d', str(tiny_bag),
                 '--percentile', '101']) == 2
    backend = create_backend(model)
    after = backend.contract
    assert after.content_hash == before.content_hash
    assert after.realism_calibration['data_2d'] == tiny_bag.name
    assert after.uncertainty_calibration == before.uncertainty_calibration
    src = load_2d(tiny_bag)
    rows = np.concatenate([src.train.inputs * src.train.visible[..., None],
                           src.heldout.inputs * src.heldout.visible[..., None]])
    _, realism = backend.infer(rows.reshape(len(rows), -1))
    assert after.realism_calibration['persons'] == len(rows)
    assert np.mean(realism >= after.realism_threshold) == pytest.approx(0.8, abs=0.02)
