"""RViz marker geometry for lifted skeletons, without ROS (the node builds visualization_msgs).

Per person: a LINE_LIST of bones (namespace ``bones``; pairs from the skeleton table) and a
SPHERE_LIST of joints (namespace ``joints``), both with the same marker id. Ids are stable per
track id while the track is seen; persons without a track id get per-frame ids from a separate
range. Markers drawn in the previous frame but not in this one get an explicit DELETE.
Colours are 0..1 floats; implausible poses are greyed, dropped or drawn normally per gate mode.
With ``MarkerStyle.uncertainty`` each joint sphere's opacity shows its published 90 % radius
(opaque at UNCERTAINTY_OPAQUE_M or less, fading to MIN_ALPHA as the radius grows) and joints
the lifter inferred (not in the input) are drawn paler.
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
UNCERTAINTY_OPAQUE_M = 0.1   # a joint known to 10 cm is drawn opaque
MIN_ALPHA = 0.15


def joint_colors(color: Color, radii: np.ndarray, inferred: np.ndarray | None) -> np.ndarray:
    """(J,) radii (m, NaN: unknown), (J,) bool inferred -> (J, 4) colours: ``color`` with
    alpha x min(1, UNCERTAINTY_OPAQUE_M / radius) (>= MIN_ALPHA), inferred joints halfway to
    white."""
    out = np.tile(np.asarray(color, dtype=np.float64), (len(radii), 1))
    r = np.asarray(radii, dtype=np.float64)
    fade = np.where(np.isfinite(r) & (r > 0), UNCERTAINTY_OPAQUE_M / np.maximum(r, 1e-9), 1.0)
    out[:, 3] *= np.clip(fade, MIN_ALPHA, 1.0)
    if inferred is not None:
        pale = np.asarray(inferred, dtype=bool)
        out[pale, :3] = 0.5 * (out[pale, :3] + 1.0)
    return out


@dataclass(frozen=True)
class MarkerStyle:
    """How skeletons are drawn (metres, seconds, 0..1)."""

    bone_width: float = 0.03
    joint_size: float = 0.06
    lifetime_s: float = 0.5     # 0 = until deleted
    alpha: float = 1.0
    gate_mode: str = 'grey'
    uncertainty: bool = False   # joint opacity from the 90 % radius, inferred joints paler

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
    colors: np.ndarray | None = None   # (M, 4) per-point colours (SPHERE_LIST), or None


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
                     skeleton: Skeleton = H36M17, radii: np.ndarray | None = None,
                     inferred: np.ndarray | None = None) -> list[MarkerGeometry]:
    """Markers for one frame of lifted skeletons.

    joints: (N, J, 3) metres (NaN rows: not lifted, not drawn); plausible: (N,) bool;
    track_ids: N strings ('' = no track); radii: (N, J) published 90 % radii and inferred:
    (N, J) bool, used with ``style.uncertainty``. Returns ADD markers for drawn persons, then
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
        colors = None
        if style.uncertainty and (radii is not None or inferred is not None):
            colors = joint_colors(color, np.full(len(joints[n]), np.nan) if radii is None
                                  else radii[n], None if inferred is None else inferred[n])
        out.append(MarkerGeometry(NS_JOINTS, marker_id, ADD, SPHERE_LIST, joints[n].copy(),
                                  color, style.joint_size, style.lifetime_s, colors))
        drawn.add(marker_id)
    out.extend(delete_markers(registry.finish(drawn)))
    return out
