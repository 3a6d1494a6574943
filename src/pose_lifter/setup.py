"""ament_python package pose_lifter (also pip-installable: ``pip install ./src/pose_lifter``).

launch/, config/ and models/ live at the repository root (DESIGN §2) and are installed into
share/pose_lifter, where ament_index finds them as in any colcon install.
"""
import os
from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'pose_lifter'
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))


def rel(*parts):
    """Paths relative to this file, as setuptools wants for data_files."""
    return [os.path.relpath(p, HERE) for p in sorted(glob(os.path.join(ROOT, *parts)))]


setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', rel('launch', '*.py')),
        ('share/' + PACKAGE + '/config', rel('config', '*.yaml') + rel('config', '*.rviz')),
        ('share/' + PACKAGE + '/models', rel('models', '*.onnx') + rel('models', '*.md')
         + rel('models', '*.npz') + rel('models', '*.json')),
    ],
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
