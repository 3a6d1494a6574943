"""Bag topics as flat numpy tables (one row per person or per message) for scoring."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.skeleton import H36M17
from .io import BagReader, stamp_ns


@dataclass
class PersonTable:
    """Skeleton3DArray messages flattened: N persons."""

    stamp: np.ndarray       # (N,) int64 ns, header stamp
    log: np.ndarray         # (N,) int64 ns, bag log time (receive time in a replay output)
    frame_id: np.ndarray    # (N,) str
    id: np.ndarray          # (N,) str
    joints: np.ndarray      # (N, 17, 3) metres, camera frame
    realism: np.ndarray     # (N,) float
    plausible: np.ndarray   # (N,) bool
    status: np.ndarray      # (N,) str
    uncertainty: np.ndarray  # (N, 17) m, the published 90 % radii; NaN when not published
    inferred: np.ndarray    # (N, 17) bool, joints the node says it inferred

    def __len__(self) -> int:
        return len(self.stamp)

    def select(self, rows: np.ndarray) -> 'PersonTable':
        return PersonTable(*(getattr(self, f)[rows] for f in self.__dataclass_fields__))


def _joints(points) -> np.ndarray:
    """geometry_msgs/Point[] -> (17, 3); NaN rows when the count is not 17."""
    out = np.full((H36M17.num_joints, 3), np.nan)
    if len(points) == H36M17.num_joints:
        out[:] = [(p.x, p.y, p.z) for p in points]
    return out


def person_table(reader: BagReader, topic: str) -> PersonTable:
    """Every person of every Skeleton3DArray on ``topic`` (empty table if the topic is absent)."""
    cols: dict[str, list] = {f: [] for f in PersonTable.__dataclass_fields__}
    for log, msg in reader.decoded(topic):
        stamp = stamp_ns(msg.header)
        for s in msg.skeletons:
            cols['stamp'].append(stamp)
            cols['log'].append(log)
            cols['frame_id'].append(msg.header.frame_id)
            cols['id'].append(s.id)
            cols['joints'].append(_joints(s.joints))
            cols['realism'].append(float(s.realism))
            cols['plausible'].append(bool(s.plausible))
            cols['status'].append(s.status)
            radii = np.asarray(getattr(s, 'joint_uncertainty', ()), np.float64)
            cols['uncertainty'].append(radii if radii.shape == (H36M17.num_joints,)
                                       else np.full(H36M17.num_joints, np.nan))
            names = set(getattr(s, 'inferred_joints', ()) or ())
            cols['inferred'].append([n in names for n in H36M17.joint_names])
    j = H36M17.num_joints
    return PersonTable(
        np.asarray(cols['stamp'], np.int64), np.asarray(cols['log'], np.int64),
        np.asarray(cols['frame_id'], dtype=str), np.asarray(cols['id'], dtype=str),
        np.asarray(cols['joints'], np.float64).reshape(-1, H36M17.num_joints, 3),
        np.asarray(cols['realism'], np.float64), np.asarray(cols['plausible'], bool),
        np.asarray(cols['status'], dtype=str),
        np.asarray(cols['uncertainty'], np.float64).reshape(-1, j),
        np.asarray(cols['inferred'], bool).reshape(-1, j))


@dataclass
class KeypointFrame:
    """One Skeleton2DArray with the CameraInfo of its stamp, as arrays (P persons, J joints)."""

    stamp: int
    frame_id: str
    joint_format: str
    ids: list[str]
    keypoints: np.ndarray   # (P, J, 2) pixels as sent (distorted if the camera is)
    confidence: np.ndarray  # (P, J)
    camera: object | None   # the CameraInfo message of the same stamp (None if there is none)


def _person(skel, joints: int) -> tuple[np.ndarray, np.ndarray] | None:
    """x/y/confidence of one Skeleton2D -> (J, 2), (J,); None when the lengths are wrong."""
    x, y, c = (np.asarray(v, np.float64) for v in (skel.x, skel.y, skel.confidence))
    if len(x) != joints or len(y) != joints or len(c) not in (0, joints):
        return None
    return np.stack([x, y], axis=-1), c if len(c) else np.ones(joints)


def keypoint_frames(reader: BagReader, keypoints: str, camera_info: str
                    ) -> list[KeypointFrame]:
    """Every Skeleton2DArray on ``keypoints`` paired with the CameraInfo of equal stamp
    (persons with malformed arrays or an unknown joint format are left out)."""
    from ..core.adapters import JOINT_FORMATS

    cameras = {stamp_ns(msg.header): msg for _, msg in reader.decoded(camera_info)}
    frames = []
    for _, msg in reader.decoded(keypoints):
        joints = len(JOINT_FORMATS.get(msg.joint_format, ()))
        people = [(s.id, _person(s, joints)) for s in msg.skeletons] if joints else []
        people = [(i, p) for i, p in people if p is not None]
        stamp = stamp_ns(msg.header)
        frames.append(KeypointFrame(
            stamp, msg.header.frame_id, msg.joint_format, [i for i, _ in people],
            np.asarray([p[0] for _, p in people], np.float64).reshape(-1, joints, 2),
            np.asarray([p[1] for _, p in people], np.float64).reshape(-1, joints),
            cameras.get(stamp)))
    return frames


def message_times(reader: BagReader, topic: str) -> tuple[np.ndarray, np.ndarray]:
    """(stamps, log times) (M,) int64 of the header-carrying messages on ``topic``."""
    stamps, logs = [], []
    for log, msg in reader.decoded(topic):
        stamps.append(stamp_ns(msg.header))
        logs.append(log)
    return np.asarray(stamps, np.int64), np.asarray(logs, np.int64)


def last_diagnostics(reader: BagReader, topic: str) -> dict[str, str]:
    """Key/values of the last DiagnosticStatus on ``topic`` (plus its level and message)."""
    last = None
    for _, msg in reader.decoded(topic):
        if msg.status:
            last = msg.status[0]
    if last is None:
        return {}
    values = {kv.key: kv.value for kv in last.values}
    level = last.level[0] if isinstance(last.level, (bytes, bytearray)) else int(last.level)
    values.update({'level': str(level), 'message': last.message, 'name': last.name})
    return values


def match(pred: PersonTable, gt: PersonTable) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``pred`` and ``gt`` with equal (stamp, id): two (M,) index arrays."""
    index = {(int(s), str(i)): k for k, (s, i) in enumerate(zip(gt.stamp, gt.id))}
    rows = [(k, index[key]) for k, key in enumerate(zip(pred.stamp.tolist(), pred.id.tolist()))
            if key in index]
    if not rows:
        return np.zeros(0, int), np.zeros(0, int)
    a, b = np.asarray(rows).T
    return a, b
