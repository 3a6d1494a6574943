#!/usr/bin/env bash
# The real ROS 2 launch and command-line tools in the development virtualenv, where the
# project-internal folder ../shared (beside the repository) provides them:
#   ../shared/ros-src/{composition_interfaces,yolo_msgs,hri_msgs}  interface packages, built
#       into the venv by scripts/build_msgs.sh (launch_ros imports composition_interfaces; the
#       yolo_ros and ROS4HRI inputs use the other two)
#   ../shared/ros-wheels/*.whl  launch, launch_ros, ros2cli (ros2 launch|run|node|topic|param|
#       lifecycle|service|interface|pkg), rosidl_runtime_py, message_filters: installed with
#       --no-deps; what they need from PyPI is pinned in requirements.txt (osrf-pycommon, psutil;
#       the `lark` module comes from lark-parser, which rosidl_parser already pulls in)
# and makes the venv an ament prefix for `ros2 launch`/`ros2 run` (a .pth file appends the venv
# to AMENT_PREFIX_PATH in every Python started from it: a sourced workspace, e.g. a colcon
# install, stays in front and overlays it).
# Without ../shared it prints one line and exits 0: the tests that need these tools skip.
#
#   VENV=/path/to/venv SHARED=/path/to/shared scripts/setup_ros_tools.sh
#   FORCE=1 ...      # reinstall even if nothing changed
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$(cd "${VENV:-.venv}" && pwd)"
python="$venv/bin/python"
shared="${SHARED:-$root/../shared}"

if [[ ! -d "$shared/ros-wheels" || ! -d "$shared/ros-src" ]]; then
  echo "setup: no ROS 2 launch/CLI tools ($shared/ros-wheels and ros-src not found):" \
    "skipping ros2 launch, ros2 CLI, message_filters, yolo_msgs, hri_msgs; their tests skip"
  exit 0
fi
shared="$(cd "$shared" && pwd)"

# 1. Interface packages (each rebuilt only when its sources changed).
bash scripts/build_msgs.sh "$shared/ros-src/composition_interfaces" \
  "$shared/ros-src/yolo_msgs" "$shared/ros-src/hri_msgs"

# 2. The wheels, reinstalled only when the set of wheels changed.
stamp="$venv/.ros_wheels.stamp"
hash="$(cd "$shared/ros-wheels" && sha256sum ./*.whl | sha256sum | cut -d' ' -f1)"
if [[ -z "${FORCE:-}" && -f "$stamp" && "$(cat "$stamp")" == "$hash" && -x "$venv/bin/ros2" ]] \
  && "$python" -c 'import launch_ros, ros2cli, message_filters, rosidl_runtime_py' 2>/dev/null
then
  echo "ROS 2 launch/CLI wheels are up to date in $venv"
else
  echo "installing the ROS 2 launch/CLI wheels of $shared/ros-wheels into $venv"
  rm -f "$stamp"
  "$python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall \
    "$shared"/ros-wheels/*.whl
  "$python" -c 'import launch_ros.actions, ros2cli.cli, message_filters, rosidl_runtime_py'
  echo "$hash" > "$stamp"
fi

# 3. The venv as an ament prefix: `ros2 launch pose_lifter ...` finds share/pose_lifter there.
site="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
cat > "$site/pose_lifter_ament_prefix.pth" <<'PTH'
import os, sys; p = os.environ.get('AMENT_PREFIX_PATH', ''); os.path.isdir(os.path.join(sys.prefix, 'share', 'ament_index')) and sys.prefix not in p.split(os.pathsep) and os.environ.__setitem__('AMENT_PREFIX_PATH', os.pathsep.join(filter(None, [p, sys.prefix])))
PTH
echo "ROS 2 launch/CLI tools ready: $venv/bin/ros2"
