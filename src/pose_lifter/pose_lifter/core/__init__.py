"""ROS-free core of pose_lifter: numpy only (no rclpy, no torch)."""
