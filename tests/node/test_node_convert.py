"""Message <-> array conversions, without DDS (rclpy.serialization needs no rclpy.init)."""
import math

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('pose_lifter_msgs.msg', reason='pose_lifter_msgs not built')

from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from pose_lifter.core.camera import InvalidIntrinsics, intrinsics  # noqa: E402
from pose_lifter.core.diagnostics import WARN, Report  # noqa: E402
from pose_lifter.core.markers import MarkerRegistry, MarkerStyle, skeleton_markers  # noqa: E402
from pose_lifter.core.pipeline import LiftResult  # noqa: E402
from pose_lifter.node import convert  # noqa: E402

K = intrinsics(1000.0, 1000.0, 960.0, 540.0)


def round_trip(msg):
    return deserialize_message(serialize_message(msg), type(msg))


def header(frame='camera_optical_frame'):
    h = Header(frame_id=frame)
    h.stamp.sec, h.stamp.nanosec = 5, 250
    return h


def test_skeleton2d_round_trip():
    rng = np.random.default_rng(0)
    kp = rng.uniform(0, 1000, (3, 17, 2))
    conf = rng.uniform(0.1, 1, (3, 17))
    msg = round_trip(convert.frame_to_msg(header(), kp, conf, ['a', 'b', '']))
    frame = convert.frame_from_msg(msg, max_persons=10)
    np.testing.assert_allclose(frame.keypoints, kp.astype(np.float32))
    np.testing.assert_allclose(frame.confidence, conf.astype(np.float32))
    assert frame.ids == ['a', 'b', ''] and frame.joint_format == 'h36m17'
    assert frame.truncated == 0 and frame.non_finite == 0


def test_coco_and_missing_confidence():
    msg = convert.frame_to_msg(header(), np.zeros((1, 17, 2)), joint_format='coco17')
    msg.skeletons[0].confidence = []
    frame = convert.frame_from_msg(msg, 4)
    assert frame.keypoints.shape == (1, 17, 2) and (frame.confidence == 1).all()


@pytest.mark.parametrize('field, length', [('x', 16), ('y', 18), ('confidence', 3)])
def test_mismatched_lengths_are_bad_input(field, length):
    msg = convert.frame_to_msg(header(), np.zeros((2, 17, 2)))
    setattr(msg.skeletons[1], field, [1.0] * length)
    with pytest.raises(convert.BadInput, match='person 1') as err:
        convert.frame_from_msg(msg, 4)
    assert err.value.reason == 'bad_lengths'


def test_unknown_joint_format_is_bad_input():
    msg = convert.frame_to_msg(header(), np.zeros((1, 17, 2)), joint_format='mpii16')
    with pytest.raises(convert.BadInput) as err:
        convert.frame_from_msg(msg, 4)
    assert err.value.reason == 'unknown_joint_format' and 'coco17' in str(err.value)


def test_non_finite_counted_and_person_cap_keeps_most_confident():
    kp = np.zeros((5, 17, 2))
    kp[1, 3] = np.nan
    conf = np.full((5, 17), 0.5)
    conf[2], conf[4] = 0.9, 0.8
    conf[3, 0] = np.nan
    frame = convert.frame_from_msg(convert.frame_to_msg(header(), kp, conf,
                                                        list('abcde')), max_persons=2)
    assert frame.ids == ['c', 'e'] and frame.truncated == 3 and frame.non_finite == 2
    assert list(convert.select_persons(conf, 10)) == [0, 1, 2, 3, 4]


def test_camera_info():
    info = round_trip(convert.camera_info_msg(header(), K, [0.1, 0, 0, 0, 0]))
    cam = convert.camera_from_msg(info)
    np.testing.assert_array_equal(cam.K, K)
    assert cam.distorted and cam.distortion_model == 'plumb_bob'
    info.k = [0.0] * 9
    with pytest.raises(InvalidIntrinsics):
        convert.camera_from_msg(info)


def test_output_header_strips_leading_slash():
    out = convert.output_header(header('/cam/optical'))
    assert out.frame_id == 'cam/optical' and out.stamp == header().stamp


def test_result_to_msg():
    joints = np.arange(2 * 17 * 3, dtype=float).reshape(2, 17, 3)
    joints[1] = np.nan
    result = LiftResult(joints, np.array([0.75, np.nan]), np.array([True, False]),
                        np.array(['ok', 'too_few_joints'], dtype=object), np.array([17, 3]),
                        uncertainty=np.full((2, 17), 0.01))
    msg = round_trip(convert.result_to_msg(header(), ['t1', ''], result))
    assert msg.joint_format == 'h36m17' and msg.header.frame_id == 'camera_optical_frame'
    ok, missing = msg.skeletons
    assert (ok.id, ok.status, ok.plausible, ok.realism) == ('t1', 'ok', True, 0.75)
    np.testing.assert_array_equal([[p.x, p.y, p.z] for p in ok.joints], joints[0])
    assert len(ok.joint_uncertainty) == 17
    assert missing.status == 'too_few_joints' and not missing.plausible
    assert len(missing.joints) == 0 and len(missing.joint_uncertainty) == 0
    assert math.isnan(missing.realism)
    assert list(ok.root_covariance) == [0.0] * 9 and list(ok.inferred_joints) == []
    result.uncertainty = None
    assert len(convert.result_to_msg(header(), ['t1', ''], result).skeletons[0]
               .joint_uncertainty) == 0
    cov = np.zeros((2, 3, 3))
    cov[0] = np.diag([0.01, 0.02, 0.5])
    result.root_covariance = cov
    result.inferred = np.zeros((2, 17), bool)
    result.inferred[0, [2, 3]] = True
    ok = round_trip(convert.result_to_msg(header(), ['t1', ''], result)).skeletons[0]
    np.testing.assert_allclose(list(ok.root_covariance), cov[0].ravel())
    assert list(ok.inferred_joints) == ['r_knee', 'r_ankle']


def test_markers_to_msg():
    reg = MarkerRegistry()
    style = MarkerStyle(lifetime_s=1.25)
    joints = np.random.default_rng(1).normal(0, 0.3, (2, 17, 3)) + [0, 0, 5]
    skeleton_markers(joints, np.ones(2, bool), ['a', 'b'], reg, style)
    geometry = skeleton_markers(joints[:1], np.zeros(1, bool), ['a'], reg, style)
    msg = round_trip(convert.markers_to_msg(header(), geometry))
    kinds = [(m.ns, m.type if m.action == Marker.ADD else None, m.action) for m in msg.markers]
    assert kinds == [('bones', Marker.LINE_LIST, Marker.ADD),
                     ('joints', Marker.SPHERE_LIST, Marker.ADD),
                     ('bones', None, Marker.DELETE), ('joints', None, Marker.DELETE)]
    line, sphere = msg.markers[:2]
    assert line.header.frame_id == 'camera_optical_frame'
    assert len(line.points) == 32 and len(sphere.points) == 17
    assert line.scale.x == pytest.approx(0.03) and sphere.scale.z == pytest.approx(0.06)
    assert (line.lifetime.sec, line.lifetime.nanosec) == (1, 250_000_000)
    assert line.pose.orientation.w == 1.0
    for c in (line.color, sphere.color):
        assert all(0.0 <= v <= 1.0 for v in (c.r, c.g, c.b, c.a)) and c.a > 0
    assert msg.markers[2].id == msg.markers[3].id != line.id


def test_diagnostics_to_msg():
    report = Report(WARN, '2 inputs skipped', {'rate_hz': '30.00', 'skipped_bad_lengths': '2'})
    msg = round_trip(convert.diagnostics_to_msg(header().stamp, 'pose_lifter: lifting',
                                                'onnxruntime (cpu, fp32)', report))
    (status,) = msg.status
    assert status.level == bytes([WARN]) and status.message == '2 inputs skipped'
    assert {kv.key: kv.value for kv in status.values}['skipped_bad_lengths'] == '2'


def test_marker_colours_per_joint_reach_the_message():
    joints = np.zeros((1, 17, 3)) + [0, 0, 5]
    geometry = skeleton_markers(joints, np.ones(1, bool), ['a'], MarkerRegistry(),
                                MarkerStyle(uncertainty=True), radii=np.full((1, 17), 0.4),
                                inferred=np.zeros((1, 17), bool))
    msg = round_trip(convert.markers_to_msg(header(), geometry))
    bones, joints_msg = msg.markers
    assert len(bones.colors) == 0 and len(joints_msg.colors) == 17
    assert joints_msg.colors[0].a == pytest.approx(0.25)


def test_marker_messages_reused_across_frames_match_fresh_ones():
    """The node's MarkerMessages refills last frame's messages: every frame must reach a
    subscriber as freshly built ones do, whatever changed (colour, gate, per-joint colours,
    style, persons gone and back). Compared after a round trip: CDR padding bytes are not
    zeroed by the serialiser, so equal messages need not give equal bytes."""
    rng = np.random.default_rng(3)
    reg, reused = MarkerRegistry(), convert.MarkerMessages()
    frames = [  # (persons' track ids, plausible, style with or without per-joint colours)
        (['a', 'b'], [True, True], MarkerStyle(uncertainty=True)),
        (['a', 'b'], [False, True], MarkerStyle(lifetime_s=2.5)),
        (['b'], [True], MarkerStyle()),                 # a gone: DELETE forgets it
        (['a', 'b', ''], [True, False, True], MarkerStyle(uncertainty=True, gate_mode='off')),
    ]
    for ids, plausible, style in frames:
        n = len(ids)
        joints = rng.normal(0, 0.3, (n, 17, 3)) + [0, 0, 5]
        geometry = skeleton_markers(joints, np.array(plausible), ids, reg, style,
                                    radii=rng.uniform(0.05, 0.5, (n, 17)),
                                    inferred=rng.random((n, 17)) < 0.2)
        got = reused(header(), geometry)
        fresh = round_trip(convert.markers_to_msg(header(), geometry))
        assert round_trip(got) == fresh
        assert len(fresh.markers) == 2 * n + 2 * (n == 1)     # frame 3 deletes a's two
    assert {key[1] for key in reused._drawn} == {m.id for m in got.markers}
    reused.clear()
    assert not reused._drawn
