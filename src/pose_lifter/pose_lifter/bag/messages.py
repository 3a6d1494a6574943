"""rosbags message builders for ``bag make`` (arrays in, rosbags message objects out).

Frame ids never start with '/'. The ``world`` frame follows REP-103 (x forward, y left,
z up); pose files are Y-up, so the camera poses are rotated by ``MOCAP_TO_ROS``.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.cameras import CameraSpec
from .io import typestore

WORLD_FRAME = 'world'
# Pose-file axes (x, y up, z) -> ROS world (x forward, y left, z up): a proper rotation.
MOCAP_TO_ROS = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def _t(name: str):
    return typestore().types[name]


def time_msg(ns: int):
    return _t('builtin_interfaces/msg/Time')(sec=int(ns // 1_000_000_000),
                                             nanosec=int(ns % 1_000_000_000))


def header(ns: int, frame_id: str):
    return _t('std_msgs/msg/Header')(stamp=time_msg(ns), frame_id=frame_id.lstrip('/'))


def clock(ns: int):
    return _t('rosgraph_msgs/msg/Clock')(clock=time_msg(ns))


def camera_info(ns: int, frame_id: str, spec: CameraSpec, distortion: Sequence[float] = ()):
    """sensor_msgs/CameraInfo of ``spec``: plumb_bob with 5 coefficients (zeros if none)."""
    K = spec.K
    P = np.zeros((3, 4))
    P[:, :3] = K
    d = np.zeros(5)
    d[:len(distortion)] = distortion
    roi = _t('sensor_msgs/msg/RegionOfInterest')(x_offset=0, y_offset=0, height=0, width=0,
                                                 do_rectify=False)
    return _t('sensor_msgs/msg/CameraInfo')(
        header=header(ns, frame_id), height=int(spec.height_px), width=int(spec.width),
        distortion_model='plumb_bob', d=d, k=K.ravel().astype(np.float64),
        r=np.eye(3).ravel(), p=P.ravel(), binning_x=0, binning_y=0, roi=roi)


def skeleton2d_array(ns: int, frame_id: str, joint_format: str, ids: Sequence[str],
                     keypoints: np.ndarray, confidence: np.ndarray):
    """keypoints: (P, J, 2) pixels (NaN missing); confidence: (P, J)."""
    skel = _t('pose_lifter_msgs/msg/Skeleton2D')
    people = [skel(id=str(i), x=kp[:, 0].astype(np.float32), y=kp[:, 1].astype(np.float32),
                   confidence=c.astype(np.float32))
              for i, kp, c in zip(ids, keypoints, confidence)]
    return _t('pose_lifter_msgs/msg/Skeleton2DArray')(
        header=header(ns, frame_id), joint_format=joint_format, skeletons=people)


def skeleton3d_array(ns: int, frame_id: str, ids: Sequence[str], joints: np.ndarray,
                     statuses: Sequence[str]):
    """Ground truth: joints (P, 17, 3) metres; realism 1 / plausible for status 'gt'."""
    point = _t('geometry_msgs/msg/Point')
    skel = _t('pose_lifter_msgs/msg/Skeleton3D')
    people = []
    for i, pose, status in zip(ids, joints, statuses):
        real = status == 'gt'
        people.append(skel(id=str(i), joints=[point(x=float(x), y=float(y), z=float(z))
                                              for x, y, z in pose],
                           joint_uncertainty=np.zeros(0, np.float32),
                           root_covariance=np.zeros(9, np.float64), inferred_joints=[],
                           realism=1.0 if real else 0.0, plausible=real, status=status))
    return _t('pose_lifter_msgs/msg/Skeleton3DArray')(
        header=header(ns, frame_id), joint_format='h36m17', skeletons=people)


def quaternion(R: np.ndarray) -> tuple[float, float, float, float]:
    """(3, 3) rotation -> (x, y, z, w) unit quaternion."""
    m = np.asarray(R, dtype=np.float64)
    w = np.sqrt(max(0.0, 1.0 + np.trace(m))) / 2.0
    x = np.copysign(np.sqrt(max(0.0, 1.0 + m[0, 0] - m[1, 1] - m[2, 2])) / 2.0, m[2, 1] - m[1, 2])
    y = np.copysign(np.sqrt(max(0.0, 1.0 - m[0, 0] + m[1, 1] - m[2, 2])) / 2.0, m[0, 2] - m[2, 0])
    z = np.copysign(np.sqrt(max(0.0, 1.0 - m[0, 0] - m[1, 1] + m[2, 2])) / 2.0, m[1, 0] - m[0, 1])
    q = np.array([x, y, z, w])
    return tuple(float(v) for v in q / np.linalg.norm(q))


def camera_pose_ros(centre: np.ndarray, rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Camera centre (3,) and world -> camera rotation (3, 3) in pose-file axes -> translation
    (3,) and camera -> world rotation (3, 3) in the REP-103 ``world`` frame."""
    return MOCAP_TO_ROS @ centre, MOCAP_TO_ROS @ rotation.T


def tf_static(ns: int, cameras: Sequence[tuple[str, np.ndarray, np.ndarray]]):
    """tf2_msgs/TFMessage: world -> each (frame_id, centre (3,), world->camera R (3, 3))."""
    out = []
    for frame_id, centre, rotation in cameras:
        t, R = camera_pose_ros(centre, rotation)
        qx, qy, qz, qw = quaternion(R)
        transform = _t('geometry_msgs/msg/Transform')(
            translation=_t('geometry_msgs/msg/Vector3')(x=float(t[0]), y=float(t[1]),
                                                        z=float(t[2])),
            rotation=_t('geometry_msgs/msg/Quaternion')(x=qx, y=qy, z=qz, w=qw))
        out.append(_t('geometry_msgs/msg/TransformStamped')(
            header=header(ns, WORLD_FRAME), child_frame_id=frame_id.lstrip('/'),
            transform=transform))
    return _t('tf2_msgs/msg/TFMessage')(transforms=out)
