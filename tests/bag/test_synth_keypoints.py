"""COCO-17 keypoints synthesised from H36M-17 3D (core/synth_keypoints.py), no ROS."""
from __future__ import annotations

import numpy as np
import pytest

from pose_lifter.core.adapters import COCO17_NAMES, to_h36m17
from pose_lifter.core.camera import project
from pose_lifter.core.cameras import eval_views
from pose_lifter.core.poses import load_pose_file
from pose_lifter.core.skeleton import H36M17
from pose_lifter.core.synth_keypoints import coco17_from_h36m17, from_h36m17, head_frame


@pytest.fixture(scope='module')
def poses(demo_poses) -> np.ndarray:
    """(F, 17, 3) mm, every 20th demo frame."""
    return load_pose_file(demo_poses).joints[::20].astype(np.float64)


def test_body_joints_are_copied_and_face_points_sit_on_the_head(poses):
    coco = coco17_from_h36m17(poses)
    assert coco.shape == (len(poses), 17, 3)
    for c, name in enumerate(COCO17_NAMES):
        source = 'neck_nose' if name == 'nose' else name
        if source in H36M17.joint_names:
            np.testing.assert_array_equal(coco[:, c], poses[:, H36M17.index(source)])
    up, forward, left, size = head_frame(poses)
    nose = poses[:, H36M17.index('neck_nose')]
    n = COCO17_NAMES.index
    for side, sign in (('l', 1), ('r', -1)):
        eye, ear = coco[:, n(f'{side}_eye')] - nose, coco[:, n(f'{side}_ear')] - nose
        assert ((eye * up).sum(-1) > 0).all()              # eyes above the nose
        assert (sign * (ear * left).sum(-1) > 0).all()     # ears on their own side
        assert ((ear * forward).sum(-1) < 0).all()         # ears behind the nose
    width = np.linalg.norm(coco[:, n('l_ear')] - coco[:, n('r_ear')], axis=-1)
    assert 100 < np.median(width) < 200                    # mm: a human head
    np.testing.assert_allclose(width, size, rtol=1e-9)     # 2 * 0.5 s


def test_the_face_faces_where_the_body_faces(poses):
    _, forward, _, _ = head_frame(poses)
    j = H36M17.index
    nose_ahead = ((poses[:, j('neck_nose')] - poses[:, j('thorax')]) * forward).sum(-1)
    assert (nose_ahead > 0).mean() > 0.9


def test_coco_adapter_round_trip_error_is_small_and_measured(poses):
    cam3d, pixels, K = eval_views(poses)
    coco_px = project(coco17_from_h36m17(cam3d), K)
    adapted, conf = to_h36m17(coco_px, None, 'coco17')
    assert (conf > 0).all()
    err = np.linalg.norm(adapted - pixels, axis=-1).mean(0)    # (17,) px
    direct = [H36M17.index(n) for n in H36M17.joint_names
              if n in COCO17_NAMES or n == 'neck_nose']
    assert err[direct].max() < 1e-6
    # Derived joints carry the approximation (the adapter's own cost): bounded, not zero.
    assert err[H36M17.index('head')] < 40.0


def test_unknown_format_is_refused(poses):
    np.testing.assert_array_equal(from_h36m17(poses, 'h36m17'), poses)
    with pytest.raises(ValueError, match='body25'):
        from_h36m17(poses, 'body25')
    with pytest.raises(ValueError, match='shape'):
        coco17_from_h36m17(poses[:, :16])
