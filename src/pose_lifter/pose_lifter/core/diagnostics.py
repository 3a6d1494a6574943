"""Run-time statistics and health of the node, as plain numbers (the node turns them into
DiagnosticArray).

``NodeStats`` counts every processed, skipped and dropped input by reason, keeps a rolling
window of latencies for p50/p99, and produces a flat ``{key: str}`` report once per period.
``InputMonitor`` records when keypoints, camera_info and synchronised pairs arrive;
``input_condition`` and ``assess`` turn that state into the level and message of /diagnostics
(pure functions, levels as diagnostic_msgs/DiagnosticStatus):

- ERROR: configure failed (the reason), published although the node stays unconfigured;
- STALE: no keypoints for ``stale_after_s`` (since activation or since the last one);
- WARN: keypoints arrive but none has found a matching camera_info for ``UNMATCHED_WARN_S``
  (the message says whether any camera_info arrived and how far the nearest stamps are
  apart); or inputs were skipped/dropped in the last period;
- OK: lifting, waiting for the first input, or configured but inactive.
"""
from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass

import numpy as np

OK, WARN, ERROR, STALE = 0, 1, 2, 3
LEVEL_NAMES = {OK: 'OK', WARN: 'WARN', ERROR: 'ERROR', STALE: 'STALE'}
LATENCY_WINDOW = 1000
# Keypoints that find no camera_info for this long turn /diagnostics WARN.
UNMATCHED_WARN_S = 1.0
CAMERA_INFO_HISTORY = 64


@dataclass
class Report:
    """One diagnostics period: level (OK/WARN/ERROR), a one-line summary and key/values."""

    level: int
    message: str
    values: dict[str, str]


class NodeStats:
    """Thread-safe counters; ``record``/``skip``/``note`` from the worker, ``report`` from a
    timer. Skipped inputs are counted by reason; ``note`` counts inputs that were served but
    are worth knowing about (empty frames, truncated person lists, missing joints)."""

    def __init__(self, window: int = LATENCY_WINDOW):
        self._lock = threading.Lock()
        self._latency = deque(maxlen=window)      # seconds, receipt -> publish
        self._age = deque(maxlen=window)          # seconds, header stamp -> publish
        self.skipped: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.published = 0
        self.dropped = 0
        self._period_published = 0
        self._period_persons = 0
        self._period_problems = 0
        self._last_report_s: float | None = None

    def record(self, latency_s: float, age_s: float | None, statuses: list[str]) -> None:
        """One published output with its per-person statuses."""
        with self._lock:
            self._latency.append(latency_s)
            if age_s is not None:
                self._age.append(age_s)
            self.published += 1
            self._period_published += 1
            self._period_persons += len(statuses)
            self.statuses.update(statuses)

    def skip(self, reason: str) -> int:
        """Count an input skipped for ``reason``; returns that reason's total."""
        with self._lock:
            self.skipped[reason] += 1
            self._period_problems += 1
            return self.skipped[reason]

    def note(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self.notes[reason] += n

    def set_dropped(self, total: int) -> None:
        """Inputs overwritten in the latest-message slot (load shedding), running total."""
        with self._lock:
            self._period_problems += max(0, total - self.dropped)
            self.dropped = total

    @property
    def rejection_ratio(self) -> float:
        """Share of lifted persons the critic rejected (implausible / lifted)."""
        lifted = self.statuses['ok'] + self.statuses['implausible']
        return self.statuses['implausible'] / lifted if lifted else 0.0

    def report(self, now_s: float, backend: str, precision: str,
               threshold: float | None = None) -> Report:
        """The period since the last report: rate, latency, persons, rejections, problems."""
        with self._lock:
            elapsed = None if self._last_report_s is None else now_s - self._last_report_s
            rate = self._period_published / elapsed if elapsed and elapsed > 0 else 0.0
            persons = (self._period_persons / self._period_published
                       if self._period_published else 0.0)
            lat = np.asarray(self._latency) * 1000.0
            age = np.asarray(self._age) * 1000.0
            values = {
                'backend': backend,
                'precision': precision,
                'rate_hz': f'{rate:.2f}',
                'latency_p50_ms': _pct(lat, 50),
                'latency_p99_ms': _pct(lat, 99),
                'age_p50_ms': _pct(age, 50),
                'persons_per_message': f'{persons:.2f}',
                'published': str(self.published),
                'rejection_ratio': f'{self.rejection_ratio:.3f}',
                'dropped_overwritten': str(self.dropped),
            }
            if threshold is not None:
                values['realism_threshold'] = f'{threshold:.6g}'
            values.update({f'persons_{k}': str(v) for k, v in sorted(self.statuses.items())})
            values.update({f'skipped_{k}': str(v) for k, v in sorted(self.skipped.items())})
            values.update({f'noted_{k}': str(v) for k, v in sorted(self.notes.items())})
            problems = self._period_problems
            got_input = self._period_published > 0
            self._period_published = self._period_persons = self._period_problems = 0
            self._last_report_s = now_s
        if problems:
            return Report(WARN, f'{problems} inputs skipped or dropped in the last period',
                          values)
        if elapsed is not None and not got_input:
            return Report(OK, 'waiting for input', values)
        return Report(OK, 'lifting', values)


def _pct(ms: np.ndarray, q: float) -> str:
    return f'{np.percentile(ms, q):.2f}' if ms.size else 'nan'


class LogThrottle:
    """Per-key rate limit for log lines (rclpy's throttle is per call site, not per reason)."""

    def __init__(self, period_s: float):
        self.period_s = period_s
        self._last: dict[str, float] = {}

    def ready(self, key: str, now_s: float) -> bool:
        last = self._last.get(key)
        if last is not None and now_s - last < self.period_s:
            return False
        self._last[key] = now_s
        return True


@dataclass(frozen=True)
class Condition:
    """A level (OK/WARN/ERROR/STALE) with its one-line reason."""

    level: int
    message: str


@dataclass(frozen=True)
class InputState:
    """What the input side looked like at one instant (seconds on a monotonic clock).

    since_s: time since monitoring began (activation); keypoints_age_s: since the newest
    keypoints arrived (None: none yet); unmatched_s: for how long keypoints have been arriving
    without any of them finding a camera_info (None: the last keypoints were matched, or no
    camera_info is used); camera_info_count: camera_info messages received; nearest_gap_s:
    |stamp of the newest keypoints - the nearest camera_info stamp| (None: no camera_info).
    """

    since_s: float
    keypoints_age_s: float | None
    unmatched_s: float | None
    camera_info_count: int
    nearest_gap_s: float | None
    uses_camera_info: bool


class InputMonitor:
    """Arrivals of keypoints, camera_info and synchronised pairs (thread-safe, no ROS).

    Stamps in integer nanoseconds, times in seconds of a monotonic clock passed by the caller.
    """

    def __init__(self, now_s: float, uses_camera_info: bool,
                 history: int = CAMERA_INFO_HISTORY):
        self._lock = threading.Lock()
        self._start_s = now_s
        self._uses_camera_info = uses_camera_info
        self._info_stamps: deque[int] = deque(maxlen=history)
        self._info_count = 0
        self._kp_stamp: int | None = None
        self._kp_s: float | None = None
        self._unmatched_since_s: float | None = None

    def keypoints(self, stamp_ns: int, now_s: float) -> None:
        with self._lock:
            self._kp_stamp, self._kp_s = stamp_ns, now_s
            if self._uses_camera_info and self._unmatched_since_s is None:
                self._unmatched_since_s = now_s

    def camera_info(self, stamp_ns: int, now_s: float) -> None:
        with self._lock:
            self._info_stamps.append(stamp_ns)
            self._info_count += 1

    def matched(self, now_s: float) -> None:
        """A keypoints message found its camera_info."""
        with self._lock:
            self._unmatched_since_s = None

    def state(self, now_s: float) -> InputState:
        with self._lock:
            gap = None
            if self._kp_stamp is not None and self._info_stamps:
                gap = min(abs(self._kp_stamp - s) for s in self._info_stamps) / 1e9
            return InputState(
                since_s=now_s - self._start_s,
                keypoints_age_s=None if self._kp_s is None else now_s - self._kp_s,
                unmatched_s=(None if self._unmatched_since_s is None
                             else now_s - self._unmatched_since_s),
                camera_info_count=self._info_count, nearest_gap_s=gap,
                uses_camera_info=self._uses_camera_info)


def input_condition(state: InputState, stale_after_s: float, slop_s: float,
                    unmatched_warn_s: float = UNMATCHED_WARN_S) -> Condition:
    """The input side's level: STALE (no keypoints for ``stale_after_s``; 0 = never stale),
    WARN (keypoints without a matching camera_info for more than ``unmatched_warn_s``), else
    OK ('lifting' once keypoints arrived, 'waiting for input' before)."""
    idle = state.keypoints_age_s if state.keypoints_age_s is not None else state.since_s
    if stale_after_s > 0 and idle > stale_after_s:
        what = ('no keypoints since activation' if state.keypoints_age_s is None
                else 'no keypoints')
        return Condition(STALE, f'{what} for {idle:.1f} s (stale_after_s {stale_after_s:g})')
    unmatched = state.unmatched_s
    if state.uses_camera_info and unmatched is not None and unmatched > unmatched_warn_s:
        head = f'keypoints without a matching camera_info for {unmatched:.1f} s: '
        if state.camera_info_count == 0 or state.nearest_gap_s is None:
            return Condition(WARN, head + 'no camera_info received')
        return Condition(WARN, head + f'the nearest camera_info stamp is '
                         f'{state.nearest_gap_s:.3f} s from the keypoints stamp '
                         f'(sync_slop_s {slop_s:g})')
    if state.keypoints_age_s is None:
        return Condition(OK, 'waiting for input')
    return Condition(OK, 'lifting')


def assess(configure_error: str | None, active: bool, inputs: Condition | None,
           stats: Report | None) -> Condition:
    """The one status of /diagnostics, by priority: a failed configure (ERROR), an inactive
    node (OK, 'inactive'), the input condition when not OK (STALE, WARN), skipped or dropped
    inputs (the stats report's WARN), else the input condition."""
    if configure_error is not None:
        return Condition(ERROR, f'configure failed: {configure_error}')
    if not active:
        return Condition(OK, 'configured, inactive (activate to lift)')
    if inputs is not None and inputs.level != OK:
        return inputs
    if stats is not None and stats.level != OK:
        return Condition(stats.level, stats.message)
    return inputs if inputs is not None else Condition(OK, 'lifting')
