"""The playback plan of ``bag replay``: input messages with playback times (long gaps cut),
the ground truth to pass through, and the empty probe frame of the start-up handshake."""
from __future__ import annotations

from dataclasses import dataclass

from .io import GT, BagError, BagReader, deserialize, serialize, stamp_ns
from .messages import time_msg

PROBE_OFFSET_NS = 1_000_000


@dataclass
class Schedule:
    """Input messages with their playback times (bag timeline, gaps cut)."""

    items: list[tuple[str, int, int, bytes]]   # (topic, bag log time, playback time, CDR)
    gaps: list[dict]                           # {'at_ns', 'gap_s', 'cut_to_s'}
    gt: list[tuple[int, bytes]]                # (bag log time, CDR) of the ground truth

    @property
    def duration_s(self) -> float:
        return (self.items[-1][2] - self.items[0][2]) / 1e9 if self.items else 0.0


def load_schedule(reader: BagReader, inputs: list[str], max_gap_s: float) -> Schedule:
    """Read the input topics (and /skeletons_3d_gt if present) and cut long gaps."""
    items, gaps, gt = [], [], []
    shift, last = 0, None
    limit = int(max_gap_s * 1e9)
    for topic, t, data in reader.messages(inputs + [GT]):
        if topic == GT:
            gt.append((t, data))
            continue
        if last is not None and t - last > limit:
            gaps.append({'at_ns': last, 'gap_s': (t - last) / 1e9, 'cut_to_s': max_gap_s})
            shift += t - last - limit
        last = t
        items.append((topic, t, t - shift, data))
    for name in inputs:
        if not any(topic == name for topic, *_ in items):
            raise BagError(f'{reader.path}: topic {name} has no messages')
    return Schedule(items, gaps, gt)


def probe_messages(schedule: Schedule, inputs: dict[str, str]
                   ) -> tuple[list[tuple[str, bytes]], int]:
    """The handshake frame: the first CameraInfo and an empty copy of the first keypoints
    message, both stamped 1 ms before the first keypoints (CDR), and that stamp."""
    keypoints, camera_info = list(inputs)
    first = {}
    for topic, _, _, data in schedule.items:
        first.setdefault(topic, data)
        if len(first) == 2:
            break
    kp = deserialize(first[keypoints], inputs[keypoints])
    stamp = max(0, stamp_ns(kp.header) - PROBE_OFFSET_NS)
    kp.header.stamp = time_msg(stamp)
    kp.skeletons = []
    ci = deserialize(first[camera_info], inputs[camera_info])
    ci.header.stamp = time_msg(stamp)
    return [(camera_info, serialize(ci)), (keypoints, serialize(kp))], stamp
