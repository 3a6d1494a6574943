"""pose_lifter: 2D human keypoints -> metric 3D skeletons, for ROS 2."""

__version__ = '0.1.0'
