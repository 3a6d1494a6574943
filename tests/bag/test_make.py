"""``bag make``: what the bag holds, read back with rosbags and with rclpy (no DDS)."""
from __future__ import annotations

import re

import numpy as np
import pytest

from pose_lifter.bag import io
from pose_lifter.bag.make import START_NS, make_bag
from pose_lifter.bag.messages import MOCAP_TO_ROS, quaternion
from pose_lifter.bag.scene import CORRUPT_PREFIX, SceneOptions
from pose_lifter.bag.tables import person_table
from pose_lifter.cli.main import main
from pose_lifter.core.camera import project
from pose_lifter.core.corruptions import KINDS
from pose_lifter.core.undistort import CameraModel, undistort_points


def _by_topic(path) -> dict[str, list]:
    with io.BagReader(path) as reader:
        return {t: list(reader.decoded(t)) for t in reader.topics}


def _arrays(msg) -> tuple[np.ndarray, np.ndarray]:
    """Skeleton2DArray -> (P, J, 2) keypoints, (P, J) confidences."""
    kp = np.array([np.stack([s.x, s.y], -1) for s in msg.skeletons])
    return kp, np.array([s.confidence for s in msg.skeletons])


def _joints3d(msg) -> np.ndarray:
    """Skeleton3DArray -> (P, 17, 3) metres."""
    return np.array([[(p.x, p.y, p.z) for p in s.joints] for s in msg.skeletons])


def test_topics_types_stamps_and_ids(small_bag):
    with io.BagReader(small_bag) as reader:
        assert reader.topics == {io.CLOCK: io.CLOCK_TYPE, io.TF_STATIC: io.TF_MESSAGE,
                                 io.CAMERA_INFO: io.CAMERA_INFO_TYPE,
                                 io.KEYPOINTS: io.SKELETON2D_ARRAY, io.GT: io.SKELETON3D_ARRAY}
        meta = reader.custom[io.META_MAKE]
    msgs = _by_topic(small_bag)
    assert len(msgs[io.KEYPOINTS]) == len(msgs[io.GT]) == len(msgs[io.CAMERA_INFO]) == 24
    assert meta['frames'] == 24 and meta['labels']['gt_status_corrupt'] == 'corrupt:<kind>'
    ids_seen, kinds_seen = set(), set()
    for (t_kp, kp), (t_gt, gt), (t_ci, ci) in zip(msgs[io.KEYPOINTS], msgs[io.GT],
                                                    msgs[io.CAMERA_INFO]):
        stamp = io.stamp_ns(kp.header)
        assert t_kp == t_gt == t_ci == stamp == io.stamp_ns(gt.header) == io.stamp_ns(ci.header)
        assert kp.header.frame_id == gt.header.frame_id == ci.header.frame_id
        assert not kp.header.frame_id.startswith('/')
        assert kp.joint_format == 'coco17' and gt.joint_format == 'h36m17'
        assert [s.id for s in kp.skeletons] == [s.id for s in gt.skeletons]
        assert len({s.id for s in kp.skeletons}) == len(kp.skeletons) == 2
        for s in gt.skeletons:
            # a corrupted person keeps its track id (a confused detector keeps tracking);
            # only the GT status says what it is
            corrupt = s.status.startswith(CORRUPT_PREFIX)
            assert s.status == 'gt' or s.status[len(CORRUPT_PREFIX):] in KINDS
            assert s.plausible is not corrupt
            if corrupt:
                kinds_seen.add(s.status)
        ids_seen |= {s.id for s in kp.skeletons}
    assert kinds_seen and ids_seen and all(re.fullmatch(r'c\d+p\d+', i) for i in ids_seen)
    # Two clips at 10 fps, one after the other, from the fixed start.
    stamps = np.array([t for t, _ in msgs[io.KEYPOINTS]])
    assert stamps[0] == START_NS
    assert np.allclose(np.diff(stamps) / 1e9, 0.1, atol=2e-4)
    clocks = [c.clock.sec * 1_000_000_000 + c.clock.nanosec for _, c in msgs[io.CLOCK]]
    assert clocks == list(stamps)


def test_keypoints_are_the_projection_of_the_ground_truth(clean_bag):
    msgs = _by_topic(clean_bag)
    frames = {m.header.frame_id for _, m in msgs[io.KEYPOINTS]}
    assert frames == {'camera_0_optical_frame', 'camera_1_optical_frame'}
    for (_, kp), (_, gt), (_, ci) in zip(msgs[io.KEYPOINTS], msgs[io.GT], msgs[io.CAMERA_INFO]):
        px, conf = _arrays(kp)
        joints = _joints3d(gt)
        depth = joints[:, 0, 2]
        assert ((depth > 2.5) & (depth < 31.0)).all()        # people 3 to 30 m away
        K = np.asarray(ci.k).reshape(3, 3)
        assert ci.distortion_model == 'plumb_bob' and not np.any(ci.d)
        visible = conf > 0
        np.testing.assert_allclose(px[visible], project(joints, K)[visible], atol=1e-2)


def test_tf_static_places_each_camera_in_a_z_up_world(clean_bag):
    msgs = _by_topic(clean_bag)
    (_, tf), = msgs[io.TF_STATIC]
    assert [t.child_frame_id for t in tf.transforms] == ['camera_0_optical_frame',
                                                          'camera_1_optical_frame']
    for t in tf.transforms:
        assert t.header.frame_id == 'world'
        q = t.transform.rotation
        assert np.isclose(np.linalg.norm([q.x, q.y, q.z, q.w]), 1.0)
    # The first camera (height 1.6 m) stands at z = 1.6 in the REP-103 world.
    assert np.isclose(tf.transforms[0].transform.translation.z, 1.6)
    assert np.isclose(np.linalg.det(MOCAP_TO_ROS), 1.0)
    for angle in (0.3, 2.0, 3.1):
        c, s = np.cos(angle), np.sin(angle)
        R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        x, y, z, w = quaternion(R)
        assert np.allclose([x, y, abs(z), w], [0, 0, abs(np.sin(angle / 2)), np.cos(angle / 2)])


def test_rclpy_reads_the_custom_messages(small_bag):
    serialization = pytest.importorskip('rclpy.serialization')
    msgs = pytest.importorskip('pose_lifter_msgs.msg', reason='pose_lifter_msgs not built')
    with io.BagReader(small_bag) as reader:
        _, _, raw = next(reader.messages([io.KEYPOINTS]))
        ref = next(reader.decoded(io.KEYPOINTS))[1]
    msg = serialization.deserialize_message(raw, msgs.Skeleton2DArray)
    assert msg.joint_format == ref.joint_format
    assert [s.id for s in msg.skeletons] == [s.id for s in ref.skeletons]
    np.testing.assert_array_equal(np.asarray(msg.skeletons[0].x), ref.skeletons[0].x)


def test_distortion_is_undone_by_the_nodes_undistortion(tmp_path, demo_poses):
    coeffs = (-0.2, 0.05, 0.001, -0.001, 0.0)
    make_bag(demo_poses, tmp_path / 'd', SceneOptions(cameras='front', distortion=coeffs),
             fps=10.0, max_frames=5)
    make_bag(demo_poses, tmp_path / 'u', SceneOptions(cameras='front'), fps=10.0, max_frames=5)
    dist, ideal = _by_topic(tmp_path / 'd'), _by_topic(tmp_path / 'u')
    (_, ci), (_, kp), (_, ref) = (dist[io.CAMERA_INFO][0], dist[io.KEYPOINTS][0],
                                  ideal[io.KEYPOINTS][0])
    assert np.allclose(ci.d, coeffs)
    camera = CameraModel.from_arrays(ci.k, ci.d, ci.distortion_model)
    px, conf = _arrays(kp)
    want, _ = _arrays(ref)
    assert not np.allclose(px, want, atol=1.0)
    np.testing.assert_allclose(undistort_points(px, camera)[conf > 0], want[conf > 0], atol=0.05)


def test_cli_make_options_and_errors(tmp_path, demo_poses, capsys):
    out = tmp_path / 'cli'
    assert main(['bag', 'make', str(demo_poses), '--out', str(out), '--cameras', 'front',
                 '--persons', '3', '--fps', '5', '--max-frames', '6', '--subjects', '07']) == 0
    assert '"frames": 6' in capsys.readouterr().out
    with io.BagReader(out) as reader:
        gt = person_table(reader, io.GT)
    assert len(gt) == 18 and len(set(gt.id)) == 3
    assert main(['bag', 'make', str(demo_poses), '--out', str(out)]) == 2
    assert 'exists already' in capsys.readouterr().err
    assert main(['bag', 'make', str(tmp_path / 'none.npz'), '--out', str(tmp_path / 'x')]) == 2
    assert 'pose file not found' in capsys.readouterr().err
    assert main(['bag', 'make', str(demo_poses), '--out', str(tmp_path / 'y'),
                 '--subjects', 'nobody']) == 2
    assert 'no frames left' in capsys.readouterr().err
