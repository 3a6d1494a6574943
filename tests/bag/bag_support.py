"""Bags written directly with rosbags for the replay and bad-input tests (no bag make)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pose_lifter.bag import io
from pose_lifter.bag import messages as m
from pose_lifter.core.cameras import EVAL_CAMERAS, eval_views
from pose_lifter.core.poses import load_pose_file

T0 = 1_600_000_000 * 1_000_000_000


def detector_bag(path: Path, demo_poses: Path, frames: int = 16, gap_s: float = 0.0,
                 keypoints: str = '/detector/keypoints',
                 camera_info: str = '/detector/camera_info') -> Path:
    """Only the two input topics (custom names), H36M keypoints of the first evaluation
    camera at 10 Hz, ids 'walker'; a ``gap_s`` pause in the middle of the timeline."""
    poses = load_pose_file(demo_poses)
    _, pixels, _ = eval_views(poses.joints[:frames * 3:3], EVAL_CAMERAS[:1])
    writer = io.open_writer(path)
    kp = io.add_topic(writer, keypoints, io.SKELETON2D_ARRAY)
    ci = io.add_topic(writer, camera_info, io.CAMERA_INFO_TYPE)
    for i in range(frames):
        ns = T0 + i * 100_000_000 + (int(gap_s * 1e9) if i >= frames // 2 else 0)
        writer.write(ci, ns, io.serialize(m.camera_info(ns, 'cam', EVAL_CAMERAS[0])))
        writer.write(kp, ns, io.serialize(m.skeleton2d_array(
            ns, 'cam', 'h36m17', ['walker'], pixels[i:i + 1], np.ones((1, 17)))))
    writer.close()
    return path


def wrong_type_bag(path: Path, msgtype: str) -> Path:
    """/keypoints_2d carrying ``msgtype`` (a standard type, or an unknown one) + CameraInfo."""
    writer = io.open_writer(path)
    if msgtype == 'std_msgs/msg/String':
        conn = io.add_topic(writer, io.KEYPOINTS, msgtype)
        data = io.serialize(io.typestore().types[msgtype](data='hello'))
    else:   # a type no typestore knows: definition and hash given explicitly
        conn = writer.add_connection(io.KEYPOINTS, msgtype, msgdef='int32 value\n',
                                     rihs01='RIHS01_' + '0' * 64)
        data = b'\x00\x01\x00\x00\x2a\x00\x00\x00'
    info = io.add_topic(writer, io.CAMERA_INFO, io.CAMERA_INFO_TYPE)
    writer.write(conn, T0, data)
    writer.write(info, T0, io.serialize(m.camera_info(T0, 'cam', EVAL_CAMERAS[0])))
    writer.close()
    return path
