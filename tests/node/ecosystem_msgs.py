"""Test data in the ecosystem's formats: yolo_ros DetectionArray and ROS4HRI Skeleton2D from
known keypoints (real message classes where given, else anything with the same fields)."""
from __future__ import annotations

import numpy as np

from pose_lifter.core.adapters import COCO17_NAMES, OPENPOSE_COCO18_NAMES


def openpose18_from_coco17(kp: np.ndarray, conf: np.ndarray | None = None):
    """(N, 17, 2) COCO-17 -> (N, 18, 2) OpenPose-COCO-18 (neck = shoulder midpoint), (N, 18)."""
    kp = np.asarray(kp, dtype=np.float64)
    conf = np.ones(kp.shape[:2]) if conf is None else np.asarray(conf, dtype=np.float64)
    out = np.full((len(kp), 18, 2), np.nan)
    out_conf = np.zeros((len(kp), 18))
    for j, name in enumerate(OPENPOSE_COCO18_NAMES):
        if name == 'neck':
            ls, rs = COCO17_NAMES.index('l_shoulder'), COCO17_NAMES.index('r_shoulder')
            out[:, j] = (kp[:, ls] + kp[:, rs]) / 2
            out_conf[:, j] = np.minimum(conf[:, ls], conf[:, rs])
        else:
            out[:, j] = kp[:, COCO17_NAMES.index(name)]
            out_conf[:, j] = conf[:, COCO17_NAMES.index(name)]
    return out, out_conf


def detection_array(yolo, header, keypoints, confidence=None, ids=None, missing=(),
                    classes=None):
    """yolo_msgs/DetectionArray: one detection per person of (N, 17, 2) pixels, keypoints
    listed sparsely with 1-based ids, ``missing`` (person, joint) pairs left out; ``classes``
    a list of (class_id, class_name) per detection (default person)."""
    kp = np.asarray(keypoints, dtype=np.float64)
    conf = np.full(kp.shape[:2], 0.9) if confidence is None else confidence
    out = yolo.DetectionArray(header=header)
    for n in range(len(kp)):
        class_id, class_name = classes[n] if classes else (0, 'person')
        det = yolo.Detection(class_id=class_id, class_name=class_name, score=0.8,
                             id='' if ids is None else ids[n])
        for j in range(kp.shape[1]):
            if (n, j) in missing:
                continue
            det.keypoints.data.append(yolo.KeyPoint2D(
                id=j + 1, point=yolo.Point2D(x=float(kp[n, j, 0]), y=float(kp[n, j, 1])),
                score=float(conf[n, j])))
        out.detections.append(det)
    return out


def hri_skeleton(hri, header, keypoints18, confidence18, width: int, height: int):
    """hri_msgs/Skeleton2D of one body: (18, 2) pixels -> normalised points."""
    msg = hri.Skeleton2D(header=header)
    msg.skeleton = [hri.NormalizedPointOfInterest2D(
        x=float(x / width), y=float(y / height), c=float(c))
        for (x, y), c in zip(np.nan_to_num(keypoints18, nan=-1.0), confidence18)]
    return msg
