#!/bin/bash
# Entry point of the pose_lifter runtime image: ROS 2 and the pose_lifter install on the path,
# DDS on loopback unless the caller set otherwise, then the command.
set -e
# shellcheck disable=SC1090,SC1091
source "/opt/ros/${ROS_DISTRO}/setup.bash"
# shellcheck disable=SC1091
source /opt/pose_lifter/setup.bash
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
exec "$@"
