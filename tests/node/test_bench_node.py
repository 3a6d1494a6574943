"""`pose-lifter bench` end-to-end node latency: a short run checks the JSON it reports
(numbers are for `make bench`, never asserted as timings)."""
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('pose_lifter_msgs.msg', reason='pose_lifter_msgs not built')

from pose_lifter.cli.bench_node import run_node_bench  # noqa: E402

pytestmark = pytest.mark.ros


def test_node_bench_reports_latency_throughput_and_drops(tiny_model, demo_poses):
    out = run_node_bench(str(tiny_model), 'onnxruntime', demo_poses, seconds=0.5,
                         persons=(1, 3))
    assert out['startup_to_first_answer_s'] > 0
    for key, n in (('1_person', 1), ('3_persons', 3)):
        run = out[key]
        assert run['persons'] == n and run['published'] == 15
        assert run['skeletons_received'] + run['dropped'] == run['published']
        assert run['skeletons_received'] >= 1 and run['throughput_fps'] > 0
        for lat in (run['skeletons_latency'], run['markers_latency']):
            assert lat['runs'] >= 1 and 0 < lat['p50_ms'] <= lat['p99_ms']
        assert run['backend'] == 'onnxruntime (cpu, fp32)'
