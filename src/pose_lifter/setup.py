"""ament_python package pose_lifter (also pip-installable: ``pip install ./src/pose_lifter``).

launch/, config/ and models/ live at the repository root; the package carries them as links
(src/pose_lifter/share/{launch,config,models} -> the root's folders) and installs them into
share/pose_lifter, where ament_index finds them as in any colcon install. Copying the package
alone into a workspace needs the links resolved (``cp -rL src/pose_lifter ws/src/``); with
dangling links or missing files the build stops with a message saying so, instead of installing
a package without its launch file, parameters or model.

Executables: colcon installs the console scripts into lib/pose_lifter/ (setup.cfg), where
``ros2 run``/``ros2 launch`` look for them. pip puts them into bin/, so a wheel also carries
resource/pose_lifter_node as lib/pose_lifter/pose_lifter_node, which runs bin/pose_lifter_node.
"""
import os
import sys
from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'pose_lifter'
HERE = os.path.dirname(os.path.abspath(__file__))
# Files without which the installed package is broken (the launch file's defaults).
REQUIRED = ('launch/lift.launch.py', 'config/lifter.yaml', 'config/lift.rviz',
            'models/default.onnx')
SHIPPED = 'share'   # the folder of links


def shipped(folder, *patterns):
    """Files of the package's ``folder`` (a link to the repository root's) for data_files."""
    return [os.path.relpath(p, HERE) for pattern in patterns
            for p in sorted(glob(os.path.join(HERE, SHIPPED, folder, pattern)))]


def check_shipped_files():
    missing = [rel for rel in REQUIRED if not os.path.isfile(os.path.join(HERE, SHIPPED, rel))]
    if missing:
        raise SystemExit(
            f'pose_lifter: missing {", ".join(missing)} in {os.path.join(HERE, SHIPPED)}: its '
            "launch/, config/ and models/ are links to the repository root's: build inside the "
            'repository (colcon build --base-paths src, pip install ./src/pose_lifter) or copy '
            'it with the links resolved (cp -rL src/pose_lifter <workspace>/src/).')


def wheel_command():
    """bdist_wheel that also installs lib/pose_lifter/pose_lifter_node (pip installs only)."""
    try:
        from setuptools.command.bdist_wheel import bdist_wheel
    except ImportError:  # setuptools < 70.1 (colcon on older distributions never builds wheels)
        try:
            from wheel.bdist_wheel import bdist_wheel
        except ImportError:
            return {}

    class BdistWheel(bdist_wheel):
        def run(self):
            self.distribution.data_files.append(
                ('lib/' + PACKAGE, ['resource/pose_lifter_node']))
            super().run()

    return {'bdist_wheel': BdistWheel}


# Not for colcon's metadata query (setup.py --dry-run), whose errors it does not show: the build
# that follows fails with the message in colcon's output.
if '--dry-run' not in sys.argv:
    check_shipped_files()
setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', shipped('launch', '*.py')),
        ('share/' + PACKAGE + '/config', shipped('config', '*.yaml', '*.rviz')),
        ('share/' + PACKAGE + '/models', shipped('models', '*.onnx', '*.md', '*.npz', '*.json')),
    ],
    cmdclass=wheel_command(),
    install_requires=['setuptools', 'numpy', 'onnxruntime', 'pyyaml'],
    zip_safe=True,
    maintainer='pose_lifter developers',
    maintainer_email='pose-lifter@example.com',
    description='2D keypoints -> metric 3D skeletons for ROS 2',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'pose-lifter = pose_lifter.cli.main:main',
            'pose_lifter_node = pose_lifter.node.main:main',
        ],
    },
)
