"""The ROS 2 shell: lifecycle node ``pose_lifter`` (lifter_node), message conversions
(convert) and its parameter table (params). Importing this package needs rclpy and
pose_lifter_msgs; pose_lifter.core does not."""
