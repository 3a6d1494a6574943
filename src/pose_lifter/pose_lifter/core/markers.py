"""RViz marker geometry for lifted skeletons, without ROS (the node builds visualization_msgs).

Per person: a LINE_LIST of bones (namespace ``bones``; pairs from the skeleton table) and a
SPHERE_LIST of joints (namespace ``joints``), both with the same marker id. Ids are stable per
track id while the track is seen; persons without a track id get per-frame ids from a separate
range. Markers drawn in the previous frame but not in this one get an explicit DELETE.
Colours are 0..1 floats; implausible poses are greyed, dropped or drawn normally per gate mode.
"""
from __future__ import annotations

import colorsys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .skeleton import H36M17, Skeleton

GATE_MODES = ('grey', 'drop', 'off')
NS_BONES = 'bones'
NS_JOINTS = 'joints'
NAMESPACES = (NS_BONES, NS_JOINTS)
LINE_LIST = 'line_list'
SPHERE_LIST = 'sphere_list'
ADD = 'add'
DELETE = 'delete'
# Tracked persons get ids in [0, ANONYMOUS_BASE); persons without a track id get
# ANONYMOUS_BASE + their index among the frame's anonymous persons. Both fit an int32.
ANONYMOUS_BASE = 1 << 24
GREY = (0.55, 0.55, 0.55)
_GOLDEN = 0.618033988749895

Color = tuple[float, float, float, float]


@dataclass(frozen=True)
class MarkerStyle:
    """How skeletons are drawn (metres, seconds, 0..1)."""

    bone_width: float = 0.03
    joint_size: float = 0.06
    lifetime_s: float = 0.5     # 0 = until deleted
    alpha: float = 1.0
    gate_mode: str = 'grey'

    def __post_init__(self) -> None:
        if self.gate_mode not in GATE_MODES:
            raise ValueError(f'gate_mode must be one of {GATE_MODES}, got {self.gate_mode!r}')


@dataclass
class MarkerGeometry:
    """One marker as plain data; ``points`` is (M, 3) metres, empty for DELETE."""

    ns: str
    id: int
    action: str                 # ADD | DELETE
    kind: str = ''              # LINE_LIST | SPHERE_LIST ('' for DELETE)
    points: np.ndarray | None = None
    color: Color = (1.0, 1.0, 1.0, 1.0)
    scale: float = 0.0          # line width or sphere diameter, m
    lifetime_s: float = 0.0


def track_color(marker_id: int, alpha: float = 1.0) -> Color:
    """A distinct, stable colour per marker id (golden-ratio hues), 0..1 floats."""
    hue = (marker_id * _GOLDEN) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.95)
    return (float(r), float(g), float(b), float(alpha))


class MarkerRegistry:
    """Maps track ids to marker ids and remembers what is on screen.

    Call ``assign`` with a frame's track ids, then ``finish`` with the ids actually drawn;
    ``finish`` returns the ids to DELETE (drawn last frame, not now).
    """

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._next = 0
        self._shown: set[int] = set()

    def assign(self, track_ids: Sequence[str]) -> np.ndarray:
        """(N,) marker ids for the frame's persons. Tracks absent from the frame release
        their id; a repeated track id is treated as anonymous (never two persons, one id)."""
        present = {t for t in track_ids if t}
        for gone in [t for t in self._ids if t not in present]:
            del self._ids[gone]
        used: set[str] = set()
        out = np.empty(len(track_ids), dtype=np.int64)
        anonymous = 0
        for n, track in enumerate(track_ids):
            if track and track not in used:
                used.add(track)
                if track not in self._ids:
                    self._ids[track] = self._new_id()
                out[n] = self._ids[track]
            else:
                out[n] = ANONYMOUS_BASE + anonymous
                anonymous += 1
        return out

    def _new_id(self) -> int:
        taken = set(self._ids.values())
        while self._next in taken:
            self._next = (self._next + 1) % ANONYMOUS_BASE
        new, self._next = self._next, (self._next + 1) % ANONYMOUS_BASE
        return new

    def finish(self, drawn: set[int]) -> list[int]:
        """Record the ids drawn this frame; return the ids to delete, sorted."""
        gone = sorted(self._shown - drawn)
        self._shown = set(drawn)
        return gone

    def clear(self) -> list[int]:
        """Forget everything; return the ids still on screen (to delete)."""
        gone = sorted(self._shown)
        self._ids.clear()
        self._shown = set()
        return gone


def delete_markers(ids: Sequence[int]) -> list[MarkerGeometry]:
    """DELETE markers for ``ids`` in both namespaces."""
    return [MarkerGeometry(ns, int(i), DELETE) for i in ids for ns in NAMESPACES]


def skeleton_markers(joints: np.ndarray, plausible: np.ndarray, track_ids: Sequence[str],
                     registry: MarkerRegistry, style: MarkerStyle,
                     skeleton: Skeleton = H36M17) -> list[MarkerGeometry]:
    """Markers for one frame of lifted skeletons.

    joints: (N, J, 3) metres (NaN rows: not lifted, not drawn); plausible: (N,) bool;
    track_ids: N strings ('' = no track). Returns ADD markers for drawn persons, then
    DELETE markers for persons drawn last frame and gone now.
    """
    joints = np.asarray(joints, dtype=np.float64)
    plausible = np.asarray(plausible, dtype=bool)
    if joints.shape[0] != len(track_ids) or plausible.shape != (len(track_ids),):
        raise ValueError(f'{joints.shape[0]} poses, {plausible.shape} flags and '
                         f'{len(track_ids)} track ids do not match')
    ids = registry.assign(track_ids)
    lifted = np.isfinite(joints).all(axis=(1, 2))                 # (N,)
    out: list[MarkerGeometry] = []
    drawn: set[int] = set()
    bones = skeleton.bones
    for n in np.flatnonzero(lifted):
        if not plausible[n] and style.gate_mode == 'drop':
            continue
        marker_id = int(ids[n])
        if plausible[n] or style.gate_mode == 'off':
            color = track_color(marker_id, style.alpha)
        else:
            color = GREY + (0.5 * style.alpha,)
        lines = joints[n][bones].reshape(-1, 3)          # (2 * B, 3) endpoint pairs
        out.append(MarkerGeometry(NS_BONES, marker_id, ADD, LINE_LIST, lines, color,
                                  style.bone_width, style.lifetime_s))
        out.append(MarkerGeometry(NS_JOINTS, marker_id, ADD, SPHERE_LIST, joints[n].copy(),
                                  color, style.joint_size, style.lifetime_s))
        drawn.add(marker_id)
    out.extend(delete_markers(registry.finish(drawn)))
    return out
