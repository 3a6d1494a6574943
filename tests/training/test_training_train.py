"""Training loop: outputs, checkpoints, resume, and the CLI's clear errors."""
from __future__ import annotations

import json

import pytest
import torch
from training_synthetic import tiny_config

from pose_lifter.core.contract import ModelContract
from pose_lifter_training.checkpoint import CheckpointError, load_checkpoint, restore
from pose_lifter_training.cli import main
from pose_lifter_training.train import fit


def test_run_writes_everything(tiny_run):
    for name in ('config.yaml', 'last.pt', 'best.pt', 'history.json', 'metrics.json'):
        assert (tiny_run / name).is_file(), name
    assert any((tiny_run / 'tb').iterdir())
    history = json.loads((tiny_run / 'history.json').read_text())
    assert [h['epoch'] for h in history] == [0, 1]
    assert all(h['val']['count'] > 0 for h in history)
    summary = json.loads((tiny_run / 'metrics.json').read_text())
    assert summary['select_metric'] == 'n_mpjpe' and summary['best_epoch'] in (0, 1)


def test_checkpoint_is_self_describing(tiny_run):
    ckpt = load_checkpoint(tiny_run / 'best.pt')
    cfg, generator, critic, contract = restore(ckpt)
    assert cfg.model.width == 32 and contract.latent_dim == cfg.model.latent == 8
    assert len(contract.critic_views_deg) == cfg.model.critic_views
    assert 3.0 < contract.bone_sum_m < 5.0
    assert 0.0 < contract.realism_threshold < 1.0 and 'percentile' in contract.realism_rule
    assert contract.training['data']['val_subjects'] == ['v1']
    assert ModelContract.from_json(ckpt['contract']) == contract
    assert {'opt_g', 'opt_c', 'history', 'mean_pose'} <= set(ckpt)


def test_resume_continues_the_run(tmp_path, pose_file):
    cfg = tiny_config(pose_file, 'thesis')
    fit(cfg, tmp_path)
    first = load_checkpoint(tmp_path / 'last.pt')
    cfg.train.epochs = 2
    cfg.model.width = 999          # ignored on resume: the run keeps its own config
    fit(cfg, tmp_path, resume=True)
    second = load_checkpoint(tmp_path / 'last.pt')
    assert first['epoch'] == 0 and second['epoch'] == 1
    assert len(second['history']) == 2 and second['config']['model']['width'] == 32
    assert second['config']['train']['epochs'] == 2
    w0 = first['generator']['decoder.out.weight']
    assert not torch.equal(w0, second['generator']['decoder.out.weight'])


def test_corrupt_and_foreign_checkpoints(tmp_path):
    (tmp_path / 'bad.pt').write_bytes(b'garbage')
    with pytest.raises(CheckpointError, match='not a readable checkpoint'):
        load_checkpoint(tmp_path / 'bad.pt')
    torch.save({'weights': torch.zeros(1)}, tmp_path / 'foreign.pt')
    with pytest.raises(CheckpointError, match='not a pose_lifter_training checkpoint'):
        load_checkpoint(tmp_path / 'foreign.pt')
    with pytest.raises(CheckpointError, match='not found'):
        load_checkpoint(tmp_path / 'none.pt')


@pytest.mark.parametrize('argv, message', [
    (['fit', '--data', '/nonexistent/poses.npz', '--out', '{tmp}/r'], 'pose file not found'),
    (['fit', '--set', 'model.widht=3', '--out', '{tmp}/r'], 'unknown config key'),
    (['evaluate', '--checkpoint', '{tmp}/bad.pt'], 'not a readable checkpoint'),
    (['export', '--checkpoint', '{tmp}/bad.pt', '--out', '{tmp}/m.onnx'],
     'not a readable checkpoint'),
])
def test_cli_errors_are_one_line(tmp_path, capsys, argv, message):
    (tmp_path / 'bad.pt').write_bytes(b'garbage')
    code = main([a.replace('{tmp}', str(tmp_path)) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and 'Traceback' not in err


def test_cli_evaluate_prints_table_and_json(tiny_run, tmp_path, capsys):
    assert main(['evaluate', '--checkpoint', str(tiny_run / 'best.pt'), '--split', 'test',
                 '--json', str(tmp_path / 'r.json')]) == 0
    out = capsys.readouterr().out
    assert 'zero_depth' in out and 'mean_pose' in out and 'gating' in out
    report = json.loads((tmp_path / 'r.json').read_text())
    assert report['subjects'] == ['t1'] and report['split'] == 'test'
    assert set(report['model']) == {'overall', 'per_joint', 'per_clip'}
    assert len(report['model']['per_joint']) == 17
    assert set(report['model']['per_clip']) == {'t1_clip0', 't1_clip1'}
    assert {'gating_auc', 'real_rejected', 'auc_shuffle'} <= set(report['gating'])


def test_a_finished_run_is_not_overwritten(tiny_run, pose_file):
    with pytest.raises(FileExistsError, match='--resume'):
        fit(tiny_config(pose_file), tiny_run)


def test_an_empty_validation_set_is_an_error(tmp_path, pose_file):
    """No validation poses and no held-out 2D rows: no realism threshold can be calibrated,
    so the run refuses to start instead of writing a made-up 0.5 into the model contract."""
    from pose_lifter_training.config import ConfigError
    cfg = tiny_config(pose_file, extra=['data.val_subjects=[]'])
    assert cfg.data.val_subjects == []
    with pytest.raises(ConfigError, match='no validation set'):
        fit(cfg, tmp_path)
    assert not (tmp_path / 'last.pt').exists()
