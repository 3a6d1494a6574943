"""launch/lift.launch.py and config/lift.rviz: parse, reference only shipped files, get
installed; package.xml declares what the code imports; the pip install layout that ``ros2
launch``/``ros2 run`` need. launch/launch_ros are not on PyPI: where they import (make setup
with ../shared beside the repository), the description is built. Running it for real:
test_ros2_launch.py; colcon: test_colcon.py."""
import ast
import importlib.util
import os
import runpy
import sys
import xml.etree.ElementTree as ET
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
    from launch_support import require_ros_tools
    require_ros_tools()
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


# Import name -> package.xml key. Imported only when asked for, not declared: tensorrt and
# cuda (the optional TensorRT backend), pose_lifter_training (the torch backend), yolo_msgs (not
# released into the ROS distributions; input_format yolo_ros).
DECLARED_AS = {
    'rclpy': 'rclpy', 'pose_lifter_msgs': 'pose_lifter_msgs', 'std_msgs': 'std_msgs',
    'geometry_msgs': 'geometry_msgs', 'sensor_msgs': 'sensor_msgs',
    'visualization_msgs': 'visualization_msgs', 'diagnostic_msgs': 'diagnostic_msgs',
    'lifecycle_msgs': 'lifecycle_msgs', 'rcl_interfaces': 'rcl_interfaces',
    'builtin_interfaces': 'builtin_interfaces', 'rosgraph_msgs': 'rosgraph_msgs',
    'ament_index_python': 'ament_index_python', 'message_filters': 'message_filters',
    'launch': 'launch', 'launch_ros': 'launch_ros', 'hri_msgs': 'hri_msgs',
    'numpy': 'python3-numpy', 'cv2': 'python3-opencv', 'yaml': 'python3-yaml',
    'onnxruntime': 'python3-onnxruntime-pip', 'rosbags': 'python3-rosbags-pip',
    'matplotlib': 'python3-matplotlib',
}
OPTIONAL = {'tensorrt', 'cuda', 'pose_lifter_training', 'yolo_msgs', 'pose_lifter'}


def imported_modules() -> dict[str, str]:
    """Top-level module -> first file importing it, over the package and the launch files
    (``import_module('x.msg')`` with a literal name counts too)."""
    files = sorted((ROOT / 'src' / 'pose_lifter' / 'pose_lifter').rglob('*.py'))
    files += sorted((ROOT / 'launch').glob('*.py'))
    found = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif (isinstance(node, ast.Call) and getattr(node.func, 'attr', '') == 'import_module'
                  and node.args and isinstance(node.args[0], ast.Constant)
                  and isinstance(node.args[0].value, str)):
                names = [node.args[0].value]
            for name in names:
                found.setdefault(name.split('.')[0], str(path.relative_to(ROOT)))
    return found


def test_package_xml_declares_every_import():
    root = ET.parse(ROOT / 'src' / 'pose_lifter' / 'package.xml').getroot()
    keys = {e.text.strip() for tag in ('depend', 'exec_depend') for e in root.iter(tag)}
    third_party = {m: f for m, f in imported_modules().items()
                   if m not in sys.stdlib_module_names and m != '__future__'}
    unknown = {m: f for m, f in third_party.items() if m not in DECLARED_AS and m not in OPTIONAL}
    assert not unknown, f'imports without a package.xml key in DECLARED_AS: {unknown}'
    missing = {DECLARED_AS[m]: f for m, f in third_party.items()
               if m in DECLARED_AS and DECLARED_AS[m] not in keys}
    assert not missing, f'package.xml lacks {missing}'
    assert {'rclpy', 'launch_ros', 'python3-onnxruntime-pip', 'rviz2'} <= keys
    assert {'rosgraph_msgs', 'ament_index_python', 'python3-rosbags-pip'} <= set(
        DECLARED_AS[m] for m in third_party if m in DECLARED_AS)


def test_pip_install_puts_the_node_where_ros2_run_looks():
    """ros2 run / ros2 launch look in <prefix>/lib/<package>/ (the colcon layout); a pip install
    of this package puts a stand-in there that runs the console script of the same prefix."""
    share = Path(sys.prefix) / SHARE
    if not (share / 'package.xml').is_file():
        pytest.skip(f'pose_lifter not installed into {sys.prefix} (run make setup)')
    stand_in = Path(sys.prefix) / 'lib' / 'pose_lifter' / 'pose_lifter_node'
    assert stand_in.is_file() and os.access(stand_in, os.X_OK)
    target = stand_in.parent / '..' / '..' / 'bin' / 'pose_lifter_node'
    assert target.resolve() == (Path(sys.prefix) / 'bin' / 'pose_lifter_node').resolve()
    assert target.is_file()
    for rel in ('launch', 'config', 'models'):
        assert any((share / rel).iterdir()), f'{SHARE}/{rel} is empty'


def test_package_links_point_at_the_root_folders():
    """The package carries launch/, config/ and models/ as links (see setup.py)."""
    for name in ('launch', 'config', 'models'):
        link = ROOT / 'src' / 'pose_lifter' / 'share' / name
        assert link.is_symlink() and link.resolve() == (ROOT / name).resolve(), name
