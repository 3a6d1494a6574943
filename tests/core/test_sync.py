"""core.sync without DDS: fake stamped messages, as message_filters' own test_approxsync.py."""
import random
import threading
from types import SimpleNamespace

import pytest

from pose_lifter.core.sync import ApproximateSync, LatestSlot, header_stamp_ns


class FakeMessage:
    """header.stamp as builtin_interfaces/Time carries it; hashable by identity."""

    def __init__(self, t: float, data=None):
        sec = int(t)
        stamp = SimpleNamespace(sec=sec, nanosec=int(round((t - sec) * 1e9)))
        self.header = SimpleNamespace(stamp=stamp)
        self.data = data


msg = FakeMessage


class Collector:
    def __init__(self):
        self.sets = []

    def __call__(self, *msgs):
        self.sets.append(msgs)


def test_stamp_forms():
    assert header_stamp_ns(msg(1.5)) == 1_500_000_000
    assert header_stamp_ns(SimpleNamespace(header=SimpleNamespace(stamp=2.0))) == 2 * 10**9
    rclpy_time = SimpleNamespace(nanoseconds=7)
    assert header_stamp_ns(SimpleNamespace(header=SimpleNamespace(stamp=rclpy_time))) == 7


def test_pairs_in_lockstep():
    got = Collector()
    sync = ApproximateSync(2, 1, 0.1, got)
    for t in range(10):
        a, b = msg(t, 'kp'), msg(t + 0.01, 'info')
        assert not sync.add(0, a)
        assert sync.add(1, b)
        assert got.sets[-1] == (a, b)
    assert len(got.sets) == 10


@pytest.mark.parametrize('n', range(1, 10))
def test_scrambled_sequences_recombine(n):
    """message_filters' test: shuffled sequences of length N come back as the N true pairs."""
    rng = random.Random(n)
    seq0 = [msg(t, rng.random()) for t in range(n)]
    seq1 = [msg(t, rng.random()) for t in range(n)]
    got = Collector()
    sync = ApproximateSync(2, n, 0.1, got)
    for m in rng.sample(seq0, n):
        sync.add(0, m)
    assert got.sets == []
    for m in rng.sample(seq1, n):
        sync.add(1, m)
    assert set(got.sets) == set(zip(seq0, seq1))


def test_outside_slop_never_pairs_and_closest_wins():
    got = Collector()
    sync = ApproximateSync(2, 10, 0.05, got)
    sync.add(0, msg(1.0))
    assert not sync.add(1, msg(1.2))        # 200 ms apart: no pair
    far, near = msg(2.04), msg(2.01)
    sync.add(1, far)
    sync.add(1, near)
    kp = msg(2.0)
    assert sync.add(0, kp)
    assert got.sets == [(kp, near)]         # the closer camera_info is used, once
    again = msg(2.03)
    assert sync.add(0, again)
    assert got.sets[-1] == (again, far)     # the remaining one is still available


def test_queue_size_evicts_oldest():
    got = Collector()
    sync = ApproximateSync(2, 2, 0.01, got)
    for t in (1.0, 2.0, 3.0):
        sync.add(0, msg(t))
    assert not sync.add(1, msg(1.0))        # evicted
    assert sync.add(1, msg(3.0))


def test_three_inputs():
    got = Collector()
    sync = ApproximateSync(3, 5, 0.02, got)
    a, b, c = msg(5.0), msg(5.01), msg(4.995)
    sync.add(0, a)
    sync.add(2, c)
    assert sync.add(1, b)
    assert got.sets == [(a, b, c)]


def test_bad_arguments():
    for args in ((1, 5, 0.1), (2, 0, 0.1), (2, 5, -1.0)):
        with pytest.raises(ValueError):
            ApproximateSync(*args)


def test_latest_slot_overwrites_and_counts():
    slot = LatestSlot()
    assert slot.take(timeout_s=0.0) is None
    assert not slot.put(1) and slot.pending
    assert slot.put(2) and slot.put(3)
    assert slot.dropped == 2
    assert slot.take() == 3 and not slot.pending
    assert slot.take(timeout_s=0.01) is None


def test_latest_slot_close_wakes_waiter():
    slot = LatestSlot()
    out = []
    worker = threading.Thread(target=lambda: out.append(slot.take()))
    worker.start()
    slot.close()
    worker.join(timeout=5.0)
    assert not worker.is_alive() and out == [None]
    slot.put(1)
    assert slot.take() is None              # closed: nothing more is handed out
