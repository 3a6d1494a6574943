"""Rewrites of an exported graph that keep its answers and cut its CPU time.

The lifter's layers end in Mish, x tanh(softplus(x)), which the PyTorch exporter writes as
Softplus -> Tanh -> Mul. ONNX Runtime's CPU Softplus is an unvectorised log(1 + exp(x)) loop:
on the shipped width-512 lifter the six Softplus nodes took half of the 10-person inference
(``pose-lifter bench``). Mish has a closed form without the logarithm:

    tanh(softplus(x)) = ((1 + e^x)^2 - 1) / ((1 + e^x)^2 + 1) = 1 - 2 / ((1 + e^x)^2 + 1)

written with Exp, Add, Mul, Div and Sub, all vectorised kernels. It stays finite everywhere
(e^x = inf gives 1, the right limit; no clamp, also in a TensorRT FP16 engine) and agrees with
the Softplus form to float32 rounding (tests/training/test_graph_opt.py).

A BatchNormalization after a Gemm (the lifter's stems) is an affine map of the Gemm's output
in inference: ``fold_batchnorm`` folds it into the Gemm's weight and bias (ONNX Runtime fuses
MatMul + BatchNormalization itself, not Gemm + BatchNormalization: two nodes fewer, ~3 us of a
one-person inference). The tensors it replaces keep their names outside the inference graph
(``training_info``, as ``export.carry_weights`` stores them), so the training tools
(``adapt.onnx_state``) read the same weights as before.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

ONE, TWO = 'pose_lifter_mish_one', 'pose_lifter_mish_two'
FOLDED = 'pose_lifter_folded_weights'     # training_info graph of the tensors a fold replaced


def _consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    out: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            out.setdefault(name, []).append(node)
    return out


def _mish_chains(graph: onnx.GraphProto) -> list[tuple[onnx.NodeProto, ...]]:
    """(Softplus, Tanh, Mul) triples computing x * tanh(softplus(x)), intermediates unshared."""
    consumers, chains = _consumers(graph), []
    for soft in graph.node:
        if soft.op_type != 'Softplus':
            continue
        nxt = consumers.get(soft.output[0], [])
        if len(nxt) != 1 or nxt[0].op_type != 'Tanh':
            continue
        tanh = nxt[0]
        nxt = consumers.get(tanh.output[0], [])
        if len(nxt) != 1 or nxt[0].op_type != 'Mul' or \
                sorted(nxt[0].input) != sorted([soft.input[0], tanh.output[0]]):
            continue
        chains.append((soft, tanh, nxt[0]))
    return chains


def fast_mish(model: onnx.ModelProto) -> int:
    """Rewrite every Softplus -> Tanh -> Mul Mish of ``model`` (in place) in the closed form
    of the module docstring; returns how many were rewritten (0: the graph is unchanged)."""
    graph = model.graph
    chains = _mish_chains(graph)
    if not chains:
        return 0
    names = {i.name for i in graph.initializer}
    for name, value in ((ONE, 1.0), (TWO, 2.0)):
        if name not in names:
            graph.initializer.append(numpy_helper.from_array(np.array(value, np.float32),
                                                             name))
    for soft, tanh, mul in chains:
        nodes = _closed_form(soft.input[0], mul.output[0], (soft.name or soft.output[0]))
        at = list(graph.node).index(soft)
        for node in (soft, tanh, mul):
            graph.node.remove(node)
        for k, node in enumerate(nodes):
            graph.node.insert(at + k, node)
    return len(chains)


def _closed_form(x: str, y: str, stem: str) -> list[onnx.NodeProto]:
    """Nodes computing y = x (1 - 2 / ((1 + e^x)^2 + 1)); intermediates named after ``stem``."""
    t = {k: f'{stem}/fast_mish/{k}' for k in ('e', 'a', 'a2', 'd', 'q', 't')}
    return [helper.make_node('Exp', [x], [t['e']], name=t['e'] + '_Exp'),
            helper.make_node('Add', [t['e'], ONE], [t['a']], name=t['a'] + '_Add'),
            helper.make_node('Mul', [t['a'], t['a']], [t['a2']], name=t['a2'] + '_Mul'),
            helper.make_node('Add', [t['a2'], ONE], [t['d']], name=t['d'] + '_Add'),
            helper.make_node('Div', [TWO, t['d']], [t['q']], name=t['q'] + '_Div'),
            helper.make_node('Sub', [ONE, t['q']], [t['t']], name=t['t'] + '_Sub'),
            helper.make_node('Mul', [x, t['t']], [y], name=f'{stem}/fast_mish/y_Mul')]


def _attr(node: onnx.NodeProto, name: str, default: float | int) -> float | int:
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def fold_batchnorm(model: onnx.ModelProto) -> int:
    """Fold every inference BatchNormalization whose input is a plain Gemm's output (used by
    nothing else) into that Gemm (in place): W' = s W, b' = s (b - mean) + beta with
    s = gamma / sqrt(var + eps), computed in float64. The replaced tensors move to a
    ``training_info`` graph ``FOLDED``. Returns how many were folded (0: unchanged)."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    consumers = _consumers(graph)
    producer = {o: n for n in graph.node for o in n.output}
    users = {name: len(nodes) for name, nodes in consumers.items()}
    for out in graph.output:              # a graph output is a use of its own
        users[out.name] = users.get(out.name, 0) + 1
    moved: list[onnx.TensorProto] = []
    count = 0
    for bn in [n for n in graph.node if n.op_type == 'BatchNormalization']:
        gemm = producer.get(bn.input[0])
        if gemm is None or gemm.op_type != 'Gemm' or len(gemm.input) != 3 or \
                len(bn.output) != 1 or _attr(bn, 'training_mode', 0) or \
                _attr(gemm, 'alpha', 1.0) != 1.0 or _attr(gemm, 'beta', 1.0) != 1.0 or \
                _attr(gemm, 'transA', 0) or users.get(gemm.output[0], 0) != 1:
            continue
        tensors = list(gemm.input[1:]) + list(bn.input[1:])
        if any(t not in inits or users.get(t, 0) != 1 for t in tensors):
            continue                      # computed or shared weights: leave them
        w, b, gamma, beta, mean, var = (numpy_helper.to_array(inits[t]).astype(np.float64)
                                        for t in tensors)
        if not _attr(gemm, 'transB', 0):
            w = w.T                                         # (out, in)
        scale = gamma / np.sqrt(var + _attr(bn, 'epsilon', 1e-5))
        stem = bn.output[0]
        weight, bias = f'{stem}/folded_weight', f'{stem}/folded_bias'
        graph.initializer.extend([
            numpy_helper.from_array((w * scale[:, None]).astype(np.float32), weight),
            numpy_helper.from_array(((b - mean) * scale + beta).astype(np.float32), bias)])
        folded = helper.make_node('Gemm', [gemm.input[0], weight, bias], [bn.output[0]],
                                  name=f'{stem}/folded_Gemm', transB=1)
        at = list(graph.node).index(gemm)
        graph.node.remove(gemm)
        graph.node.remove(bn)
        graph.node.insert(at, folded)
        for t in tensors:
            kept = onnx.TensorProto()
            kept.CopyFrom(inits[t])
            moved.append(kept)
            graph.initializer.remove(inits[t])
        count += 1
    if moved:
        carry_tensors(model, FOLDED, moved)
    return count


def carry_tensors(model: onnx.ModelProto, name: str, tensors: list[onnx.TensorProto]) -> None:
    """Store ``tensors`` in ``model`` outside its inference graph: the initializers of a
    ``training_info`` initialization graph called ``name`` (no nodes, no bindings), which ONNX
    Runtime and TensorRT ignore and ``adapt.onnx_state`` reads back."""
    info = model.training_info.add()
    info.initialization.CopyFrom(helper.make_graph([], name, [], [], initializer=tensors))
    info.algorithm.CopyFrom(helper.make_graph([], name + '_none', [], []))


def optimize_graph(model: onnx.ModelProto) -> int:
    """Every rewrite of this module, in place; returns how many were made (0: unchanged)."""
    return fast_mish(model) + fold_batchnorm(model)
