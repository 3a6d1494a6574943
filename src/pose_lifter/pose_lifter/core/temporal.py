"""Per-track temporal filtering of lifted skeletons (numpy only, no ROS).

Each person track (key: camera frame id and track id) keeps a filter state over three parts of
its pose, each with its own parameters:

- ``pose``: the 16 root-relative joints (metres, camera frame);
- ``ray``: the root's direction, x/z and y/z (what the 2D detection fixes well);
- ``depth``: log of the root depth (the body-size prior's estimate: noisy, relative).

Two filters, elementwise on those values, with dt from the message stamps (the parameters'
type chooses; every part takes the same kind):

- ``OneEuro(min_cutoff_hz, beta)``: the One-Euro filter (Casiez et al., CHI 2012): a low-pass
  whose cutoff rises with the filtered speed, min_cutoff_hz + beta * |speed| (speed in part
  units per s; derivative cutoff 1 Hz). The node's filter (chosen by measurement:
  scripts/temporal_study.py, docs/ros-interface.md).
- ``Kalman(noise, accel)``: constant-velocity Kalman filter; ``noise`` the measurement noise
  std (part units), ``accel`` the white-acceleration process noise (units / s^2 / sqrt(Hz)).

Robustness: dropped frames only lengthen dt; a root farther than ``jump_m`` sideways (metres
across the camera ray, at the measured depth) or ``jump_depth`` in log depth (0.3: about 35 %)
from where the motion model expects it (an id switch) restarts that track
(``reset_id_switch``); a stamp at or
before a track's last one restarts the track (``reset_stamp_back``); a stamp more than
``timeout_s`` before the newest one restarts every track (``reset_stamp_jump``); a stamp more
than ``timeout_s`` ahead lets every track expire. Tracks not seen for ``timeout_s`` expire
(``expired``); beyond ``max_tracks`` the track seen
longest ago is evicted (``evicted``). Persons with a non-finite root (not lifted) pass through
and leave the state alone, as do the persons ``update`` is told not to use (the node: those
judged implausible); other non-finite values are not used for the update. Persons with an
empty id are filtered only with ``associate``: greedy nearest-neighbour matching of their root
to the predicted roots of earlier id-less tracks of the same camera, within ``associate_gate_m``
(``associated`` / ``new_tracks`` count). All counters are in ``TemporalFilter.counts``.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

POSE, RAY, DEPTH = slice(0, 48), slice(48, 50), slice(50, 51)
DIM = 51
D_CUTOFF_HZ = 1.0          # One-Euro: cutoff of the speed estimate
MIN_DEPTH_M = 1e-3         # roots nearer than this cannot be put on a ray: passed through
INTERNAL_PREFIX = '\x00nn'  # keys of tracks made by association (never a real track id)


@dataclass(frozen=True)
class OneEuro:
    """One-Euro parameters of one part: minimum cutoff (Hz) and speed coefficient."""

    min_cutoff_hz: float
    beta: float

    def values(self) -> tuple[float, float]:
        return self.min_cutoff_hz, self.beta


@dataclass(frozen=True)
class Kalman:
    """Constant-velocity Kalman parameters of one part: measurement noise std, process
    (white acceleration) noise."""

    noise: float
    accel: float

    def values(self) -> tuple[float, float]:
        return self.noise, self.accel


@dataclass(frozen=True)
class TemporalConfig:
    """Everything the filter needs (no defaults here: the node's are in config/lifter.yaml)."""

    pose: OneEuro | Kalman
    ray: OneEuro | Kalman
    depth: OneEuro | Kalman
    jump_m: float
    jump_depth: float
    timeout_s: float
    max_tracks: int
    associate: bool
    associate_gate_m: float

    def __post_init__(self) -> None:
        if len({type(s) for s in (self.pose, self.ray, self.depth)}) != 1:
            raise ValueError('pose, ray and depth need parameters of the same filter kind')
        values = [p for s in (self.pose, self.ray, self.depth) for p in s.values()]
        if not all(math.isfinite(v) and v >= 0 for v in values):
            raise ValueError('temporal filter parameters must be finite and >= 0')
        if self.max_tracks < 1 or not min(self.timeout_s, self.jump_m, self.jump_depth) > 0:
            raise ValueError('max_tracks must be >= 1, timeout_s, jump_m, jump_depth > 0')

    @property
    def kalman(self) -> bool:
        return isinstance(self.pose, Kalman)

    def per_value(self) -> tuple[np.ndarray, np.ndarray]:
        """(DIM,) first and (DIM,) second parameter of every filtered value."""
        first, second = np.empty(DIM), np.empty(DIM)
        for part, s in ((POSE, self.pose), (RAY, self.ray), (DEPTH, self.depth)):
            first[part], second[part] = s.values()
        return first, second


def to_state(joints: np.ndarray) -> np.ndarray:
    """(N, 17, 3) metres, camera frame -> (N, DIM): root-relative joints 1..16, root x/z,
    y/z, log z. Roots at z <= MIN_DEPTH_M give NaN rows."""
    j = np.asarray(joints, np.float64)
    root = j[:, 0]
    z = np.where(root[:, 2] > MIN_DEPTH_M, root[:, 2], np.nan)
    rel = (j[:, 1:] - root[:, None]).reshape(len(j), 48)
    return np.concatenate([rel, root[:, :2] / z[:, None], np.log(z)[:, None]], axis=1)


def from_state(x: np.ndarray) -> np.ndarray:
    """(N, DIM) -> (N, 17, 3) metres: the inverse of ``to_state``."""
    z = np.exp(x[:, 50])
    root = np.stack([x[:, 48] * z, x[:, 49] * z, z], axis=-1)
    out = np.empty((len(x), 17, 3))
    out[:, 0] = root
    out[:, 1:] = x[:, :48].reshape(-1, 16, 3) + root[:, None]
    return out


def root_of(x: np.ndarray) -> np.ndarray:
    """(N, DIM) -> (N, 3) root positions, metres."""
    z = np.exp(x[:, 50])
    return np.stack([x[:, 48] * z, x[:, 49] * z, z], axis=-1)


def kalman_step(x: np.ndarray, v: np.ndarray, p: np.ndarray, z: np.ndarray, dt: np.ndarray,
                noise: np.ndarray, accel: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One constant-velocity Kalman predict + update per value.

    x, v, z: (N, D) state, velocity (per s), measurement (NaN: no update); p: (N, D, 3)
    covariance entries (pp, pv, vv); dt: (N, 1) s; noise, accel: (D,). Returns new x, v, p."""
    q = accel ** 2
    pp, pv, vv = p[..., 0], p[..., 1], p[..., 2]
    pp = pp + 2 * dt * pv + dt ** 2 * vv + q * dt ** 3 / 3
    pv = pv + dt * vv + q * dt ** 2 / 2
    vv = vv + q * dt
    x = x + v * dt
    seen = np.isfinite(z)
    s = pp + noise ** 2
    kx = np.where(seen, pp / np.maximum(s, 1e-300), 0.0)
    kv = np.where(seen, pv / np.maximum(s, 1e-300), 0.0)
    innov = np.where(seen, z - x, 0.0)
    x, v = x + kx * innov, v + kv * innov
    p = np.stack([(1 - kx) * pp, (1 - kx) * pv, vv - kv * pv], axis=-1)
    return x, v, p


def _alpha(dt: np.ndarray, cutoff_hz) -> np.ndarray:
    tau = 1.0 / (2 * np.pi * np.maximum(cutoff_hz, 1e-9))
    return 1.0 / (1.0 + tau / dt)


def one_euro_step(x: np.ndarray, v: np.ndarray, z: np.ndarray, dt: np.ndarray,
                  min_cutoff: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One One-Euro step per value: x, v, z (N, D) (z NaN: keep x, v), dt (N, 1) s,
    min_cutoff (D,) Hz, beta (D,). Returns new x, v (v: filtered speed per s)."""
    seen = np.isfinite(z)
    raw = np.where(seen, (z - x) / dt, 0.0)
    a_d = _alpha(dt, D_CUTOFF_HZ)
    v_new = a_d * raw + (1 - a_d) * v
    a = _alpha(dt, min_cutoff + beta * np.abs(v_new))
    x_new = a * np.where(seen, z, x) + (1 - a) * x
    return np.where(seen, x_new, x), np.where(seen, v_new, v)


@dataclass
class _Track:
    stamp_ns: int
    x: np.ndarray          # (DIM,)
    v: np.ndarray          # (DIM,) per second
    p: np.ndarray | None   # (DIM, 3) Kalman covariance; None for One-Euro


class TemporalFilter:
    """Per-track filter of a stream of lifted frames (module doc)."""

    def __init__(self, config: TemporalConfig):
        self.config = config
        self._noise, self._accel = config.per_value()
        self.tracks: dict[tuple[str, str], _Track] = {}
        self.counts: Counter[str] = Counter()
        self._newest: int | None = None
        self._next_internal = 0

    def reset(self) -> None:
        """Forget every track (counters stay)."""
        self.tracks.clear()
        self._newest = None

    def update(self, frame_id: str, stamp_ns: int, ids: Sequence[str],
               joints: np.ndarray, use: np.ndarray | None = None) -> np.ndarray:
        """Filter one frame: joints (N, 17, 3) metres in the camera frame ``frame_id`` at
        ``stamp_ns``, ids (N,) track ids ('' = none); use (N,) bool or None (everyone): the
        persons that may update their tracks -- the others (the node: persons its gate judged
        implausible, e.g. a detector's misplaced joints) pass through unfiltered and leave their
        track alone, so they cannot pull its next frames. Returns (N, 17, 3): filtered where a
        person has a track, the input otherwise (NaN persons stay NaN)."""
        joints = np.asarray(joints, np.float64)
        if joints.ndim != 3 or joints.shape[1:] != (17, 3) or len(ids) != len(joints):
            raise ValueError(f'joints must be (N, 17, 3) with N ids, got {joints.shape} '
                             f'and {len(ids)} ids')
        if use is not None and np.shape(use) != (len(ids),):
            raise ValueError(f'use must be (N,) for {len(ids)} persons, got {np.shape(use)}')
        out = joints.copy()
        self._advance_clock(int(stamp_ns))
        z = to_state(joints)
        usable = np.isfinite(z[:, 48:]).all(axis=1) & np.isfinite(joints[:, 0]).all(axis=1)
        if use is not None:
            usable &= np.asarray(use, bool)
        keys = self._keys(frame_id, ids, z, usable, int(stamp_ns))
        rows, taken = [], set()
        for i in range(len(ids)):
            if not usable[i] or keys[i] is None:
                continue
            if keys[i] in taken:        # the same id twice in a frame: only the first is
                self.counts['duplicate_ids'] += 1          # filtered, the others pass through
                continue
            taken.add(keys[i])
            rows.append(i)
        if not rows:
            return out
        old, fresh = [], []
        for i in rows:
            (old if self._continues(keys[i], z[i], int(stamp_ns)) else fresh).append(i)
        if old:
            out[old] = self._step(keys, old, z, int(stamp_ns))
        for i in fresh:
            self._start(keys[i], z[i], int(stamp_ns))
        return out

    # ----------------------------------------------------------------- internals
    def _advance_clock(self, stamp: int) -> None:
        """Whole-filter stamp jump (reset all) and expiry of tracks not seen for timeout_s."""
        timeout = int(self.config.timeout_s * 1e9)
        if self._newest is not None and stamp < self._newest - timeout:    # time went back
            if self.tracks:
                self.counts['reset_stamp_jump'] += 1
            self.tracks.clear()
            self._newest = stamp
            return
        self._newest = stamp if self._newest is None else max(self._newest, stamp)
        gone = [k for k, t in self.tracks.items() if stamp - t.stamp_ns > timeout]
        for k in gone:
            del self.tracks[k]
        self.counts['expired'] += len(gone)

    def _continues(self, key: tuple[str, str], z: np.ndarray, stamp: int) -> bool:
        """Whether the person updates its existing track (else the track (re)starts)."""
        track = self.tracks.get(key)
        if track is None:
            return False
        dt = (stamp - track.stamp_ns) / 1e9
        if dt <= 0:
            self.counts['reset_stamp_back'] += 1
            return False
        predicted = track.x[48:] + track.v[48:] * dt
        sideways = np.linalg.norm(z[48:50] - predicted[:2]) * np.exp(z[50])
        if sideways > self.config.jump_m or abs(z[50] - predicted[2]) > self.config.jump_depth:
            self.counts['reset_id_switch'] += 1
            return False
        return True

    def _step(self, keys: list, rows: list[int], z: np.ndarray, stamp: int) -> np.ndarray:
        tracks = [self.tracks[keys[i]] for i in rows]
        x = np.stack([t.x for t in tracks])
        v = np.stack([t.v for t in tracks])
        dt = np.array([[(stamp - t.stamp_ns) / 1e9] for t in tracks])
        if self.config.kalman:
            p = np.stack([t.p for t in tracks])
            x, v, p = kalman_step(x, v, p, z[rows], dt, self._noise, self._accel)
        else:
            x, v = one_euro_step(x, v, z[rows], dt, self._noise, self._accel)
            p = [None] * len(rows)
        for k, t in enumerate(tracks):
            t.x, t.v, t.p, t.stamp_ns = x[k], v[k], p[k], stamp
            self.tracks[keys[rows[k]]] = self.tracks.pop(keys[rows[k]])   # most recent last
        return from_state(x)

    def _start(self, key: tuple[str, str], z: np.ndarray, stamp: int) -> None:
        self.tracks.pop(key, None)
        while len(self.tracks) >= self.config.max_tracks:
            del self.tracks[next(iter(self.tracks))]     # seen longest ago (dict order)
            self.counts['evicted'] += 1
        x = np.where(np.isfinite(z), z, 0.0)
        p = None
        if self.config.kalman:
            # unseen values start with a huge variance: the first real value is taken as is
            var = np.where(np.isfinite(z), self._noise ** 2, 1e12)
            # unknown initial speed: as if the track had drifted unobserved for one second
            p = np.stack([var, np.zeros(DIM), np.maximum(self._accel ** 2, 1e-12)], axis=-1)
        self.tracks[key] = _Track(stamp, x, np.zeros(DIM), p)
        self.counts['new_tracks'] += 1

    def _keys(self, frame_id: str, ids: Sequence[str], z: np.ndarray, usable: np.ndarray,
              stamp: int) -> list[tuple[str, str] | None]:
        """Track key per person; id-less persons get one by association (or None: not
        filtered)."""
        keys: list[tuple[str, str] | None] = [
            (frame_id, str(i)) if str(i) else None for i in ids]
        if not self.config.associate:
            return keys
        empty = [i for i, k in enumerate(keys) if k is None and usable[i]]
        if not empty:
            return keys
        candidates = [k for k in self.tracks if k[0] == frame_id
                      and k[1].startswith(INTERNAL_PREFIX)]
        if candidates:
            roots = root_of(z[empty])
            pred = np.stack([root_of((t.x + t.v * max((stamp - t.stamp_ns) / 1e9, 0.0))
                                     [None])[0] for t in (self.tracks[k] for k in candidates)])
            dist = np.linalg.norm(roots[:, None] - pred[None], axis=-1)      # (E, C)
            while dist.size and np.isfinite(dist).any():
                a, b = np.unravel_index(np.nanargmin(np.where(np.isfinite(dist), dist,
                                                              np.nan)), dist.shape)
                if dist[a, b] > self.config.associate_gate_m:
                    break
                keys[empty[a]] = candidates[b]
                self.counts['associated'] += 1
                dist[a, :] = np.inf
                dist[:, b] = np.inf
        for i in empty:
            if keys[i] is None:
                keys[i] = (frame_id, f'{INTERNAL_PREFIX}{self._next_internal}')
                self._next_internal += 1
        return keys


def from_parameters(values: Mapping[str, Any]) -> TemporalFilter | None:
    """The node's filter from its ``temporal_*`` parameters (config/lifter.yaml); None when
    ``temporal_filter`` is false."""
    if not values['temporal_filter']:
        return None
    part = lambda name: OneEuro(values[f'temporal_{name}_min_cutoff_hz'],  # noqa: E731
                                values[f'temporal_{name}_beta'])
    return TemporalFilter(TemporalConfig(
        part('pose'), part('ray'), part('depth'), values['temporal_jump_m'],
        values['temporal_jump_depth'], values['temporal_timeout_s'],
        values['temporal_max_tracks'], values['temporal_associate'],
        values['temporal_associate_gate_m']))
