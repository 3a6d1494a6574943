"""The two approximate-time synchronisers, driven by the SAME tests without DDS: the package's
core.sync.ApproximateSync and message_filters' ApproximateTimeSynchronizer (fed through its own
SimpleFilter inputs, as its upstream tests do). Fake stamped messages carry a real
builtin_interfaces/Time where it is installed (message_filters needs one).

The one slop rule (core/sync.py, config/lifter.yaml): stamps match when max - min < slop.
"""
import importlib.util
import random
import threading
from types import SimpleNamespace

import pytest

from pose_lifter.core.sync import (
    ApproximateSync,
    LatestSlot,
    header_stamp_ns,
    slop_ns,
    within_slop,
)

try:
    from builtin_interfaces.msg import Time
except ImportError:  # core.sync alone works on plain objects
    Time = None

HAS_MESSAGE_FILTERS = (importlib.util.find_spec('message_filters') is not None
                       and importlib.util.find_spec('rclpy') is not None)
MF_MISSING = ('message_filters is not installed (make setup installs its wheel from '
              '../shared/ros-wheels)')


class FakeMessage:
    """header.stamp as builtin_interfaces/Time carries it; hashable by identity."""

    def __init__(self, t: float, data=None, ns: int | None = None):
        ns = int(round(t * 1e9)) if ns is None else ns
        sec, nanosec = divmod(ns, 1_000_000_000)
        stamp = (Time(sec=sec, nanosec=nanosec) if Time is not None
                 else SimpleNamespace(sec=sec, nanosec=nanosec))
        self.header = SimpleNamespace(stamp=stamp)
        self.data = data

    def __repr__(self):
        return f'msg({header_stamp_ns(self)} ns, {self.data!r})'


msg = FakeMessage


def msg_ns(ns: int, data=None) -> FakeMessage:
    return FakeMessage(0.0, data, ns=ns)


class Collector:
    def __init__(self):
        self.sets = []

    def __call__(self, *msgs):
        self.sets.append(msgs)


class MessageFiltersSync:
    """message_filters.ApproximateTimeSynchronizer behind ApproximateSync's add(i, msg)."""

    def __init__(self, num_inputs, queue_size, slop_s, callback):
        import message_filters
        self.inputs = [message_filters.SimpleFilter() for _ in range(num_inputs)]
        self.sync = message_filters.ApproximateTimeSynchronizer(self.inputs, queue_size,
                                                                slop_s)
        self.sync.registerCallback(callback)

    def add(self, index, m):
        self.inputs[index].signalMessage(m)


@pytest.fixture(params=['core.sync', 'message_filters'])
def make_sync(request):
    """Factory (num_inputs, queue_size, slop_s, callback) -> object with add(index, msg)."""
    if request.param == 'message_filters':
        if not HAS_MESSAGE_FILTERS:
            pytest.skip(MF_MISSING)
        if Time is None:
            pytest.skip('builtin_interfaces is not installed')
        return MessageFiltersSync
    return ApproximateSync


def test_message_filters_case_runs_where_shared_wheels_exist():
    """With ../shared (the wheels) beside the repository, the message_filters case must run."""
    from pathlib import Path
    wheels = Path(__file__).resolve().parents[2].parent / 'shared' / 'ros-wheels'
    if not list(wheels.glob('message_filters-*.whl')):
        pytest.skip(f'no message_filters wheel in {wheels}')
    assert HAS_MESSAGE_FILTERS, f'{MF_MISSING}: the wheel is in {wheels}'


def test_stamp_forms():
    assert header_stamp_ns(msg(1.5)) == 1_500_000_000
    assert header_stamp_ns(SimpleNamespace(header=SimpleNamespace(stamp=2.0))) == 2 * 10**9
    rclpy_time = SimpleNamespace(nanoseconds=7)
    assert header_stamp_ns(SimpleNamespace(header=SimpleNamespace(stamp=rclpy_time))) == 7


def test_pairs_in_lockstep(make_sync):
    got = Collector()
    sync = make_sync(2, 1, 0.1, got)
    for t in range(10):
        a, b = msg(t, 'kp'), msg(t + 0.01, 'info')
        sync.add(0, a)
        assert len(got.sets) == t
        sync.add(1, b)
        assert got.sets[-1] == (a, b)
    assert len(got.sets) == 10


@pytest.mark.parametrize('n', range(1, 10))
def test_scrambled_sequences_recombine(make_sync, n):
    """message_filters' test: shuffled sequences of length N come back as the N true pairs."""
    rng = random.Random(n)
    seq0 = [msg(t, rng.random()) for t in range(n)]
    seq1 = [msg(t, rng.random()) for t in range(n)]
    got = Collector()
    sync = make_sync(2, n, 0.1, got)
    for m in rng.sample(seq0, n):
        sync.add(0, m)
    assert got.sets == []
    for m in rng.sample(seq1, n):
        sync.add(1, m)
    assert set(got.sets) == set(zip(seq0, seq1))


def test_outside_slop_never_pairs_and_closest_wins(make_sync):
    got = Collector()
    sync = make_sync(2, 10, 0.05, got)
    sync.add(0, msg(1.0))
    sync.add(1, msg(1.2))                   # 200 ms apart: no pair
    assert got.sets == []
    far, near = msg(2.04), msg(2.01)
    sync.add(1, far)
    sync.add(1, near)
    kp = msg(2.0)
    sync.add(0, kp)
    assert got.sets == [(kp, near)]         # the closer camera_info is used, once
    again = msg(2.03)
    sync.add(0, again)
    assert got.sets[-1] == (again, far)     # the remaining one is still available


SLOP_S = 0.05
SLOP_NS = 50_000_000


@pytest.mark.parametrize('dt_ns, matches', [
    (0, True), (1, True), (SLOP_NS - 1, True), (SLOP_NS, False), (SLOP_NS + 1, False),
    (-(SLOP_NS - 1), True), (-SLOP_NS, False),
])
def test_slop_boundary_is_strict(make_sync, dt_ns, matches):
    """The one boundary rule: |dt| < slop matches, |dt| == slop does not (both orders)."""
    for first in (0, 1):
        got = Collector()
        sync = make_sync(2, 5, SLOP_S, got)
        t = 10 * 10**9
        a, b = msg_ns(t), msg_ns(t + dt_ns)
        sync.add(first, a)
        sync.add(1 - first, b)
        assert (len(got.sets) == 1) is matches, (dt_ns, first)
    assert within_slop([t, t + dt_ns], slop_ns(SLOP_S)) is matches


@pytest.mark.parametrize('slop_s', [0.07, 0.29, 0.1, 1e-6, 0.033])
def test_slop_in_nanoseconds_as_rclpy_duration(slop_s):
    """Both synchronisers turn the slop into ns the same (truncating) way."""
    duration = pytest.importorskip('rclpy.duration')
    assert slop_ns(slop_s) == duration.Duration(seconds=slop_s).nanoseconds
    assert ApproximateSync(2, 1, slop_s).slop_ns == slop_ns(slop_s)


def test_zero_slop_matches_nothing(make_sync):
    got = Collector()
    sync = make_sync(2, 5, 0.0, got)
    sync.add(0, msg(1.0))
    sync.add(1, msg(1.0))
    assert got.sets == []


def test_queue_size_evicts_oldest(make_sync):
    got = Collector()
    sync = make_sync(2, 2, 0.01, got)
    for t in (1.0, 2.0, 3.0):
        sync.add(0, msg(t))
    sync.add(1, msg(1.0))                   # its partner was evicted
    assert got.sets == []
    sync.add(1, msg(3.0))
    assert len(got.sets) == 1


def test_message_older_than_a_full_queue_is_never_emitted(make_sync):
    """A message its own full queue evicts on arrival cannot pair (and must not crash)."""
    got = Collector()
    sync = make_sync(2, 2, 0.01, got)
    sync.add(1, msg(1.0))
    sync.add(0, msg(2.0))
    sync.add(0, msg(3.0))
    got.sets.clear()
    sync.add(0, msg(1.0))                   # older than both queued: evicted at once
    assert got.sets == []


def test_same_stamp_replaces_the_queued_message(make_sync):
    got = Collector()
    sync = make_sync(2, 5, 0.01, got)
    old, new = msg(1.0, 'old'), msg(1.0, 'new')
    sync.add(0, old)
    sync.add(0, new)
    info = msg(1.0)
    sync.add(1, info)
    assert got.sets == [(new, info)]


def test_three_inputs(make_sync):
    got = Collector()
    sync = make_sync(3, 5, 0.02, got)
    a, b, c = msg(5.0), msg(5.01), msg(4.995)
    sync.add(0, a)
    sync.add(2, c)
    sync.add(1, b)
    assert got.sets == [(a, b, c)]


def test_three_inputs_spread_over_slop_do_not_match(make_sync):
    """Each pair within slop, the whole set not (5.000, 5.015, 4.990: spread 25 ms > 20)."""
    got = Collector()
    sync = make_sync(3, 5, 0.02, got)
    sync.add(0, msg(5.0))
    sync.add(2, msg(4.99))
    sync.add(1, msg(5.015))
    assert got.sets == []


def test_random_streams_agree(make_sync):
    """Jittered, shuffled, lossy streams: the synchroniser's pairs equal a reference run of
    core.sync on the same sequence (for message_filters: the two implementations agree)."""
    rng = random.Random(7)
    events = []
    for k in range(300):
        t = 10**9 + k * 33_333_333
        if rng.random() < 0.9:
            events.append((0, msg_ns(t + rng.randint(-5, 5) * 10**6, ('kp', k))))
        if rng.random() < 0.9:
            events.append((1, msg_ns(t + rng.randint(-30, 30) * 10**6, ('info', k))))
    for i in range(0, len(events) - 3, 3):      # local reordering, as DDS may deliver
        chunk = events[i:i + 3]
        rng.shuffle(chunk)
        events[i:i + 3] = chunk
    got, ref = Collector(), Collector()
    sync = make_sync(2, 4, 0.02, got)
    reference = ApproximateSync(2, 4, 0.02, ref)
    for index, m in events:
        sync.add(index, m)
        reference.add(index, m)
    assert got.sets == ref.sets and len(got.sets) > 100


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
