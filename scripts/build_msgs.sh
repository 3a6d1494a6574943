#!/usr/bin/env bash
# Build ROS 2 interface packages into a virtualenv made from the ROS 2 wheels on PyPI.
#
#   scripts/build_msgs.sh                  # src/pose_lifter_msgs into .venv (the default)
#   scripts/build_msgs.sh DIR [DIR ...]    # other interface packages (e.g. yolo_msgs sources)
#   VENV=/path/to/venv scripts/build_msgs.sh
#   FORCE=1 scripts/build_msgs.sh          # rebuild even if nothing changed
#
# Each package is built with CMake (rosidl, ament_cmake from the wheels) through
# scikit-build-core and pip, which install its whole ament layout (share/, lib/, site-packages)
# into the venv prefix, where `colcon build --install-base <venv>` would put it; `pip uninstall
# ros-<name>` removes it. A package without its own pyproject.toml (upstream sources such as
# composition_interfaces, yolo_msgs, hri_msgs) is copied to a temporary directory and given one
# by scripts/interface_pyproject.py; its source directory may be read-only.
#
# Idempotent: repairs the wheels' CMake files (scripts/fix_ros_wheels.py), then rebuilds and
# reinstalls a package only when its sources changed since its last successful build or it does
# not import. A full ROS 2 install does not need this: use colcon build.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$(cd "${VENV:-.venv}" && pwd)"
python="$venv/bin/python"
[[ $# -gt 0 ]] || set -- src/pose_lifter_msgs

"$python" scripts/fix_ros_wheels.py

# Everything a build reads; the hash changes when any of it is edited, added or removed.
sources_hash() {
  {
    find "$1" -type f \( -name '*.msg' -o -name '*.srv' -o -name '*.action' \
      -o -name package.xml -o -name CMakeLists.txt -o -name pyproject.toml \) -print0 \
      | LC_ALL=C sort -z | xargs -0 sha256sum | sed "s|  $1/|  |"
    [[ -f "$1/pyproject.toml" ]] || sha256sum scripts/interface_pyproject.py
  } | sha256sum | cut -d' ' -f1
}

# The Python modules the package must provide once installed: <name>.msg / .srv / .action.
import_check() {
  local dir="$1" name="$2" modules=() kind
  for kind in msg srv action; do
    if compgen -G "$dir/$kind/*.$kind" > /dev/null; then modules+=("$name.$kind"); fi
  done
  [[ ${#modules[@]} -gt 0 ]] || modules=("$name")
  "$python" -c "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]" \
    "${modules[@]}"
}

build_one() {
  local dir="${1%/}" name hash stamp start src tmp=''
  name="$(sed -n 's|.*<name>\s*\([^<]*\)\s*</name>.*|\1|p' "$dir/package.xml" | head -n1)"
  [[ -n "$name" ]] || { echo "build_msgs: no <name> in $dir/package.xml" >&2; return 1; }
  stamp="$venv/.$name.stamp"
  hash="$(sources_hash "$dir")"
  if [[ -z "${FORCE:-}" && -f "$stamp" && "$(cat "$stamp")" == "$hash" ]] \
    && import_check "$dir" "$name" 2>/dev/null; then
    echo "$name is up to date in $venv"
    return 0
  fi
  echo "building $name into $venv"
  start=$SECONDS
  rm -f "$stamp"
  src="$dir"
  if [[ ! -f "$dir/pyproject.toml" ]]; then
    tmp="$(mktemp -d)"
    cp -r "$dir" "$tmp/$name"
    chmod -R u+w "$tmp/$name"
    "$python" scripts/interface_pyproject.py "$tmp/$name" > "$tmp/$name/pyproject.toml"
    src="$tmp/$name"
  fi
  [[ "$src" == /* ]] || src="./$src"
  AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv" \
    "$python" -m pip install --quiet --disable-pip-version-check --no-build-isolation \
    --no-deps --force-reinstall "$src"
  [[ -z "$tmp" ]] || rm -rf "$tmp"
  import_check "$dir" "$name"
  echo "$hash" > "$stamp"
  echo "$name built and installed in $((SECONDS - start)) s"
}

for dir in "$@"; do
  build_one "$dir"
done
