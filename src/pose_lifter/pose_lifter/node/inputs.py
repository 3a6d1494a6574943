"""Input messages of every ``input_format`` -> arrays, without ROS (pure functions).

Everything here reads messages only by attribute, so it works on the real messages and on
plain stand-ins in tests. The formats (node parameter ``input_format``):

- ``pose_lifter``: pose_lifter_msgs/Skeleton2DArray (node/convert.py ``frame_from_msg``).
- ``yolo_ros``: yolo_msgs/DetectionArray. Person detections (``class_name`` 'person'; a
  detection without a class name counts as a person when ``class_id`` is 0, the COCO person
  class) become persons; their ``keypoints.data`` are sparse (yolo_ros lists only keypoints
  above its own threshold) with 1-based COCO-17 ids: id k -> joint k-1, unlisted joints are
  missing (NaN, confidence 0), ``score`` is the confidence. Track id = ``Detection.id``.
- ``hri``: ROS4HRI (REP-155) bodies: hri_msgs/Skeleton2D per body, 18 OpenPose-COCO points in
  image coordinates normalised to [0, 1] (x * width, y * height with CameraInfo's size give
  pixels), ``c`` the confidence. ``BodyBatcher`` gathers the bodies of one image. Track id =
  body id.

Confidences pass through unchanged (missing = 0); any threshold on them is the node's.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.adapters import COCO17_NAMES, OPENPOSE_COCO18_NAMES
from ..core.errors import PoseLifterInputError, clip

YOLO_FORMAT = 'coco17'
HRI_FORMAT = 'openpose_coco18'
PERSON_CLASS_NAME = 'person'
PERSON_CLASS_ID = 0
# A ROS4HRI body id becomes a topic name token: /humans/bodies/<id>/skeleton2d.
BODY_ID = re.compile(r'^[A-Za-z][A-Za-z0-9_]*$')


class BadInput(PoseLifterInputError):
    """An input message that cannot be used; ``reason`` is its diagnostics counter key."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


@dataclass
class Frame2D:
    """The persons of one input message as arrays (after truncation to ``max_persons``)."""

    keypoints: np.ndarray       # (N, J, 2) float64 pixels, NaN where missing
    confidence: np.ndarray      # (N, J) float64
    ids: list[str]              # N track ids ('' = none)
    joint_format: str
    truncated: int = 0          # persons dropped by the max_persons cap
    non_finite: int = 0         # persons with at least one NaN/inf coordinate or confidence


def select_persons(confidence: np.ndarray, max_persons: int) -> np.ndarray:
    """Indices (in input order) of the ``max_persons`` persons with the highest mean
    confidence. confidence: (N, J) -> (min(N, max_persons),) int."""
    n = len(confidence)
    if n <= max_persons:
        return np.arange(n)
    score = np.nan_to_num(confidence, nan=0.0).clip(0.0, 1.0).mean(axis=1)
    return np.sort(np.argsort(-score, kind='stable')[:max_persons])


def frame_from_arrays(keypoints: np.ndarray, confidence: np.ndarray, ids: Sequence[str],
                      joint_format: str, max_persons: int) -> Frame2D:
    """Count non-finite persons, keep the ``max_persons`` most confident.

    keypoints: (N, J, 2) pixels, confidence: (N, J), ids: N strings.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    conf = np.asarray(confidence, dtype=np.float64)
    non_finite = int((~np.isfinite(kp).all(axis=(1, 2)) | ~np.isfinite(conf).all(axis=1)).sum())
    keep = select_persons(conf, max_persons)
    return Frame2D(kp[keep], conf[keep], [ids[i] for i in keep], joint_format,
                   len(kp) - len(keep), non_finite)


def check_camera_frame(keypoints_frame: str, camera_frame: str) -> None:
    """Raises BadInput('camera_frame_mismatch') when the keypoints and their CameraInfo name
    different frames (a leading '/' aside): the intrinsics would be another camera's. An empty
    frame_id on either side is not checked."""
    a, b = keypoints_frame.lstrip('/'), camera_frame.lstrip('/')
    if a and b and a != b:
        raise BadInput('camera_frame_mismatch', f'keypoints in frame {clip(a)} but camera_info '
                       f'of frame {clip(b)}: check the camera_info remapping')


# ----------------------------------------------------------------------------- yolo_ros
def is_person(detection: Any) -> bool:
    """A yolo_msgs/Detection of a person: class_name 'person', or no name and class_id 0."""
    name = detection.class_name.strip().lower()
    return name == PERSON_CLASS_NAME if name else detection.class_id == PERSON_CLASS_ID


def yolo_keypoints(detection: Any) -> tuple[np.ndarray, np.ndarray]:
    """Sparse 1-based COCO-17 keypoints of one detection -> dense (17, 2) pixels (NaN where
    not listed) and (17,) confidences (0 where not listed).

    Raises BadInput('bad_keypoint_id') for an id outside 1..17 or listed twice.
    """
    j = len(COCO17_NAMES)
    kp = np.full((j, 2), np.nan)
    conf = np.zeros(j)
    seen = set()
    for point in detection.keypoints.data:
        k = int(point.id)
        if not 1 <= k <= j or k in seen:
            what = 'listed twice' if k in seen else f'outside 1..{j}'
            raise BadInput('bad_keypoint_id', f'detection {clip(detection.id)}: keypoint id {k} '
                           f'{what} (yolo_ros keypoints must be COCO-17, ids 1-based: is the '
                           'model a COCO-17 pose model?)')
        seen.add(k)
        kp[k - 1] = (point.point.x, point.point.y)
        conf[k - 1] = point.score
    return kp, conf


def frame_from_detections(msg: Any, max_persons: int) -> tuple[Frame2D, int]:
    """yolo_msgs/DetectionArray -> (Frame2D in coco17, number of non-person detections).

    Person detections in message order; a person without keypoints has every joint missing.
    """
    persons = [d for d in msg.detections if is_person(d)]
    j = len(COCO17_NAMES)
    kp = np.full((len(persons), j, 2), np.nan)
    conf = np.zeros((len(persons), j))
    for i, detection in enumerate(persons):
        kp[i], conf[i] = yolo_keypoints(detection)
    frame = frame_from_arrays(kp, conf, [d.id for d in persons], YOLO_FORMAT, max_persons)
    return frame, len(msg.detections) - len(persons)


# ----------------------------------------------------------------------------- ROS4HRI
def valid_body_id(body_id: str) -> bool:
    """True when ``body_id`` can be a topic name token (ROS4HRI ids are short letter strings)."""
    return bool(BODY_ID.match(body_id))


def body_topic(body_id: str) -> str:
    """The REP-155 topic of a body's 2D skeleton."""
    return f'/humans/bodies/{body_id}/skeleton2d'


def hri_keypoints(skeleton: Any, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """hri_msgs/Skeleton2D -> (18, 2) pixels and (18,) confidences (``c``).

    Normalised x, y in [0, 1] times the image ``width``/``height``; a point outside [0, 1] or
    not finite is missing (NaN, confidence 0), as is one with c <= 0.
    Raises BadInput('bad_lengths') when the message does not hold 18 points.
    """
    points = list(skeleton.skeleton)
    j = len(OPENPOSE_COCO18_NAMES)
    if len(points) != j:
        raise BadInput('bad_lengths', f'ROS4HRI skeleton2d has {len(points)} points, needs {j}')
    xyc = np.array([(p.x, p.y, p.c) for p in points], dtype=np.float64)
    inside = np.isfinite(xyc).all(axis=1) & (xyc[:, :2] >= 0).all(axis=1) & (
        xyc[:, :2] <= 1).all(axis=1)
    kp = np.where(inside[:, None], xyc[:, :2] * (float(width), float(height)), np.nan)
    conf = np.where(inside, xyc[:, 2], 0.0)
    return kp, conf


def frame_from_bodies(bodies: Sequence[tuple[str, Any]], width: int, height: int,
                      max_persons: int) -> Frame2D:
    """The gathered bodies of one image (id, hri_msgs/Skeleton2D) -> Frame2D in
    openpose_coco18 pixels. Raises BadInput('bad_camera_info') for bodies without an image
    size (no bodies need none)."""
    if bodies and (width <= 0 or height <= 0):
        raise BadInput('bad_camera_info', f'CameraInfo width/height {width}x{height}: cannot '
                       'de-normalise ROS4HRI keypoints (the size of the image they came from '
                       'is needed)')
    j = len(OPENPOSE_COCO18_NAMES)
    kp = np.full((len(bodies), j, 2), np.nan)
    conf = np.zeros((len(bodies), j))
    for i, (_, skeleton) in enumerate(bodies):
        kp[i], conf[i] = hri_keypoints(skeleton, width, height)
    return frame_from_arrays(kp, conf, [b for b, _ in bodies], HRI_FORMAT, max_persons)


@dataclass
class BodyBatch:
    """The bodies of one image: stamped like its newest skeleton (``header`` from it)."""

    header: Any
    stamp_ns: int
    bodies: list[tuple[str, Any]]


class BodyBatcher:
    """Gathers per-body skeletons of one image into one batch (no ROS, not thread-safe).

    ``track`` sets the tracked bodies (hri_msgs/IdsList); ``add`` takes one body's skeleton.
    A batch is emitted as soon as every tracked body has a skeleton and their stamps match
    (``max - min < slop``, or all equal: the rule of core.sync). A body whose next skeleton
    arrives before the batch completed closes the image: what arrived of it is emitted as a
    partial batch (bodies without a skeleton in that image are left out). An empty tracked
    list emits an empty batch (nobody is there: the outputs of who left get deleted).
    Late skeletons (not newer than the one waiting for, or last emitted of, the same body) and
    skeletons of bodies not tracked are ignored. Each method returns the batches it completed,
    oldest first.
    """

    def __init__(self, slop_ns: int):
        self.slop_ns = int(slop_ns)
        self.tracked: tuple[str, ...] = ()
        self._pending: dict[str, tuple[int, Any]] = {}
        self._emitted: dict[str, int] = {}      # body -> stamp of its last emitted skeleton

    def track(self, ids: Iterable[str], stamp_ns: int, header: Any) -> list[BodyBatch]:
        self.tracked = tuple(dict.fromkeys(ids))
        self._pending = {b: v for b, v in self._pending.items() if b in self.tracked}
        self._emitted = {b: v for b, v in self._emitted.items() if b in self.tracked}
        if not self.tracked:
            return [BodyBatch(header, int(stamp_ns), [])]
        return self._complete()

    def add(self, body_id: str, stamp_ns: int, skeleton: Any, header: Any) -> list[BodyBatch]:
        if body_id not in self.tracked or stamp_ns <= self._emitted.get(body_id, -1):
            return []
        out = []
        waiting = self._pending.get(body_id)
        if waiting is not None:
            if stamp_ns < waiting[0]:
                return []                       # late: a newer one already waits
            if stamp_ns > waiting[0]:
                out += self._flush()            # that body's image is over
        self._pending[body_id] = (int(stamp_ns), (skeleton, header))
        return out + self._complete()

    def _match(self, stamps: list[int]) -> bool:
        return max(stamps) == min(stamps) or max(stamps) - min(stamps) < self.slop_ns

    def _complete(self) -> list[BodyBatch]:
        out = []
        while self._pending and all(b in self._pending for b in self.tracked):
            if self._match([self._pending[b][0] for b in self.tracked]):
                out.append(self._emit(list(self.tracked)))
            else:
                out += self._flush()
        return out

    def _flush(self) -> list[BodyBatch]:
        """Emit the oldest image among the waiting skeletons (those matching the oldest)."""
        oldest = min(s for s, _ in self._pending.values())
        group = [b for b in self.tracked
                 if b in self._pending and self._match([oldest, self._pending[b][0]])]
        return [self._emit(group)]

    def _emit(self, group: list[str]) -> BodyBatch:
        taken = [(b, self._pending.pop(b)) for b in group]
        self._emitted.update((b, stamp) for b, (stamp, _) in taken)
        newest = max(taken, key=lambda item: item[1][0])
        stamp, (_, header) = newest[1]
        return BodyBatch(header, stamp, [(b, skeleton) for b, (_, (skeleton, _h)) in taken])
