"""A test node that feeds the lifter and records what it publishes (real rclpy, real DDS)."""
from __future__ import annotations

import threading
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from pose_lifter_msgs.msg import Skeleton2DArray, Skeleton3DArray
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from pose_lifter.node.convert import camera_info_msg, frame_to_msg

FRAME = 'camera_optical_frame'
RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)


class Probe(Node):
    """Publishes keypoints_2d + camera_info; keeps every skeletons_3d, markers, diagnostics."""

    def __init__(self, context, namespace: str = ''):
        super().__init__('probe', context=context, namespace=namespace)
        self.kp_pub = self.create_publisher(Skeleton2DArray, 'keypoints_2d',
                                            qos_profile_sensor_data)
        self.info_pub = self.create_publisher(CameraInfo, 'camera_info', qos_profile_sensor_data)
        self.skeletons: list = []
        self.markers: list = []
        self.diagnostics: list = []
        self.lock = threading.Lock()
        self.subs = [
            self.create_subscription(Skeleton3DArray, 'skeletons_3d',
                                     self._keep(self.skeletons), RELIABLE),
            # RViz subscribes reliably: so does the probe (a best-effort publisher would fail)
            self.create_subscription(MarkerArray, 'markers', self._keep(self.markers), RELIABLE),
            self.create_subscription(DiagnosticArray, '/diagnostics',
                                     self._keep(self.diagnostics), RELIABLE),
        ]
        self._stamp = 1000.0

    def _keep(self, store: list):
        def callback(msg):
            with self.lock:
                store.append(msg)
        return callback

    def connected(self, camera_info: bool = True) -> bool:
        pubs = [self.kp_pub] + ([self.info_pub] if camera_info else [])
        return (all(p.get_subscription_count() > 0 for p in pubs)
                and all(s.get_publisher_count() > 0 for s in self.subs[:2]))

    def next_header(self, dt: float = 0.1, frame_id: str = FRAME) -> Header:
        """Headers with increasing stamps (the node skips stamps that go backwards)."""
        self._stamp += dt
        return self.header_at(self._stamp, frame_id)

    def header_at(self, t: float, frame_id: str = FRAME) -> Header:
        """A header stamped ``t`` seconds (``self.last_t`` is the newest one sent)."""
        sec = int(t)
        header = Header(frame_id=frame_id)
        header.stamp.sec, header.stamp.nanosec = sec, int(round((t - sec) * 1e9))
        return header

    @property
    def last_t(self) -> float:
        return self._stamp

    def send(self, keypoints: np.ndarray, K: np.ndarray | None, header: Header | None = None,
             ids=None, confidence=None, joint_format: str = 'h36m17', D=(),
             distortion_model: str = 'plumb_bob', msg=None) -> Header:
        """Publish one frame (camera_info first, then keypoints); returns its header."""
        header = header or self.next_header()
        if K is not None:
            self.info_pub.publish(camera_info_msg(header, K, D, distortion_model))
        if msg is None:
            msg = frame_to_msg(header, keypoints, confidence, ids, joint_format)
        msg.header = header
        self.kp_pub.publish(msg)
        return header

    def output_for(self, header: Header):
        """The Skeleton3DArray with ``header``'s stamp, or None."""
        with self.lock:
            for msg in self.skeletons:
                if msg.header.stamp == header.stamp:
                    return msg
        return None

    def latest_values(self) -> dict[str, str]:
        with self.lock:
            if not self.diagnostics:
                return {}
            return {kv.key: kv.value for kv in self.diagnostics[-1].status[0].values}

    def clear(self) -> None:
        with self.lock:
            self.skeletons.clear()
            self.markers.clear()
            self.diagnostics.clear()


def lift_once(probe: Probe, keypoints, K, timeout_s: float = 15.0, **kw):
    """Send a frame until its output arrives (best-effort input may lose the first ones)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        header = probe.send(keypoints, K, **kw)
        until = time.monotonic() + 1.0
        while time.monotonic() < until:
            out = probe.output_for(header)
            if out is not None:
                return header, out
            time.sleep(0.005)
    raise AssertionError('no skeletons_3d output for the frame')
