"""The node's per-track temporal filter (core/temporal.py) over real DDS on loopback."""
import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('pose_lifter_msgs.msg', reason='pose_lifter_msgs not built')

from node_support import wait_until  # noqa: E402
from ros_probe import lift_once  # noqa: E402

pytestmark = pytest.mark.ros


def as_array(skeleton) -> np.ndarray:
    return np.array([[p.x, p.y, p.z] for p in skeleton.joints])


@pytest.mark.parametrize('on', [True, False], ids=['filter_on', 'filter_off'])
def test_a_track_is_smoothed_a_new_one_is_not(make_node, probe, scene, on):
    make_node(temporal_filter=on)
    wait_until(probe.connected, what='discovery')
    a = scene.pixels[:1]
    b = a + np.random.default_rng(0).normal(0.0, 3.0, a.shape)
    lift_once(probe, a, scene.K, ids=['a'])
    # the same detection as the next frame of track 'a' and as the first one of track 'b'
    _, out = lift_once(probe, np.concatenate([b, b]), scene.K, ids=['a', 'b'])
    seen, new = (as_array(s) for s in out.skeletons)
    assert np.isfinite(seen).all() and np.isfinite(new).all()
    if on:
        assert np.abs(seen - new).max() > 1e-3      # 'a' carries its past, 'b' has none
    else:
        np.testing.assert_array_equal(seen, new)
    state = 'on' if on else 'off'
    wait_until(lambda: probe.latest_values().get('temporal_filter') == state,
               what=f'temporal_filter {state} in /diagnostics')
    if on:
        wait_until(lambda: int(probe.latest_values().get('temporal_new_tracks', 0)) >= 2,
                   what='temporal_new_tracks in /diagnostics')


@pytest.mark.parametrize('threshold', [0.0, 1.0], ids=['all_plausible', 'all_implausible'])
def test_only_plausible_persons_are_filtered(make_node, probe, scene, threshold):
    """A person the node judges implausible is published as lifted, unfiltered, and leaves
    its track alone (a detector's misplaced joints must not pull the next frames)."""
    make_node(temporal_filter=True, use_model_threshold=False, realism_threshold=threshold)
    wait_until(probe.connected, what='discovery')
    a = scene.pixels[:1]
    b = a + np.random.default_rng(0).normal(0.0, 3.0, a.shape)
    lift_once(probe, a, scene.K, ids=['a'])
    _, out = lift_once(probe, np.concatenate([b, b]), scene.K, ids=['a', 'b'])
    assert [s.plausible for s in out.skeletons] == [threshold == 0.0] * 2
    seen, new = (as_array(s) for s in out.skeletons)
    assert np.isfinite(seen).all() and np.isfinite(new).all()
    if threshold == 0.0:
        assert np.abs(seen - new).max() > 1e-3      # 'a' carries its past
    else:
        np.testing.assert_array_equal(seen, new)    # neither was filtered
