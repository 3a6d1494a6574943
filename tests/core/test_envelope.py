"""The operating envelope: impossible persons get a status of their own, never ``ok``."""
import numpy as np
import pytest
from model_factory import walking_poses

from pose_lifter.core import skeleton
from pose_lifter.core.backends import create_backend
from pose_lifter.core.envelope import (
    Envelope,
    image_sizes,
    out_of_range,
    outside_image,
)
from pose_lifter.core.errors import InputContractError
from pose_lifter.core.pipeline import Lifter
from pose_lifter.core.undistort import CameraModel, undistort_points

LIMITS = Envelope(image_margin=0.5, min_depth_m=0.3, max_depth_m=100.0, max_size_ratio=2.0)
SIZE = (1920, 1080)


@pytest.fixture(scope='module')
def scene():
    cam3d, px, K = walking_poses(4)
    return cam3d, px, K


@pytest.fixture
def lifter(tiny_model):
    return Lifter(create_backend(tiny_model, 'onnxruntime'), realism_threshold=0.0,
                  envelope=LIMITS)


def test_image_sizes_broadcast_and_unknown_sizes():
    np.testing.assert_array_equal(image_sizes((640, 480), 2), [[640, 480]])  # broadcasts
    assert image_sizes(None, 3) is None
    assert image_sizes((0, 0), 3) is None                 # CameraInfo without width/height
    for unknown in ((640, 0), (-640, 480), (np.nan, 480), (640, np.inf), (np.inf, -np.inf)):
        assert image_sizes(unknown, 1) is None, unknown
    rows = image_sizes([[640, 480], [0, 480]], 2)
    assert rows[0].tolist() == [640, 480] and np.isnan(rows[1]).all()
    with pytest.raises(InputContractError, match='image_size'):
        image_sizes([[640, 480]] * 3, 2)


def test_outside_image_uses_the_margin_and_only_valid_joints():
    kp = np.full((4, 17, 2), 100.0)
    kp[1, 3] = (640 * 1.5 + 1, 100)          # just beyond the margin
    kp[2, 3] = (640 * 1.5 - 1, -480 * 0.5 + 1)  # just inside it
    kp[3, 3] = (-1e7, 100)                   # far outside, but not a valid joint
    valid = np.ones((4, 17), bool)
    valid[3, 3] = False
    size = image_sizes([(640, 480)] * 4, 4)
    assert outside_image(kp, valid, size, 0.5).tolist() == [False, True, False, False]
    assert outside_image(kp, valid, size, 0.0)[2]
    size[1] = np.nan                         # unknown size for that person: no check
    assert not outside_image(kp, valid, size, 0.5)[1]
    assert not outside_image(kp, valid, None, 0.5).any()
    assert outside_image(kp, valid, image_sizes((640, 480), 4), 0.5).tolist() == [
        False, True, False, False]


def test_out_of_range_depth_distance_size_and_non_finite(scene):
    cam3d = scene[0][:6].copy()
    assert not out_of_range(cam3d, skeleton.bone_lengths(cam3d).sum(-1).mean(), LIMITS).any()
    prior = skeleton.bone_lengths(cam3d).sum(-1).mean()
    cam3d[0] -= cam3d[0, 0] - (0.0, 0.0, 0.1)       # root 0.1 m in front: too near
    cam3d[1] += (0.0, 0.0, -50.0)                   # behind the camera
    cam3d[2] += (5e4, 0.0, 0.0)                     # 50 km to the side, depth unchanged
    root = cam3d[3, :1]
    cam3d[3] = root + (cam3d[3] - root) * 3.0       # a 3x giant
    cam3d[4, 5] = np.nan
    assert out_of_range(cam3d, prior, LIMITS).tolist() == [True] * 5 + [False]


def test_envelope_limits_are_checked():
    with pytest.raises(InputContractError, match='min_depth_m < max_depth_m'):
        Envelope(0.5, 10.0, 5.0, 2.0)
    with pytest.raises(InputContractError):
        Envelope(0.5, 0.3, 100.0, 0.5)
    with pytest.raises(InputContractError):
        Envelope(float('nan'), 0.3, 100.0, 2.0)


def _cases(px, K):
    far = px.copy()
    far[..., 0] += 1e7
    k0 = K if K.ndim == 2 else K[0]
    absurd = CameraModel.from_arrays(k0.ravel(), np.array([1e6, 1e6, 0.0, 0.0, 1e6]),
                                     'plumb_bob')
    return {'x + 1e7 px': far, 'x 1e17': px * 1e17,
            'distortion 1e6': undistort_points(px, absurd)}


@pytest.mark.parametrize('size', [SIZE, None, (0, 0)])
def test_impossible_persons_are_never_ok(lifter, scene, size):
    _, px, K = scene
    normal = lifter.lift(px, K, image_size=size)
    assert (normal.status == 'ok').all()
    for name, kp in _cases(px, K).items():
        res = lifter.lift(kp, K, image_size=size)
        expected = ({'outside_image'} if size == SIZE and name != 'distortion 1e6'
                    else {'out_of_range'})
        assert set(res.status) == expected, name
        assert not res.plausible.any() and np.isnan(res.joints3d).all(), name


def test_mixed_batch_keeps_the_normal_person_ok(lifter, scene):
    _, px, K = scene
    K1 = K if K.ndim == 2 else K[0]
    kp = np.stack([px[0], px[1] + (1e7, 0.0), px[2] * 1e17])
    res = lifter.lift(kp, K1, image_size=SIZE)
    assert res.status.tolist() == ['ok', 'outside_image', 'outside_image']
    assert res.plausible.tolist() == [True, False, False]
    assert np.isfinite(res.joints3d[0]).all()
    res = lifter.lift(kp, K1)                        # no image size: caught after placement
    assert res.status.tolist() == ['ok', 'out_of_range', 'out_of_range']
    assert np.isfinite(res.realism).all()           # the critic's score is still reported


def test_without_an_envelope_nothing_changes(tiny_model, scene):
    _, px, K = scene
    plain = Lifter(create_backend(tiny_model, 'onnxruntime'), realism_threshold=0.0)
    res = plain.lift(px * 1e17, K, image_size=SIZE)
    assert 'out_of_range' not in set(res.status) and 'outside_image' not in set(res.status)


def test_uncertainty_is_nan_for_out_of_range(tiny_model, scene):
    _, px, K = scene
    lifter = Lifter(create_backend(tiny_model, 'onnxruntime'), realism_threshold=0.0,
                    envelope=LIMITS, uncertainty_samples=3)
    K1 = K if K.ndim == 2 else K[0]
    res = lifter.lift(np.stack([px[0], px[1] * 1e17]), K1)
    assert res.status.tolist() == ['ok', 'out_of_range']
    assert np.isfinite(res.uncertainty[0]).all() and np.isnan(res.uncertainty[1]).all()


def test_the_image_check_uses_the_detector_pixels(lifter, scene):
    _, px, K = scene
    K1 = K if K.ndim == 2 else K[0]
    kp = px[:2].copy()
    far = kp + (5000.0, 0.0)                  # e.g. strongly undistorted edge pixels
    res = lifter.lift(far, K1, image_size=SIZE, image_points=kp)
    assert 'outside_image' not in set(res.status)
    res = lifter.lift(kp, K1, image_size=SIZE, image_points=far)
    assert res.status.tolist() == ['outside_image'] * 2
    # a joint outside the image that the detector did not see (confidence 0) does not count
    conf = np.ones((2, 17))
    conf[0, 3] = 0.0
    raw = kp.copy()
    raw[0, 3] = (-1e7, 0.0)
    res = lifter.lift(kp, K1, conf, image_size=SIZE, image_points=raw)
    assert res.status.tolist() == ['ok', 'ok']
    with pytest.raises(InputContractError, match='image_points'):
        lifter.lift(kp, K1, image_size=SIZE, image_points=kp[:1])
