#!/usr/bin/env bash
# Build pose_lifter_msgs into a virtualenv made from the ROS 2 wheels on PyPI (DESIGN.md §11).
#
#   scripts/build_msgs.sh            # VENV defaults to .venv at the repository root
#   VENV=/path/to/venv scripts/build_msgs.sh
#   FORCE=1 scripts/build_msgs.sh    # rebuild even if nothing changed
#
# Idempotent: repairs the wheels' CMake files (scripts/fix_ros_wheels.py), then rebuilds and
# reinstalls the package only when its sources changed since the last successful build or it is
# not installed. A full ROS 2 install does not need this: use colcon build.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$(cd "${VENV:-.venv}" && pwd)"
python="$venv/bin/python"
pkg=src/pose_lifter_msgs
stamp="$venv/.pose_lifter_msgs.stamp"

"$python" scripts/fix_ros_wheels.py

# Everything the build reads; the hash changes when any of it is edited, added or removed.
sources_hash="$(
  find "$pkg" -type f \( -name '*.msg' -o -name '*.srv' -o -name '*.action' \
    -o -name package.xml -o -name CMakeLists.txt -o -name pyproject.toml \) -print0 \
    | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
)"

if [[ -z "${FORCE:-}" && -f "$stamp" && "$(cat "$stamp")" == "$sources_hash" ]] \
  && "$python" -c 'import pose_lifter_msgs.msg' 2>/dev/null; then
  echo "pose_lifter_msgs is up to date in $venv"
  exit 0
fi

echo "building pose_lifter_msgs into $venv"
start=$SECONDS
rm -f "$stamp"
AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv" \
  "$python" -m pip install --quiet --no-build-isolation --no-deps --force-reinstall "./$pkg"
"$python" -c 'from pose_lifter_msgs.msg import Skeleton2DArray, Skeleton3DArray'
echo "$sources_hash" > "$stamp"
echo "pose_lifter_msgs built and installed in $((SECONDS - start)) s"
