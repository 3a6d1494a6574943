"""A tiny, contract-valid ONNX model built with onnx.helper (no torch), for tests.

Its lift is the zero-depth baseline done exactly: pose3d = (depth * x, depth * y, 0), which
reprojects onto the input at the contract's depth; realism = 1 / (1 + sum(x^2)), so larger
(stranger) inputs are less realistic.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from pose_lifter.core.contract import METADATA_KEY, ModelContract
from pose_lifter.core.skeleton import H36M17

LATENT = 4


def tiny_contract(threshold: float = 0.5) -> ModelContract:
    return ModelContract(latent_dim=LATENT, bone_sum_m=3.94, realism_threshold=threshold,
                         realism_rule='test fixture', critic_views_deg=[90.0, 180.0, 270.0],
                         content_hash='0' * 64)


def build_tiny_model(path: Path, contract: ModelContract | None = None,
                     metadata: str | None = None) -> Path:
    """Write the tiny model to ``path``; ``metadata`` overrides the contract JSON."""
    contract = contract or tiny_contract()
    j = H36M17.num_joints - 1
    depth = contract.normalisation.depth
    w = np.zeros((2 * j, 3 * j), np.float32)
    for k in range(j):
        w[2 * k, 3 * k] = depth
        w[2 * k + 1, 3 * k + 1] = depth
    nodes = [
        helper.make_node('MatMul', ['keypoints', 'W'], ['flat']),
        helper.make_node('ReduceSum', ['noise', 'axes1'], ['nsum'], keepdims=1),
        helper.make_node('Mul', ['nsum', 'zero'], ['nzero']),
        helper.make_node('Add', ['flat', 'nzero'], ['flat2']),
        helper.make_node('Reshape', ['flat2', 'shape'], ['pose3d']),
        helper.make_node('Mul', ['keypoints', 'keypoints'], ['sq']),
        helper.make_node('ReduceSum', ['sq', 'axes1'], ['ss'], keepdims=0),
        helper.make_node('Add', ['ss', 'one'], ['den']),
        helper.make_node('Reciprocal', ['den'], ['realism']),
    ]
    inits = [numpy_helper.from_array(w, 'W'),
             numpy_helper.from_array(np.array([1], np.int64), 'axes1'),
             numpy_helper.from_array(np.array([0.0], np.float32), 'zero'),
             numpy_helper.from_array(np.array([1.0], np.float32), 'one'),
             numpy_helper.from_array(np.array([-1, j, 3], np.int64), 'shape')]
    graph = helper.make_graph(
        nodes, 'tiny_lifter',
        [helper.make_tensor_value_info('keypoints', TensorProto.FLOAT, ['N', 2 * j]),
         helper.make_tensor_value_info('noise', TensorProto.FLOAT, ['N', contract.latent_dim])],
        [helper.make_tensor_value_info('pose3d', TensorProto.FLOAT, ['N', j, 3]),
         helper.make_tensor_value_info('realism', TensorProto.FLOAT, ['N'])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, metadata if metadata is not None else contract.to_json()
    onnx.checker.check_model(model)
    path = Path(path)
    path.write_bytes(model.SerializeToString())
    return path


def walking_poses(n=64, seed=0):
    """A few plausible camera-frame poses (metres) from the shipped demo clip."""
    from pose_lifter.core import cameras
    from pose_lifter.core.poses import load_pose_file
    ps = load_pose_file(Path(__file__).parents[1] / 'models' / 'demo_poses.npz')
    pick = np.random.default_rng(seed).choice(len(ps), n, replace=False)
    cam3d, px, K = cameras.eval_views(ps.joints[pick])
    return cam3d, px, K
