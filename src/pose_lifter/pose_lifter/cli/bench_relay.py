"""The transport floor of ``pose-lifter bench``: a minimal rclpy relay in its own process.

It subscribes to ``keypoints_2d`` and ``camera_info`` exactly as the node does and answers each
Skeleton2DArray of N persons, from the subscription callback, with a Skeleton3DArray and a
MarkerArray of the sizes the node publishes for N persons (17 joints each; a LINE_LIST of the
bones and a SPHERE_LIST of the joints per person), stamped with the input's header. The messages
are built once per person count and reused: what is left is DDS, (de)serialisation and the
rclpy executor -- the floor no node can go below. It spins with the node's executor
(``--executor events|single_threaded``, node/main.py ``make_executor``), so the floor has the
node's executor costs and no others. Run as ``python -m pose_lifter.cli.bench_relay [--executor
KIND] [--ros-args ...]``; bench_node.py starts it in a namespace next to the node.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..bag.node_process import NodeProcess

RELAY_NODE_NAME = 'pose_lifter_floor'


class RelayProcess(NodeProcess):
    """The relay as a child process (loopback-only DDS in ``domain_id``), stopped like the
    node (SIGINT, SIGTERM, SIGKILL); ``args`` are its ``--ros-args``."""

    def __init__(self, args: list[str], domain_id: int, log_path: Path,
                 executor: str | None = None):
        from ..node.params import load_defaults
        kind = executor or load_defaults()['executor']      # None: the node's default
        super().__init__(args, domain_id, log_path,
                         program=[sys.executable, '-m', 'pose_lifter.cli.bench_relay',
                                  '--executor', kind])


def answers(persons: int, ids: list[str] | None = None):
    """(Skeleton3DArray, MarkerArray) of the node's sizes for ``persons`` lifted, plausible
    persons (a fixed standing pose; only the sizes matter)."""
    from std_msgs.msg import Header

    from ..core.markers import MarkerRegistry, MarkerStyle, skeleton_markers
    from ..core.pipeline import LiftResult
    from ..node.convert import markers_to_msg, result_to_msg

    joints = np.tile(np.linspace([0.0, -0.9, 3.0], [0.2, 0.9, 3.2], 17), (persons, 1, 1))
    ids = ids or [f'track{i}' for i in range(persons)]
    result = LiftResult(joints3d=joints, realism=np.ones(persons),
                        plausible=np.ones(persons, bool),
                        status=np.array(['ok'] * persons, dtype=object),
                        valid_joints=np.full(persons, 17))
    header = Header(frame_id='camera_optical_frame')
    geometry = skeleton_markers(joints, result.plausible, ids, MarkerRegistry(), MarkerStyle())
    return result_to_msg(header, ids, result), markers_to_msg(header, geometry)


def make_relay(context=None):
    """The relay node: keypoints_2d -> skeletons_3d + markers (same QoS as the node)."""
    from pose_lifter_msgs.msg import Skeleton2DArray, Skeleton3DArray
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo
    from visualization_msgs.msg import MarkerArray

    node = Node(RELAY_NODE_NAME, context=context)
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)  # the node's OUTPUT_QOS
    skeletons = node.create_publisher(Skeleton3DArray, 'skeletons_3d', qos)
    markers = node.create_publisher(MarkerArray, 'markers', qos)
    cache: dict[int, tuple] = {}

    def on_keypoints(msg) -> None:
        n = len(msg.skeletons)
        if n not in cache:
            cache[n] = answers(n, [s.id for s in msg.skeletons])
        sk, mk = cache[n]
        sk.header = msg.header
        for m in mk.markers:
            m.header = msg.header
        skeletons.publish(sk)
        markers.publish(mk)

    node.relay_subs = [
        node.create_subscription(Skeleton2DArray, 'keypoints_2d', on_keypoints,
                                 qos_profile_sensor_data),
        node.create_subscription(CameraInfo, 'camera_info', lambda msg: None,
                                 qos_profile_sensor_data)]
    return node


def main(argv: list[str] | None = None) -> int:
    """Spin the relay until SIGINT/SIGTERM, then stop like the node: the signal only ends the
    spin loop (rclpy's own handlers would shut the context down under a message being taken,
    a traceback), and the node is destroyed before the context."""
    from ..node.main import SPIN_PERIOD_S, install_stop_handlers, make_executor
    stop = install_stop_handlers()
    import argparse

    import rclpy
    from rclpy.signals import SignalHandlerOptions
    from rclpy.utilities import remove_ros_args

    from ..node.params import EXECUTORS, load_defaults

    args = sys.argv if argv is None else argv
    p = argparse.ArgumentParser(prog='bench_relay', description=__doc__.split('\n\n')[0])
    p.add_argument('--executor', choices=EXECUTORS, default=load_defaults()['executor'],
                   help="the spin loop (default: the node's, config/lifter.yaml)")
    kind = p.parse_args(remove_ros_args(args)[1:]).executor
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = make_relay()
    executor, _ = make_executor(kind, stop)
    executor.add_node(node)
    try:
        while not stop.is_set():
            executor.spin_once(timeout_sec=SPIN_PERIOD_S)
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
