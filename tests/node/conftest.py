"""Fixtures for the node tests: a private DDS domain per test, loopback only, bounded waits.

Inputs are real poses (models/demo_poses.npz) seen by the first evaluation camera, so the
expected 3D is known. Nothing here sleeps a fixed time: waits poll a condition with a deadline.
"""
from __future__ import annotations

import signal
import threading

import pytest
from node_support import Scene, fresh_domain_id


@pytest.fixture(scope='session')
def scene(demo_poses) -> Scene:
    return Scene(demo_poses)


# EventsExecutors made by the tests: kept, as pose_lifter_node keeps its own (an EventsExecutor
# that catches signals may reset SIGINT/SIGTERM to their default action when destroyed).
_EVENTS_EXECUTORS: list = []


def events_executor(context):
    """rclpy's EventsExecutor (skips the test where rclpy has none), the test process's
    SIGINT/SIGTERM handlers left as they were (later rclpy releases' install their own)."""
    experimental = pytest.importorskip('rclpy.experimental')
    if not hasattr(experimental, 'EventsExecutor'):
        pytest.skip('this rclpy has no EventsExecutor')
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    executor = experimental.EventsExecutor(context=context)
    for signum, handler in saved.items():
        signal.signal(signum, handler)
    _EVENTS_EXECUTORS.append(executor)
    return executor


class Ros:
    """A private rclpy context (own domain id) with an executor spinning in a thread:
    ``executor`` single_threaded (rclpy's SingleThreadedExecutor) or events (its
    EventsExecutor, what pose_lifter_node spins by default)."""

    def __init__(self, executor: str = 'single_threaded'):
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        self.domain_id = fresh_domain_id()
        self.context = Context()
        rclpy.init(context=self.context, domain_id=self.domain_id)
        self.executor = (events_executor(self.context) if executor == 'events' else
                         SingleThreadedExecutor(context=self.context))
        self.nodes = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self):
        """Spin until shutdown. The tests drive lifecycle transitions from their own thread
        (the node does it in its executor's), so a subscription may be destroyed while this
        thread builds its wait set: rclpy then raises InvalidHandle for that one wait, and the
        next spin no longer sees the destroyed entity."""
        from rclpy._rclpy_pybind11 import InvalidHandle
        from rclpy.executors import ExternalShutdownException
        while self.context.ok() and not self._stop.is_set():
            try:
                self.executor.spin_once(timeout_sec=0.1)
            except ExternalShutdownException:
                return
            except InvalidHandle:
                continue

    def add(self, node):
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def close(self):
        import rclpy
        self._stop.set()
        self._thread.join(timeout=5.0)
        self.executor.shutdown(timeout_sec=5.0)
        self._thread.join(timeout=5.0)
        for node in self.nodes:
            if hasattr(node, 'on_cleanup'):
                node.on_cleanup(None)
            node.destroy_node()
        rclpy.shutdown(context=self.context)
        assert not self._thread.is_alive(), 'executor thread did not stop'


@pytest.fixture
def ros(request):
    """A Ros; ``@pytest.mark.parametrize('ros', ['events'], indirect=True)`` picks the
    executor."""
    pytest.importorskip('rclpy')
    pytest.importorskip('pose_lifter_msgs.msg', reason='pose_lifter_msgs not built')
    r = Ros(getattr(request, 'param', 'single_threaded'))
    yield r
    r.close()


@pytest.fixture
def make_node(ros, tiny_model):
    """Factory: a PoseLifterNode in the test's context, tiny model, fast diagnostics."""
    from rclpy.parameter import Parameter

    from pose_lifter.node.lifter_node import PoseLifterNode

    def make(autostart: bool = True, node_kwargs: dict | None = None, **overrides):
        values = {'model': str(tiny_model), 'diagnostics_period_s': 0.2, 'warmup_runs': 1,
                  'marker_lifetime_s': 0.0, **overrides}
        node = PoseLifterNode(context=ros.context,
                              parameter_overrides=[Parameter(k, value=v)
                                                   for k, v in values.items()],
                              **(node_kwargs or {}))
        ros.add(node)
        if autostart:
            assert node.autostart(), 'node did not become active'
        return node

    return make


@pytest.fixture
def probe(ros):
    from ros_probe import Probe
    return ros.add(Probe(ros.context))
