"""Console script ``pose_lifter_node``: build the node, bring it up (autostart), spin.

Runs with no environment set by hand: the venv becomes an ament prefix first, so the shipped
config and model are found in share/pose_lifter. ROS arguments work as usual:
``pose_lifter_node --ros-args -p model:=m.onnx -r keypoints_2d:=/detector/keypoints``.
"""
from __future__ import annotations

import sys

from ..resources import ensure_ament_prefix


def main(argv: list[str] | None = None) -> int:
    ensure_ament_prefix()
    import rclpy
    from rclpy.exceptions import ParameterException
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    from .lifter_node import PoseLifterNode
    from .params import ConfigError

    rclpy.init(args=sys.argv if argv is None else argv)
    try:
        node = PoseLifterNode()
    except (ConfigError, ParameterException) as exc:
        print(f'pose_lifter_node: error: {exc}', file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        node.autostart()
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.on_cleanup(None)  # stop the worker and free the backend, whatever the state
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
