"""pose-lifter-train gate: a learned realism gate over a frozen lifter."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch

from pose_lifter.core.backends import create_backend
from pose_lifter.core.skeleton import H36M17
from pose_lifter_training.adapt import lifting_model
from pose_lifter_training.cli import main
from pose_lifter_training.export import CARRIED
from pose_lifter_training.gate import (
    DEFAULT_FEATURES,
    FEATURES,
    KINDS,
    GatedLiftingModel,
    feature_width,
    training_corruptions,
)
from pose_lifter_training.graph_opt import FOLDED


def test_training_corruptions_change_every_pose_their_own_way():
    rng = np.random.default_rng(0)
    cam = rng.normal(0.0, 0.4, (400, 17, 3)) + [0.0, 0.0, 8.0]
    bad, kinds = training_corruptions(cam, rng)
    assert set(kinds) == set(KINDS)
    moved = np.linalg.norm(bad - cam, axis=-1) > 1e-9            # (N, 17)
    assert moved.any(axis=1).all()                                # every pose corrupted
    assert not moved[:, H36M17.root].any()                        # the root stays
    swap = kinds == 'swap'
    # a swap exchanges left and right joints: the same set of positions
    np.testing.assert_allclose(np.sort(bad[swap].sum(1), 0), np.sort(cam[swap].sum(1), 0))
    assert (moved[kinds == 'move'].sum(1) <= 4).all()


def test_gated_model_keeps_the_pose_and_answers_a_probability(tiny_run):
    base = lifting_model(tiny_run / 'best.pt')
    model = GatedLiftingModel(base).eval()
    x = torch.as_tensor(np.random.default_rng(0).normal(0, 0.05, (5, 32)), dtype=torch.float32)
    z = torch.zeros(5, base.generator.encoder.mu.out_features)
    with torch.no_grad():
        pose, p = model(x, z)
        pose0, _ = base(x, z)
    assert torch.equal(pose, pose0)
    assert p.shape == (5,) and ((p > 0) & (p < 1)).all()


def test_gate_end_to_end(tmp_path, tiny_run, pose_file, capsys):
    out = tmp_path / 'gated.onnx'
    assert main(['gate', '--model', str(tiny_run / 'best.pt'), '--out', str(out),
                 '--data', str(pose_file), '--epochs', '2']) == 0
    assert 'validation ROC-AUC' in capsys.readouterr().out
    backend = create_backend(out, 'onnxruntime')
    gate = backend.contract.training['gate']
    assert gate['epochs'] == 2 and 0.0 <= gate['best_val_auc_training_corruptions'] <= 1.0
    assert 0.0 < backend.contract.realism_threshold < 1.0
    history = json.loads(out.with_suffix('.gate.json').read_text())
    assert [h['epoch'] for h in history] == [1, 2]
    pose, realism = backend.infer(np.zeros((3, 32), np.float32))
    assert pose.shape == (3, 16, 3) and ((realism >= 0) & (realism <= 1)).all()
    # the lifter inside is untouched: the same pose as the model it was built on
    main(['export', '--checkpoint', str(tiny_run / 'best.pt'), '--out', str(tmp_path / 'b.onnx')])
    x = np.random.default_rng(1).normal(0, 0.05, (4, 32)).astype(np.float32)
    np.testing.assert_allclose(backend.infer(x)[0],
                               create_backend(tmp_path / 'b.onnx', 'onnxruntime').infer(x)[0],
                               atol=1e-5)


def test_gate_over_a_flip_averaged_lifter_keeps_the_averaging(tmp_path, tiny_run, pose_file):
    flip = tmp_path / 'flip.onnx'
    assert main(['export', '--checkpoint', str(tiny_run / 'best.pt'), '--out', str(flip),
                 '--flip-average']) == 0
    assert main(['gate', '--model', str(flip), '--out', str(tmp_path / 'g.onnx'),
                 '--data', str(pose_file), '--epochs', '1']) == 0
    gated = create_backend(tmp_path / 'g.onnx', 'onnxruntime')
    assert gated.contract.training['config']['model']['flip_average'] is True
    x = np.random.default_rng(3).normal(0, 0.05, (4, 32)).astype(np.float32)
    np.testing.assert_allclose(gated.infer(x)[0], create_backend(flip, 'onnxruntime').infer(x)[0],
                               atol=1e-5)


def test_gate_trains_in_the_lifters_own_camera_envelope(tmp_path, tiny_run, pose_file,
                                                        monkeypatch):
    """A lifter distilled for cameras 3.5-4.5 m up gets its gate trained on such views."""
    import pose_lifter_training.gate as G
    from pose_lifter_training.checkpoint import load_checkpoint, save_checkpoint
    ckpt = load_checkpoint(tiny_run / 'best.pt')
    ckpt['config'] = json.loads(json.dumps(ckpt['config']))
    ckpt['config']['data'].update(height_m=[3.5, 4.5], distance_m=[4.0, 5.0])
    save_checkpoint(tmp_path / 'high.pt', {k: v for k, v in ckpt.items() if k != 'format'})
    seen = []
    real_views = G.random_views

    def spy(poses, rng, **envelope):
        seen.append(envelope)
        return real_views(poses, rng, **envelope)
    monkeypatch.setattr(G, 'random_views', spy)
    assert main(['gate', '--model', str(tmp_path / 'high.pt'), '--out',
                 str(tmp_path / 'g.onnx'), '--data', str(pose_file), '--epochs', '1']) == 0
    assert seen and all(e['height'] == (3.5, 4.5) and e['distance'] == (4.0, 5.0)
                        for e in seen)


def test_gate_bad_options_are_one_line(tmp_path, tiny_run, capsys):
    assert main(['gate', '--model', str(tiny_run / 'best.pt'), '--out',
                 str(tmp_path / 'g.onnx'), '--epochs', '0']) == 2
    assert 'epochs' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(['gate', '--out', str(tmp_path / 'g.onnx')])


def test_feature_sets_size_the_head_and_skip_the_critic_without_realism(tiny_run):
    base = lifting_model(tiny_run / 'best.pt')
    x = torch.as_tensor(np.random.default_rng(0).normal(0, 0.05, (5, 32)), dtype=torch.float32)
    z = torch.zeros(5, base.generator.encoder.mu.out_features)
    assert feature_width(DEFAULT_FEATURES) == 32 + 32 + 16
    full = GatedLiftingModel(base, features=tuple(FEATURES)).eval()
    assert full.head[0].in_features == feature_width(tuple(FEATURES)) == 81 + 48 + 16
    called = []
    base.critic.register_forward_hook(lambda *a: called.append(1))
    lean = GatedLiftingModel(base, features=('input', 'residual', 'presence', 'bones')).eval()
    with torch.no_grad():
        pose, p = lean(x, z)
        feats = lean.features(x, *lean.lift(x, z))
    assert not called and pose.shape == (5, 16, 3) and ((p > 0) & (p < 1)).all()
    # bone shares: 16 bone lengths over their sum, x 16 -> mean 1
    np.testing.assert_allclose(feats[:, -16:].mean(1).numpy(), 1.0, rtol=1e-5)
    with torch.no_grad():
        full(x, z)
    assert called
    with pytest.raises(ValueError, match='gate features'):
        feature_width(('input', 'depth'))


def test_gate_without_realism_exports_no_critic_and_says_so(tmp_path, tiny_run, pose_file,
                                                          capsys):
    out = tmp_path / 'lean.onnx'
    assert main(['gate', '--model', str(tiny_run / 'best.pt'), '--out', str(out),
                 '--data', str(pose_file), '--epochs', '1', '--features', 'input',
                 'residual', 'presence']) == 0
    backend = create_backend(out, 'onnxruntime')
    assert backend.contract.training['gate']['features'] == ['input', 'residual', 'presence']
    # every reshape has a constant shape: no Shape chains for onnxruntime to run per frame
    # (the lean graph is the lifter, the residual and the head; 72 nodes for a real model)
    ops = [node.op_type for node in onnx.load(str(out)).graph.node]
    assert 'Shape' not in ops and 'ConstantOfShape' not in ops
    for n in (1, 7):
        pose, p = backend.infer(np.random.default_rng(n).normal(0, 0.05, (n, 32)))
        assert pose.shape == (n, 16, 3) and p.shape == (n,) and np.isfinite(p).all()
    # the critic is not in the graph, but its weights travel in the file (training_info, which
    # runtimes ignore) for the training tools: it reads back as the whole lifter it came from
    proto = onnx.load(str(out))
    assert not [i.name for i in proto.graph.initializer if 'critic' in i.name]
    def outside(graph: str) -> list[str]:
        return [i.name for info in proto.training_info if info.initialization.name == graph
                for i in info.initialization.initializer]
    carried = outside(CARRIED)
    assert carried and all(name.startswith('base.critic.') for name in carried)
    # and so do the tensors the stems' BatchNormalization fold replaced (graph_opt)
    assert outside(FOLDED) and all(n.startswith('base.generator.') for n in outside(FOLDED))
    back, base = lifting_model(out), lifting_model(tiny_run / 'best.pt')
    for k, v in base.critic.state_dict().items():
        assert torch.equal(back.critic.state_dict()[k], v), k
    for k, v in base.generator.state_dict().items():
        if not k.endswith('num_batches_tracked'):     # a training counter, not exported
            torch.testing.assert_close(back.generator.state_dict()[k], v, msg=k)
    assert main(['gate', '--model', str(tiny_run / 'best.pt'), '--out', str(out),
                 '--features', 'input', 'colour']) == 2
    assert 'gate features' in capsys.readouterr().err
