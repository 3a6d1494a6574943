"""The live node with ecosystem inputs and its health on /diagnostics (real rclpy, real DDS on
loopback, a private domain): a yolo_ros DetectionArray and a ROS4HRI body set come out as
skeletons_3d with the detector's ids; missing camera_info turns /diagnostics WARN; a failed
configure is ERROR, no input STALE; publishers live from configure to cleanup."""
import time

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('pose_lifter_msgs.msg', reason='pose_lifter_msgs not built')

from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402
from ecosystem_msgs import detection_array, hri_skeleton, openpose18_from_coco17  # noqa: E402
from node_support import send_until, wait_until  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import CameraInfo  # noqa: E402

from pose_lifter.core.camera import project  # noqa: E402
from pose_lifter.core.synth_keypoints import coco17_from_h36m17  # noqa: E402
from pose_lifter.node.convert import camera_info_msg  # noqa: E402

pytestmark = pytest.mark.ros
W, H = 1920, 1080          # camera_info_msg's image size
BUILT = 'is not built (make setup builds it from ../shared/ros-src)'


def level(msg) -> int:
    return msg.status[0].level[0] if isinstance(msg.status[0].level, bytes) else \
        msg.status[0].level


def statuses(probe):
    with probe.lock:
        return [(level(m), m.status[0].message) for m in probe.diagnostics]


def wait_for_status(probe, want_level, timeout_s=15.0):
    found = []

    def seen():
        found[:] = [s for s in statuses(probe) if s[0] == want_level]
        return bool(found)
    wait_until(seen, timeout_s, what=f'/diagnostics level {want_level}')
    return found[0][1]


@pytest.fixture(scope='module')
def coco_px(scene):
    return project(coco17_from_h36m17(scene.joints3d), scene.K)


def camera_info_pub(probe):
    return probe.create_publisher(CameraInfo, 'camera_info', qos_profile_sensor_data)


def test_yolo_ros_detections_come_out_with_the_detector_ids(make_node, probe, scene, coco_px):
    yolo = pytest.importorskip('yolo_msgs.msg', reason=f'yolo_msgs {BUILT}')
    # as a user wires it: keypoints_2d remapped to yolo_ros' tracking output (and a topic the
    # probe's Skeleton2DArray publisher does not hold in this shared DDS participant)
    node = make_node(input_format='yolo_ros',
                     node_kwargs={'cli_args': ['--ros-args', '-r',
                                               'keypoints_2d:=/yolo/tracking']})
    det_pub = probe.create_publisher(yolo.DetectionArray, '/yolo/tracking',
                                     qos_profile_sensor_data)
    info_pub = camera_info_pub(probe)
    wait_until(lambda: det_pub.get_subscription_count() > 0
               and info_pub.get_subscription_count() > 0, what='discovery')
    kp = coco_px[:3]
    out = {}

    def send():
        header = probe.next_header()
        info_pub.publish(camera_info_msg(header, scene.K))
        det_pub.publish(detection_array(
            yolo, header, kp, ids=['17', '23', '99'], missing={(1, 0), (1, 2)},
            classes=[(0, 'person'), (0, 'person'), (2, 'car')]))
        out['header'] = header

    send_until(send, lambda: probe.output_for(out['header']) is not None, what='skeletons_3d')
    result = probe.output_for(out['header'])
    assert [s.id for s in result.skeletons] == ['17', '23']          # the car is not a person
    for k, skel in enumerate(result.skeletons):
        assert skel.status == 'ok' and len(skel.joints) == 17
        joints = np.array([[p.x, p.y, p.z] for p in skel.joints])
        truth = scene.joints3d[k]
        assert abs(joints[0, 2] / truth[0, 2] - 1.0) < 0.25           # root depth, metres
    assert node.stats.skipped == {}
    wait_until(lambda: probe.latest_values().get('input_format') == 'yolo_ros',
               what='input_format in diagnostics')


def test_hri_bodies_come_out_as_one_batch_with_the_body_ids(make_node, probe, scene, coco_px):
    hri = pytest.importorskip('hri_msgs.msg', reason=f'hri_msgs {BUILT}')
    node = make_node(input_format='hri')
    tracked_pub = probe.create_publisher(hri.IdsList, '/humans/bodies/tracked',
                                         qos_profile_sensor_data)
    info_pub = camera_info_pub(probe)
    bodies = ['anna', 'bert', 'cleo']
    body_pubs = {b: probe.create_publisher(hri.Skeleton2D, f'/humans/bodies/{b}/skeleton2d',
                                           qos_profile_sensor_data) for b in bodies}
    wait_until(lambda: tracked_pub.get_subscription_count() > 0
               and info_pub.get_subscription_count() > 0, what='discovery')
    op, op_conf = openpose18_from_coco17(coco_px[:3])

    def track():
        tracked_pub.publish(hri.IdsList(header=probe.next_header(), ids=bodies))
    # the node subscribes each tracked body's topic
    send_until(track, lambda: all(p.get_subscription_count() > 0 for p in body_pubs.values()),
               what='per-body subscriptions')
    out = {}

    def send():
        header = probe.next_header()
        tracked_pub.publish(hri.IdsList(header=header, ids=bodies))
        info_pub.publish(camera_info_msg(header, scene.K))
        for i in (2, 0, 1):                                          # any order
            body_pubs[bodies[i]].publish(hri_skeleton(hri, header, op[i], op_conf[i], W, H))
        out['header'] = header

    def complete():         # best-effort input may lose a body: then a partial batch comes
        with probe.lock:
            return next((m for m in probe.skeletons if m.header.stamp == out['header'].stamp
                         and len(m.skeletons) == len(bodies)), None)
    send_until(send, lambda: complete() is not None, what='skeletons_3d of all bodies')
    result = complete()
    assert sorted(s.id for s in result.skeletons) == bodies          # one message, all bodies
    for skel in result.skeletons:
        k = bodies.index(skel.id)
        assert skel.status == 'ok' and len(skel.joints) == 17
        joints = np.array([[p.x, p.y, p.z] for p in skel.joints])
        assert abs(joints[0, 2] / scene.joints3d[k][0, 2] - 1.0) < 0.25
    # a body that leaves is unsubscribed; nobody tracked gives an empty output
    send_until(lambda: tracked_pub.publish(hri.IdsList(header=probe.next_header(),
                                                       ids=bodies[:2])),
               lambda: body_pubs['cleo'].get_subscription_count() == 0, what='unsubscribe')
    empty = {}

    def nobody():
        empty['header'] = probe.next_header()
        tracked_pub.publish(hri.IdsList(header=empty['header'], ids=[]))
    send_until(nobody, lambda: probe.output_for(empty['header']) is not None, what='empty')
    assert probe.output_for(empty['header']).skeletons == []
    assert node.stats.skipped == {}


def test_hri_needs_camera_info(make_node, probe):
    pytest.importorskip('hri_msgs.msg', reason=f'hri_msgs {BUILT}')
    node = make_node(autostart=False, input_format='hri', use_camera_info=False)
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    message = wait_for_status(probe, DiagnosticStatus.ERROR[0])
    assert 'configure failed' in message and 'use_camera_info' in message


def test_missing_camera_info_turns_diagnostics_warn_within_2_s(make_node, probe, scene):
    """Keypoints flow, camera_info never comes: WARN naming the reason within 2 s of the first
    keypoints (default diagnostics period 1 s: a change of level is published at once)."""
    make_node(diagnostics_period_s=1.0)
    wait_until(lambda: probe.kp_pub.get_subscription_count() > 0, what='discovery')
    start = time.monotonic()
    deadline = start + 2.0
    warn = None
    while time.monotonic() < deadline and warn is None:
        probe.send(scene.pixels[:1], None)                            # keypoints only
        time.sleep(1 / 30)
        warn = next((m for lv, m in statuses(probe) if lv == DiagnosticStatus.WARN[0]), None)
    elapsed = time.monotonic() - start
    assert warn is not None, f'no WARN within 2 s: {statuses(probe)}'
    assert 'without a matching camera_info' in warn and 'no camera_info received' in warn
    print(f'WARN after {elapsed:.2f} s: {warn}')


def test_camera_info_stamped_away_warns_with_the_gap(make_node, probe, scene):
    make_node(sync_slop_s=0.05)
    wait_until(probe.connected, what='discovery')

    def send():
        header = probe.next_header(dt=0.5)
        probe.info_pub.publish(camera_info_msg(probe.header_at(probe.last_t + 0.2), scene.K))
        probe.kp_pub.publish(_frame(header, scene))
    send_until(send, lambda: any(lv == DiagnosticStatus.WARN[0] for lv, _ in statuses(probe)),
               what='WARN', resend_s=0.2)
    warn = next(m for lv, m in statuses(probe) if lv == DiagnosticStatus.WARN[0])
    assert 'nearest camera_info stamp is 0.200 s from the keypoints stamp' in warn


def _frame(header, scene):
    from pose_lifter.node.convert import frame_to_msg
    return frame_to_msg(header, scene.pixels[:1])


def test_no_input_goes_stale_and_recovers(make_node, probe, scene):
    make_node(stale_after_s=0.5)
    message = wait_for_status(probe, DiagnosticStatus.STALE[0])
    assert 'no keypoints since activation' in message
    wait_until(probe.connected, what='discovery')
    probe.clear()
    from ros_probe import lift_once
    lift_once(probe, scene.pixels[:1], scene.K)
    wait_for_status(probe, DiagnosticStatus.OK[0])


def test_failed_configure_is_error_on_diagnostics(make_node, probe, tmp_path):
    bad = tmp_path / 'missing.onnx'
    node = make_node(autostart=False, model=str(bad))
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    message = wait_for_status(probe, DiagnosticStatus.ERROR[0])
    assert message.startswith('configure failed: cannot use model') and 'missing.onnx' in message


def test_publishers_live_from_configure_to_cleanup(make_node, probe, scene):
    node = make_node(autostart=False)
    assert probe.subs[0].get_publisher_count() == 0
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    # configured (inactive): the topics exist and diagnostics flow, nothing is lifted
    wait_until(lambda: probe.subs[0].get_publisher_count() > 0
               and probe.subs[1].get_publisher_count() > 0, what='publishers at configure')
    assert 'inactive' in wait_for_status(probe, DiagnosticStatus.OK[0])
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    wait_until(probe.connected, what='discovery')
    from ros_probe import lift_once
    lift_once(probe, scene.pixels[:1], scene.K)
    assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    wait_until(lambda: probe.kp_pub.get_subscription_count() == 0, what='unsubscribe')
    assert probe.subs[0].get_publisher_count() > 0                   # topics do not vanish
    assert probe.subs[1].get_publisher_count() > 0
    n = len(probe.skeletons)
    probe.send(scene.pixels[:1], scene.K)
    assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    wait_until(lambda: probe.subs[0].get_publisher_count() == 0
               and probe.subs[1].get_publisher_count() == 0, what='publishers gone at cleanup')
    assert len(probe.skeletons) == n
