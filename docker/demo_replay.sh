#!/bin/bash
# The compose demo, inside the runtime image: make the demo bag (once), replay it through the
# node of the `lifter` service (--attach: same host loopback, same ROS_DOMAIN_ID), score it.
# Everything is written under /data (a bind mount, see compose.yaml).
set -euo pipefail
share="$(ros2 pkg prefix pose_lifter)/share/pose_lifter"
cli() { ros2 run pose_lifter pose-lifter "$@"; }
if [ ! -d /data/demo_bag ]; then
  cli bag make "${share}/models/demo_poses.npz" --out /data/demo_bag --fps 10 \
    --persons 2 --corrupt-prob 0.2 --noise-px 1.0
fi
rm -rf /data/demo_out /data/demo_report
cli bag replay /data/demo_bag --out /data/demo_out --attach --startup-timeout 120
cli bag score /data/demo_out --report /data/demo_report
