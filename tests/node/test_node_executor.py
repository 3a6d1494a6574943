"""The executor pose_lifter_node spins (node/main.py ``make_executor``): rclpy's EventsExecutor
by default, the SingleThreadedExecutor on request or where rclpy has no EventsExecutor, and in
either case SIGINT/SIGTERM only set the stop event (the EventsExecutor installs handlers of its
own that would shut the context down under the node)."""
import os
import signal
import threading

import pytest

pytest.importorskip('rclpy')

from pose_lifter.node import main  # noqa: E402
from pose_lifter.node.params import EXECUTORS, load_defaults  # noqa: E402

pytestmark = pytest.mark.ros


@pytest.fixture
def handlers():
    """The test process's SIGINT/SIGTERM handlers, restored afterwards."""
    saved = {s: signal.getsignal(s) for s in main.STOP_SIGNALS}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.fixture
def context():
    import rclpy
    from node_support import fresh_domain_id
    from rclpy.context import Context
    ctx = Context()
    rclpy.init(context=ctx, domain_id=fresh_domain_id())
    yield ctx
    rclpy.shutdown(context=ctx)


def test_default_is_the_events_executor():
    assert load_defaults()['executor'] == 'events' and 'events' in EXECUTORS


@pytest.mark.parametrize('kind', EXECUTORS)
def test_signals_only_ask_the_loop_to_stop(handlers, context, kind):
    experimental = pytest.importorskip('rclpy.experimental')
    stop = threading.Event()
    main.install_stop_handlers(stop)
    executor, used = main.make_executor(kind, stop, context=context)
    expected = kind if hasattr(experimental, 'EventsExecutor') else 'single_threaded'
    assert used == expected
    assert type(executor).__name__ == ('EventsExecutor' if used == 'events'
                                       else 'SingleThreadedExecutor')
    for signum in main.STOP_SIGNALS:
        stop.clear()
        os.kill(os.getpid(), signum)               # a real signal to this process
        assert stop.wait(5.0), f'{signum!r} no longer reaches the stop event'
    executor.shutdown()


def test_without_an_events_executor_it_spins_single_threaded(handlers, context, monkeypatch):
    experimental = pytest.importorskip('rclpy.experimental')
    if hasattr(experimental, 'EventsExecutor'):
        monkeypatch.delattr(experimental, 'EventsExecutor')
    executor, used = main.make_executor('events', threading.Event(), context=context)
    assert used == 'single_threaded'
    assert type(executor).__name__ == 'SingleThreadedExecutor'
    executor.shutdown()


def test_unknown_executor_is_refused(context):
    with pytest.raises(ValueError, match='single_threaded'):
        main.make_executor('multi', threading.Event(), context=context)
