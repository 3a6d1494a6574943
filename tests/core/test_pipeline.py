"""The lifting pipeline and the backends on the tiny test model, good and bad input."""
import json

import numpy as np
import pytest
from model_factory import build_tiny_model, tiny_contract, walking_poses

from pose_lifter.core import skeleton
from pose_lifter.core.backends import BackendError, create_backend
from pose_lifter.core.camera import InvalidIntrinsics
from pose_lifter.core.contract import ContractError, ModelContract
from pose_lifter.core.pipeline import Lifter


@pytest.fixture
def lifter(tiny_model):
    return Lifter(create_backend(tiny_model, 'onnxruntime'), realism_threshold=0.3)


def test_backend_reports_cpu_and_reads_contract(tiny_model):
    backend = create_backend(tiny_model)            # auto falls back to ORT CPU here
    assert backend.name == 'onnxruntime' and backend.device == 'cpu'
    assert backend.contract.latent_dim == tiny_contract().latent_dim
    pose, realism = backend.infer(np.zeros((3, 32), np.float32))
    assert pose.shape == (3, 16, 3) and realism.shape == (3,)


def test_lift_batch_places_people_in_front_of_the_camera(lifter):
    cam3d, px, K = walking_poses(6)
    res = lifter.lift(px, K)
    assert (res.status == 'ok').all() and res.joints3d.shape == (len(px), 17, 3)
    # zero-depth lift: wrong shape, but metric size and position come from the prior + K
    depth_err = np.abs(res.joints3d[:, 0, 2] - cam3d[:, 0, 2]) / cam3d[:, 0, 2]
    assert np.median(depth_err) < 0.25
    bones = skeleton.bone_lengths(res.joints3d).sum(-1)
    np.testing.assert_allclose(bones, 3.94, rtol=1e-6)


def test_per_person_status_for_missing_and_implausible(lifter):
    _, px, K = walking_poses(3)
    px = px[:3].copy()
    px[0, skeleton.H36M17.index('head')] = np.nan
    conf = np.ones((3, 17))
    conf[1, :8] = 0.0
    px[2] *= 50.0                                    # absurd geometry -> low realism
    res = lifter.lift(px, K[:3], conf)
    assert res.status.tolist()[:2] == ['too_few_joints', 'too_few_joints']
    assert np.isnan(res.joints3d[0]).all() and not res.plausible[0]
    assert res.valid_joints[1] == 9


def test_empty_batch_and_bad_shapes(lifter):
    K = np.eye(3)
    assert len(lifter.lift(np.zeros((0, 17, 2)), K)) == 0
    with pytest.raises(ValueError, match=r'\(N, 17, 2\)'):
        lifter.lift(np.zeros((2, 16, 2)), K)
    with pytest.raises(ValueError, match='persons'):
        lifter.lift(np.zeros((2, 17, 2)), np.stack([K] * 3))
    with pytest.raises(InvalidIntrinsics, match='focal'):
        lifter.lift(np.zeros((1, 17, 2)), np.diag([0.0, 1.0, 1.0]))


def test_uncertainty_from_latent_samples(tiny_model):
    lifter = Lifter(create_backend(tiny_model), uncertainty_samples=4)
    _, px, K = walking_poses(2)
    res = lifter.lift(px[:2], K[:2])
    assert res.uncertainty.shape == (2, 17) and np.isfinite(res.uncertainty).all()


def _calibrated(tmp_path, cal: dict):
    contract = tiny_contract(threshold=0.3)
    contract.uncertainty_calibration = cal
    return create_backend(build_tiny_model(tmp_path / 'cal.onnx', contract))


def test_calibrated_uncertainty_and_inferred_joints(tmp_path):
    seen = [0.0] + [0.05] * 16
    hidden = [0.0] + [0.2] * 16
    bins = [{'min_inferred': k, 'persons': 100, 'seen_m': [r * (k + 1) for r in seen],
             'inferred_m': [r * (k + 1) for r in hidden], 'depth_rel': 0.1 * (k + 1),
             'lateral_rel': 0.01} for k in (0, 1, 3)]
    lifter = Lifter(_calibrated(tmp_path, {'nominal': 0.9, 'bins': bins}))
    _, px, K = walking_poses(3)
    conf = np.ones((3, 17))
    legs = [skeleton.H36M17.index(j) for j in ('r_knee', 'r_ankle', 'l_knee', 'l_ankle')]
    conf[1, legs] = 0.0
    res = lifter.lift(px[:3], K[:3], conf)
    assert (res.status == 'ok').all()
    assert not res.inferred[0].any() and res.inferred[1].tolist() == [
        j in legs for j in range(17)]
    np.testing.assert_allclose(res.uncertainty[0], seen)
    # four inferred joints: the third bin, inferred joints with their own radius
    np.testing.assert_allclose(res.uncertainty[1, legs], 0.8)
    np.testing.assert_allclose(res.uncertainty[1, 7], 0.2)
    root = res.joints3d[:, 0]
    u = root[0] / np.linalg.norm(root[0])
    assert np.sqrt(u @ res.root_covariance[0] @ u) == pytest.approx(0.1 * np.linalg.norm(root[0]))
    assert np.sqrt(u @ res.root_covariance[1] @ u) > 2 * np.sqrt(u @ res.root_covariance[0] @ u)


def test_invalid_uncertainty_calibration_is_a_contract_error(tmp_path):
    with pytest.raises(ContractError, match='uncertainty_calibration.*recalibrate'):
        Lifter(_calibrated(tmp_path, {'nominal': 0.9, 'bins': [{'min_inferred': 0}]}))


def test_missing_and_corrupt_model_files(tmp_path):
    with pytest.raises(BackendError, match='not found'):
        create_backend(tmp_path / 'nope.onnx')
    bad = tmp_path / 'corrupt.onnx'
    bad.write_bytes(b'\x08\x07garbage' * 10)
    with pytest.raises(BackendError, match='not a valid ONNX'):
        create_backend(bad)
    with pytest.raises(BackendError, match='unknown backend'):
        create_backend(bad, 'openvino')


def test_contract_version_and_content_are_checked(tmp_path):
    d = json.loads(tiny_contract().to_json())
    d['format_version'] = 99
    with pytest.raises(ContractError, match='format_version 99'):
        create_backend(build_tiny_model(tmp_path / 'v99.onnx', metadata=json.dumps(d)))
    with pytest.raises(ContractError, match='not valid JSON'):
        create_backend(build_tiny_model(tmp_path / 'js.onnx', metadata='{oops'))
    d = json.loads(tiny_contract().to_json())
    d['normalisation']['method'] = 'global_scale'
    with pytest.raises(ContractError, match='normalisation'):
        create_backend(build_tiny_model(tmp_path / 'n.onnx', metadata=json.dumps(d)))
    assert ModelContract.from_json(tiny_contract().to_json()).input_dim == 32


def test_tensorrt_backend_skips_cleanly(tiny_model):
    pytest.importorskip('tensorrt', reason='TensorRT is not installable on this machine')
    backend = create_backend(tiny_model, 'tensorrt')
    x = np.random.default_rng(0).normal(0, 0.05, (5, 32)).astype(np.float32)
    ref = create_backend(tiny_model, 'onnxruntime').infer(x)
    got = backend.infer(x)
    np.testing.assert_allclose(got[0], ref[0], atol=1e-2)


def test_tensorrt_missing_is_a_clear_error(tiny_model):
    try:
        import tensorrt  # noqa: F401
        pytest.skip('TensorRT is installed here')
    except ImportError:
        pass
    with pytest.raises(BackendError, match='TensorRT is not installed'):
        create_backend(tiny_model, 'tensorrt')


def test_baseline_backends(tiny_model):
    from pose_lifter.core.backends.baselines import BaselineBackend
    model = create_backend(tiny_model)
    x = np.random.default_rng(0).normal(0, 0.05, (4, 32)).astype(np.float32)
    zero = BaselineBackend(model.contract, 'zero_depth')
    np.testing.assert_allclose(zero.infer(x)[0], model.infer(x)[0], atol=1e-6)
    with pytest.raises(BackendError, match='mean_pose_units'):
        BaselineBackend(model.contract, 'mean_pose')
    contract = tiny_contract()
    contract.training['mean_pose_units'] = np.arange(48.0).reshape(16, 3).tolist()
    pose, realism = BaselineBackend(contract, 'mean_pose').infer(x)
    assert (pose == np.arange(48.0).reshape(16, 3)).all() and (realism == 1).all()
    with pytest.raises(BackendError, match='unknown baseline'):
        BaselineBackend(contract, 'median')


def test_tensorrt_engine_cache_key_covers_everything_that_invalidates_an_engine(tmp_path):
    from pose_lifter.core.backends.tensorrt_backend import engine_cache_path
    base = dict(content_hash='ab' * 32, trt_version='10.16', capability='sm90',
                precision='fp16', max_persons=64)
    ref = engine_cache_path(tmp_path, **base)
    for key, other in (('content_hash', 'cd' * 32), ('trt_version', '10.17'),
                       ('capability', 'sm89'), ('precision', 'fp32'), ('max_persons', 128)):
        assert engine_cache_path(tmp_path, **{**base, key: other}) != ref, key
