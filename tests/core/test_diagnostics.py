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


# ------------------------------------------------------------------ health: state -> level
from pose_lifter.core.diagnostics import (  # noqa: E402
    ERROR,
    OK,
    STALE,
    WARN,
    Condition,
    InputMonitor,
    Report,
    assess,
    input_condition,
)

S = 1_000_000_000


def condition(monitor, now, stale_after_s=5.0, slop_s=0.05):
    return input_condition(monitor.state(now), stale_after_s, slop_s)


def test_waiting_then_stale_without_any_keypoints():
    m = InputMonitor(100.0, uses_camera_info=True)
    assert condition(m, 101.0) == Condition(OK, 'waiting for input')
    c = condition(m, 105.5)
    assert c.level == STALE and 'no keypoints since activation for 5.5 s' in c.message
    assert condition(m, 1000.0, stale_after_s=0.0).level == OK      # 0 = never stale


def test_matched_input_is_ok_and_goes_stale_when_it_stops():
    m = InputMonitor(0.0, uses_camera_info=True)
    for k in range(20):
        t = 0.1 * k
        m.keypoints(k * S // 10, t)
        m.camera_info(k * S // 10, t + 0.01)
        m.matched(t + 0.01)
    assert condition(m, 2.0) == Condition(OK, 'lifting')
    c = condition(m, 1.9 + 6.0)
    assert c.level == STALE and 'no keypoints for 6.0 s' in c.message


def test_keypoints_without_any_camera_info_warn_after_one_second():
    m = InputMonitor(0.0, uses_camera_info=True)
    for k in range(30):
        m.keypoints(k * S // 30, k / 30)
    assert condition(m, 0.95).level == OK                        # not yet a second
    c = condition(m, 1.05)
    assert c.level == WARN and 'no camera_info received' in c.message
    assert 'keypoints without a matching camera_info for 1.1 s' in c.message


def test_camera_info_stamped_away_from_the_keypoints_warns_with_the_gap():
    m = InputMonitor(0.0, uses_camera_info=True)
    for k in range(5):                                           # 2 Hz
        m.keypoints(10 * S + k * S // 2, k / 2)
        m.camera_info(10 * S + k * S // 2 + S // 5, k / 2)       # stamped 0.2 s later
    c = condition(m, 2.1, slop_s=0.05)
    assert c.level == WARN
    assert 'nearest camera_info stamp is 0.200 s from the keypoints stamp' in c.message
    assert 'sync_slop_s 0.05' in c.message
    m.matched(2.1)                                                # one pair: back to OK
    assert condition(m, 2.2).level == OK


def test_without_camera_info_nothing_to_match():
    m = InputMonitor(0.0, uses_camera_info=False)
    for k in range(40):
        m.keypoints(k * S // 20, k / 20)
    assert condition(m, 2.0) == Condition(OK, 'lifting')


def test_assess_priorities():
    skips = Report(WARN, '3 inputs skipped or dropped in the last period', {})
    fine = Report(OK, 'lifting', {})
    stale = Condition(STALE, 'no keypoints for 9.0 s (stale_after_s 5)')
    lifting = Condition(OK, 'lifting')
    failed = assess('cannot use model x', False, None, None)
    assert failed == Condition(ERROR, 'configure failed: cannot use model x')
    assert assess(None, False, None, fine).level == OK                        # inactive
    assert 'inactive' in assess(None, False, None, fine).message
    assert assess(None, True, stale, skips) == stale
    assert assess(None, True, lifting, skips) == Condition(WARN, skips.message)
    assert assess(None, True, lifting, fine) == lifting
    assert assess(None, True, None, fine) == Condition(OK, 'lifting')
