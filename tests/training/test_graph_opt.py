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
from pose_lifter_training.graph_opt import FOLDED, fast_mish, fold_batchnorm


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


def _gemm_bn_graph(rng: np.random.Generator) -> onnx.ModelProto:
    """x -> Gemm -> BatchNormalization -> y (foldable) and x -> Gemm -> BatchNormalization ->
    z whose Gemm output is also an output of the graph (must stay)."""
    def t(name, *shape, positive=False):
        a = rng.normal(size=shape).astype(np.float32)
        return onnx.numpy_helper.from_array(np.abs(a) + 0.1 if positive else a, name)
    inits = [t('w', 4, 3), t('b', 4), t('g', 4), t('beta', 4), t('mu', 4),
             t('var', 4, positive=True), t('w2', 4, 3), t('b2', 4), t('g2', 4), t('beta2', 4),
             t('mu2', 4), t('var2', 4, positive=True)]
    nodes = [helper.make_node('Gemm', ['x', 'w', 'b'], ['h'], transB=1),
             helper.make_node('BatchNormalization', ['h', 'g', 'beta', 'mu', 'var'], ['y'],
                              epsilon=1e-3),
             helper.make_node('Gemm', ['x', 'w2', 'b2'], ['h2'], transB=1),
             helper.make_node('BatchNormalization', ['h2', 'g2', 'beta2', 'mu2', 'var2'], ['z'])]
    io = [helper.make_tensor_value_info('x', TensorProto.FLOAT, ['N', 3])] + \
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ['N', 4]) for n in ('y', 'z', 'h2')]
    graph = helper.make_graph(nodes, 'gemm_bn', io[:1], io[1:], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])


def test_fold_batchnorm_keeps_answers_and_weights():
    rng = np.random.default_rng(0)
    model = _gemm_bn_graph(rng)
    x = rng.normal(size=(6, 3)).astype(np.float32)

    def run(m):
        session = ort.InferenceSession(m.SerializeToString(), providers=['CPUExecutionProvider'])
        return session.run(None, {'x': x})
    before = run(model)
    originals = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    assert fold_batchnorm(model) == 1
    onnx.checker.check_model(model)
    assert [n.op_type for n in model.graph.node].count('BatchNormalization') == 1   # z's stays
    for a, b in zip(run(model), before):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    graph_names = {i.name for i in model.graph.initializer}
    assert not graph_names & {'w', 'b', 'g', 'beta', 'mu', 'var'}
    carried = {i.name: onnx.numpy_helper.to_array(i) for info in model.training_info
               if info.initialization.name == FOLDED for i in info.initialization.initializer}
    assert sorted(carried) == ['b', 'beta', 'g', 'mu', 'var', 'w']
    assert all(np.array_equal(carried[k], originals[k]) for k in carried)
    assert fold_batchnorm(model) == 0                            # nothing left to fold


def test_exports_have_no_softplus(tiny_run, tmp_path):
    path = tmp_path / 'tiny.onnx'
    export_onnx(tiny_run / 'best.pt', path, card=False)
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert 'Softplus' not in ops and 'Exp' in ops


def test_optimize_rewrites_an_old_export(tiny_run, tmp_path, monkeypatch, capsys):
    old = tmp_path / 'old.onnx'
    with monkeypatch.context() as m:           # an export from before the rewrite existed
        m.setattr(export_module, 'optimize_graph', lambda proto: 0)
        export_onnx(tiny_run / 'best.pt', old, card=False)
    assert 'Softplus' in {n.op_type for n in onnx.load(str(old)).graph.node}
    new = tmp_path / 'new.onnx'
    assert main(['optimize', '--model', str(old), '--out', str(new)]) == 0
    assert 'rewrites (Mish in closed form' in capsys.readouterr().out
    ops = [n.op_type for n in onnx.load(str(new)).graph.node]
    assert 'Softplus' not in ops and 'BatchNormalization' in ops     # the MatMul ones stay
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
    graph = onnx.load(str(path)).graph
    assert 'Softplus' not in {n.op_type for n in graph.node}
    producer = {o: n.op_type for n in graph.node for o in n.output}
    assert not [n for n in graph.node if n.op_type == 'BatchNormalization' and
                producer.get(n.input[0]) == 'Gemm']             # folded (graph_opt)
