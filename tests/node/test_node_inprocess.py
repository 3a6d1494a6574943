"""The lifecycle node in this process: real rclpy, real DDS on loopback, a private domain."""
import cv2
import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('pose_lifter_msgs.msg', reason='pose_lifter_msgs not built')

from node_support import FRAME, send_until, wait_until  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from ros_probe import lift_once  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from pose_lifter.core.camera import project  # noqa: E402
from pose_lifter.core.markers import ANONYMOUS_BASE  # noqa: E402
from pose_lifter.core.skeleton import H36M17, bone_lengths  # noqa: E402

pytestmark = pytest.mark.ros
# pose_lifter_node spins rclpy's EventsExecutor by default: the tests marked with this run
# under both executors.


def as_array(skeleton) -> np.ndarray:
    return np.array([[p.x, p.y, p.z] for p in skeleton.joints])


@pytest.mark.parametrize('ros', ['single_threaded', 'events'], indirect=True)
def test_lifts_known_poses_to_metric_3d_in_the_camera_frame(make_node, probe, scene):
    make_node()
    wait_until(probe.connected, what='discovery')
    n = 4
    header, out = lift_once(probe, scene.pixels[:n], scene.K, ids=['a', 'b', 'c', ''])
    assert out.header.stamp == header.stamp and out.header.frame_id == FRAME
    assert out.joint_format == 'h36m17'
    assert [s.id for s in out.skeletons] == ['a', 'b', 'c', '']
    for k, skel in enumerate(out.skeletons):
        assert skel.status == 'ok' and skel.plausible and np.isfinite(skel.realism)
        assert len(skel.joints) == H36M17.num_joints and len(skel.joint_uncertainty) == 0
        joints = as_array(skel)
        bones = bone_lengths(joints)
        assert 3.0 < bones.sum() < 5.0 and bones.max() < 0.8        # metres, adult human
        truth = scene.joints3d[k]
        assert abs(joints[0, 2] / truth[0, 2] - 1.0) < 0.25          # root depth
        assert (joints[:, 2] > 0).all()                              # in front of the camera
        # the 3D lies on the rays of the 2D it came from
        np.testing.assert_allclose(project(joints[None], scene.K)[0], scene.pixels[k], atol=1.0)
    wait_until(lambda: any(m.markers and m.markers[0].header.stamp == header.stamp
                           for m in probe.markers), what='markers')
    markers = next(m for m in probe.markers if m.markers[0].header.stamp == header.stamp)
    adds = [m for m in markers.markers if m.action == Marker.ADD]
    assert len(adds) == 2 * n
    assert {m.ns for m in adds} == {'bones', 'joints'}
    for m in adds:
        assert m.header.frame_id == FRAME
        assert all(0.0 <= v <= 1.0 for v in (m.color.r, m.color.g, m.color.b, m.color.a))
        assert m.type == (Marker.LINE_LIST if m.ns == 'bones' else Marker.SPHERE_LIST)
    ids = sorted({m.id for m in adds})
    assert len(ids) == n and ids[-1] == ANONYMOUS_BASE
    # the same tracks keep their marker ids in the next frame
    _, _ = lift_once(probe, scene.pixels[:n], scene.K, ids=['a', 'b', 'c', ''])
    wait_until(lambda: len(probe.markers) >= 2, what='second markers')
    assert sorted({m.id for m in probe.markers[-1].markers}) == ids


def test_distorted_camera_is_undistorted(make_node, probe, scene):
    make_node()
    wait_until(probe.connected, what='discovery')
    _, plain = lift_once(probe, scene.pixels[:2], scene.K)
    D = np.array([-0.25, 0.08, 0.001, -0.001, -0.01])
    pts = scene.joints3d[:2].reshape(-1, 1, 3)
    seen, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), scene.K, D)
    _, lifted = lift_once(probe, seen.reshape(2, 17, 2), scene.K, D=D)
    for a, b in zip(plain.skeletons, lifted.skeletons):
        np.testing.assert_allclose(as_array(a), as_array(b), atol=1e-3)


def test_gate_modes_and_threshold(make_node, probe, scene, tiny_model):
    from pose_lifter.core.backends import create_backend
    from pose_lifter.core.pipeline import Lifter

    odd = scene.pixels[:1].copy()
    centre = odd[0].mean(axis=0)
    odd[0, 13] = centre + 8.0 * (odd[0, 13] - centre)        # an arm far too long
    inputs = np.concatenate([scene.pixels[:1], odd])
    realism = Lifter(create_backend(tiny_model, 'onnxruntime')).lift(inputs, scene.K).realism
    assert realism[1] < realism[0]
    node = make_node(use_model_threshold=False, realism_threshold=float(realism.mean()),
                     gate_mode='grey')
    wait_until(probe.connected, what='discovery')
    _, out = lift_once(probe, inputs, scene.K, ids=['real', 'odd'])
    real, bad = out.skeletons
    assert (real.status, real.plausible) == ('ok', True)
    assert (bad.status, bad.plausible) == ('implausible', False)
    assert len(bad.joints) == 17                                 # flagged, still published
    wait_until(lambda: probe.markers, what='markers')
    greyed = [m for m in probe.markers[-1].markers if m.action == Marker.ADD]
    assert len(greyed) == 4
    grey = [m.color for m in greyed if m.color.r == m.color.g == m.color.b]
    assert len(grey) == 2 and all(c.a < 1.0 for c in grey)

    assert node.set_parameters([Parameter('gate_mode', value='drop')])[0].successful
    probe.clear()
    lift_once(probe, inputs, scene.K, ids=['real', 'odd'])
    wait_until(lambda: probe.markers, what='markers')
    msg = probe.markers[-1]
    assert {m.id for m in msg.markers if m.action == Marker.ADD} != set()
    dropped = [m for m in msg.markers if m.action == Marker.DELETE]
    assert len(dropped) == 2                                      # the odd track's markers


def test_survives_malformed_input_and_counts_it(make_node, probe, scene):
    node = make_node(max_persons=5)
    wait_until(probe.connected, what='discovery')
    lift_once(probe, scene.pixels[:1], scene.K)
    served_t = probe.last_t                  # newest stamp the node has processed
    kp, K = scene.pixels[:2], scene.K

    def skipped(reason):
        return node.stats.skipped[reason]

    def bad_lengths():
        from pose_lifter.node.convert import frame_to_msg
        msg = frame_to_msg(probe.next_header(), kp)
        msg.skeletons[1].y = msg.skeletons[1].y[:10]
        return msg

    zero_f = K.copy()
    zero_f[0, 0] = 0.0
    cases = [
        ('bad_lengths', lambda: probe.send(None, K, msg=bad_lengths())),
        ('unknown_joint_format', lambda: probe.send(kp, K, joint_format='openpose18')),
        ('bad_camera_info', lambda: probe.send(kp, zero_f)),
        ('unknown_distortion_model', lambda: probe.send(kp, K, D=[0.1] * 9,
                                                        distortion_model='kannala_brandt')),
        ('out_of_order', lambda: probe.send(kp, K, header=probe.header_at(served_t - 0.05))),
    ]
    for reason, send in cases:
        send_until(send, lambda r=reason: skipped(r) > 0, what=reason)

    # served but noted: NaN persons, an empty frame, too many persons (max_persons=5)
    nan_kp = kp.copy()
    nan_kp[1] = np.nan
    _, out = lift_once(probe, nan_kp, K)
    assert [s.status for s in out.skeletons] == ['ok', 'too_few_joints']
    assert len(out.skeletons[1].joints) == 0
    _, out = lift_once(probe, np.zeros((0, 17, 2)), K)
    assert out.skeletons == []
    crowd = np.repeat(kp[:1], 12, axis=0)
    _, out = lift_once(probe, crowd, K)
    assert len(out.skeletons) == 5

    # and good input is still served
    _, out = lift_once(probe, kp, K)
    assert [s.status for s in out.skeletons] == ['ok', 'ok']

    expected = ['skipped_' + r for r, _ in cases] + [
        'noted_non_finite_persons', 'noted_zero_persons', 'noted_too_many_persons']
    wait_until(lambda: all(k in probe.latest_values() for k in expected), what='diagnostics')
    values = probe.latest_values()
    assert all(int(values[k]) >= 1 for k in expected)
    assert int(values['noted_too_many_persons']) >= 7
    assert values['backend'] == 'onnxruntime (cpu, fp32)' and values['precision'] == 'fp32'
    for key in ('rate_hz', 'latency_p50_ms', 'latency_p99_ms', 'rejection_ratio',
                'persons_per_message', 'dropped_overwritten'):
        assert key in values
    assert float(values['latency_p50_ms']) > 0
    status = probe.diagnostics[-1].status[0]
    assert status.name.startswith('pose_lifter') and status.hardware_id.startswith('onnx')


def test_parameters_are_validated_at_run_time(make_node):
    node = make_node()
    bad = [Parameter('gate_mode', value='hide'), Parameter('realism_threshold', value=1e9),
           Parameter('marker_alpha', value=1.5), Parameter('min_valid_joints', value=0),
           Parameter('min_confidence', value=1.5)]
    for p in bad:
        result = node.set_parameters([p])[0]
        assert not result.successful and result.reason
    assert node.get_parameter('gate_mode').value != 'hide'
    ok = [Parameter('use_model_threshold', value=False),
          Parameter('realism_threshold', value=0.25), Parameter('marker_alpha', value=0.5),
          Parameter('min_valid_joints', value=10), Parameter('uncertainty_samples', value=2),
          Parameter('min_confidence', value=0.3)]
    assert all(r.successful for r in node.set_parameters(ok))
    assert node.lifter.threshold == 0.25 and node.lifter.min_valid_joints == 10
    assert node.lifter.min_confidence == 0.3
    assert node.lifter.uncertainty_samples == 2 and node._style.alpha == 0.5
    assert node.set_parameters([Parameter('use_model_threshold', value=True)])[0].successful
    assert node.lifter.threshold == node.lifter.contract.realism_threshold


def test_uncertainty_and_intrinsics_from_parameters(make_node, probe, scene):
    K = scene.K
    make_node(use_camera_info=False, uncertainty_samples=2, fx=float(K[0, 0]),
              fy=float(K[1, 1]), cx=float(K[0, 2]), cy=float(K[1, 2]))
    wait_until(lambda: probe.connected(camera_info=False), what='discovery')
    _, out = lift_once(probe, scene.pixels[:2], None)
    for skel in out.skeletons:
        assert len(skel.joints) == 17 and len(skel.joint_uncertainty) == 17
    np.testing.assert_allclose(project(as_array(out.skeletons[0])[None], K)[0],
                               scene.pixels[0], atol=1.0)


@pytest.mark.parametrize('model', ['missing', 'garbage', 'no_contract'])
def test_bad_model_fails_configure_cleanly(make_node, tmp_path, model, tiny_model):
    from model_factory import build_tiny_model

    path = tmp_path / f'{model}.onnx'
    if model == 'garbage':
        path.write_bytes(b'not an onnx model')
    elif model == 'no_contract':
        build_tiny_model(path, metadata='{"format_version": 99}')
    node = make_node(autostart=False, model=str(path))
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert node._state_machine.current_state[1] == 'unconfigured'
    assert node.lifter is None
    # fixed parameters: the same node configures and activates
    assert node.set_parameters([Parameter('model', value=str(tiny_model))])[0].successful
    assert node.autostart()
    assert node._state_machine.current_state[1] == 'active'


@pytest.mark.parametrize('ros', ['single_threaded', 'events'], indirect=True)
def test_lifecycle_deactivate_deletes_markers_and_reactivates(make_node, probe, scene):
    node = make_node(autostart=False)
    assert node._state_machine.current_state[1] == 'unconfigured'
    assert node.autostart()
    wait_until(probe.connected, what='discovery')
    lift_once(probe, scene.pixels[:2], scene.K, ids=['p', 'q'])
    wait_until(lambda: probe.markers, what='markers')
    shown = {m.id for m in probe.markers[-1].markers}
    assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    wait_until(lambda: any(m.action == Marker.DELETE for msg in probe.markers
                           for m in msg.markers), what='DELETE on deactivate')
    deleted = {m.id for msg in probe.markers for m in msg.markers if m.action == Marker.DELETE}
    assert deleted == shown
    wait_until(lambda: probe.kp_pub.get_subscription_count() == 0, what='unsubscribe')
    assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS and node.lifter is None
    assert node.autostart()
    wait_until(probe.connected, what='rediscovery')
    _, out = lift_once(probe, scene.pixels[:1], scene.K)
    assert out.skeletons[0].status == 'ok'


@pytest.mark.parametrize('ros', ['single_threaded', 'events'], indirect=True)
def test_keeps_only_the_newest_input_under_load(make_node, probe, scene):
    """A backend held busy: inputs arriving meanwhile overwrite each other in the one-slot
    buffer (counted as drops), nothing queues up, and the newest frame is lifted next."""
    import threading

    from pose_lifter.core.backends import create_backend

    release, entered = threading.Event(), threading.Event()

    class Held:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def infer(self, *args):
            entered.set()
            release.wait(timeout=10.0)
            return self.inner.infer(*args)

    def factory(model, backend, **options):
        return Held(create_backend(model, 'onnxruntime'))

    node = make_node(warmup_runs=0, node_kwargs={'backend_factory': factory})
    wait_until(probe.connected, what='discovery')
    release.set()
    lift_once(probe, scene.pixels[:1], scene.K)
    release.clear()
    entered.clear()
    first = probe.send(scene.pixels[:1], scene.K)
    wait_until(entered.is_set, what='worker busy')
    headers = []

    def send():
        headers.append(probe.send(scene.pixels[:1], scene.K))

    send_until(send, lambda: node._slot.pending, what='a waiting input')
    for k in range(5):
        before = node._slot.dropped
        send_until(send, lambda b=before: node._slot.dropped > b, what=f'overwrite {k}')
    release.set()
    wait_until(lambda: probe.output_for(headers[-1]) is not None, what='newest output')
    assert probe.output_for(first) is not None
    assert [h for h in headers if probe.output_for(h) is not None] == [headers[-1]]
    assert node._slot.dropped >= 5
    wait_until(lambda: int(probe.latest_values().get('dropped_overwritten', 0)) >= 5,
               what='drops in diagnostics')


def test_sim_time_without_clock_still_serves_and_reports(make_node, probe, scene):
    """Bag replay runs with use_sim_time: output keeps the input stamps, and /diagnostics
    runs on the steady clock, so it flows even while /clock is paused or absent."""
    make_node(use_sim_time=True)
    wait_until(probe.connected, what='discovery')
    header, out = lift_once(probe, scene.pixels[:1], scene.K)
    assert out.header.stamp == header.stamp
    wait_until(lambda: probe.latest_values().get('published', '0') != '0', what='diagnostics')


def test_shipped_model_publishes_inferred_joints_and_calibrated_uncertainty(
        make_node, probe, scene, default_model):
    make_node(model=str(default_model))
    wait_until(probe.connected, what='discovery')
    legs = [H36M17.index(j) for j in ('r_knee', 'r_ankle', 'l_knee', 'l_ankle')]
    conf = np.ones((2, 17), np.float32)
    conf[1, legs] = 0.0                          # the second person's legs behind a car
    _, out = lift_once(probe, scene.pixels[:2], scene.K, ids=['full', 'upper'],
                       confidence=conf)
    full, upper = out.skeletons
    assert full.status == 'ok' and upper.status in ('ok', 'implausible')
    assert list(full.inferred_joints) == []
    assert list(upper.inferred_joints) == ['r_knee', 'r_ankle', 'l_knee', 'l_ankle']
    for skel in (full, upper):
        radii = np.asarray(skel.joint_uncertainty)
        assert radii.shape == (17,) and radii[0] == 0.0 and (radii[1:] > 0.01).all()
        cov = np.asarray(skel.root_covariance).reshape(3, 3)
        np.testing.assert_allclose(cov, cov.T, atol=1e-12)
        root = as_array(skel)[0]
        u = root / np.linalg.norm(root)
        assert np.sqrt(u @ cov @ u) > 5 * np.sqrt(np.linalg.eigvalsh(cov)[0])   # along the ray
    # inferred legs get larger radii than the same legs seen
    assert (np.asarray(upper.joint_uncertainty)[legs] >
            np.asarray(full.joint_uncertainty)[legs]).all()


def test_markers_are_built_only_for_a_subscriber(make_node, probe, scene):
    node = make_node()
    wait_until(probe.connected, what='discovery')

    class Unwatched:
        """The markers publisher as it is when nobody subscribes: publishing is an error."""

        def get_subscription_count(self):
            return 0

        def publish(self, msg):
            raise AssertionError('markers built and published without a subscriber')

    watched, node._pubs['markers'] = node._pubs['markers'], Unwatched()
    before, served = len(probe.markers), node.stats.published
    _, out = lift_once(probe, scene.pixels[:2], scene.K, ids=['a', 'b'])
    assert [s.status for s in out.skeletons] == ['ok', 'ok']       # skeletons still served
    # the frame ends either served to the end or failed in the markers step
    wait_until(lambda: node.stats.published > served or node.stats.skipped['internal_error'],
               what='the frame to finish')
    assert node.stats.skipped['internal_error'] == 0               # publish was never tried
    assert len(probe.markers) == before
    node._pubs['markers'] = watched
    _, _ = lift_once(probe, scene.pixels[:2], scene.K, ids=['a', 'b'])
    wait_until(lambda: len(probe.markers) > before, what='markers again')


@pytest.mark.parametrize('ros', ['single_threaded', 'events'], indirect=True)
def test_diagnostics_go_out_at_their_period_under_either_executor(make_node, probe):
    """The level is checked every 0.1 s but the report goes out every diagnostics_period_s
    while the level holds. (rclpy's EventsExecutor hands a TimerInfo to a timer callback
    that takes an argument: a report on every check, five times too many, before the timer
    got a callback of its own.)"""
    import time
    make_node(diagnostics_period_s=0.5, stale_after_s=0.0)
    wait_until(lambda: probe.diagnostics, what='first diagnostics')
    time.sleep(0.3)                                  # past the first (forced) reports
    probe.clear()
    time.sleep(2.0)
    with probe.lock:
        n = len(probe.diagnostics)
    assert 1 <= n <= 6, f'{n} reports in 2 s at a 0.5 s period'



@pytest.mark.parametrize('enabled', [True, False])
def test_track_gate_judges_each_track_with_its_last_accepted_detection(
        make_node, probe, scene, default_model, enabled):
    """The shipped model has a track gate: a track's first frame is judged on the frame alone,
    its next one with the motion since (here none, 0.1 s later); a person without an id never
    has history. track_gate:=false: the model's realism as it is."""
    from pose_lifter.core.backends import create_backend
    from pose_lifter.core.pipeline import Lifter
    from pose_lifter.core.track_gate import TrackGate, features
    node = make_node(model=str(default_model), track_gate=enabled, temporal_filter=False)
    wait_until(probe.connected, what='discovery')
    px = scene.pixels[:2]
    _, first = lift_once(probe, px, scene.K, ids=['a', ''])
    _, second = lift_once(probe, px, scene.K, ids=['a', ''])
    lifter = Lifter(create_backend(default_model, 'onnxruntime'))
    own = lifter.lift(px, np.repeat(scene.K[None], 2, axis=0)).realism
    got = [[s.realism for s in out.skeletons] for out in (first, second)]
    if not enabled:
        np.testing.assert_allclose(got, [own, own], atol=1e-5)
        wait_until(lambda: probe.latest_values().get('track_gate') == 'off', what='diagnostics')
        return
    gate = TrackGate.from_dict(lifter.contract.track_gate)
    alone = gate.realism(features(own, px, None, None, 'h36m17'), lifter.threshold)
    tracked = gate.realism(features(own, px, px, np.full(2, 0.1), 'h36m17'), lifter.threshold)
    np.testing.assert_allclose(got[0], alone, atol=1e-5)
    np.testing.assert_allclose(got[1], [tracked[0], alone[1]], atol=1e-5)
    assert [s.status == 'ok' for s in second.skeletons] == list(
        np.array([tracked[0], alone[1]]) >= gate.threshold)
    wait_until(lambda: probe.latest_values().get('track_gate') == 'on', what='diagnostics')
    assert len(node._track[1]) == 1                      # the track 'a'; '' has none


def test_track_gate_is_off_for_a_model_without_one(make_node, probe):
    make_node()
    wait_until(lambda: probe.latest_values().get('track_gate') == 'off (the model has none)',
               what='diagnostics')
