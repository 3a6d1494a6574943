"""launch/yolo_ros.launch.py: the example wiring of yolo_ros -> pose_lifter. yolo_ros itself
cannot run here: the description is expanded in a LaunchContext (no process starts) and the
pose_lifter node it would start is checked: input_format yolo_ros, keypoints_2d remapped to
yolo_ros' DetectionArray topic, camera_info to its camera's."""
import importlib.util

import pytest
import yaml
from node_support import ROOT

LAUNCH = ROOT / 'launch' / 'yolo_ros.launch.py'


def expand(arguments: dict[str, str]):
    """The launch_ros Nodes the description would start, substitutions performed."""
    pytest.importorskip('launch_ros', reason='launch_ros is not installed (make setup installs '
                        'it from ../shared/ros-wheels)')
    from launch import LaunchContext
    from launch.actions import IncludeLaunchDescription
    from launch_ros.actions import Node

    spec = importlib.util.spec_from_file_location('yolo_ros_launch', LAUNCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    context = LaunchContext()
    context.launch_configurations.update(arguments)
    includes = []

    def walk(entities):
        nodes = []
        for entity in entities:
            if isinstance(entity, Node):
                if entity.condition is None or entity.condition.evaluate(context):
                    entity._perform_substitutions(context)
                    nodes.append(entity)
                continue
            if isinstance(entity, IncludeLaunchDescription):
                includes.append(entity)
            nodes += walk(entity.visit(context) or [])
        return nodes

    return walk([module.generate_launch_description()]), includes


def parameters(node) -> dict:
    """Every parameter the node gets, files merged in order (the last one wins)."""
    values = {}
    for arg, is_file in node._Node__expanded_parameter_arguments:
        if is_file:
            for block in yaml.safe_load(open(arg)).values():
                values.update(block.get('ros__parameters', {}))
    return values


def test_wires_yolo_ros_tracking_output_to_the_lifter():
    nodes, includes = expand({'params_file': str(ROOT / 'config' / 'lifter.yaml')})
    (node,) = nodes                                   # yolo_ros is not started by default
    assert node.node_package == 'pose_lifter' and node.node_executable == 'pose_lifter_node'
    assert dict(node.expanded_remapping_rules) == {'keypoints_2d': '/yolo/tracking',
                                                   'camera_info': '/camera/rgb/camera_info'}
    assert parameters(node)['input_format'] == 'yolo_ros'
    assert len(includes) == 1                         # lift.launch.py (yolo_bringup: off)


def test_start_yolo_includes_yolo_bringup():
    """start_yolo:=true looks yolo_bringup up (not installed here: a clear lookup error)."""
    from ament_index_python.packages import PackageNotFoundError
    with pytest.raises(PackageNotFoundError, match='yolo_bringup'):
        expand({'params_file': str(ROOT / 'config' / 'lifter.yaml'), 'start_yolo': 'true'})


def test_arguments_reach_the_lifter():
    nodes, _ = expand({'params_file': str(ROOT / 'config' / 'lifter.yaml'),
                       'detections_topic': '/yolo/detections',
                       'camera_info_topic': '/front/camera_info', 'cameras': 'front,left',
                       'backend': 'onnxruntime'})
    assert len(nodes) == 2                            # lift.launch.py's own arguments work
    for node in nodes:
        assert dict(node.expanded_remapping_rules)['keypoints_2d'] == '/yolo/detections'
        assert dict(node.expanded_remapping_rules)['camera_info'] == '/front/camera_info'
        params = parameters(node)
        assert params['input_format'] == 'yolo_ros' and params['backend'] == 'onnxruntime'
    assert {n.expanded_node_namespace for n in nodes} == {'/front', '/left'}


def test_installed_with_the_package():
    """setup.py installs it into share/pose_lifter/launch beside lift.launch.py."""
    import runpy
    from pathlib import Path

    import setuptools
    captured, real = {}, setuptools.setup
    setuptools.setup = lambda **kw: captured.update(kw)
    try:
        runpy.run_path(str(ROOT / 'src' / 'pose_lifter' / 'setup.py'), run_name='__main__')
    finally:
        setuptools.setup = real
    launch = [Path(f).name for dest, files in captured['data_files']
              if dest == 'share/pose_lifter/launch' for f in files]
    assert 'yolo_ros.launch.py' in launch and 'lift.launch.py' in launch
