"""launch/lift.launch.py and config/lift.rviz: parse, reference only shipped files, get
installed. launch/launch_ros are not on PyPI: where they import, the description is built."""
import ast
import importlib.util
import runpy
import sys
from pathlib import Path

import pytest
import setuptools
import yaml
from node_support import ROOT

LAUNCH = ROOT / 'launch' / 'lift.launch.py'
RVIZ = ROOT / 'config' / 'lift.rviz'
SHARE = 'share/pose_lifter'


@pytest.fixture(scope='module')
def setup_kwargs():
    """What src/pose_lifter/setup.py passes to setuptools.setup (nothing is built)."""
    captured = {}
    real = setuptools.setup
    setuptools.setup = lambda **kw: captured.update(kw)
    try:
        runpy.run_path(str(ROOT / 'src' / 'pose_lifter' / 'setup.py'), run_name='__main__')
    finally:
        setuptools.setup = real
    return captured


def installed_files(setup_kwargs) -> set[str]:
    """'share/pose_lifter/<dir>/<name>' for every data file setup.py installs."""
    here = ROOT / 'src' / 'pose_lifter'
    return {f'{dest}/{Path(src).name}' for dest, files in setup_kwargs['data_files']
            for src in files if (here / src).resolve().is_file()}


def share_references(tree: ast.AST) -> list[tuple[str, ...]]:
    """Paths under the package share dir: PathJoinSubstitution([FindPackageShare(..), 'a', ..])."""
    refs = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and getattr(node.func, 'id', '') == 'PathJoinSubstitution'
                and node.args and isinstance(node.args[0], ast.List)):
            parts = node.args[0].elts
            if parts and getattr(getattr(parts[0], 'func', None), 'id', '') == 'FindPackageShare':
                refs.append(tuple(p.value for p in parts[1:]))
    return refs


def test_launch_file_parses_and_references_shipped_files(setup_kwargs):
    tree = ast.parse(LAUNCH.read_text())
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert 'generate_launch_description' in functions
    refs = share_references(tree)
    assert ('config', 'lifter.yaml') in refs and ('config', 'lift.rviz') in refs
    installed = installed_files(setup_kwargs)
    for ref in refs:
        assert (ROOT.joinpath(*ref)).is_file(), ref
        assert f'{SHARE}/{"/".join(ref)}' in installed, ref
    assert f'{SHARE}/launch/lift.launch.py' in installed
    executables = {c.split('=')[0].strip()
                   for c in setup_kwargs['entry_points']['console_scripts']}
    assert "'pose_lifter_node'" in LAUNCH.read_text() and 'pose_lifter_node' in executables


def test_installed_share_dir_has_the_files():
    share = Path(sys.prefix) / SHARE
    if not (share / 'package.xml').is_file():
        pytest.skip(f'pose_lifter not installed into {sys.prefix} (run make setup)')
    for rel in ('launch/lift.launch.py', 'config/lifter.yaml', 'config/lift.rviz'):
        assert (share / rel).is_file(), rel
        assert (share / rel).read_bytes() == (ROOT / rel).read_bytes(), f'{rel} is stale'


def test_rviz_config_shows_the_markers():
    cfg = yaml.safe_load(RVIZ.read_text())
    manager = cfg['Visualization Manager']
    assert manager['Global Options']['Fixed Frame'] == 'world'   # see tests/bag/test_frames.py
    (markers,) = [d for d in manager['Displays']
                  if d['Class'] == 'rviz_default_plugins/MarkerArray']
    assert markers['Enabled'] and markers['Topic']['Value'] == '/markers'
    assert markers['Topic']['Reliability Policy'] == 'Reliable'
    assert set(markers['Namespaces']) == {'bones', 'joints'}


def test_generate_launch_description_where_launch_ros_exists():
    pytest.importorskip('launch_ros', reason='launch_ros is not installable from PyPI; '
                        'it comes with a ROS 2 install or the docker image')
    from launch import LaunchContext, LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction

    spec = importlib.util.spec_from_file_location('lift_launch', LAUNCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    assert isinstance(description, LaunchDescription)
    args = {e.name for e in description.entities if isinstance(e, DeclareLaunchArgument)}
    assert {'model', 'backend', 'keypoints_topic', 'camera_info_topic', 'namespace',
            'use_sim_time', 'rviz', 'cameras'} <= args
    context = LaunchContext()
    context.launch_configurations.update(
        {name: '' for name in args} | {'cameras': 'front,left', 'use_sim_time': 'false',
                                       'log_level': 'info', 'rviz': 'false',
                                       'params_file': str(ROOT / 'config' / 'lifter.yaml'),
                                       'keypoints_topic': 'keypoints_2d',
                                       'camera_info_topic': 'camera_info'})
    (nodes,) = [e for e in description.entities if isinstance(e, OpaqueFunction)][:1]
    actions = nodes.execute(context)
    assert len(actions) == 2                                     # one node per camera
