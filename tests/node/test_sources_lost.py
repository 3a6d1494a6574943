"""Frames lost before the node's callback are counted: a slow consumer over real DDS."""
import threading
import time

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('pose_lifter_msgs.msg', reason='pose_lifter_msgs not built')

from pose_lifter_msgs.msg import Skeleton2DArray  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from pose_lifter.core.diagnostics import InputMonitor  # noqa: E402
from pose_lifter.node import convert, sources  # noqa: E402
from pose_lifter.node.params import Settings, load_defaults  # noqa: E402

pytestmark = pytest.mark.ros


@pytest.mark.parametrize('ros', ['single_threaded', 'events'], indirect=True)
def test_frames_replaced_in_the_subscription_queue_are_counted(ros):
    """The callback takes 40 ms while 60 frames arrive within ~0.1 s: the best-effort queue
    (depth 5) replaces most of them before the executor takes them. Every frame is either
    delivered or counted as lost, one for one -- with either executor (they hand the
    MessageInfo over differently)."""
    s = Settings.from_values({**load_defaults(), 'use_camera_info': False})
    node = ros.add(Node('inputs_under_test', context=ros.context))
    delivered, skipped = [], []
    lock = threading.Lock()

    def deliver(msg, info):
        time.sleep(0.04)                     # a consumer slower than the stream
        with lock:
            delivered.append(msg.header.stamp.nanosec)

    def skip(reason, detail):
        with lock:
            skipped.append(reason)

    inputs = sources.Inputs(node, s, deliver, InputMonitor(time.monotonic(), False), skip)
    pub_node = ros.add(Node('publisher', context=ros.context))
    pub = pub_node.create_publisher(Skeleton2DArray, 'keypoints_2d', qos_profile_sensor_data)
    deadline = time.monotonic() + 10
    while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    kp = np.zeros((1, 17, 2))
    frames = 60
    for k in range(frames + 1):              # the last frame lets the gap before it show
        header = Header(frame_id='cam')
        header.stamp.sec, header.stamp.nanosec = 1, k
        pub.publish(convert.frame_to_msg(header, kp))
        time.sleep(0.0015)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with lock:
            if delivered and delivered[-1] == frames:
                break
        time.sleep(0.05)
    inputs.close()
    with lock:
        got, lost = list(delivered), list(skipped)
    assert got[-1] == frames, 'the last frame never arrived'
    assert len(got) < frames / 2, 'the consumer was not slow enough to overflow the queue'
    assert set(lost) == {'message_lost'}
    assert len(got) + len(lost) == frames + 1 - got[0]     # from the first delivered frame on


def test_with_message_info_takes_both_calling_conventions():
    """rclpy's SingleThreadedExecutor calls (msg, info); its EventsExecutor (rclpy 9) calls
    ((msg, info),). rclpy must see two parameters, or it never hands the info over."""
    import inspect
    got = []
    cb = sources.WithMessageInfo(lambda m: got.append(('msg', m)),
                                 lambda i: got.append(('info', i)))
    with pytest.raises(TypeError):                 # rclpy's test for a message-only callback
        inspect.signature(cb).bind(object())
    inspect.signature(cb).bind(object(), object())
    msg, info = Header(frame_id='a'), {'publication_sequence_number': 3}
    cb(msg, info)
    cb((msg, info))
    assert got == [('info', info), ('msg', msg)] * 2
