"""pose-lifter-train ensemble: several lifters as one model with the usual contract."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from training_synthetic import tiny_config

from pose_lifter.core.backends import create_backend
from pose_lifter_training.adapt import lifting_model
from pose_lifter_training.cli import main
from pose_lifter_training.export import export_onnx
from pose_lifter_training.train import fit


@pytest.fixture(scope='module')
def members(tmp_path_factory, pose_file):
    out = []
    for seed in (1, 2):
        run = tmp_path_factory.mktemp(f'seed{seed}')
        fit(tiny_config(pose_file, extra=['train.epochs=1', f'train.seed={seed}']), run)
        out.append(run / 'best.pt')
    onnx_member = tmp_path_factory.mktemp('onnx') / 'm2.onnx'
    export_onnx(out[1], onnx_member, card=False)
    return out[0], onnx_member


def test_ensemble_is_the_mean_of_its_members(tmp_path, members, capsys):
    out = tmp_path / 'ens.onnx'
    assert main(['ensemble', '--member', str(members[0]), str(members[1]),
                 '--out', str(out)]) == 0
    assert 'calibrate' in capsys.readouterr().out
    ens = create_backend(out, 'onnxruntime')
    export_onnx(members[0], tmp_path / 'm1.onnx', card=False)
    parts = [create_backend(tmp_path / 'm1.onnx', 'onnxruntime'),
             create_backend(members[1], 'onnxruntime')]
    x = np.random.default_rng(0).normal(0.0, 0.05, (7, 32)).astype(np.float32)
    pose, realism = ens.infer(x)
    each = [p.infer(x) for p in parts]
    np.testing.assert_allclose(pose, np.mean([e[0] for e in each], axis=0), atol=1e-5)
    np.testing.assert_allclose(realism, np.mean([e[1] for e in each], axis=0), atol=1e-5)
    info = ens.contract.training['ensemble']
    assert len(info) == 2 and info[1]['content_hash'] == parts[1].contract.content_hash
    # an ensemble can seed a fine-tuning run: its first member comes back
    first = lifting_model(out)
    with torch.no_grad():
        again = first(torch.as_tensor(x), torch.zeros(7, ens.contract.latent_dim))[0].numpy()
    np.testing.assert_allclose(again, each[0][0], atol=1e-5)


def test_members_must_share_a_contract(tmp_path, members, pose_file, capsys):
    other = tmp_path / 'wide'
    fit(tiny_config(pose_file, extra=['train.epochs=1', 'model.latent=6']), other)
    assert main(['ensemble', '--member', str(members[0]), str(other / 'best.pt'),
                 '--out', str(tmp_path / 'x.onnx')]) == 2
    assert 'latent_dim differs' in capsys.readouterr().err
    assert main(['ensemble', '--member', str(members[0]), '--out', str(tmp_path / 'y.onnx')]) == 2


def test_only_judging_members_set_the_realism():
    from pose_lifter_training.ensemble import EnsembleLiftingModel

    class Fixed(torch.nn.Module):
        def __init__(self, value: float):
            super().__init__()
            self.value = value

        def forward(self, keypoints, noise):
            n = keypoints.shape[0]
            return torch.full((n, 16, 3), self.value), torch.full((n,), self.value)

    model = EnsembleLiftingModel([Fixed(1.0), Fixed(3.0), Fixed(8.0)], judges=[0, 2])
    pose, realism = model(torch.zeros(2, 32), torch.zeros(2, 4))
    assert torch.allclose(pose, torch.full_like(pose, 4.0))
    assert torch.allclose(realism, torch.full_like(realism, 4.5))
