"""core.undistort against ground truth: known 3D points projected through distorting lenses."""
import cv2
import numpy as np
import pytest

from pose_lifter.core.camera import InvalidIntrinsics, intrinsics, project
from pose_lifter.core.undistort import CameraModel, UnknownDistortionModel, undistort_points

K = intrinsics(800.0, 810.0, 640.0, 360.0)
LENSES = {  # moderate to strong distortion, within what calibrations report
    'plumb_bob': [-0.3, 0.1, 0.001, -0.002, -0.02],
    'rational_polynomial': [0.2, -0.1, 0.001, 0.001, 0.01, 0.5, -0.1, 0.05],
    'equidistant': [0.05, -0.01, 0.002, -0.001],
}


@pytest.fixture
def points():
    """(4, 17, 3) camera-frame points in the field of view, metres."""
    rng = np.random.default_rng(0)
    z = rng.uniform(3.0, 12.0, (4, 17, 1))
    xy = rng.uniform(-0.35, 0.35, (4, 17, 2)) * z
    return np.concatenate([xy, z], axis=-1)


def distort(points: np.ndarray, model: str, D: np.ndarray) -> np.ndarray:
    """(N, J, 3) -> (N, J, 2) pixels seen through the lens (OpenCV's forward models)."""
    flat = points.reshape(-1, 1, 3)
    if model == 'equidistant':
        px, _ = cv2.fisheye.projectPoints(flat, np.zeros(3), np.zeros(3), K, D)
    else:
        px, _ = cv2.projectPoints(flat, np.zeros(3), np.zeros(3), K, D)
    return px.reshape(points.shape[:-1] + (2,))


@pytest.mark.parametrize('model', sorted(LENSES))
def test_undistort_recovers_pinhole_projection(model, points):
    D = np.array(LENSES[model])
    seen = distort(points, model, D)
    ideal = project(points, K)
    assert np.abs(seen - ideal).max() > 5.0            # the lens matters (pixels)
    camera = CameraModel.from_arrays(K.ravel(), D, model)
    out = undistort_points(seen, camera)
    assert out.shape == seen.shape
    np.testing.assert_allclose(out, ideal, atol=0.05)


def test_missing_points_stay_missing(points):
    D = np.array(LENSES['plumb_bob'])
    seen = distort(points, 'plumb_bob', D)
    seen[0, 3] = np.nan
    seen[2, :, 1] = np.inf
    out = undistort_points(seen, CameraModel.from_arrays(K.ravel(), D, 'plumb_bob'))
    assert np.isnan(out[0, 3]).all() and np.isnan(out[2]).all()
    np.testing.assert_allclose(out[1], project(points, K)[1], atol=0.05)


def test_no_distortion_is_identity(points):
    px = project(points, K)
    for D in ([], [0.0] * 5):
        np.testing.assert_array_equal(
            undistort_points(px, CameraModel.from_arrays(K.ravel(), D, 'plumb_bob')), px)
    # an unknown model with zero coefficients is harmless (nothing to undo)
    unknown = CameraModel.from_arrays(K.ravel(), [], 'kannala_brandt_9')
    np.testing.assert_array_equal(undistort_points(px, unknown), px)


def test_short_coefficient_lists_are_zero_padded(points):
    D5 = np.array([-0.2, 0.05, 0.0, 0.0, 0.0])
    seen = distort(points, 'plumb_bob', D5)
    out = undistort_points(seen, CameraModel.from_arrays(K.ravel(), D5[:2], 'plumb_bob'))
    np.testing.assert_allclose(out, project(points, K), atol=0.05)


@pytest.mark.parametrize('model, D', [('kannala_brandt_9', [0.1] * 9),
                                      ('plumb_bob', [0.1] * 6),
                                      ('equidistant', [0.1] * 5),
                                      ('plumb_bob', [np.nan] * 5)])
def test_unknown_or_bad_distortion_is_a_clear_error(model, D):
    with pytest.raises(UnknownDistortionModel, match=r'distortion|coefficients'):
        CameraModel.from_arrays(K.ravel(), D, model)


def test_zero_focal_length_is_rejected():
    bad = K.copy()
    bad[0, 0] = 0.0
    with pytest.raises(InvalidIntrinsics, match='focal'):
        CameraModel.from_arrays(bad.ravel(), [], 'plumb_bob')


def test_rectified_K_uses_P():
    P = np.hstack([intrinsics(700.0, 700.0, 600.0, 350.0), np.zeros((3, 1))])
    cam = CameraModel.from_arrays(K.ravel(), LENSES['plumb_bob'], 'plumb_bob', P.ravel())
    np.testing.assert_array_equal(cam.rectified_K(), P[:, :3])
    no_p = CameraModel.from_arrays(K.ravel(), [], 'plumb_bob', np.zeros(12))
    np.testing.assert_array_equal(no_p.rectified_K(), K)
    bad_p = P.copy()
    bad_p[0, 0] = np.nan
    with pytest.raises(InvalidIntrinsics):       # rejected with the CameraInfo, not per frame
        CameraModel.from_arrays(K.ravel(), [], 'plumb_bob', bad_p.ravel())


@pytest.mark.parametrize('model, D', [('plumb_bob', [-1e6, 0, 0, 0, 0]),
                                      ('plumb_bob', [1e6, 0, 0, 0, 0]),
                                      ('equidistant', [-50.0, 0, 0, 0])])
def test_points_the_lens_model_cannot_undo_are_missing(model, D, points):
    """Absurd coefficients: a point whose undistorted position does not distort back onto it
    becomes missing instead of an arbitrary (OpenCV returns the raw point for k1 = -1e6)."""
    seen = project(points, K)                         # pixels well inside the image
    camera = CameraModel.from_arrays(K.ravel(), np.array(D), model)
    out = undistort_points(seen, camera)
    bad = ~np.isfinite(out).all(axis=-1)
    from pose_lifter.core.undistort import _coefficients, distort_points
    back = distort_points(out[~bad].reshape(-1, 2), camera, _coefficients(model, camera.D))
    np.testing.assert_allclose(back, seen[~bad].reshape(-1, 2), atol=1.0)
    if D[0] < 0:
        assert bad.mean() > 0.5


@pytest.mark.parametrize('model', sorted(LENSES))
def test_real_lenses_keep_every_point(model, points):
    D = np.array(LENSES[model])
    out = undistort_points(distort(points, model, D), CameraModel.from_arrays(K.ravel(), D,
                                                                               model))
    assert np.isfinite(out).all()
