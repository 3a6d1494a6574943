"""Run-time statistics of the node, as plain numbers (the node turns them into DiagnosticArray).

Counts every processed, skipped and dropped input by reason, keeps a rolling window of
latencies for p50/p99, and produces a flat ``{key: str}`` report plus a level, once per period.
"""
from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass

import numpy as np

OK, WARN, ERROR = 0, 1, 2
LATENCY_WINDOW = 1000


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
