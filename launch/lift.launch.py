"""Launch the pose_lifter node(s), optionally with RViz.

  ros2 launch pose_lifter lift.launch.py
  ros2 launch pose_lifter lift.launch.py model:=/path/model.onnx keypoints_topic:=/yolo/keypoints
  ros2 launch pose_lifter lift.launch.py cameras:=front,left rviz:=true

Parameters come from config/lifter.yaml (the one source of defaults); launch arguments left
empty do not override it. ``cameras:=front,left`` starts one node per camera, each in its own
namespace (``<namespace>/front`` ...), reading ``keypoints_2d`` and ``camera_info`` there.

Stopping: Ctrl-C (SIGINT) or SIGTERM (``kill``, ``docker stop``, systemd) to ``ros2 launch``
or to its whole process group: the nodes shut down through their lifecycle (markers deleted)
and ``ros2 launch`` exits 0. See _sigterm_like_sigint for what this file changes in launch.
"""
import gc
import signal
import threading

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'pose_lifter'
ARGUMENTS = (
    ('params_file', PathJoinSubstitution([FindPackageShare(PACKAGE), 'config', 'lifter.yaml']),
     'node parameter file'),
    ('model', '', "ONNX model; '' = the parameter file's (the shipped model)"),
    ('backend', '', "auto | onnxruntime | onnxruntime-cuda | tensorrt; '' = parameter file"),
    ('input_format', '', "pose_lifter | yolo_ros | hri (what arrives on keypoints_2d, or "
     "ROS4HRI bodies); '' = parameter file"),
    ('keypoints_topic', 'keypoints_2d', 'Skeleton2DArray input (remap of keypoints_2d)'),
    ('camera_info_topic', 'camera_info', 'CameraInfo input (remap of camera_info)'),
    ('namespace', '', 'namespace of the node(s)'),
    ('cameras', '', 'comma-separated camera names: one node per camera, namespaced by name'),
    ('use_sim_time', 'false', 'use /clock (bag replay)'),
    ('log_level', 'info', 'node log level'),
    ('rviz', 'false', 'start RViz with config/lift.rviz'),
)


def _sigterm_like_sigint() -> None:
    """Make the running ``ros2 launch`` treat SIGTERM as it treats SIGINT (a workaround).

    launch 3.x stops in order on SIGINT (SIGINT to every process it started, wait, escalate
    after ``sigterm_timeout``), but on SIGTERM it logs errors, cancels its run task, exits 1
    and may leave its processes running; without a Python SIGTERM handler it even dies of the
    signal at once. Called while launch runs (it loads this file then), this gives launch's
    signal manager its own SIGINT callback for SIGTERM and installs a no-op Python handler so
    that the signal reaches launch's loop. Other launch versions: nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        from launch.utilities.signal_management import AsyncSafeSignalManager
    except ImportError:
        return
    for manager in [o for o in gc.get_objects() if isinstance(o, AsyncSafeSignalManager)]:
        callbacks = getattr(manager, '_AsyncSafeSignalManager__handlers', {})
        on_sigint = callbacks.get(signal.SIGINT)
        if on_sigint is None or callbacks.get(signal.SIGTERM) is on_sigint:
            continue
        manager.handle(signal.SIGTERM, on_sigint)
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, lambda signum, frame: None)


def _nodes(context):
    """One node, or one per entry of ``cameras``, with only the overrides actually given."""
    arg = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    overrides = {k: arg[k] for k in ('model', 'backend', 'input_format') if arg[k]}
    overrides['use_sim_time'] = arg['use_sim_time'].lower() in ('true', '1')
    cameras = [c.strip() for c in arg['cameras'].split(',') if c.strip()] or ['']
    actions = []
    for camera in cameras:
        node = Node(
            package=PACKAGE, executable='pose_lifter_node', name='pose_lifter',
            namespace=camera, output='screen',
            parameters=[arg['params_file'], overrides],
            remappings=[('keypoints_2d', arg['keypoints_topic']),
                        ('camera_info', arg['camera_info_topic'])],
            ros_arguments=['--log-level', arg['log_level']])
        actions.append(node)
    if not arg['namespace'].strip('/'):
        return actions
    return [GroupAction([PushRosNamespace(arg['namespace'])] + actions)]


def _rviz(context):
    namespace = LaunchConfiguration('namespace').perform(context).strip('/')
    cameras = [c.strip() for c in LaunchConfiguration('cameras').perform(context).split(',')
               if c.strip()]
    prefix = '/'.join(p for p in (namespace, cameras[0] if cameras else '') if p)
    remap = [('/markers', f'/{prefix}/markers')] if prefix else []
    return [Node(package='rviz2', executable='rviz2', name='rviz2', output='screen',
                 arguments=['-d', PathJoinSubstitution(
                     [FindPackageShare(PACKAGE), 'config', 'lift.rviz'])],
                 remappings=remap, condition=IfCondition(LaunchConfiguration('rviz')))]


def generate_launch_description() -> LaunchDescription:
    _sigterm_like_sigint()
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, default, description in ARGUMENTS]
        + [OpaqueFunction(function=_nodes), OpaqueFunction(function=_rviz)])
