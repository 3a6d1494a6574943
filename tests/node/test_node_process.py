"""The node as a separate process (python -m pose_lifter.node and the installed console
script): real DDS on loopback, the test's own domain id, every process stopped and reaped."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('pose_lifter_msgs.msg', reason='pose_lifter_msgs not built')

from launch_support import Launched  # noqa: E402
from node_support import ROOT, send_until, subprocess_env, wait_until  # noqa: E402
from ros_probe import lift_once  # noqa: E402

pytestmark = pytest.mark.ros
CONSOLE_SCRIPT = Path(sys.executable).parent / 'pose_lifter_node'


class NodeProcess(Launched):
    """A node child (its own process group, output in a file), always reaped."""

    def stop(self, timeout_s: float = 10.0) -> int:
        """SIGINT, then SIGKILL after ``timeout_s``; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=timeout_s)
        self._out.close()
        return self.proc.returncode


@pytest.fixture
def spawn(ros, tmp_path):
    started = []

    def start(args: list[str], script: bool = False, env: dict | None = None) -> NodeProcess:
        if env is None:
            env = subprocess_env(ros.domain_id)
            env['PYTHONPATH'] = os.pathsep.join(
                [str(ROOT / 'src' / 'pose_lifter'), env.get('PYTHONPATH', '')])
        cmd = ([str(CONSOLE_SCRIPT)] if script else [sys.executable, '-m', 'pose_lifter.node'])
        p = NodeProcess(cmd + ['--ros-args'] + args, env, tmp_path / f'node{len(started)}.log',
                        tmp_path)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


def params(**values) -> list[str]:
    out = []
    for k, v in values.items():
        out += ['-p', f'{k}:={v}']
    return out


def test_separate_process_lifts_survives_bad_input_and_stops_cleanly(spawn, probe, scene,
                                                                     tiny_model):
    node = spawn(params(model=tiny_model, diagnostics_period_s=0.2, max_persons=3))
    wait_until(probe.connected, what=f'discovery of the node process\n{node.text()}')
    header, out = lift_once(probe, scene.pixels[:2], scene.K, ids=['a', 'b'])
    assert out.header.stamp == header.stamp and out.header.frame_id == header.frame_id
    assert [(s.id, s.status, len(s.joints)) for s in out.skeletons] == [('a', 'ok', 17),
                                                                        ('b', 'ok', 17)]
    zero_f = scene.K.copy()
    zero_f[1, 1] = 0.0

    def count(key):
        return int(probe.latest_values().get(key, 0))

    for key, send in [
        ('skipped_unknown_joint_format',
         lambda: probe.send(scene.pixels[:1], scene.K, joint_format='mpii')),
        ('skipped_bad_camera_info', lambda: probe.send(scene.pixels[:1], zero_f)),
        ('noted_too_many_persons', lambda: probe.send(scene.pixels[:5], scene.K)),
    ]:
        send_until(send, lambda k=key: count(k) > 0, what=key)
    _, out = lift_once(probe, scene.pixels[:1], scene.K)
    assert out.skeletons[0].status == 'ok'
    assert node.proc.poll() is None
    assert node.stop() == 0
    assert 'skipped input (bad_camera_info' in node.text()


def test_bad_model_keeps_the_process_alive_with_a_clear_error(spawn, tmp_path):
    node = spawn(params(model=tmp_path / 'nope.onnx'))
    wait_until(lambda: 'configure failed' in node.text() or node.proc.poll() is not None,
               what='configure failure')
    assert node.proc.poll() is None, node.text()
    assert 'model file not found' in node.text() and 'nope.onnx' in node.text()
    assert node.stop() == 0


def test_invalid_parameter_exits_with_a_clear_error(spawn):
    node = spawn(params(gate_mode='hide'))
    node.proc.wait(timeout=30)
    assert node.proc.returncode == 2
    assert "gate_mode must be one of ['grey', 'drop', 'off']" in node.text()


def test_inputs_the_transport_loses_are_counted(spawn, probe, scene, tiny_model):
    """Best-effort samples over ~0.5 MB do not arrive between processes with Fast DDS: the
    node counts them (message_lost) and keeps serving the frames that do arrive."""
    import numpy as np
    node = spawn(params(model=tiny_model, diagnostics_period_s=0.2))
    wait_until(probe.connected, what=f'discovery of the node process\n{node.text()}')
    lift_once(probe, scene.pixels[:1], scene.K)
    kp = np.repeat(scene.pixels[:1], 64, axis=0)
    ids = [f'{k:02d}' + 'x' * 10_000 for k in range(64)]          # about 650 kB

    def lost() -> int:
        return int(probe.latest_values().get('skipped_message_lost', 0))

    send_until(lambda: (probe.send(kp, scene.K, ids=ids),
                        probe.send(scene.pixels[:1], scene.K)),
               lambda: lost() > 0, what=f'a message_lost count\n{node.text()}')
    _, out = lift_once(probe, scene.pixels[:2], scene.K)
    assert [s.status for s in out.skeletons] == ['ok', 'ok']
    assert node.proc.poll() is None


@pytest.mark.parametrize('content', [None, 'pose_lifter:\n  ros__parameters:\n    model: [x\n',
                                     'just: text: here\n'])
def test_bad_params_file_exits_with_one_line(spawn, tmp_path, content):
    path = tmp_path / 'params.yaml'
    if content is not None:
        path.write_text(content)
    node = spawn(['--params-file', str(path)])
    node.proc.wait(timeout=30)
    text = node.text()
    assert node.proc.returncode == 2, text
    assert 'Traceback' not in text
    errors = [line for line in text.splitlines() if line.startswith('pose_lifter_node: error:')]
    assert len(errors) == 1 and "Couldn't parse params file" in errors[0], text
    assert str(path) in errors[0] and '.c:' not in errors[0]


def test_installed_console_script_runs_without_any_environment(spawn, ros, probe, scene,
                                                               tiny_model):
    """`pip install ./src/pose_lifter` (make setup) puts share/pose_lifter under the venv;
    the console script finds its config there with nothing set by hand."""
    if not CONSOLE_SCRIPT.is_file():
        pytest.skip(f'{CONSOLE_SCRIPT} not installed (run make setup)')
    env = {'PATH': '/usr/bin:/bin', 'HOME': os.environ.get('HOME', '/tmp'),
           'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST', 'ROS_DOMAIN_ID': str(ros.domain_id)}
    node = spawn(params(model=tiny_model), script=True, env=env)
    wait_until(lambda: probe.connected() or node.proc.poll() is not None, what='discovery')
    assert probe.connected(), node.text()
    _, out = lift_once(probe, scene.pixels[:1], scene.K)
    assert out.skeletons[0].status == 'ok'
    assert node.stop() == 0
