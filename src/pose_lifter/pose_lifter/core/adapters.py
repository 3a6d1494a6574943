"""Joint-format adapters: detector keypoint layouts -> the canonical H36M-17 layout.

Detectors rarely emit Human3.6M joints. Each adapter is a table of direct copies plus a few
derived joints (docs/inputs.md). A derived joint's confidence is the minimum of its sources; a
joint whose sources are missing is missing (NaN coordinates, confidence 0).
"""
from __future__ import annotations

import numpy as np

from .camera import finite_points
from .errors import PoseLifterInputError, clip
from .skeleton import H36M17


class UnknownJointFormat(PoseLifterInputError):
    """Raised for a ``joint_format`` no adapter knows."""


COCO17_NAMES = ('nose', 'l_eye', 'r_eye', 'l_ear', 'r_ear', 'l_shoulder', 'r_shoulder',
                'l_elbow', 'r_elbow', 'l_wrist', 'r_wrist', 'l_hip', 'r_hip', 'l_knee', 'r_knee',
                'l_ankle', 'r_ankle')
BODY25_NAMES = ('nose', 'neck', 'r_shoulder', 'r_elbow', 'r_wrist', 'l_shoulder', 'l_elbow',
                'l_wrist', 'mid_hip', 'r_hip', 'r_knee', 'r_ankle', 'l_hip', 'l_knee', 'l_ankle',
                'r_eye', 'l_eye', 'r_ear', 'l_ear', 'l_big_toe', 'l_small_toe', 'l_heel',
                'r_big_toe', 'r_small_toe', 'r_heel')
# OpenPose's 18-point COCO model as ROS4HRI carries it (hri_msgs/Skeleton2D, REP-155), in the
# order of that message's constants. OpenPose's own output lists the eyes and ears the other
# way round (r_eye, l_eye, r_ear, l_ear); the adapter only uses their left/right midpoints, so
# either order gives the same H36M joints.
OPENPOSE_COCO18_NAMES = ('nose', 'neck', 'r_shoulder', 'r_elbow', 'r_wrist', 'l_shoulder',
                         'l_elbow', 'l_wrist', 'r_hip', 'r_knee', 'r_ankle', 'l_hip', 'l_knee',
                         'l_ankle', 'l_eye', 'r_eye', 'l_ear', 'r_ear')

JOINT_FORMATS: dict[str, tuple[str, ...]] = {
    'h36m17': H36M17.joint_names,
    'coco17': COCO17_NAMES,
    'body25': BODY25_NAMES,
    'openpose_coco18': OPENPOSE_COCO18_NAMES,
}

# Where the H36M spine joint sits on the pelvis -> thorax segment, and how far the H36M head
# joint sits above the ear midpoint (as a fraction of thorax -> ear midpoint). Anthropometric
# approximations; the accuracy cost of the COCO mapping is measured in the model card.
SPINE_FRACTION = 0.48  # measured on the CMU data: 0.477 +- 0.012
HEAD_EXTRAPOLATION = 0.35
# Hip width / shoulder width (joint centres), for a pelvis or thorax with one side unseen.
# CMU data: median 0.46, 5-95 % 0.41-0.77 across rigs.
HIP_TO_SHOULDER = 0.5


def num_joints(joint_format: str) -> int:
    """Number of joints of a known format; raises UnknownJointFormat otherwise."""
    try:
        return len(JOINT_FORMATS[joint_format])
    except KeyError:
        raise UnknownJointFormat(
            f'unknown joint_format {clip(joint_format)}; known: {sorted(JOINT_FORMATS)}') from None


def clean(keypoints: np.ndarray, confidence: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Mark missing joints consistently.

    keypoints: (N, J, 2), confidence: (N, J) or None -> keypoints with NaN where missing,
    confidence in [0, 1] with 0 where missing. Non-finite coordinates, non-finite or
    non-positive confidences are missing.
    """
    kp = np.array(keypoints, dtype=np.float64)
    finite = finite_points(kp)
    if confidence is None:          # every finite joint present, confidence 1
        kp[~finite] = np.nan
        return kp, finite.astype(np.float64)
    conf = np.array(confidence, dtype=np.float64)
    if conf.shape != kp.shape[:-1]:
        raise ValueError(f'confidence shape {conf.shape} does not match keypoints '
                         f'{kp.shape[:-1]}')
    missing = ~finite | ~np.isfinite(conf) | (conf <= 0)
    kp[missing] = np.nan
    conf = np.where(missing, 0.0, np.minimum(conf, 1.0))    # the rest is > 0 already
    return kp, conf


def _mid(kp: np.ndarray, conf: np.ndarray, a: int, b: int, t: float = 0.5):
    """Point a + t (b - a) over the batch; (N, 2), (N,)."""
    return kp[:, a] + t * (kp[:, b] - kp[:, a]), np.minimum(conf[:, a], conf[:, b])


def _mid_or_one_side(kp: np.ndarray, conf: np.ndarray, pair: tuple[int, int],
                     guide: tuple[int, int], ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Midpoint of a left/right ``pair``; where one of the pair is missing, estimated from
    the other one and the parallel ``guide`` pair (hips from shoulders and back):
    mid = seen + (+-)0.5 * ratio * (guide_left - guide_right). Its confidence is halved, so a
    derived joint that rests on a guess is never more trusted than a seen one. (N, 2), (N,)"""
    mid, mconf = _mid(kp, conf, *pair)
    half = 0.5 * ratio * (kp[:, guide[0]] - kp[:, guide[1]])
    gconf = np.minimum(conf[:, guide[0]], conf[:, guide[1]])
    for seen, sign in ((pair[1], 1.0), (pair[0], -1.0)):   # left missing, then right missing
        other = pair[0] if seen == pair[1] else pair[1]
        take = (mconf <= 0) & (conf[:, other] <= 0) & (conf[:, seen] > 0) & (gconf > 0)
        mid[take] = kp[take, seen] + sign * half[take]
        mconf[take] = 0.5 * np.minimum(conf[take, seen], gconf[take])
    return mid, mconf


def _head_from_face(kp: np.ndarray, conf: np.ndarray, names: tuple[str, ...],
                    thorax: np.ndarray, thorax_conf: np.ndarray):
    """H36M head joint from ears (preferred) or eyes, extrapolated away from the thorax."""
    n = names.index
    out = np.full((kp.shape[0], 2), np.nan)
    out_conf = np.zeros(kp.shape[0])
    for left, right in (('l_ear', 'r_ear'), ('l_eye', 'r_eye')):
        mid, mconf = _mid(kp, conf, n(left), n(right))
        top = mid + HEAD_EXTRAPOLATION * (mid - thorax)
        tconf = np.minimum(mconf, thorax_conf)
        take = (out_conf == 0) & (tconf > 0)
        out[take], out_conf[take] = top[take], tconf[take]
    return out, out_conf


def to_h36m17(keypoints: np.ndarray, confidence: np.ndarray | None,
              joint_format: str) -> tuple[np.ndarray, np.ndarray]:
    """Adapt a batch of keypoints to H36M-17.

    keypoints: (N, J, 2) in the layout of ``joint_format``; confidence: (N, J) or None.
    Returns (N, 17, 2) keypoints (NaN where missing) and (N, 17) confidences.
    """
    names = JOINT_FORMATS.get(joint_format)
    if names is None:
        num_joints(joint_format)  # raises with the list of known formats
    kp = np.asarray(keypoints)
    if kp.ndim != 3 or kp.shape[1:] != (len(names), 2):
        raise ValueError(f'{joint_format} keypoints must have shape (N, {len(names)}, 2), '
                         f'got {kp.shape}')
    kp, conf = clean(kp, confidence)
    if joint_format == 'h36m17':
        return kp, conf

    n = names.index
    h = H36M17.index
    out = np.full((kp.shape[0], H36M17.num_joints, 2), np.nan)
    out_conf = np.zeros((kp.shape[0], H36M17.num_joints))
    for name in H36M17.joint_names:
        if name in names:
            out[:, h(name)], out_conf[:, h(name)] = kp[:, n(name)], conf[:, n(name)]
    out[:, h('pelvis')], out_conf[:, h('pelvis')] = _mid_or_one_side(
        kp, conf, (n('l_hip'), n('r_hip')), (n('l_shoulder'), n('r_shoulder')), HIP_TO_SHOULDER)
    thorax, thorax_conf = _mid_or_one_side(
        kp, conf, (n('l_shoulder'), n('r_shoulder')), (n('l_hip'), n('r_hip')),
        1.0 / HIP_TO_SHOULDER)
    out[:, h('thorax')], out_conf[:, h('thorax')] = thorax, thorax_conf
    out[:, h('spine')], out_conf[:, h('spine')] = _mid(
        out, out_conf, h('pelvis'), h('thorax'), SPINE_FRACTION)
    out[:, h('neck_nose')], out_conf[:, h('neck_nose')] = kp[:, n('nose')], conf[:, n('nose')]
    out[:, h('head')], out_conf[:, h('head')] = _head_from_face(kp, conf, names, thorax,
                                                                thorax_conf)
    out[out_conf <= 0] = np.nan
    out_conf[~finite_points(out)] = 0.0
    return out, out_conf
