"""ONNX export: parity with torch, the contract in the metadata, the hash; TensorRT skip."""
from __future__ import annotations

import importlib.util

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from pose_lifter.core.contract import METADATA_KEY, ModelContract
from pose_lifter_training.backend import TorchBackend
from pose_lifter_training.export import (
    TensorRTUnavailable,
    build_tensorrt_engine,
    content_hash,
    export_onnx,
    read_contract,
)


@pytest.fixture(scope='module')
def exported(tiny_run, tmp_path_factory):
    path = tmp_path_factory.mktemp('export') / 'tiny.onnx'
    contract = export_onnx(tiny_run / 'best.pt', path)
    return path, contract


def test_onnx_matches_torch(exported, tiny_run):
    path, contract = exported
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    torch_backend = TorchBackend(tiny_run / 'best.pt')
    rng = np.random.default_rng(0)
    for n in (1, 7):
        kp = (rng.normal(size=(n, contract.input_dim)) * 0.04).astype(np.float32)
        for noise in (np.zeros((n, contract.latent_dim), np.float32),
                      rng.normal(size=(n, contract.latent_dim)).astype(np.float32)):
            pose, realism = session.run(None, {'keypoints': kp, 'noise': noise})
            t_pose, t_realism = torch_backend.infer(kp, noise)
            assert pose.shape == (n, contract.num_joints - 1, 3) and realism.shape == (n,)
            np.testing.assert_allclose(pose, t_pose, atol=1e-4)
            np.testing.assert_allclose(realism, t_realism, atol=1e-4)
    pose0, _ = torch_backend.infer(kp)            # noise None = the latent mean
    np.testing.assert_allclose(pose0, session.run(None, {
        'keypoints': kp, 'noise': np.zeros((len(kp), contract.latent_dim), np.float32)})[0],
        atol=1e-4)


def test_contract_is_readable_through_onnxruntime(exported, tiny_run):
    path, contract = exported
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    meta = session.get_modelmeta().custom_metadata_map
    parsed = ModelContract.from_json(meta[METADATA_KEY])
    assert parsed == contract == read_contract(path)
    assert parsed.critic_views_deg and parsed.realism_rule and parsed.bone_sum_m > 0
    assert parsed.training['config']['model']['width'] == 32
    assert 'val_metrics' in parsed.training and 'data' in parsed.training
    assert [i.name for i in session.get_inputs()] == ['keypoints', 'noise']
    assert [o.name for o in session.get_outputs()] == ['pose3d', 'realism']
    assert session.get_inputs()[0].shape[0] == 'N'
    assert path.with_suffix('.md').read_text().count(contract.content_hash) == 1


def test_content_hash_covers_the_model_without_its_contract(exported):
    path, contract = exported
    model = onnx.load(str(path))
    assert content_hash(model) == contract.content_hash
    model.graph.initializer[0].raw_data = bytes(len(model.graph.initializer[0].raw_data))
    assert content_hash(model) != contract.content_hash


def test_tensorrt_engine(exported, tmp_path):
    if importlib.util.find_spec('tensorrt') is None:
        with pytest.raises(TensorRTUnavailable, match='not installed'):
            build_tensorrt_engine(exported[0], tmp_path)
        pytest.skip('tensorrt is not importable here (no wheels on this machine); the engine '
                    'build follows the documented API and is exercised where it is installed')
    engine = build_tensorrt_engine(exported[0], tmp_path, max_persons=8)
    assert engine.is_file() and build_tensorrt_engine(exported[0], tmp_path,
                                                      max_persons=8) == engine


def test_reprojection_gated_realism_exports_too(tiny_run, tmp_path):
    ckpt = torch.load(tiny_run / 'best.pt', weights_only=True)
    ckpt['config']['model']['realism_reproj_tau'] = 0.01
    torch.save(ckpt, tmp_path / 'tau.pt')
    contract = export_onnx(tmp_path / 'tau.pt', tmp_path / 'tau.onnx')
    session = ort.InferenceSession(str(tmp_path / 'tau.onnx'),
                                   providers=['CPUExecutionProvider'])
    kp = (np.random.default_rng(1).normal(size=(5, contract.input_dim)) * 0.04).astype(np.float32)
    kp[0, :4] = 0.0                               # two missing joints are ignored
    noise = np.zeros((5, contract.latent_dim), np.float32)
    pose, realism = session.run(None, {'keypoints': kp, 'noise': noise})
    t_pose, t_realism = TorchBackend(tmp_path / 'tau.pt').infer(kp, noise)
    np.testing.assert_allclose(realism, t_realism, atol=1e-4)
    ckpt['config']['model']['realism_reproj_tau'] = 0.0
    torch.save(ckpt, tmp_path / 'plain.pt')
    plain = TorchBackend(tmp_path / 'plain.pt').infer(kp, noise)[1]
    assert (realism <= plain + 1e-6).all()        # the factor exp(-e / tau) is <= 1
    assert (realism < plain - 1e-6).any()


def test_flip_averaged_export_is_mirror_equivariant_and_says_so(tiny_run, tmp_path):
    from pose_lifter.core.backends import create_backend
    from pose_lifter.core.skeleton import H36M17, flip_left_right
    from pose_lifter_training.cli import main
    out = tmp_path / 'flip.onnx'
    assert main(['export', '--checkpoint', str(tiny_run / 'best.pt'), '--out', str(out),
                 '--flip-average']) == 0
    export_onnx(tiny_run / 'best.pt', tmp_path / 'plain.onnx')
    flip = create_backend(out, 'onnxruntime')
    plain = create_backend(tmp_path / 'plain.onnx', 'onnxruntime')
    assert flip.contract.training['config']['model']['flip_average'] is True
    assert plain.contract.training['config']['model']['flip_average'] is False

    def mirrored(rows: np.ndarray, d: int) -> np.ndarray:     # (N, 16, d) without the root
        full = np.zeros((len(rows), H36M17.num_joints, d), np.float32)
        full[:, 1:] = rows
        return flip_left_right(full)[:, 1:]
    kp = (np.random.default_rng(2).normal(size=(6, 16, 2)) * 0.05).astype(np.float32)
    pose, _ = flip.infer(kp.reshape(6, -1))
    pose_m, _ = flip.infer(mirrored(kp, 2).reshape(6, -1))
    np.testing.assert_allclose(pose_m, mirrored(pose, 3), atol=1e-5)
    p0, _ = plain.infer(kp.reshape(6, -1))
    p1, _ = plain.infer(mirrored(kp, 2).reshape(6, -1))
    np.testing.assert_allclose(pose, 0.5 * (p0 + mirrored(p1, 3)), atol=1e-5)
    assert np.abs(pose - p0).max() > 1e-4
