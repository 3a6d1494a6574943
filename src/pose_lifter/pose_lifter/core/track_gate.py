"""The track gate: a person's realism from this frame and from the same track a moment ago.

A detector's typical failure -- two or three joints put on the wrong limb or the background --
lasts a frame or a few, while the person it belongs to was detected well just before. One
frame alone cannot always tell such a person from a real one (``scripts/gate_oracle.py``: even
an oracle that knows the true 2D stays at ROC-AUC 0.966 for displaced joints at 4 px noise);
the track's previous detection is a second, independent look at the same body. The track gate
combines, with a logistic model fitted on training subjects (``pose-lifter-train track-gate``):

- ``logit``: the model's own realism (its gate's probability), as a log-odds;
- how far each joint moved since the track's previous detection once the person's common
  motion (the median displacement of its joints) is taken out, in units of MOTION_UNIT_PX
  times the joint's localisation spread (``detector_noise.joint_kappa``): the largest, the
  three largest together, the mean of the others and the sum, each as log(1 + d^2) (pixels,
  as the detector noise model's floor is; training/README.md has what else was tried);
- the time since that detection (log seconds) and the person's height (log pixels);
- ``history``: 1 when there was a previous detection (every motion feature is 0 without one).

    realism = sigmoid(bias + weights . features),  plausible = realism >= threshold

A person without history (a track's first frame, no id, a gap over ``max_gap_s``) is judged
on its frame alone with the decision of the model's own threshold: its log-odds are the
model's, shifted so that the model's threshold lands on the gate's (``judge``), so a new
track is accepted exactly when the frame alone would accept it.

Pure numpy; the node keeps the previous detection of each track (``TrackHistory``).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .adapters import clean
from .detector_noise import joint_kappa, person_height
from .pipeline import STATUS_IMPLAUSIBLE, STATUS_OK

FEATURES = ('logit', 'history', 'top1', 'top3', 'rest', 'total', 'log_dt', 'log_height')
MOTION_UNIT_PX = 10.0      # motion unit (x the joint's kappa); 4-40 px gave the same AUCs
LOGIT_CLIP = 20.0          # realism 0 or 1 (float rounding) stays finite
MIN_JOINTS = 4             # joints seen in both frames for a motion to count


def logit(p: np.ndarray) -> np.ndarray:
    """(N,) probabilities -> log-odds, clipped to +-LOGIT_CLIP (NaN stays NaN)."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1.0 - 1e-12)
    return np.clip(np.log(p) - np.log1p(-p), -LOGIT_CLIP, LOGIT_CLIP)


def _logit1(p: float) -> float:
    """``logit`` of one probability, in plain floats."""
    p = min(max(float(p), 1e-12), 1.0 - 1e-12)
    return min(max(math.log(p) - math.log1p(-p), -LOGIT_CLIP), LOGIT_CLIP)


def joint_motion(current: np.ndarray, previous: np.ndarray, kappa: np.ndarray
                 ) -> np.ndarray:
    """Squared motion of each joint beyond the person's common motion, in
    (MOTION_UNIT_PX x kappa)^2.

    current, previous: (N, J, 2) pixels of the same persons, NaN where a joint is missing;
    kappa: (J,) relative spread per joint. Returns (N, J), NaN where a joint is missing in
    either frame or the person has fewer than MIN_JOINTS joints seen in both.
    """
    d = np.asarray(current, np.float64) - np.asarray(previous, np.float64)     # (N, J, 2)
    both = np.isfinite(d).all(-1)                                              # (N, J)
    count = both.sum(-1)
    # the common motion: per coordinate the median over the joints seen in both frames
    # (sorted with the others last; np.nanmedian costs 10x as much for a frame's persons)
    ranked = np.sort(np.where(both[..., None], d, np.inf), axis=1)
    rows = np.arange(len(d))
    lo, hi = (np.maximum(count, 1) - 1) // 2, np.maximum(count, 1) // 2
    shift = 0.5 * (ranked[rows, lo] + ranked[rows, hi])                        # (N, 2)
    out = ((d - shift[:, None]) ** 2).sum(-1) / (MOTION_UNIT_PX * kappa) ** 2  # (N, J)
    out[~both | (count < MIN_JOINTS)[:, None]] = np.nan
    return out


def features(realism: np.ndarray, current: np.ndarray, previous: np.ndarray | None,
             dt_s: np.ndarray | None, joint_format: str) -> np.ndarray:
    """The gate's features (N, len(FEATURES)).

    realism: (N,) the model's realism; current: (N, J, 2) detections in ``joint_format``
    (NaN missing); previous: (N, J, 2) the same tracks' previous detections (NaN rows or None:
    no history); dt_s: (N,) seconds since them.
    """
    n = len(realism)
    if 0 < n <= SMALL_FRAME and previous is not None:   # a frame's few persons
        return np.array(_frame_features(realism, current, previous, dt_s, joint_format))
    out = np.zeros((n, len(FEATURES)))
    out[:, 0] = logit(realism)
    if previous is None or n == 0:
        return out
    motion = joint_motion(current, previous, _kappa(joint_format))             # (N, J)
    seen = np.isfinite(motion)
    has = seen.any(-1)
    if dt_s is not None:
        dt_s = np.asarray(dt_s, np.float64)
        has &= np.isfinite(dt_s) & (dt_s > 0)
    if not has.any():
        return out
    rows = slice(None) if has.all() else has
    m = np.where(seen[rows], motion[rows], 0.0)
    ranked = np.sort(m, axis=-1)[:, ::-1]                                      # descending
    top3 = ranked[:, :3].sum(-1)
    total = m.sum(-1)
    rest = (total - top3) / np.maximum(seen[rows].sum(-1) - 3, 1)
    height = np.maximum(person_height(np.asarray(current, np.float64)[rows]), 1.0)
    out[rows, 1] = 1.0
    out[rows, 2:6] = np.log1p(np.stack([ranked[:, 0], top3, rest, total], axis=-1))
    out[rows, 6] = np.log(dt_s[rows]) if dt_s is not None else 0.0
    out[rows, 7] = np.log(height)
    return out


# Up to this many persons the features are computed person by person in plain floats: the
# same numbers (to float rounding) at a third of the numpy path's cost for the node's frames
SMALL_FRAME = 4


def _frame_features(realism: np.ndarray, current: np.ndarray, previous: np.ndarray,
                    dt_s: np.ndarray | None, joint_format: str) -> list[list[float]]:
    """``features`` of a few persons in plain floats (same arguments, previous not None):
    a list of N rows."""
    scale = _motion_scale(joint_format)
    dts = [0.0] * len(realism) if dt_s is None else np.asarray(dt_s, np.float64).tolist()
    rows = []
    for r, cur, prev, dt in zip(np.asarray(realism, np.float64).tolist(),
                                np.asarray(current, np.float64).tolist(),
                                np.asarray(previous, np.float64).tolist(), dts):
        row = [_logit1(r) if r == r else math.nan, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        rows.append(row)
        if dt_s is not None and not (math.isfinite(dt) and dt > 0):
            continue
        moved = [(c[0] - q[0], c[1] - q[1], k) for c, q, k in zip(cur, prev, scale)]
        moved = [m for m in moved if math.isfinite(m[0]) and math.isfinite(m[1])]
        count = len(moved)
        if count < MIN_JOINTS:
            continue
        xs, ys = sorted(m[0] for m in moved), sorted(m[1] for m in moved)
        lo, hi = (count - 1) // 2, count // 2
        sx, sy = 0.5 * (xs[lo] + xs[hi]), 0.5 * (ys[lo] + ys[hi])
        motion = [((x - sx) * (x - sx) + (y - sy) * (y - sy)) / k for x, y, k in moved]
        motion = sorted((v for v in motion if math.isfinite(v)), reverse=True)
        if not motion:
            continue
        top3, total = sum(motion[:3]), sum(motion)
        rest = (total - top3) / max(len(motion) - 3, 1)
        valid = [c for c in cur if math.isfinite(c[0]) and math.isfinite(c[1])]
        height = 0.0
        if len(valid) >= 2:
            height = max(max(c[0] for c in valid) - min(c[0] for c in valid),
                         max(c[1] for c in valid) - min(c[1] for c in valid))
        row[1:] = [1.0, math.log1p(motion[0]), math.log1p(top3), math.log1p(rest),
                   math.log1p(total), math.log(dt) if dt_s is not None else 0.0,
                   math.log(max(height, 1.0))]
    return rows


_KAPPA: dict[str, np.ndarray] = {}
_SCALE: dict[str, list[float]] = {}


def _motion_scale(joint_format: str) -> list[float]:
    """(MOTION_UNIT_PX x kappa)^2 per joint as floats, once per joint format."""
    if joint_format not in _SCALE:
        _SCALE[joint_format] = ((MOTION_UNIT_PX * _kappa(joint_format)) ** 2).tolist()
    return _SCALE[joint_format]


def _kappa(joint_format: str) -> np.ndarray:
    """``detector_noise.joint_kappa``, computed once per joint format."""
    if joint_format not in _KAPPA:
        _KAPPA[joint_format] = joint_kappa(joint_format)
    return _KAPPA[joint_format]


@dataclass(frozen=True)
class TrackGate:
    """A fitted track gate (the model contract's ``track_gate``)."""

    weights: tuple[float, ...]     # one per FEATURES entry
    bias: float
    threshold: float               # on the combined realism
    max_gap_s: float = 0.5         # an older previous detection is no history
    rule: str = ''                 # how the threshold was chosen
    fit: dict | None = None        # what it was fitted on (data, noise, frame gaps, seed)

    def __post_init__(self) -> None:
        if len(self.weights) != len(FEATURES) or not np.isfinite(self.weights).all() or \
                not np.isfinite([self.bias, self.threshold, self.max_gap_s]).all():
            raise ValueError(f'track gate needs {len(FEATURES)} finite weights '
                             f'({", ".join(FEATURES)}), a finite bias, threshold and max_gap_s')
        if self.weights[0] <= 0 or not 0.0 < self.threshold < 1.0:
            raise ValueError("track gate needs a positive weight on the model's realism and "
                             f'a threshold in (0, 1); got {self.weights[0]}, {self.threshold}')
        object.__setattr__(self, '_w', np.array(self.weights, np.float64))   # for realism()

    def realism(self, x: np.ndarray, model_threshold: float | None = None) -> np.ndarray:
        """(N, len(FEATURES)) features -> (N,) combined realism in [0, 1]. With
        ``model_threshold``, persons without history (``history`` 0) get the model's log-odds
        shifted so that ``model_threshold`` maps onto this gate's threshold."""
        x = np.asarray(x, np.float64)
        z = x @ self._w + self.bias
        if model_threshold is not None:
            alone = x[:, 1] == 0
            if alone.any():
                z[alone] = self.weights[0] * (x[alone, 0] - _logit1(model_threshold)) + \
                    _logit1(self.threshold)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))

    def to_dict(self) -> dict:
        d = asdict(self)
        d['weights'] = list(self.weights)
        d['features'] = list(FEATURES)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> 'TrackGate':
        """Raises ValueError for a gate of other features or bad values."""
        if list(d.get('features', [])) != list(FEATURES):
            raise ValueError(f'track gate features {d.get("features")} are not this '
                             f"version's {list(FEATURES)}")
        try:
            return cls(tuple(float(w) for w in d['weights']), float(d['bias']),
                       float(d['threshold']), float(d.get('max_gap_s', 0.5)),
                       str(d.get('rule', '')), d.get('fit'))
        except (KeyError, TypeError) as exc:
            raise ValueError(f'track gate is incomplete: {exc}') from None


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iterations: int = 50
                 ) -> tuple[np.ndarray, float]:
    """Logistic regression by Newton's method: (N, F) features, (N,) labels in {0, 1} ->
    (weights (F,), bias). ``l2`` penalises the weights (not the bias) per example."""
    x = np.asarray(x, np.float64)
    a = np.column_stack([x, np.ones(len(x))])
    w = np.zeros(a.shape[1])
    reg = np.full(a.shape[1], l2 * len(x))
    reg[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ w, -50.0, 50.0)))
        grad = a.T @ (p - y) + reg * w
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(reg) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def seen_points(keypoints: np.ndarray, confidence: np.ndarray | None,
                min_confidence: float = 0.0) -> np.ndarray:
    """(N, J, 2) detections with NaN where the Lifter counts a joint as missing (non-finite,
    confidence <= 0 or below ``min_confidence``)."""
    points, conf = clean(keypoints, confidence)
    if min_confidence > 0:
        points[conf < min_confidence] = np.nan
    return points


def judge(gate: TrackGate, realism: np.ndarray, status: np.ndarray, current: np.ndarray,
          previous: np.ndarray | None, dt_s: np.ndarray | None, joint_format: str,
          model_threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The track gate's verdict on a batch of persons.

    realism (N,) and status (N,) as the Lifter gave them with ``model_threshold``, current
    (N, J, 2) detections (NaN missing), previous (N, J, 2) the tracks' previous detections
    (NaN or None: no history), dt_s (N,). Returns the combined realism (N,) (NaN where the
    Lifter gave none; without history the model's verdict, see the module), the statuses with
    ok / implausible decided by the gate's threshold (others kept) and plausible (N,) bool.
    """
    realism = np.asarray(realism, np.float64)
    lifted = np.isfinite(realism)
    combined = gate.realism(features(np.where(lifted, realism, 0.5), current, previous, dt_s,
                                     joint_format), model_threshold)
    combined[~lifted] = np.nan
    status = np.asarray(status, dtype=object).copy()
    judged = np.fromiter((v == STATUS_OK or v == STATUS_IMPLAUSIBLE for v in status), bool,
                         len(status))
    plausible = judged & (combined >= gate.threshold)      # NaN compares False
    status[judged] = np.where(plausible[judged], STATUS_OK, STATUS_IMPLAUSIBLE)
    return combined, status, plausible


def judge_frame(gate: TrackGate, history: TrackHistory, frame_id: str, ids: list[str],
                stamp_ns: int, joint_format: str, keypoints: np.ndarray,
                confidence: np.ndarray | None, min_confidence: float, realism: np.ndarray,
                status: np.ndarray, model_threshold: float, keep: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One frame of tracked persons judged as the node does it: their seen points (N, J, 2)
    of ``keypoints`` / ``confidence`` against their tracks' previous detections in ``history``
    (``judge``), then the persons ``keep`` (N,) bool (default: those judged plausible) become
    their tracks' previous detection. realism and status (N,) as the Lifter gave them with
    ``model_threshold``. Returns (realism, status, plausible, dt_s): dt_s (N,) is NaN for a
    person without history."""
    seen = seen_points(keypoints, confidence, min_confidence)
    prev, dt = history.previous(frame_id, ids, stamp_ns, joint_format, seen.shape[1])
    combined, status, plausible = judge(gate, realism, status, seen, prev, dt, joint_format,
                                        model_threshold)
    history.update(frame_id, ids, stamp_ns, joint_format, seen,
                   plausible if keep is None else keep)
    return combined, status, plausible, dt


class TrackHistory:
    """The last accepted detection of each track, for the track gate (the node's state).

    A track is (frame_id, id); persons without an id have no history. Only detections the
    gate accepted are kept: a frame judged implausible does not become the reference the next
    frame is compared with. Entries older than ``max_gap_s`` count as no history and are
    forgotten; at most ``max_tracks`` are kept (the least recently accepted go first).
    """

    def __init__(self, max_gap_s: float, max_tracks: int = 256):
        self.max_gap_s, self.max_tracks = max_gap_s, max_tracks
        self._last: dict[tuple[str, str], tuple[int, str, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self._last)

    def previous(self, frame_id: str, ids: list[str], stamp_ns: int, joint_format: str,
                 joints: int) -> tuple[np.ndarray, np.ndarray]:
        """(N, J, 2) previous detections (NaN rows: none, too old, another joint format or a
        stamp not after it) and (N,) seconds since them (NaN there)."""
        prev = np.full((len(ids), joints, 2), np.nan)
        dt = np.full(len(ids), np.nan)
        for i, track in enumerate(ids):
            entry = self._last.get((frame_id, track)) if track else None
            if entry is None or entry[1] != joint_format or entry[2].shape[0] != joints:
                continue
            gap = (stamp_ns - entry[0]) / 1e9
            if 0 < gap <= self.max_gap_s:
                prev[i], dt[i] = entry[2], gap
        return prev, dt

    def update(self, frame_id: str, ids: list[str], stamp_ns: int, joint_format: str,
               detections: np.ndarray, accepted: np.ndarray) -> None:
        """Keep the accepted persons' (N, J, 2) detections; forget what is too old."""
        for track, points, ok in zip(ids, detections, accepted):
            if track and ok:
                self._last.pop((frame_id, track), None)        # re-insert: newest last
                self._last[(frame_id, track)] = (stamp_ns, joint_format, np.array(points))
        horizon = stamp_ns - int(self.max_gap_s * 1e9)
        for key in [k for k, v in self._last.items() if v[0] < horizon and k[0] == frame_id]:
            del self._last[key]
        while len(self._last) > self.max_tracks:
            del self._last[next(iter(self._last))]
