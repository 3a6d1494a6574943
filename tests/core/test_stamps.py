"""core.stamps: the one stamp conversion and the input ordering rule (pure, no ROS)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from pose_lifter.core.stamps import (
    ACCEPT,
    JUMPED_AHEAD,
    JUMPED_BACK,
    OUT_OF_ORDER,
    STAMP_JUMP,
    StampGuard,
    stamp_to_ns,
)

S = 1_000_000_000
DT = 33_333_333            # 30 Hz
AHEAD_S, BACK_S = 0.5, 1.0  # the node's default stamp_jump_ahead_s, stamp_reset_back_s


def test_stamp_to_ns_of_every_stamp_kind():
    assert stamp_to_ns(SimpleNamespace(sec=12, nanosec=5)) == 12 * S + 5
    assert stamp_to_ns(SimpleNamespace(nanoseconds=7)) == 7
    assert stamp_to_ns(1.5) == 3 * S // 2
    big = SimpleNamespace(sec=2**31 - 1, nanosec=999_999_999)
    assert stamp_to_ns(big) == (2**31 - 1) * S + 999_999_999     # exact, no float


def stream(guard: StampGuard, stamps_ns, t0: float = 100.0, dt_s: float = DT / S):
    """Feed stamps at the camera's pace; accept what passes; returns the verdicts."""
    out = []
    for k, stamp in enumerate(stamps_ns):
        now = t0 + k * dt_s
        v = guard.check(stamp, now)
        if v.action == ACCEPT:
            guard.accept(stamp, now)
        out.append(v)
    return out


def test_one_future_stamp_costs_only_that_message():
    t = [10 * S + k * DT for k in range(40)]
    t[5] += int(0.8 * S)                         # one message stamped 0.8 s ahead
    verdicts = stream(StampGuard(AHEAD_S, BACK_S), t)
    actions = [v.action for v in verdicts]
    assert actions[5] == STAMP_JUMP
    assert actions[:5] == [ACCEPT] * 5 and actions[6:] == [ACCEPT] * 34
    assert not any(v.note for v in verdicts)


def test_one_stamp_far_in_the_past_costs_only_that_message():
    t = [10 * S + k * DT for k in range(20)]
    t[7] = 0
    actions = [v.action for v in stream(StampGuard(AHEAD_S, BACK_S), t)]
    assert actions.count(STAMP_JUMP) == 1 and actions[7] == STAMP_JUMP
    assert actions.count(ACCEPT) == 19


@pytest.mark.parametrize('jump_s, note', [(5.0, JUMPED_AHEAD), (-30.0, JUMPED_BACK)])
def test_a_confirmed_jump_is_followed_after_one_frame(jump_s, note):
    """A bag loop / sim restart / clock step: its first frame is held, the next confirms it."""
    t = [10 * S + k * DT for k in range(10)]
    t += [t[-1] + int(jump_s * S) + k * DT for k in range(1, 11)]
    verdicts = stream(StampGuard(AHEAD_S, BACK_S), t)
    assert [v.action for v in verdicts[10:]] == [STAMP_JUMP] + [ACCEPT] * 9
    assert verdicts[11].note == note and 'confirmed' in verdicts[11].detail
    assert not any(v.note for v in verdicts[12:])


def test_late_messages_are_out_of_order_and_a_pause_is_not_a_jump():
    g = StampGuard(AHEAD_S, BACK_S)
    stream(g, [10 * S, 10 * S + DT])
    assert g.check(10 * S + DT - int(0.2 * S), 100.1).action == OUT_OF_ORDER
    # the detector paused 3 s (wall time) and resumes 3 s later in stamps: in order
    assert g.check(13 * S, 103.1).action == ACCEPT


def test_two_unrelated_future_stamps_do_not_confirm_each_other():
    g = StampGuard(AHEAD_S, BACK_S)
    stream(g, [10 * S, 10 * S + DT], t0=100.0)
    assert g.check(12 * S, 100.07).action == STAMP_JUMP
    assert g.check(20 * S, 100.1).action == STAMP_JUMP     # jumped too, but 8 s away
    assert g.check(10 * S + 3 * DT, 100.13).action == ACCEPT
    assert g.last_ns == 10 * S + DT                          # accept() is the caller's call


def test_fast_replay_is_in_order():
    """A bag played at 10x: 30 Hz stamps every 3.3 ms of wall time."""
    t = [10 * S + k * DT for k in range(100)]
    actions = [v.action for v in stream(StampGuard(AHEAD_S, BACK_S), t, dt_s=DT / S / 10)]
    assert actions == [ACCEPT] * 100


@pytest.mark.parametrize('ahead, back', [(0.0, 1.0), (0.5, -1.0), (float('nan'), 1.0)])
def test_bad_limits_are_refused(ahead, back):
    from pose_lifter.core.errors import PoseLifterInputError
    with pytest.raises(PoseLifterInputError, match='must be > 0'):
        StampGuard(ahead, back)


def test_the_limits_are_what_they_say():
    """Tighter limits: a 0.3 s step ahead is a jump with 0.2 s, in order with 0.5 s; 0.3 s
    back is late with 1 s, a jump with 0.2 s."""
    for ahead, back, step, action in [(0.2, 1.0, 0.3, STAMP_JUMP), (0.5, 1.0, 0.3, ACCEPT),
                                      (0.5, 1.0, -0.3, OUT_OF_ORDER),
                                      (0.5, 0.2, -0.3, STAMP_JUMP)]:
        g = StampGuard(ahead, back)
        stream(g, [10 * S, 10 * S + DT])
        assert g.check(10 * S + DT + int(step * S), 100.04).action == action, (ahead, back)


def test_stamp_to_ns_of_a_pair_and_the_cdr_header_reader():
    import struct

    from pose_lifter.bag.recorder import header_stamp_ns
    assert stamp_to_ns((3, 7)) == 3 * S + 7
    cdr = b'\x00\x01\x00\x00' + struct.pack('<iI', 1_700_000_000, 123)
    assert header_stamp_ns(cdr) == 1_700_000_000 * S + 123
