"""The rclpy side of ``bag replay``: publishers for the inputs and /clock, and a recorder of
the node's outputs (raw CDR straight into the output bag with receive times).

The recorder subscribes to an output topic once its publisher is discovered, with the
publisher's reliability (as ``ros2 bag record`` does), so neither a best-effort nor a reliable
node publisher is missed.
"""
from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable

from ..core.stamps import stamp_to_ns
from .io import (
    CAMERA_INFO_TYPE,
    CLOCK_TYPE,
    DIAGNOSTIC_ARRAY,
    MARKER_ARRAY,
    SKELETON2D_ARRAY,
    SKELETON3D_ARRAY,
    BagError,
    add_topic,
)

INPUT_DEPTH = 100
OUTPUT_DEPTH = 1000


def message_class(msgtype: str):
    """'pkg/msg/Name' -> the rclpy message class; BagError when it is not importable."""
    import importlib

    pkg, _, name = msgtype.split('/')
    try:
        return getattr(importlib.import_module(f'{pkg}.msg'), name)
    except (ImportError, AttributeError):
        raise BagError(f'message type {msgtype} is not available to rclpy here (is {pkg} '
                       'built and installed? run `make setup`)') from None


def header_stamp_ns(data: bytes) -> int | None:
    """Stamp of a CDR message that starts with std_msgs/Header (None if too short)."""
    if len(data) < 12:
        return None
    fmt = '<iI' if data[1] & 1 else '>iI'   # CDR encapsulation: low bit = little endian
    return stamp_to_ns(struct.unpack_from(fmt, data, 4))


class Recorder:
    """Own rclpy context (domain ``domain_id``) with a node publishing inputs and recording
    outputs into ``writer`` (a rosbags Writer; writes are serialised by a lock)."""

    def __init__(self, domain_id: int, writer, inputs: dict[str, str],
                 outputs: dict[str, str]):
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        self.writer = writer
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.output_stamps: set[int] = set()
        self.last_output_s = 0.0            # monotonic time of the last skeletons output
        self._conns: dict[str, object] = {}
        self._outputs = dict(outputs)            # topic -> msgtype, not yet subscribed
        self._subs: dict[str, object] = {}
        classes = {topic: message_class(t) for topic, t in inputs.items()}
        clock = message_class(CLOCK_TYPE)
        for msgtype in outputs.values():
            message_class(msgtype)        # fail before DDS starts if a type is missing
        self.context = Context()
        rclpy.init(context=self.context, domain_id=int(domain_id))
        self.node = rclpy.create_node('pose_lifter_bag_replay', context=self.context)
        reliable = QoSProfile(depth=INPUT_DEPTH, reliability=ReliabilityPolicy.RELIABLE)
        self.pubs = {topic: self.node.create_publisher(cls, topic, reliable)
                     for topic, cls in classes.items()}
        self.clock_pub = self.node.create_publisher(clock, '/clock', QoSProfile(depth=10))
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException
        try:
            self.executor.spin()
        except ExternalShutdownException:
            pass

    # ------------------------------------------------------------------ recording
    def record(self, topic: str, msgtype: str, t_ns: int, data: bytes) -> None:
        """Write one message to the output bag (topics registered on first use)."""
        with self.lock:
            if self.writer is None:
                return
            conn = self._conns.get(topic)
            if conn is None:
                conn = self._conns[topic] = add_topic(self.writer, topic, msgtype)
            self.writer.write(conn, t_ns, data)
            self.counts[topic] = self.counts.get(topic, 0) + 1

    def _callback(self, topic: str, msgtype: str) -> Callable:
        def on_message(data, info) -> None:
            received = int(info.get('received_timestamp') or 0) or time.time_ns()
            self.record(topic, msgtype, received, bytes(data))
            if msgtype == SKELETON3D_ARRAY:
                stamp = header_stamp_ns(bytes(data))
                if stamp is not None:
                    self.output_stamps.add(stamp)
                self.last_output_s = time.monotonic()
        return on_message

    def subscribe_discovered(self) -> None:
        """Subscribe to every output topic whose publisher is now known (its reliability)."""
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        for topic, msgtype in list(self._outputs.items()):
            infos = self.node.get_publishers_info_by_topic(topic)
            if not infos:
                continue
            best_effort = any(i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
                              for i in infos)
            qos = QoSProfile(depth=OUTPUT_DEPTH, reliability=ReliabilityPolicy.BEST_EFFORT
                             if best_effort else ReliabilityPolicy.RELIABLE)
            self._subs[topic] = self.node.create_subscription(
                message_class(msgtype), topic, self._callback(topic, msgtype), qos, raw=True)
            del self._outputs[topic]

    # ------------------------------------------------------------------ discovery
    def input_matched(self, topic: str) -> bool:
        return self.pubs[topic].get_subscription_count() > 0

    def clock_matched(self) -> bool:
        return self.clock_pub.get_subscription_count() > 0

    def output_matched(self, topic: str) -> bool:
        sub = self._subs.get(topic)
        return sub is not None and sub.get_publisher_count() > 0

    # ------------------------------------------------------------------ playing
    def publish(self, topic: str, data: bytes) -> None:
        self.pubs[topic].publish(data)

    def publish_clock(self, t_ns: int) -> None:
        from builtin_interfaces.msg import Time
        from rosgraph_msgs.msg import Clock

        self.clock_pub.publish(Clock(clock=Time(sec=int(t_ns // 1_000_000_000),
                                                nanosec=int(t_ns % 1_000_000_000))))

    def close(self) -> None:
        """Stop spinning, drop the node and the context (the writer is closed by the caller)."""
        import rclpy

        with self.lock:
            self.writer = None
        self.executor.shutdown(timeout_sec=5.0)
        self._thread.join(timeout=5.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


OUTPUT_TYPES = {'skeletons': SKELETON3D_ARRAY, 'markers': MARKER_ARRAY,
                'diagnostics': DIAGNOSTIC_ARRAY}
INPUT_TYPES = {'keypoints': SKELETON2D_ARRAY, 'camera_info': CAMERA_INFO_TYPE}
