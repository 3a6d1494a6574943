"""The operating envelope through the live node: impossible persons next to a normal one get
their own status (never ok), are counted on /diagnostics, and the node keeps serving."""
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('pose_lifter_msgs.msg', reason='pose_lifter_msgs not built')

from node_support import send_until, wait_until  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from ros_probe import lift_once  # noqa: E402

pytestmark = pytest.mark.ros


def _statuses(out) -> list[str]:
    return [s.status for s in out.skeletons]


def test_impossible_persons_get_their_own_status_and_are_counted(make_node, probe, scene):
    node = make_node()
    wait_until(probe.connected, what='discovery')
    kp, K = scene.pixels[:3].copy(), scene.K
    kp[1, :, 0] += 1e7                          # 1e7 px off the 1920 x 1080 image
    kp[2] *= 1e17                               # every coordinate x 1e17
    _, out = lift_once(probe, kp, K, ids=['normal', 'far', 'huge'])
    assert _statuses(out) == ['ok', 'outside_image', 'outside_image']
    assert [s.plausible for s in out.skeletons] == [True, False, False]
    assert len(out.skeletons[0].joints) == 17
    assert all(len(s.joints) == 0 for s in out.skeletons[1:])

    # absurd distortion coefficients: undistorted keypoints put the person ~100 m+ away
    _, out = lift_once(probe, kp[:1], K, D=[1e6, 1e6, 0.0, 0.0, 1e6])
    assert _statuses(out) == ['out_of_range'] and not out.skeletons[0].plausible

    # CameraInfo without width/height: no image check, the placement check still holds
    from pose_lifter.node.convert import camera_info_msg, frame_to_msg

    def send_unsized():
        header = probe.next_header()
        probe.info_pub.publish(camera_info_msg(header, K, width=0, height=0))
        probe.kp_pub.publish(frame_to_msg(header, kp, ids=['normal', 'far', 'huge']))
        return header

    sent = []
    send_until(lambda: sent.append(send_unsized()),
               lambda: any(probe.output_for(h) is not None for h in sent), what='unsized')
    out = next(probe.output_for(h) for h in sent if probe.output_for(h) is not None)
    assert _statuses(out) == ['ok', 'out_of_range', 'out_of_range']

    # a normal frame afterwards is served as before
    _, out = lift_once(probe, scene.pixels[:2], K)
    assert _statuses(out) == ['ok', 'ok']

    def counted():
        v = probe.latest_values()
        return (int(v.get('persons_outside_image', 0)) >= 2
                and int(v.get('persons_out_of_range', 0)) >= 3
                and int(v.get('persons_ok', 0)) >= 4)

    wait_until(counted, what='envelope statuses counted on /diagnostics')
    assert node.lifter.envelope.max_depth_m == node.settings().envelope_max_depth_m


def test_a_10k_character_joint_format_is_counted_and_logged_short(make_node, probe, scene):
    node = make_node(log_throttle_s=0.0)
    details = []
    skip = node._skip

    def spy(reason, detail):                   # record what goes to the log, then log it
        details.append((reason, detail))
        skip(reason, detail)

    node._skip = spy
    wait_until(probe.connected, what='discovery')
    send_until(lambda: probe.send(scene.pixels[:1], scene.K, joint_format='j' * 10_000),
               lambda: any(r == 'unknown_joint_format' for r, _ in details),
               what='unknown_joint_format')
    reason, detail = next(d for d in details if d[0] == 'unknown_joint_format')
    assert 'unknown joint_format' in detail and len(detail) < 200
    _, out = lift_once(probe, scene.pixels[:1], scene.K)
    assert _statuses(out) == ['ok']
    wait_until(lambda: int(probe.latest_values().get('skipped_unknown_joint_format', 0)) >= 1,
               what='skip counted')


def test_envelope_limits_are_parameters(make_node):
    node = make_node(autostart=False, envelope_min_depth_m=200.0)
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    from rclpy.parameter import Parameter

    node.set_parameters([Parameter('envelope_min_depth_m', value=0.5)])
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.lifter.envelope.min_depth_m == 0.5
    bad = node.set_parameters([Parameter('envelope_image_margin', value=-1.0)])[0]
    assert not bad.successful and 'envelope_image_margin' in bad.reason
