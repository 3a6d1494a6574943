"""Stamp handling of the live node (core/stamps.py): one future-stamped message costs only
itself, a confirmed time jump is followed, and both are counted by reason in /diagnostics."""
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('pose_lifter_msgs.msg', reason='pose_lifter_msgs not built')

from node_support import wait_until  # noqa: E402
from ros_probe import lift_once  # noqa: E402

pytestmark = pytest.mark.ros


def _send_outlier_until_counted(node, probe, scene, offset_s: float, what: str) -> None:
    """Send a frame stamped ``offset_s`` away from the stream, then a valid frame, until the
    node has counted a stamp_jump (best-effort input may lose one; the valid frame in between
    keeps two outliers from ever confirming each other)."""
    kp, K = scene.pixels[:1], scene.K
    before = node.stats.skipped['stamp_jump']
    for _ in range(50):
        probe.send(kp, K, header=probe.header_at(probe.last_t + offset_s))
        lift_once(probe, kp, K)
        if node.stats.skipped['stamp_jump'] > before:
            return
    raise AssertionError(f'the node never counted the {what} stamp')


def test_one_future_stamp_does_not_blank_the_frames_after_it(make_node, probe, scene):
    node = make_node()
    wait_until(probe.connected, what='discovery')
    lift_once(probe, scene.pixels[:1], scene.K)
    # stamps 0.8 s ahead of a stream sent 0.1 s apart: the old rule skipped the next 8 frames
    _send_outlier_until_counted(node, probe, scene, 0.8, 'future')
    served = []
    for _ in range(10):
        header, out = lift_once(probe, scene.pixels[:2], scene.K, timeout_s=3.0)
        served.append(out)
    assert all([s.status for s in out.skeletons] == ['ok', 'ok'] for out in served)
    assert node.stats.skipped['out_of_order'] == 0
    wait_until(lambda: 'skipped_stamp_jump' in probe.latest_values(), what='diagnostics')
    assert int(probe.latest_values()['skipped_stamp_jump']) >= 1


def test_a_confirmed_jump_back_is_followed_and_noted(make_node, probe, scene):
    node = make_node()
    wait_until(probe.connected, what='discovery')
    kp, K = scene.pixels[:1], scene.K
    lift_once(probe, kp, K)
    probe._stamp -= 30.0                     # a bag loop: the stream restarts 30 s earlier
    lift_once(probe, kp, K)                  # the first frame(s) held, then followed
    for _ in range(5):
        lift_once(probe, kp, K, timeout_s=3.0)
    assert node.stats.notes['time_jumped_back'] >= 1
    assert node.stats.skipped['stamp_jump'] >= 1
    assert node.stats.skipped['out_of_order'] == 0
    wait_until(lambda: 'noted_time_jumped_back' in probe.latest_values(), what='diagnostics')
