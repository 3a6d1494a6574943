"""The transport floor of `pose-lifter bench` (cli/bench_relay.py): the relay, started as its own
process like the node, answers each Skeleton2DArray with a Skeleton3DArray and a MarkerArray of
the node's output sizes, stamped like the input."""
import time

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('pose_lifter_msgs.msg', reason='pose_lifter_msgs not built')

from pose_lifter.cli.bench_relay import RelayProcess, answers  # noqa: E402
from pose_lifter.core.skeleton import H36M17  # noqa: E402
from pose_lifter.node.params import EXECUTORS  # noqa: E402

pytestmark = pytest.mark.ros


def _poll(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def test_answers_have_the_node_sizes():
    sk, mk = answers(3)
    assert len(sk.skeletons) == 3 and all(len(s.joints) == 17 for s in sk.skeletons)
    assert [s.id for s in sk.skeletons] == ['track0', 'track1', 'track2']
    assert len(mk.markers) == 6
    sizes = sorted(len(m.points) for m in mk.markers)
    assert sizes == [17] * 3 + [2 * len(H36M17.bones)] * 3


@pytest.mark.parametrize('executor', EXECUTORS)
def test_relay_process_answers_each_frame(ros, scene, tmp_path, executor):
    """The relay spins the executor it is given (the node's, so the floor has the node's
    executor costs)."""
    relay = RelayProcess(['--ros-args', '-r', '__ns:=/floor'], ros.domain_id,
                         tmp_path / 'relay.log', executor=executor)
    assert relay.command[-5:-3] == ['--executor', executor]
    try:
        _exchange(ros, scene, relay)
    finally:
        code = relay.stop()
    assert code == 0, f'exit code {code}: ' + relay.log_path.read_text(errors='replace')[-2000:]


def _exchange(ros, scene, relay) -> None:
    """Publish a 4-person frame to the relay until it answers; check the answer."""
    from pose_lifter_msgs.msg import Skeleton2DArray, Skeleton3DArray
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from std_msgs.msg import Header
    from visualization_msgs.msg import MarkerArray

    from pose_lifter.node.convert import frame_to_msg

    node = ros.add(Node('floor_probe', context=ros.context))
    got = {'skeletons': [], 'markers': []}
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    pub = node.create_publisher(Skeleton2DArray, 'floor/keypoints_2d',
                                qos_profile_sensor_data)
    subs = [node.create_subscription(Skeleton3DArray, 'floor/skeletons_3d',
                                     got['skeletons'].append, reliable),
            node.create_subscription(MarkerArray, 'floor/markers', got['markers'].append,
                                     reliable)]
    assert _poll(lambda: pub.get_subscription_count() > 0
                 and all(s.get_publisher_count() > 0 for s in subs), 60.0), \
        f'relay did not come up: {relay.log_tail()}'
    msg = frame_to_msg(Header(frame_id='cam'), scene.pixels[:4],
                       ids=['a', 'b', 'c', 'd'])
    msg.header.stamp.sec, msg.header.stamp.nanosec = 12, 345
    assert _poll(lambda: (pub.publish(msg) or True) and bool(got['markers'])
                 and bool(got['skeletons']), 30.0), relay.log_tail()
    sk, mk = got['skeletons'][-1], got['markers'][-1]
    assert len(sk.skeletons) == 4 and [s.id for s in sk.skeletons] == ['a', 'b', 'c', 'd']
    assert all(len(s.joints) == 17 for s in sk.skeletons)
    assert (sk.header.stamp.sec, sk.header.stamp.nanosec) == (12, 345)
    assert len(mk.markers) == 8
    assert all((m.header.stamp.sec, m.header.stamp.nanosec) == (12, 345)
               for m in mk.markers)


def test_fast_points_serialise_like_the_generated_constructor():
    import numpy as np
    from geometry_msgs.msg import Point
    from rclpy.serialization import serialize_message
    from visualization_msgs.msg import Marker

    from pose_lifter.node.convert import points_msg

    xyz = np.random.default_rng(0).normal(size=(17, 3)) * [1.0, 1e-9, 1e9]
    fast = points_msg(xyz)
    assert all(type(p) is Point and type(p.x) is float for p in fast)
    assert fast == [Point(x=x, y=y, z=z) for x, y, z in xyz.tolist()]
    assert (serialize_message(Marker(points=fast))
            == serialize_message(Marker(points=[Point(x=x, y=y, z=z)
                                                for x, y, z in xyz.tolist()])))
    assert points_msg(np.zeros((0, 3))) == []
