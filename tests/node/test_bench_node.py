"""`pose-lifter bench` end-to-end node latency against the transport floor: a short run checks
the JSON it reports (numbers are for `make bench`, never asserted as timings)."""
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('pose_lifter_msgs.msg', reason='pose_lifter_msgs not built')

from pose_lifter.cli.bench import _node_params  # noqa: E402
from pose_lifter.cli.bench_node import run_node_bench  # noqa: E402
from pose_lifter.core.backends import BackendError  # noqa: E402

pytestmark = pytest.mark.ros

LATENCY_KEYS = {'p50_ms', 'p99_ms', 'mean_ms', 'runs'}


def _check_run(run: dict, n: int, published: int) -> None:
    assert run['persons'] == n and run['published'] == published
    assert run['skeletons_received'] + run['dropped'] == run['published']
    assert run['skeletons_received'] >= 1 and run['throughput_fps'] > 0
    assert run['cpu_percent_of_core'] is not None and run['cpu_percent_of_core'] >= 0
    for lat in (run['skeletons_latency'], run['markers_latency']):
        assert set(lat) == LATENCY_KEYS
        assert lat['runs'] >= 1 and 0 < lat['p50_ms'] <= lat['p99_ms']


def test_node_bench_reports_floor_ratios_cpu_and_drops(tiny_model, demo_poses):
    out = run_node_bench(str(tiny_model), 'onnxruntime', demo_poses, seconds=0.5,
                         persons=(1, 3), overload=4.0, params={'threads': '1'})
    assert out['startup_to_first_answer_s'] > 0
    assert 'threads:=1' in out['command'] and 'bench_relay' in out['floor_command']
    # the floor spins the node's executor: the default one here
    assert out['executor'] == 'events' and '--executor events' in out['floor_command']
    assert out['overload_rate_hz'] == 120.0
    for key, n, published in (('1_person', 1, 15), ('3_persons', 3, 15),
                              ('1_person_overload', 1, 60), ('3_persons_overload', 3, 60)):
        run = out[key]
        _check_run(run, n, published)
        _check_run(run['floor'], n, published)
        assert run['backend'] == 'onnxruntime (cpu, fp32)'
        # every drop is accounted for: counted by the node or lost before it
        assert (run['dropped_in_node_overwritten'] + sum(run['skipped_in_node'].values())
                + run['dropped_not_counted_by_node']) == run['dropped']
        assert set(run['ratio_to_floor']) == {'skeletons_p50', 'skeletons_p99',
                                              'markers_p50', 'markers_p99'}
        assert run['ratio_to_floor']['skeletons_p99'] == pytest.approx(
            run['skeletons_latency']['p99_ms'] / run['floor']['skeletons_latency']['p99_ms'])
        assert 'dropped_in_node_overwritten' not in run['floor']


def test_node_bench_without_floor_or_overload(tiny_model, demo_poses):
    out = run_node_bench(str(tiny_model), 'onnxruntime', demo_poses, seconds=0.2,
                         persons=(2,), overload=0, floor=False,
                         params={'executor': 'single_threaded'})
    assert out['floor_command'] is None and out['overload_rate_hz'] is None
    assert out['executor'] == 'single_threaded' and 'executor:=single_threaded' in out['command']
    assert set(k for k in out if k.endswith('persons')) == {'2_persons'}
    assert 'floor' not in out['2_persons'] and 'ratio_to_floor' not in out['2_persons']


def test_node_params_parse_and_reject():
    assert _node_params(['threads:=0', 'publish_markers:=false']) == {
        'threads': '0', 'publish_markers': 'false'}
    assert _node_params(None) == {}
    with pytest.raises(BackendError, match='KEY:=VALUE'):
        _node_params(['threads=0'])


def test_process_cpu_seconds_of_a_process():
    import os

    from pose_lifter.cli.bench_node import process_cpu_s

    before = process_cpu_s(os.getpid())
    sum(i * i for i in range(2_000_000))                     # some CPU time
    after = process_cpu_s(os.getpid())
    own = os.times()
    assert before is not None and after > before
    assert after == pytest.approx(own.user + own.system, abs=0.05)
    assert process_cpu_s(2**31 - 1) is None                  # no such process
