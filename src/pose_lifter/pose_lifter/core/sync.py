"""Input flow without ROS: an approximate-time synchroniser and a single-slot latest buffer.

``ApproximateSync`` has the semantics of message_filters' Python ``ApproximateTimeSynchronizer``
(ros2/message_filters 6.x): every input keeps its newest ``queue_size`` messages keyed by stamp
(a message with the stamp of a queued one replaces it); when a message arrives, the other
inputs' messages near its stamp are tried, closest first (ties in arrival order), and the first
combination is emitted once and removed from the queues. A message that its own queue evicted
at once (older than a full queue) is never emitted.

The slop boundary, one rule for both synchronisers: a combination matches when its newest and
oldest stamps differ by **strictly less** than the slop, ``max - min < slop`` (a pair exactly
``slop`` apart does not match; so a slop of 0 matches nothing). The slop is turned into integer
nanoseconds as rclpy's ``Duration(seconds=slop)`` does it (truncated, not rounded). The node
uses message_filters where it is installed and this class otherwise; tests/core/test_sync.py
drives both with the same cases.

``LatestSlot`` is the node's load shedding: a one-element buffer that a newer input overwrites
(counted as a drop), so a slow consumer always works on the newest frame and no queue grows.
"""
from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

from .stamps import NS_PER_S, stamp_to_ns


def slop_ns(slop_s: float) -> int:
    """Slop in integer nanoseconds, truncated exactly as rclpy's ``Duration(seconds=...)``."""
    return int(slop_s * NS_PER_S)


def within_slop(stamps_ns, slop: int) -> bool:
    """The boundary rule: stamps (ns) match when ``max - min < slop`` (slop in ns)."""
    return max(stamps_ns) - min(stamps_ns) < slop


def header_stamp_ns(msg: Any) -> int:
    """Stamp of ``msg.header.stamp`` in integer nanoseconds.

    Accepts what ``core.stamps.stamp_to_ns`` accepts (the project's one conversion).
    """
    return stamp_to_ns(msg.header.stamp)


class ApproximateSync:
    """Pairs (or n-tuples of) messages from ``num_inputs`` inputs by approximate stamp.

    ``callback(*msgs)`` receives one message per input, in input order. Thread-safe: ``add``
    may be called from several executor threads; the callback runs under the lock, so keep it
    short (the node only hands the pair to its ``LatestSlot``).
    """

    def __init__(self, num_inputs: int, queue_size: int, slop_s: float,
                 callback: Callable[..., None] | None = None,
                 stamp: Callable[[Any], int] = header_stamp_ns):
        if num_inputs < 2:
            raise ValueError('an approximate-time synchroniser needs at least 2 inputs')
        if queue_size < 1:
            raise ValueError(f'queue_size must be >= 1, got {queue_size}')
        if slop_s < 0:
            raise ValueError(f'slop must be >= 0 s, got {slop_s}')
        self.queue_size = int(queue_size)
        self.slop_ns = slop_ns(slop_s)
        self._queues: list[dict[int, Any]] = [{} for _ in range(num_inputs)]
        self._callbacks: list[Callable[..., None]] = [callback] if callback else []
        self._stamp = stamp
        self._lock = threading.Lock()

    def register_callback(self, callback: Callable[..., None]) -> None:
        self._callbacks.append(callback)

    def add(self, index: int, msg: Any) -> bool:
        """Feed ``msg`` of input ``index``; returns True when it completed a set."""
        t = self._stamp(msg)
        with self._lock:
            queue = self._queues[index]
            queue[t] = msg
            while len(queue) > self.queue_size:
                del queue[min(queue)]
            if t not in queue:          # older than everything in a full queue: evicted
                return False
            match = self._match(index, t)
            if match is None:
                return False
            msgs = [q.pop(s) for q, s in zip(self._queues, match)]
            for callback in self._callbacks:
                callback(*msgs)
            return True

    def _match(self, index: int, t: int) -> tuple[int, ...] | None:
        """Stamps (one per input) of the first combination within slop, closest first."""
        candidates: list[list[int]] = []
        for i, queue in enumerate(self._queues):
            if i == index:
                candidates.append([t])
                continue
            near = sorted((s for s in queue if abs(s - t) < self.slop_ns),
                          key=lambda s: abs(s - t))
            if not near:
                return None
            candidates.append(near)
        for combo in itertools.product(*candidates):
            if within_slop(combo, self.slop_ns):
                return combo
        return None

    def clear(self) -> None:
        with self._lock:
            for queue in self._queues:
                queue.clear()


class LatestSlot:
    """A thread-safe single-element buffer: ``put`` overwrites, ``take`` waits and empties.

    ``dropped`` counts items that were overwritten before anyone took them.
    """

    def __init__(self) -> None:
        self._item: Any = None
        self._full = False
        self._closed = False
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, item: Any) -> bool:
        """Store ``item``; returns True when it replaced one nobody had taken. Ignored once
        closed."""
        with self._cond:
            if self._closed:
                return False
            replaced = self._full
            self.dropped += int(replaced)
            self._item, self._full = item, True
            self._cond.notify()
            return replaced

    def take(self, timeout_s: float | None = None) -> Any | None:
        """The newest item, or None after ``timeout_s`` or once closed."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._full or self._closed, timeout_s):
                return None
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            return item

    @property
    def pending(self) -> bool:
        """True while an item waits to be taken."""
        return self._full

    def close(self) -> None:
        """Wake every waiter; later ``take`` calls return None at once."""
        with self._cond:
            self._closed = True
            self._item, self._full = None, False
            self._cond.notify_all()

