"""Example: yolo_ros (mgonzs13/yolo_ros) -> pose_lifter, without glue code.

  ros2 launch pose_lifter yolo_ros.launch.py                  # yolo_ros started elsewhere
  ros2 launch pose_lifter yolo_ros.launch.py start_yolo:=true # also yolo_bringup's yolo.launch.py

yolo_ros runs a YOLO pose model (COCO-17 keypoints) on an image topic and publishes
yolo_msgs/DetectionArray: ``/yolo/detections`` (raw) and, with its tracking node (on by
default), ``/yolo/tracking`` with track ids in ``Detection.id``. pose_lifter (lift.launch.py
with ``input_format:=yolo_ros``) reads that topic as ``keypoints_2d``, keeps the person
detections, synchronises them with the CameraInfo of the same image and publishes
``skeletons_3d`` whose ids are the tracker's ids. Point ``camera_info_topic`` at the camera
info of the image yolo_ros reads (its default image is ``/camera/rgb/image_raw``).
``start_yolo:=true`` includes yolo_bringup's launch file with its pose configuration
(``yolo_params_file``); yolo_ros' launch arguments differ between its releases, so for
anything else start yolo_ros with its own launch file. lift.launch.py's own arguments (model,
backend, namespace, cameras, use_sim_time, log_level, rviz ...) reach it as given on the
command line (an included launch file sees the including one's launch configurations).
"""
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.substitutions import FindPackageShare

HERE = os.path.dirname(os.path.abspath(__file__))
ARGUMENTS = (
    ('detections_topic', '/yolo/tracking',
     'yolo_ros DetectionArray: /yolo/tracking (track ids) or /yolo/detections (no tracking)'),
    ('camera_info_topic', '/camera/rgb/camera_info',
     'CameraInfo of the image yolo_ros runs on'),
    ('start_yolo', 'false', "also start yolo_ros (yolo_bringup's yolo.launch.py)"),
    ('yolo_params_file', '',
     "yolo_ros parameter file when start_yolo is true; '' = yolo_bringup's yolo_pose.yaml"),
)


def _yolo(context):
    """yolo_bringup's launch file, looked up only when asked for (it need not be installed)."""
    if LaunchConfiguration('start_yolo').perform(context).lower() not in ('true', '1'):
        return []
    share = FindPackageShare('yolo_bringup').perform(context)
    params = (LaunchConfiguration('yolo_params_file').perform(context)
              or os.path.join(share, 'config', 'yolo_pose.yaml'))
    return [IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, 'launch', 'yolo.launch.py')),
        launch_arguments={'params_file': params}.items())]


def generate_launch_description() -> LaunchDescription:
    lift_args = {'input_format': 'yolo_ros',
                 'keypoints_topic': LaunchConfiguration('detections_topic'),
                 'camera_info_topic': LaunchConfiguration('camera_info_topic')}
    declared = [DeclareLaunchArgument(name, default_value=default, description=description)
                for name, default, description in ARGUMENTS]
    lift = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(HERE, 'lift.launch.py')),
        launch_arguments=lift_args.items())
    return LaunchDescription(declared + [OpaqueFunction(function=_yolo), lift])
