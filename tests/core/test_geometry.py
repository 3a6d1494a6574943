"""Skeleton tables, adapters, pinhole camera, normalisation and metric placement."""
import numpy as np
import pytest
from model_factory import walking_poses

from pose_lifter.core import adapters, camera, normalization, placement, skeleton
from pose_lifter.core.skeleton import H36M17


def test_skeleton_tables_are_consistent():
    assert H36M17.num_joints == 17 and H36M17.root == 0
    assert len(H36M17.bones) == 16
    perm = H36M17.flip_permutation
    assert (perm[perm] == np.arange(17)).all()
    assert H36M17.joint_names[perm[H36M17.index('l_wrist')]] == 'r_wrist'
    assert perm[H36M17.index('head')] == H36M17.index('head')


def test_flip_is_a_reflection_with_swapped_labels():
    cam3d, _, _ = walking_poses(4)
    flipped = skeleton.flip_left_right(cam3d)
    assert np.allclose(skeleton.flip_left_right(flipped), cam3d)
    np.testing.assert_allclose(skeleton.bone_lengths(flipped).sum(-1),
                               skeleton.bone_lengths(cam3d).sum(-1))


def test_intrinsics_validation():
    with pytest.raises(camera.InvalidIntrinsics, match='focal'):
        camera.validate_intrinsics(camera.intrinsics(0.0, 500, 320, 240))
    with pytest.raises(camera.InvalidIntrinsics, match='shape'):
        camera.validate_intrinsics(np.eye(2))
    with pytest.raises(camera.InvalidIntrinsics, match='non-finite'):
        camera.validate_intrinsics(np.full((3, 3), np.nan))


@pytest.mark.parametrize('n', [None, 1, camera.SMALL_K // 9, camera.SMALL_K // 9 + 1])
def test_intrinsics_validation_small_and_large_batches(n):
    """The plain-float check of a frame's K and numpy's check of a large batch agree."""
    good = camera.intrinsics(500.0, 520.0, 320.0, 240.0)
    batch = (lambda k: k) if n is None else (lambda k: np.repeat(k[None], n, axis=0))
    np.testing.assert_array_equal(camera.validate_intrinsics(batch(good)), batch(good))
    huge = camera.intrinsics(1e308, 1e308, 1e308, 0.0)   # finite entries, an infinite sum
    np.testing.assert_array_equal(camera.validate_intrinsics(batch(huge)), batch(huge))
    for entry, value, match in (((0, 2), np.inf, 'non-finite'), ((1, 2), np.nan, 'non-finite'),
                                ((0, 0), -500.0, 'focal'), ((1, 1), 0.0, 'focal')):
        bad = good.copy()
        bad[entry] = value
        bad_batch = batch(good).copy()
        bad_batch[(..., *entry)] = value if n is None else \
            np.where(np.arange(n) == n - 1, value, bad_batch[(..., *entry)])
        for k in (batch(bad), bad_batch):
            with pytest.raises(camera.InvalidIntrinsics, match=match):
                camera.validate_intrinsics(k)


def test_pixels_to_normalized_one_camera_and_one_per_person():
    """The shared-camera path (K (3, 3) or (1, 3, 3), no skew) is the general per-person one."""
    rng = np.random.default_rng(4)
    px = rng.uniform(0, 1000, (3, 17, 2))
    K = camera.intrinsics(800.0, 780.0, 500.0, 400.0)
    general = camera.pixels_to_normalized(px, np.repeat(K[None], 3, axis=0))
    np.testing.assert_allclose(camera.pixels_to_normalized(px, K), general, rtol=1e-15)
    np.testing.assert_allclose(camera.pixels_to_normalized(px[:1], K[None]), general[:1],
                               rtol=1e-15)
    skewed = K.copy()
    skewed[0, 1] = 3.0
    y = (px[..., 1] - 400.0) / 780.0
    np.testing.assert_allclose(camera.pixels_to_normalized(px, skewed)[..., 0],
                               (px[..., 0] - 500.0 - 3.0 * y) / 800.0, rtol=1e-14)


def test_project_and_unproject_round_trip():
    cam3d, px, K = walking_poses(8)
    np.testing.assert_allclose(camera.project(cam3d, K), px)
    norm = camera.pixels_to_normalized(px, K)
    np.testing.assert_allclose(norm, cam3d[..., :2] / cam3d[..., 2:], atol=1e-12)


def test_rotation_to_optical_axis_centres_the_ray():
    rays = np.array([[0.3, -0.2, 1.0], [0.0, 0.0, 1.0], [-2.0, 0.5, 1.0]])
    R = camera.rotation_to_optical_axis(rays)
    out = np.einsum('nij,nj->ni', R, rays / np.linalg.norm(rays, axis=1, keepdims=True))
    np.testing.assert_allclose(out, [[0, 0, 1]] * 3, atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0)


def test_rotation_to_image_point_is_the_general_rotation_of_its_ray():
    """The per-frame form (rays (x, y, 1)) equals the general one, also far off-axis."""
    xy = np.array([[0.0, 0.0], [0.3, -0.2], [-2.0, 0.5], [40.0, -25.0], [1e-9, 3.0]])
    # frames up to SMALL_BATCH persons take the plain-float path, larger batches numpy's
    for reps in (1, camera.SMALL_BATCH // len(xy) + 1):
        many = np.tile(xy, (reps, 1))
        rays = np.concatenate([many, np.ones((len(many), 1))], axis=1)
        np.testing.assert_allclose(camera.rotation_to_image_point(many),
                                   camera.rotation_to_optical_axis(rays), atol=1e-15)


def test_finite_points_is_every_coordinate_finite():
    pts = np.zeros((3, 4, 2))
    pts[0, 1, 0], pts[1, 2, 1], pts[2, 3] = np.nan, np.inf, -np.inf
    np.testing.assert_array_equal(camera.finite_points(pts), np.isfinite(pts).all(axis=-1))
    pts3 = np.ones((2, 3))
    pts3[1, 2] = np.nan
    np.testing.assert_array_equal(camera.finite_points(pts3), [True, False])


def test_bone_lengths_follow_the_parent_table():
    pts = np.random.default_rng(0).normal(size=(5, H36M17.num_joints, 3))
    naive = np.stack([np.linalg.norm(pts[:, c] - pts[:, p], axis=-1)
                      for c, p in enumerate(H36M17.parents) if p >= 0], axis=-1)
    np.testing.assert_allclose(skeleton.bone_lengths(pts), naive, atol=1e-15)
    odd = skeleton.Skeleton('odd', ('a', 'root', 'b'), (1, -1, 1))    # children 0 and 2
    line = np.array([[[0.0, 0.0], [1.0, 0.0], [1.0, 3.0]]])
    np.testing.assert_allclose(skeleton.bone_lengths(line, odd), [[1.0, 3.0]])
    for sk in (H36M17, odd):       # the cheap index selects the non-root joints
        np.testing.assert_array_equal(np.arange(sk.num_joints)[sk.non_root_index], sk.non_root)


def test_normalisation_is_invariant_to_image_position_and_distance():
    """The same pose seen centred or at the edge, near or far, normalises alike."""
    cam3d, _, _ = walking_poses(1)
    pose = cam3d[0] - cam3d[0, 0]
    centred = pose + [0.0, 0.0, 6.0]
    # Move the person to the image edge by rotating the whole scene about the camera.
    R = camera.rotation_to_optical_axis(np.array([[1.2, 0.4, 1.0]]))[0]
    edge = centred @ R          # R^T applied: the root now lies on the ray (1.2, 0.4, 1)
    a, _ = normalization.normalise_camera_points(centred[None])
    b, _ = normalization.normalise_camera_points(edge[None])
    np.testing.assert_allclose(a.inputs, b.inputs, atol=1e-6)
    c, _ = normalization.normalise_camera_points((pose * 0.5 + [0, 0, 3.0])[None])
    np.testing.assert_allclose(a.inputs, c.inputs, atol=1e-6)   # same view, half size & dist


def test_normalisation_scale_chain_and_missing_joints():
    cam3d = walking_poses(5)[0][:5]
    norm, _ = normalization.normalise_camera_points(cam3d)
    x = np.concatenate([np.zeros((5, 1, 2)), norm.inputs], axis=1)
    assert np.allclose(skeleton.chain_length(x), 1 / 10.0, atol=1e-6)
    pts = cam3d[..., :2] / cam3d[..., 2:]
    pts[0, H36M17.index('head')] = np.nan       # breaks the scale chain
    pts[1, H36M17.index('l_wrist')] = np.nan    # a limb joint: fine, becomes 0
    out = normalization.normalise(pts)
    assert out.ok.tolist() == [False, True, True, True, True]
    assert (out.inputs[0] == 0).all()
    assert (out.inputs[1, H36M17.index('l_wrist') - 1] == 0).all()


def test_oracle_placement_recovers_camera_frame_pose():
    cam3d, _, _ = walking_poses(16)
    norm, rel_virtual = normalization.normalise_camera_points(cam3d)
    truth_bones = skeleton.bone_lengths(cam3d).sum(-1)
    # Feed the true shape in arbitrary units: placement must restore metres and position.
    joints, k = placement.place(rel_virtual * 3.0, norm.virtual, norm.rotation, norm.scale,
                                10.0, float(truth_bones.mean()))
    root_err = np.linalg.norm(joints[:, 0] - cam3d[:, 0], axis=-1) / cam3d[:, 0, 2]
    assert root_err.max() < 0.03          # within 3 % of the distance
    rel = (joints - joints[:, :1]) - (cam3d - cam3d[:, :1])
    assert np.abs(rel).max() < 0.03       # shape within 3 cm (bone-sum prior vs truth)


def test_coco_adapter_derives_h36m_joints():
    names = adapters.COCO17_NAMES
    kp = np.zeros((1, 17, 2))
    pos = {'l_hip': (110, 200), 'r_hip': (90, 200), 'l_shoulder': (115, 100),
           'r_shoulder': (85, 100), 'nose': (100, 80), 'l_ear': (106, 78), 'r_ear': (94, 78),
           'l_eye': (103, 77), 'r_eye': (97, 77)}
    for name, xy in pos.items():
        kp[0, names.index(name)] = xy
    conf = np.ones((1, 17))
    conf[0, names.index('l_hip')] = 0.4
    out, oc = adapters.to_h36m17(kp, conf, 'coco17')
    h = H36M17.index
    np.testing.assert_allclose(out[0, h('pelvis')], [100, 200])
    np.testing.assert_allclose(out[0, h('thorax')], [100, 100])
    np.testing.assert_allclose(out[0, h('spine')], [100, 200 - 0.48 * 100])
    assert out[0, h('head'), 1] < out[0, h('neck_nose'), 1] + 5   # above the face
    assert oc[0, h('pelvis')] == pytest.approx(0.4)                 # min of its sources


def test_body25_adapter_and_missing_sources():
    kp = np.random.default_rng(0).uniform(0, 500, (2, 25, 2))
    conf = np.ones((3, 25))
    kp = np.concatenate([kp, kp[1:]])
    conf[1:, adapters.BODY25_NAMES.index('r_hip')] = 0.0
    conf[2, adapters.BODY25_NAMES.index('l_shoulder')] = 0.0
    out, oc = adapters.to_h36m17(kp, conf, 'body25')
    assert np.isfinite(out[0]).all()
    # one hip and both shoulders: the pelvis is estimated from one side, at half confidence
    pelvis = H36M17.index('pelvis')
    assert oc[1, pelvis] == 0.5 and np.isfinite(out[1, pelvis]).all()
    # one hip and one shoulder: nothing to estimate it from
    assert oc[2, H36M17.index('pelvis')] == 0 and np.isnan(out[2, H36M17.index('pelvis')]).all()


@pytest.mark.parametrize('bad', ['openpose18', '', 'H36M17'])
def test_unknown_joint_format(bad):
    with pytest.raises(adapters.UnknownJointFormat, match='known'):
        adapters.to_h36m17(np.zeros((1, 17, 2)), None, bad)


def test_adapter_rejects_wrong_shapes_and_cleans_nan_and_negative_confidence():
    with pytest.raises(ValueError, match=r'\(N, 17, 2\)'):
        adapters.to_h36m17(np.zeros((1, 18, 2)), None, 'coco17')
    kp = np.ones((1, 17, 2))
    kp[0, 3] = np.inf
    conf = np.full((1, 17), 0.9)
    conf[0, 4], conf[0, 5] = -1.0, np.nan
    out, oc = adapters.to_h36m17(kp, conf, 'h36m17')
    assert (oc[0, 3:6] == 0).all() and np.isnan(out[0, 3:6]).all()
    assert (oc[0, :3] == 0.9).all()


def test_anchoring_keeps_depths_and_reprojects_exactly():
    cam3d, _, _ = walking_poses(8)
    norm, rel_virtual = normalization.normalise_camera_points(cam3d)
    noisy = rel_virtual + np.random.default_rng(0).normal(0, 0.03, rel_virtual.shape)
    noisy[:, 0] = 0
    bones = float(skeleton.bone_lengths(cam3d).sum(-1).mean())
    raw, _ = placement.place(noisy, norm.virtual, norm.rotation, norm.scale, 10.0, bones)
    anchored, _ = placement.place(noisy, norm.virtual, norm.rotation, norm.scale, 10.0, bones,
                                  anchor=True)
    observed = cam3d[..., :2] / cam3d[..., 2:]
    np.testing.assert_allclose(anchored[..., :2] / anchored[..., 2:], observed, atol=1e-9)
    assert np.abs(raw[..., :2] / raw[..., 2:] - observed).max() > 1e-3
    # depths along the virtual optical axis are the network's
    za = (anchored @ np.swapaxes(norm.rotation, -1, -2))[..., 2]
    zr = (raw @ np.swapaxes(norm.rotation, -1, -2))[..., 2]
    np.testing.assert_allclose(za, zr, atol=1e-9)


def test_skeleton_tables_are_shared_and_read_only():
    """The tables are computed once (the pipeline reads them per frame): a caller that
    writes into one gets an error instead of corrupting every later lift."""
    assert H36M17.bones is H36M17.bones
    for table in (H36M17.bones, H36M17.non_root, H36M17.flip_permutation, H36M17.side,
                  H36M17.scale_chain_indices):
        with pytest.raises(ValueError):
            table[0] = 0
