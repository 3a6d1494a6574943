"""The node alone (installed console script) stopped by SIGINT or SIGTERM while keypoints
arrive at 300 Hz, and idle: exit 0, no traceback, no error logged for publishing after the
context went away, and the markers on screen deleted before the process ends."""
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('pose_lifter_msgs.msg', reason='pose_lifter_msgs not built')

from launch_support import Launched  # noqa: E402
from node_support import fresh_domain_id, subprocess_env, wait_until  # noqa: E402

pytestmark = pytest.mark.ros
CONSOLE_SCRIPT = Path(sys.executable).parent / 'pose_lifter_node'
DELETE, DELETEALL = 2, 3   # visualization_msgs/Marker actions
RATE_HZ = 300.0
ROUNDS = 2


class Load:
    """Keypoints + camera_info at RATE_HZ from a thread, until stopped."""

    def __init__(self, probe, scene):
        self.probe, self.scene = probe, scene
        self._stop = threading.Event()
        self.sent = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        next_t = time.monotonic()
        while not self._stop.is_set():
            i = self.sent % len(self.scene.pixels)
            self.probe.send(self.scene.pixels[i:i + 2], self.scene.K, ids=['a', 'b'][:2],
                            header=self.probe.next_header(dt=1.0 / RATE_HZ))
            self.sent += 1
            next_t += 1.0 / RATE_HZ
            time.sleep(max(0.0, next_t - time.monotonic()))

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5.0)


def markers_deleted(probe) -> bool:
    with probe.lock:
        return any(m.action in (DELETE, DELETEALL) for msg in probe.markers for m in msg.markers)


def start_node(ros, tmp_path, tiny_model, name: str, executor: str | None = None) -> Launched:
    """The console script; ``executor`` None: its default (config/lifter.yaml: events)."""
    if not CONSOLE_SCRIPT.is_file():
        pytest.skip(f'{CONSOLE_SCRIPT} not installed (run make setup)')
    args = ['--ros-args', '-p', f'model:={tiny_model}', '-p', 'marker_lifetime_s:=0.0',
            '-p', 'diagnostics_period_s:=0.2'] + (
                ['-p', f'executor:={executor}'] if executor else [])
    return Launched([str(CONSOLE_SCRIPT)] + args, subprocess_env(ros.domain_id),
                    tmp_path / f'{name}.log', tmp_path)


def assert_clean(node: Launched, signum: int) -> None:
    rc = node.signal_group(signum)
    text = node.text()
    assert rc == 0, f'exit {rc} after {signum!r}:\n{text}'
    for bad in ('Traceback', 'internal_error', 'context is invalid', 'RCLError'):
        assert bad not in text, f'{bad!r} in the output:\n{text}'


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_stop_under_300hz_load(ros, probe, scene, tiny_model, tmp_path, signum):
    for round_ in range(ROUNDS):
        probe.clear()
        node = start_node(ros, tmp_path, tiny_model, f'node{round_}')
        try:
            wait_until(lambda n=node: probe.connected() or n.proc.poll() is not None,
                       what='discovery of the node')
            assert probe.connected(), node.text()
            load = Load(probe, scene)
            try:
                wait_until(lambda: len(probe.skeletons) >= 30 and len(probe.markers) >= 30,
                           what='outputs under load')
                with probe.lock:
                    probe.markers.clear()
                assert_clean(node, signum)
            finally:
                load.stop()
            wait_until(lambda: markers_deleted(probe), what='markers deleted on stop')
        finally:
            node.kill()


@pytest.mark.parametrize('executor', ['events', 'single_threaded'])
@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_stop_when_idle(ros, probe, tiny_model, tmp_path, signum, executor):
    node = start_node(ros, tmp_path, tiny_model, 'idle', executor)
    try:
        wait_until(lambda: 'active:' in node.text() or node.proc.poll() is not None,
                   what='the node to become active')
        assert_clean(node, signum)
    finally:
        node.kill()


@pytest.mark.parametrize('context_ok', [True, False], ids=['running', 'shut-down'])
def test_worker_error_is_logged_only_while_the_context_is_valid(tiny_model, context_ok):
    """A publish failing because the context went away under the worker (the old shutdown
    race: 'publisher's context is invalid') ends the worker quietly; any other failure of a
    frame is still counted and logged as internal_error."""
    import rclpy
    from rclpy.context import Context
    from rclpy.parameter import Parameter

    from pose_lifter.node.lifter_node import PoseLifterNode

    context = Context()
    rclpy.init(context=context, domain_id=fresh_domain_id())
    node = PoseLifterNode(context=context, parameter_overrides=[
        Parameter('model', value=str(tiny_model)), Parameter('warmup_runs', value=1)])
    try:
        assert node.autostart()
        skipped = []
        node._skip = lambda reason, detail: skipped.append(reason)
        processed = threading.Event()

        def failing_process(*item):
            if not context_ok:
                rclpy.shutdown(context=context)
            processed.set()
            raise RuntimeError("publisher's context is invalid")

        node._process = failing_process
        node._offer(object(), None)
        assert processed.wait(10.0)
        deadline = time.monotonic() + 2.0
        while context_ok and not skipped and time.monotonic() < deadline:
            time.sleep(0.01)
        assert skipped == (['internal_error'] if context_ok else [])
        if not context_ok:
            node._worker.join(timeout=10.0)
            assert not node._worker.is_alive(), 'worker still running after the shutdown'
    finally:
        if context.ok():
            node.on_cleanup(None)
            node.destroy_node()
            rclpy.shutdown(context=context)
