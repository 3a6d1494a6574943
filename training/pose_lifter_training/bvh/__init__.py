"""BVH motion capture -> the project's H36M-17 pose file (``convert-bvh``; docs/data.md).

``parse`` reads BVH files, ``kinematics`` runs forward kinematics, ``rig`` loads the joint
mappings (``pose_lifter_training/rigs/*.yaml``), ``convert`` makes clips and writes pose files.
"""
from .convert import (
    Clip,
    ConversionError,
    convert_bvh,
    find_bvh_files,
    map_joints,
    write_pose_file,
)
from .kinematics import euler_matrices, forward_kinematics
from .parse import Bvh, BvhError, BvhJoint, parse_bvh, read_bvh
from .rig import Rig, RigError, load_rig, rig_from_dict

__all__ = ['Bvh', 'BvhError', 'BvhJoint', 'Clip', 'ConversionError', 'Rig', 'RigError',
           'convert_bvh', 'euler_matrices', 'find_bvh_files', 'forward_kinematics', 'load_rig',
           'map_joints', 'parse_bvh', 'read_bvh', 'rig_from_dict', 'write_pose_file']
