"""Frames that never reached the node, from the publishers' sequence numbers.

A best-effort subscription loses messages in two places the node's own queue never sees: in
transport (the DDS ``message_lost`` event reports those) and in the reader's history when the
executor takes messages slower than they arrive (KEEP_LAST depth: the oldest are replaced,
and nothing reports it). Every DDS sample carries its publisher's sequence number: a gap
between two samples of one publisher is the number of its messages this subscriber never
took, whichever way they were lost.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

MAX_PUBLISHERS = 64       # publishers remembered (least recently heard is forgotten)
MAX_GAP = 1_000_000       # a larger jump is a restarted or different publisher, not losses


class SequenceGaps:
    """Per-publisher last sequence number; ``observe`` returns how many were skipped."""

    def __init__(self, max_publishers: int = MAX_PUBLISHERS):
        if max_publishers < 1:
            raise ValueError('max_publishers must be >= 1')
        self._last: OrderedDict[Hashable, int] = OrderedDict()
        self.max_publishers = max_publishers

    def observe(self, publisher: Hashable, sequence: int) -> int:
        """Messages of ``publisher`` between its previous sample and this one (0 for its first
        sample, a repeated or older number, or an implausible jump)."""
        last = self._last.pop(publisher, None)
        self._last[publisher] = int(sequence)
        if len(self._last) > self.max_publishers:
            self._last.popitem(last=False)
        if last is None or sequence <= last:
            return 0
        gap = int(sequence) - last - 1
        return gap if gap <= MAX_GAP else 0
