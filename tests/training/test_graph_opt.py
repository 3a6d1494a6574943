"""The closed-form Mish rewrite: same answers as Softplus -> Tanh -> Mul, finite everywhere, and
``pose-lifter-train optimize`` bringing an old export to the current form."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from pose_lifter.core.backends import create_backend
from pose_lifter_training import export as export_module
from pose_lifter_training.adapt import onnx_state
from pose_lifter_training.cli import main
from pose_lifter_training.export import content_hash, export_onnx, read_contract
from pose_lifter_training.graph_opt import fast_mish


def _mish_graph() -> onnx.ModelProto:
    """y = x * tanh(softplus(x)) as the PyTorch exporter writes nn.Mish, plus a second use
    of softplus(x) elsewhere that must stay untouched (z = softplus(w))."""
    nodes = [helper.make_node('Softplus', ['x'], ['s']), helper.make_node('Tanh', ['s'], ['t']),
             helper.make_node('Mul', ['x', 't'], ['y']),
             helper.make_node('Softplus', ['w'], ['z'])]
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ['N']) for n in 'xwyz']
    graph = helper.make_graph(nodes, 'mish', io[:2], io[2:])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=['CPUExecutionProvider'])
    return session.run(None, {'x': x, 'w': x})


def test_rewrite_matches_mish_and_stays_finite():
    model = _mish_graph()
    x = np.concatenate([np.linspace(-30, 30, 6001), [-1e4, -100.0, 0.0, 100.0, 1e4]]
                       ).astype(np.float32)
    before, z_before = _run(model, x)
    assert fast_mish(model) == 1
    onnx.checker.check_model(model)
    ops = [n.op_type for n in model.graph.node]
    assert 'Tanh' not in ops and ops.count('Softplus') == 1     # the lone softplus is kept
    after, z_after = _run(model, x)
    x64 = x.astype(np.float64)
    exact = x64 * np.tanh(np.logaddexp(0.0, x64))
    assert np.isfinite(after).all()
    np.testing.assert_allclose(after, exact, rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(after, before, rtol=2e-6, atol=2e-6)
    np.testing.assert_array_equal(z_after, z_before)
    assert fast_mish(model) == 0                                 # nothing left to rewrite


def test_exports_have_no_softplus(tiny_run, tmp_path):
    path = tmp_path / 'tiny.onnx'
    export_onnx(tiny_run / 'best.pt', path, card=False)
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert 'Softplus' not in ops and 'Exp' in ops


def test_optimize_rewrites_an_old_export(tiny_run, tmp_path, monkeypatch, capsys):
    old = tmp_path / 'old.onnx'
    with monkeypatch.context() as m:           # an export from before the rewrite existed
        m.setattr(export_module, 'fast_mish', lambda proto: 0)
        export_onnx(tiny_run / 'best.pt', old, card=False)
    assert 'Softplus' in {n.op_type for n in onnx.load(str(old)).graph.node}
    new = tmp_path / 'new.onnx'
    assert main(['optimize', '--model', str(old), '--out', str(new)]) == 0
    assert 'Mish activations rewritten' in capsys.readouterr().out
    before, after = read_contract(old), read_contract(new)
    assert after.content_hash == content_hash(onnx.load(str(new))) != before.content_hash
    before.content_hash = after.content_hash
    assert after == before                     # the rest of the contract is untouched
    state_old, state_new = onnx_state(old)[0], onnx_state(new)[0]
    assert sorted(state_old) == sorted(state_new)   # the training tools read the same weights
    assert all(np.array_equal(state_old[k], state_new[k]) for k in state_old)
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(5, before.input_dim)) * 0.04).astype(np.float32)
    a, b = (create_backend(str(p), 'onnxruntime').infer(x) for p in (old, new))
    np.testing.assert_allclose(a[0], b[0], atol=1e-5)
    np.testing.assert_allclose(a[1], b[1], atol=1e-5)
    assert main(['optimize', '--model', str(new)]) == 0
    assert 'already in the current form' in capsys.readouterr().out


def test_optimize_refuses_what_is_not_a_model(tmp_path, capsys):
    bad = tmp_path / 'bad.onnx'
    bad.write_bytes(b'not a model')
    assert main(['optimize', '--model', str(bad)]) == 2
    assert 'not a readable ONNX model' in capsys.readouterr().err
    plain = tmp_path / 'plain.onnx'
    onnx.save(_mish_graph(), str(plain))
    assert main(['optimize', '--model', str(plain)]) == 2
    assert 'contract' in capsys.readouterr().err


@pytest.mark.parametrize('model', ['default', 'ensemble', 'single', 'supervised'])
def test_shipped_models_are_in_the_current_form(model):
    path = Path(__file__).resolve().parents[2] / 'models' / f'{model}.onnx'
    assert 'Softplus' not in {n.op_type for n in onnx.load(str(path)).graph.node}
