"""Console script ``pose_lifter_node``: build the node, bring it up (autostart), spin.

Runs with no environment set by hand: the venv becomes an ament prefix first, so the shipped
config and model are found in share/pose_lifter. ROS arguments work as usual:
``pose_lifter_node --ros-args -p model:=m.onnx -r keypoints_2d:=/detector/keypoints``.

Stopping: SIGINT (Ctrl-C, also sent to the whole process group by ``ros2 launch``) and SIGTERM
only ask the spin loop to end; rclpy's own handlers, which would shut the context down at once
(under the worker's feet), are not installed. The node then takes the lifecycle ``shutdown``
transition while the context is still valid -- its worker stops, markers on screen are deleted,
publishers and backend are released -- and only then is the context shut down. Further signals
during that are ignored; the exit status is 0.

The spin loop runs the executor the ``executor`` parameter names (``make_executor``): rclpy's
C++ EventsExecutor by default where this rclpy has it (it takes a message to its callback in
a fraction of the Python SingleThreadedExecutor's time, which rebuilds its wait set over every
service, timer and event handler on each wake-up), or the SingleThreadedExecutor.
"""
from __future__ import annotations

import re
import signal
import sys
import threading

from ..resources import ensure_ament_prefix

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Longest time a stop request waits for the spin loop to notice it (seconds).
SPIN_PERIOD_S = 0.1
# Executors made here live until the process ends: an EventsExecutor that catches signals
# (see make_executor) may reset SIGINT/SIGTERM to their default action when destroyed, which
# would let a late signal kill the process during its orderly shutdown.
_EXECUTORS: list = []


def install_stop_handlers(stop: threading.Event | None = None) -> threading.Event:
    """Handle SIGINT/SIGTERM by setting ``stop`` (a new event when None), which is returned
    (idempotent; never raises)."""
    stop = threading.Event() if stop is None else stop

    def request_stop(signum, frame):
        stop.set()

    for signum in STOP_SIGNALS:
        signal.signal(signum, request_stop)
    return stop


def make_executor(kind: str, stop: threading.Event, context=None) -> tuple[object, str]:
    """An executor for the spin loop and the kind it is: ``events`` (rclpy's
    ``rclpy.experimental.EventsExecutor``; ``single_threaded`` where this rclpy lacks it) or
    ``single_threaded`` (``rclpy.executors.SingleThreadedExecutor``).

    Later rclpy releases' EventsExecutor catches SIGINT/SIGTERM itself (an asio signal set)
    and shuts the context down, which is what ``install_stop_handlers`` exists to prevent
    (rclpy 9.1's does not): the handlers that set ``stop`` are installed again after it."""
    from rclpy.executors import SingleThreadedExecutor

    from .params import EXECUTORS
    if kind not in EXECUTORS:
        raise ValueError(f'executor {kind!r}: choose from {list(EXECUTORS)}')
    executor, used = None, 'single_threaded'
    if kind == 'events':
        try:
            from rclpy.experimental import EventsExecutor
        except ImportError:
            pass
        else:
            executor, used = EventsExecutor(context=context), 'events'
            install_stop_handlers(stop)
    if executor is None:
        executor = SingleThreadedExecutor(context=context)
    _EXECUTORS.append(executor)
    return executor, used


def main(argv: list[str] | None = None) -> int:
    stop = install_stop_handlers()      # first: a Ctrl-C while importing is a stop request too
    ensure_ament_prefix()
    import rclpy
    from rclpy.exceptions import ParameterException
    from rclpy.executors import ExternalShutdownException
    from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
    from rclpy.signals import SignalHandlerOptions

    from .lifter_node import PoseLifterNode
    from .params import ConfigError

    try:    # a bad --params-file (unreadable, not ROS parameter YAML) fails here
        rclpy.init(args=sys.argv if argv is None else argv,
                   signal_handler_options=SignalHandlerOptions.NO)
    except _rclpy.RCLError as exc:
        print(f'pose_lifter_node: error: {rcl_reason(exc)}', file=sys.stderr)
        return 2
    try:
        node = PoseLifterNode()
    except (ConfigError, ParameterException, _rclpy.RCLError) as exc:
        reason = rcl_reason(exc) if isinstance(exc, _rclpy.RCLError) else exc
        print(f'pose_lifter_node: error: {reason}', file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    kind = node.settings().executor
    executor, used = make_executor(kind, stop)
    if used != kind:
        node.get_logger().warning(f'executor {kind}: this rclpy has no EventsExecutor; '
                                  f'spinning with {used}')
    executor.add_node(node)
    try:
        if not stop.is_set():
            node.autostart()
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=SPIN_PERIOD_S)
    except ExternalShutdownException:
        pass
    finally:
        finish(node)
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def rcl_reason(exc: Exception) -> str:
    """One line of an RCLError: without rcl's source locations (', at /path/file.c:123')."""
    text = ' '.join(str(exc).split())
    return re.sub(r',? at [^ ,]+\.c:\d+', '', text)


def finish(node) -> None:
    """Lifecycle shutdown (stops the worker, deletes markers, releases everything) while the
    context still allows publishing; a node already finalised is only released."""
    from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy

    if node.context.ok():
        try:
            node.trigger_shutdown()
            return
        except _rclpy.RCLError:     # finalized (or mid-transition): nothing to transition
            pass
    node.on_cleanup(None)  # stop the worker and free the backend, whatever the state


if __name__ == '__main__':
    sys.exit(main())
