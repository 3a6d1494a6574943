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
    assert read_init(default_model).model['width'] == 256
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
