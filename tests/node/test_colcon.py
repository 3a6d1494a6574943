"""The repository as a ROS 2 workspace: ``colcon build --base-paths src`` (colcon from PyPI,
into a temporary build/install), the installed share/pose_lifter, ``ros2 launch`` from that
install, and a package copied alone into a workspace (links resolved or not)."""
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('pose_lifter_msgs.msg', reason='pose_lifter_msgs not built')

from launch_support import ROS2, Launched, graph_args, require_ros_tools, ros2  # noqa: E402
from node_support import ROOT, subprocess_env  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]
COLCON = Path(sys.executable).parent / 'colcon'
BUILD_TIMEOUT_S = 600


def colcon_build(base: Path, work: Path) -> subprocess.CompletedProcess:
    """colcon build of the packages under ``base`` into ``work``/{build,install,log}, with the
    venv (the ROS 2 wheels) as the underlay."""
    if not COLCON.is_file():
        pytest.skip(f'{COLCON} not installed (requirements.txt: colcon-core, colcon-ros)')
    env = dict(os.environ, AMENT_PREFIX_PATH=sys.prefix, CMAKE_PREFIX_PATH=sys.prefix)
    return subprocess.run(
        [str(COLCON), '--log-base', str(work / 'log'), 'build', '--base-paths', str(base),
         '--build-base', str(work / 'build'), '--install-base', str(work / 'install'),
         '--cmake-args', '-DBUILD_TESTING=OFF'],
        cwd=work, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)


def sourced_env(install: Path, domain_id: int) -> dict[str, str]:
    """The environment after ``. install/setup.sh``, as a user gets it."""
    out = subprocess.run(['sh', '-c', f'. "{install}/setup.sh" && env -0'],
                         env=subprocess_env(domain_id), capture_output=True, check=True)
    return dict(item.split('=', 1) for item in out.stdout.decode().split('\0') if '=' in item)


@pytest.fixture(scope='module')
def workspace(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp('colcon')
    result = colcon_build(ROOT / 'src', work)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return work / 'install'


def test_colcon_installs_launch_config_models_and_the_executable(workspace):
    share = workspace / 'pose_lifter' / 'share' / 'pose_lifter'
    for folder, must in [('launch', 'lift.launch.py'), ('config', 'lifter.yaml'),
                         ('config', 'lift.rviz'), ('models', 'default.onnx')]:
        assert (share / folder / must).is_file(), f'{folder}/{must} not installed'
        assert (share / folder / must).read_bytes() == (ROOT / folder / must).read_bytes()
    executable = workspace / 'pose_lifter' / 'lib' / 'pose_lifter' / 'pose_lifter_node'
    assert executable.is_file() and os.access(executable, os.X_OK)
    assert (workspace / 'pose_lifter_msgs' / 'share' / 'pose_lifter_msgs' / 'msg'
            / 'Skeleton3DArray.msg').is_file()


def test_ros2_launch_from_the_colcon_install(workspace, ros, tmp_path):
    require_ros_tools()
    env = sourced_env(workspace, ros.domain_id)
    prefix = ros2(['pkg', 'prefix', 'pose_lifter'], env).strip()
    assert prefix == str(workspace / 'pose_lifter')
    up = Launched([str(ROS2), 'launch', 'pose_lifter', 'lift.launch.py'], env,
                  tmp_path / 'launch.log', tmp_path)
    try:
        ros2(['lifecycle', 'get', '/pose_lifter', *graph_args()], env,
             lambda out: out.startswith('active'))
        node_cmd = subprocess.run(['ps', '-ww', '-o', 'args=', '-g', str(up.proc.pid)],
                                  capture_output=True, text=True).stdout
        assert f'{workspace}/pose_lifter/lib/pose_lifter/pose_lifter_node' in node_cmd
        assert f'{workspace}/pose_lifter/share/pose_lifter/config/lifter.yaml' in node_cmd
        rc = up.signal_group(signal.SIGINT)
        assert rc == 0 and 'Traceback' not in up.text(), up.text()
    finally:
        up.kill()


@pytest.mark.parametrize('resolve_links', [False, True], ids=['cp-r', 'cp-rL'])
def test_package_copied_alone_into_a_workspace(tmp_path, resolve_links):
    """src/pose_lifter/share/{launch,config,models} are links to the repository root: copied
    with them resolved the package is complete; with dangling links the build fails and says
    why, instead of installing a package without launch file, parameters and model."""
    src = tmp_path / 'ws' / 'src'
    shutil.copytree(ROOT / 'src' / 'pose_lifter', src / 'pose_lifter', symlinks=not resolve_links,
                    ignore=shutil.ignore_patterns('build', '*.egg-info', '__pycache__'))
    result = colcon_build(src, tmp_path / 'ws')
    share = tmp_path / 'ws' / 'install' / 'pose_lifter' / 'share' / 'pose_lifter'
    if resolve_links:
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        assert (share / 'models' / 'default.onnx').is_file()
        assert (share / 'launch' / 'lift.launch.py').is_file()
    else:
        assert result.returncode != 0
        log = (tmp_path / 'ws' / 'log' / 'latest_build' / 'pose_lifter' / 'stderr.log')
        text = result.stderr + (log.read_text() if log.is_file() else '')
        assert 'missing launch/lift.launch.py' in text and 'cp -rL' in text, text[-3000:]
        assert not (share / 'launch' / 'lift.launch.py').exists()
