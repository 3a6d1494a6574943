"""Message stamps without ROS: the one stamp -> nanoseconds conversion, and the node's ordering
rule for input stamps (``StampGuard``).

The ordering rule (docs/ros-interface.md, "Stamps"), applied to every input frame before it is
lifted, against the last frame the node accepted:

- **in order** (not older than the last accepted stamp, and not ahead of it by more than the
  monotonic time since then plus ``jump_ahead_s``): accepted;
- **late** (older by at most ``reset_back_s``): skipped as ``out_of_order``;
- **a jump** (ahead by more than the elapsed time plus ``jump_ahead_s``, or back by more than
  ``reset_back_s``): held back and skipped as ``stamp_jump``, *unless the next frame confirms
  it* -- a frame that jumped the same way from the last accepted stamp and lies within
  ``jump_ahead_s`` (plus the time elapsed) of the held one. A confirmed jump is accepted, restarts
  the ordering and is noted as ``time_jumped_ahead`` / ``time_jumped_back``.

So one message stamped far ahead (or far back) costs exactly that message: the valid frames after
it are still served. A real jump (bag loop, sim-time restart, a clock step) costs its first frame
and is then followed. Stamps ahead by less than the elapsed time are normal (a detector pause).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import InputContractError

NS_PER_S = 1_000_000_000

ACCEPT = 'accept'
OUT_OF_ORDER = 'out_of_order'
STAMP_JUMP = 'stamp_jump'
JUMPED_AHEAD = 'time_jumped_ahead'
JUMPED_BACK = 'time_jumped_back'


def stamp_to_ns(stamp: Any) -> int:
    """A stamp in integer nanoseconds: builtin_interfaces/Time (``sec``, ``nanosec``), rclpy
    Time (``nanoseconds``), a ``(sec, nanosec)`` pair of integers, or a plain number of
    seconds (as in message_filters' own tests). The project's one such conversion."""
    if isinstance(stamp, tuple):
        sec, nanosec = stamp
        return int(sec) * NS_PER_S + int(nanosec)
    if hasattr(stamp, 'nanoseconds'):
        return int(stamp.nanoseconds)
    if hasattr(stamp, 'sec'):
        return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)
    return int(round(float(stamp) * NS_PER_S))


@dataclass
class Verdict:
    """What to do with a frame: ``action`` is ACCEPT, OUT_OF_ORDER or STAMP_JUMP; ``note`` is
    JUMPED_AHEAD / JUMPED_BACK when an accepted frame confirmed a jump ('' otherwise)."""

    action: str
    note: str = ''
    detail: str = ''


class StampGuard:
    """The ordering rule of the module docstring. Not thread-safe (the node's worker owns it).

    ``check(stamp_ns, now_s)`` judges a frame (``now_s``: a monotonic clock, seconds);
    ``accept(stamp_ns, now_s)`` records a frame that was then actually served. The limits are
    the node's parameters ``stamp_jump_ahead_s`` and ``stamp_reset_back_s`` (seconds; their
    defaults are in config/lifter.yaml).
    """

    def __init__(self, jump_ahead_s: float, reset_back_s: float):
        if not (jump_ahead_s > 0 and reset_back_s > 0):      # NaN too
            raise InputContractError(f'jump_ahead_s and reset_back_s must be > 0, got '
                                     f'{jump_ahead_s} and {reset_back_s}')
        self.jump_ahead_ns = int(jump_ahead_s * NS_PER_S)
        self.reset_back_ns = int(reset_back_s * NS_PER_S)
        self.reset()

    def reset(self) -> None:
        self._last: tuple[int, float] | None = None      # (stamp ns, now s) last accepted
        self._held: tuple[int, float, str] | None = None  # (stamp ns, now s, kind) a jump

    @property
    def last_ns(self) -> int | None:
        return None if self._last is None else self._last[0]

    def _jump(self, stamp: int, now: float) -> str:
        """'' (in order or late), JUMPED_AHEAD or JUMPED_BACK relative to the last accepted."""
        last, last_now = self._last
        elapsed_ns = int(max(0.0, now - last_now) * NS_PER_S)
        if stamp - last > elapsed_ns + self.jump_ahead_ns:
            return JUMPED_AHEAD
        if last - stamp > self.reset_back_ns:
            return JUMPED_BACK
        return ''

    def check(self, stamp: int, now: float) -> Verdict:
        if self._last is None:
            return Verdict(ACCEPT)
        kind = self._jump(stamp, now)
        held, self._held = self._held, None
        if not kind:
            if stamp < self._last[0]:
                return Verdict(OUT_OF_ORDER, detail=f'stamp {stamp} ns is older than the last '
                               f'served {self._last[0]} ns')
            return Verdict(ACCEPT)
        if held is not None and held[2] == kind:
            h_stamp, h_now, _ = held
            slack = int(max(0.0, now - h_now) * NS_PER_S) + self.jump_ahead_ns
            if abs(stamp - h_stamp) <= slack:
                return Verdict(ACCEPT, note=kind, detail=f'stamps jumped from {self._last[0]} '
                               f'to {stamp} ns and the next frame confirmed it; ordering '
                               'restarts')
        self._held = (stamp, now, kind)
        way = 'ahead of' if kind == JUMPED_AHEAD else 'behind'
        return Verdict(STAMP_JUMP, detail=f'stamp {stamp} ns is {abs(stamp - self._last[0])} ns '
                       f'{way} the last served {self._last[0]} ns; dropped unless the next '
                       'frame confirms the jump')

    def accept(self, stamp: int, now: float) -> None:
        self._last = (int(stamp), float(now))
        self._held = None
