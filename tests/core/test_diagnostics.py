"""Node statistics behind /diagnostics, without ROS."""
from pose_lifter.core.diagnostics import NodeStats


def test_report_rates_latency_rejections_and_skips():
    stats = NodeStats()
    stats.report(0.0, 'onnxruntime (cpu, fp32)', 'fp32')          # opens the period
    for i in range(10):
        stats.record(0.010 + 0.001 * i, 0.02, ['ok', 'implausible', 'too_few_joints'])
    stats.skip('bad_lengths')
    stats.set_dropped(3)
    report = stats.report(2.0, 'onnxruntime (cpu, fp32)', 'fp32', threshold=0.12)
    v = report.values
    assert float(v['rate_hz']) == 5.0
    assert 10.0 <= float(v['latency_p50_ms']) <= 19.0
    assert float(v['rejection_ratio']) == 0.5
    assert v['skipped_bad_lengths'] == '1' and v['dropped_overwritten'] == '3'
    assert float(v['realism_threshold']) == 0.12
    assert 'skipped' in report.message
