"""``ros2 launch pose_lifter lift.launch.py`` as a user runs it: the installed package, real
launch and ros2 CLI (../shared/ros-wheels via make setup), loopback DDS in the test's own
domain; driven with keypoints + camera_info, inspected with ros2 node/lifecycle/param, stopped
with SIGINT or SIGTERM to the whole process group (as Ctrl-C in a terminal does)."""
import signal

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('pose_lifter_msgs.msg', reason='pose_lifter_msgs not built')

from launch_support import ROS2, Launched, graph_args, require_ros_tools, ros2  # noqa: E402
from node_support import subprocess_env, wait_until  # noqa: E402
from ros_probe import lift_once  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]
DELETE, DELETEALL = 2, 3   # visualization_msgs/Marker actions


@pytest.fixture
def launch(ros, tmp_path):
    require_ros_tools()
    started = []

    def start(*arguments: str) -> Launched:
        cmd = [str(ROS2), 'launch', 'pose_lifter', 'lift.launch.py', *arguments]
        p = Launched(cmd, subprocess_env(ros.domain_id),
                     tmp_path / f'launch{len(started)}.log', tmp_path)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


def assert_clean_exit(launched: Launched, signum: int) -> str:
    rc = launched.signal_group(signum)
    text = launched.text()
    assert rc == 0, f'ros2 launch exited {rc} after {signum!r}:\n{text}'
    assert 'Traceback' not in text, text
    assert 'internal_error' not in text, text
    assert not launched.group_alive(), f'processes left after ros2 launch exited:\n{text}'
    return text


def deleted_markers(probe) -> bool:
    with probe.lock:
        return any(m.action in (DELETE, DELETEALL) for msg in probe.markers
                   for m in msg.markers)


def test_single_node_in_a_namespace_with_the_ros2_cli(launch, ros, scene):
    from ros_probe import Probe

    probe = ros.add(Probe(ros.context, namespace='/robot'))
    env = subprocess_env(ros.domain_id)
    up = launch('namespace:=robot')
    wait_until(lambda: probe.connected() or up.proc.poll() is not None, timeout_s=60,
               what='the launched node')
    assert probe.connected(), up.text()
    _, out = lift_once(probe, scene.pixels[:2], scene.K, ids=['a', 'b'])
    assert [(s.id, s.status) for s in out.skeletons] == [('a', 'ok'), ('b', 'ok')]

    node = '/robot/pose_lifter'
    ros2(['node', 'list', *graph_args()], env, lambda out: node in out.split())
    ros2(['lifecycle', 'get', node, *graph_args()], env, lambda out: out.startswith('active'))
    ros2(['param', 'get', node, 'gate_mode', *graph_args()], env,
         lambda out: out.strip() == 'String value is: grey')
    ros2(['param', 'set', node, 'max_persons', '3', *graph_args()], env,
         lambda out: 'Set parameter successful' in out)
    ros2(['param', 'get', node, 'max_persons', *graph_args()], env,
         lambda out: out.strip() == 'Integer value is: 3')

    ros2(['lifecycle', 'set', node, 'deactivate', *graph_args()], env,
         lambda out: 'Transitioning successful' in out)
    ros2(['lifecycle', 'get', node, *graph_args()], env, lambda out: out.startswith('inactive'))
    wait_until(lambda: deleted_markers(probe), what='markers deleted on deactivate')
    ros2(['lifecycle', 'set', node, 'activate', *graph_args()], env,
         lambda out: 'Transitioning successful' in out)
    lift_once(probe, scene.pixels[:1], scene.K, ids=['c'])

    probe.clear()
    assert_clean_exit(up, signal.SIGINT)
    wait_until(lambda: deleted_markers(probe), what='markers deleted on Ctrl-C')


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_two_cameras_answer_and_stop_cleanly(launch, ros, scene, signum):
    from ros_probe import Probe

    probes = {c: ros.add(Probe(ros.context, namespace=f'/{c}')) for c in ('front', 'left')}
    env = subprocess_env(ros.domain_id)
    up = launch('cameras:=front,left')
    wait_until(lambda: all(p.connected() for p in probes.values()) or up.proc.poll() is not None,
               timeout_s=60, what='both launched nodes')
    assert all(p.connected() for p in probes.values()), up.text()
    ros2(['node', 'list', *graph_args()], env,
         lambda out: {'/front/pose_lifter', '/left/pose_lifter'} <= set(out.split()))
    for camera, probe in probes.items():
        ros2(['lifecycle', 'get', f'/{camera}/pose_lifter', *graph_args()], env,
             lambda out: out.startswith('active'))
        _, out = lift_once(probe, scene.pixels[:1], scene.K, ids=[camera])
        assert [s.id for s in out.skeletons] == [camera]
    text = assert_clean_exit(up, signum)
    assert text.count('process has finished cleanly') == 2, text
