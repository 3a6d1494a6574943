"""Point the ROS 2 wheels' CMake exports at this interpreter's include directories.

The ros-*-msgs wheels on PyPI were built in a manylinux container, and their
``*__rosidl_generator_pyExport.cmake`` files under ``<venv>/share`` keep that build
machine's paths: ``/opt/python/cp311-cp311/include/python3.11`` and its numpy include
directory. CMake refuses to use an imported target that "includes non-existent path", so
building any interface package that depends on those messages (pose_lifter_msgs) fails
until both paths are rewritten to ``sysconfig.get_paths()['include']`` and
``numpy.get_include()`` of the interpreter running this script.

Run it with the venv's Python (``.venv/bin/python scripts/fix_ros_wheels.py``), again after
installing any further ros-*-msgs wheel. It is idempotent: a second run changes nothing.
"""

import re
import sys
import sysconfig
from pathlib import Path

import numpy

# The build machine's paths as the wheels carry them (any CPython 3 tag, numpy 1 or 2 layout).
PYTHON_INCLUDE = re.compile(r'/opt/python/cp3\d+-cp3\d+[^;"]*?/include/python3\.\d+')
NUMPY_INCLUDE = re.compile(
    r'/opt/python/cp3\d+-cp3\d+[^;"]*?/site-packages/numpy/(?:_core|core)/include'
)


def fix_file(path: Path, python_include: str, numpy_include: str) -> bool:
    """Rewrite the build-machine paths in one file; return True if it changed."""
    text = path.read_text()
    new = NUMPY_INCLUDE.sub(numpy_include, text)
    new = PYTHON_INCLUDE.sub(python_include, new)
    if new == text:
        return False
    path.write_text(new)
    return True


def main() -> int:
    prefix = Path(sys.prefix)
    python_include = sysconfig.get_paths()['include']
    numpy_include = numpy.get_include()
    for include in (python_include, numpy_include):
        if not Path(include).is_dir():
            print(f'fix_ros_wheels: include directory {include} does not exist', file=sys.stderr)
            return 1
    changed = [
        path
        for path in sorted((prefix / 'share').glob('**/*.cmake'))
        if fix_file(path, python_include, numpy_include)
    ]
    print(f'fix_ros_wheels: {len(changed)} file(s) changed under {prefix / "share"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
