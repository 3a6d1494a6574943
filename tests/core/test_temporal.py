"""core.temporal: per-track filtering of lifted skeletons (synthetic trajectories, no ROS)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pose_lifter.core.temporal import (
    Kalman,
    OneEuro,
    TemporalConfig,
    TemporalFilter,
    from_state,
    to_state,
)

DT_NS = 33_333_333          # 30 Hz
T0 = 1_700_000_000 * 10**9


def config(**changes) -> TemporalConfig:
    base = TemporalConfig(OneEuro(1.0, 3.0), OneEuro(2.0, 5.0), OneEuro(0.5, 5.0),
                          jump_m=0.75, jump_depth=0.3, timeout_s=1.0, max_tracks=64,
                          associate=False, associate_gate_m=1.0)
    return dataclasses.replace(base, **changes)


def walker(frames: int, depth: float = 8.0, x0: float = -1.0, vx: float = 1.2,
           seed: int = 0) -> np.ndarray:
    """(T, 17, 3) a body walking sideways at ``depth``, its joints swinging at 1 Hz by up to
    10 cm (most much less, as in walking)."""
    rng = np.random.default_rng(seed)
    shape = rng.normal(0, 0.25, (17, 3))
    shape[0] = 0
    phase = rng.uniform(0, 2 * np.pi, (17, 3))
    t = np.arange(frames)[:, None, None] * DT_NS / 1e9
    amplitude = 0.1 * rng.uniform(0, 1, (17, 3)) ** 2
    joints = shape + amplitude * np.sin(2 * np.pi * t + phase)
    joints[:, 0] = 0
    root = np.stack([x0 + vx * t[:, 0, 0], np.zeros(frames), np.full(frames, depth)], -1)
    return joints + root[:, None]


def noisy(truth: np.ndarray, seed: int = 1, joint_m: float = 0.025, depth_rel: float = 0.03
          ) -> np.ndarray:
    """Lifter-like noise: jittering root-relative joints, a jittering depth along the ray."""
    rng = np.random.default_rng(seed)
    out = truth + rng.normal(0, joint_m, truth.shape) * (np.arange(17) > 0)[None, :, None]
    scale = 1 + rng.normal(0, depth_rel, (len(truth), 1, 1))
    root = out[:, :1]
    return (out - root) + root * scale


def run(f: TemporalFilter, seq: np.ndarray, pid: str = 'a', frame: str = 'cam',
        stamps=None) -> np.ndarray:
    stamps = T0 + DT_NS * np.arange(len(seq)) if stamps is None else stamps
    return np.stack([f.update(frame, int(s), [pid], seq[k:k + 1])[0]
                     for k, s in enumerate(stamps)])


def accel(seq: np.ndarray, truth: np.ndarray) -> float:
    """Mean per-joint acceleration error, root-aligned (m/frame^2)."""
    rel = lambda a: a - a[:, :1]                                   # noqa: E731
    d2 = lambda a: a[2:] - 2 * a[1:-1] + a[:-2]                    # noqa: E731
    return float(np.linalg.norm(d2(rel(seq)) - d2(rel(truth)), axis=-1)[:, 1:].mean())


def mpjpe(seq: np.ndarray, truth: np.ndarray) -> float:
    rel = lambda a: a - a[:, :1]                                   # noqa: E731
    return float(np.linalg.norm(rel(seq) - rel(truth), axis=-1).mean())


def test_state_round_trip():
    truth = walker(5)
    assert np.allclose(from_state(to_state(truth)), truth)


@pytest.mark.parametrize('cfg', [config(), config(pose=Kalman(0.05, 3.0),
                                                  ray=Kalman(0.002, 0.5),
                                                  depth=Kalman(0.05, 0.3))],
                         ids=['one_euro', 'kalman'])
def test_jitter_reduced_on_a_noisy_walk_without_losing_accuracy(cfg):
    truth = walker(150)
    meas = noisy(truth)
    out = run(TemporalFilter(cfg), meas)
    assert accel(out, truth) < 0.5 * accel(meas, truth)
    assert mpjpe(out, truth) < mpjpe(meas, truth)
    depth_jitter = lambda a: np.abs(np.diff(a[:, 0, 2], 2)).mean()          # noqa: E731
    assert depth_jitter(out) < 0.5 * depth_jitter(meas)


def test_lag_on_a_step_is_bounded():
    truth = walker(60, vx=0.0)
    truth[:, 1:] -= truth[:, :1]
    still = np.repeat(truth[:1], 60, axis=0) + np.array([0, 0, 8.0])
    step = still.copy()
    step[30:, 1:, 1] += 0.3                   # every joint 30 cm down at once (root stays)
    out = run(TemporalFilter(config()), step)
    err = np.abs(out[:, 1:, 1] - step[:, 1:, 1]).max(axis=1)
    assert err[:30].max() < 1e-9              # a still pose is left alone
    assert err[30] > 0.01                     # it is smoothed ...
    assert err[30 + 6] < 0.03                 # ... but within 0.2 s within 3 cm
    assert err[30 + 15] < 0.005


def test_dropped_frames_do_not_reset_and_nan_persons_pass_through():
    truth = walker(40)
    meas = noisy(truth)
    stamps = T0 + DT_NS * np.arange(40)
    keep = np.r_[0:10, 14:40]                  # 4 frames lost
    f = TemporalFilter(config())
    run(f, meas[keep], stamps=stamps[keep])
    assert f.counts['reset_id_switch'] == 0 and f.counts['new_tracks'] == 1

    g, h = TemporalFilter(config()), TemporalFilter(config())
    with_nan = meas.copy()
    with_nan[20] = np.nan
    out_g = run(g, with_nan)
    assert np.isnan(out_g[20]).all()
    rows = np.r_[0:20, 21:40]
    out_h = run(h, meas[rows], stamps=stamps[rows])
    assert np.allclose(out_g[rows], out_h)     # the NaN frame left the state alone
    assert g.counts['new_tracks'] == 1


def test_persons_not_used_pass_through_and_leave_their_track_alone():
    """The node hands the filter only its plausible persons: a detection with misplaced
    joints (judged implausible) is published as lifted and does not pull the track."""
    truth = walker(40)
    meas = noisy(truth)
    bad = meas.copy()
    bad[20, 4:7] += 0.6                        # a leg put 60 cm off for one frame
    stamps = T0 + DT_NS * np.arange(40)
    used, all_in, clean = (TemporalFilter(config()) for _ in range(3))
    out_used = np.stack([used.update('cam', int(s), ['a'], bad[k:k + 1], use=[k != 20])[0]
                         for k, s in enumerate(stamps)])
    out_all = run(all_in, bad)
    rows = np.r_[0:20, 21:40]
    out_clean = run(clean, meas[rows], stamps=stamps[rows])
    assert np.array_equal(out_used[20], bad[20])          # passed through unfiltered
    assert np.allclose(out_used[rows], out_clean)         # as if the frame had not come
    # fed to the filter, the bad frame leaks into the next ones
    after = slice(21, 26)
    assert mpjpe(out_all[after], truth[after]) > mpjpe(out_used[after], truth[after]) + 0.005
    assert used.counts['new_tracks'] == 1 and used.counts['reset_id_switch'] == 0
    with pytest.raises(ValueError, match='use must be'):
        used.update('cam', int(stamps[-1]) + DT_NS, ['a'], meas[:1], use=[True, False])


def test_id_switch_resets_the_track_and_is_counted():
    a, b = walker(30), walker(30, x0=2.5, seed=3)
    seq = np.concatenate([a[:15], b[15:]])
    f = TemporalFilter(config())
    out = run(f, noisy(seq))
    assert f.counts['reset_id_switch'] == 1
    assert np.allclose(out[15], noisy(seq)[15])      # restarted: the measurement as is
    assert np.linalg.norm(out[16, 0] - b[16, 0]) < 0.5    # nothing of the old person left


def test_stamp_back_and_jump_reset_and_are_counted():
    seq = noisy(walker(20))
    stamps = T0 + DT_NS * np.arange(20)
    stamps[10] = stamps[9] - DT_NS                    # back, within the timeout
    f = TemporalFilter(config())
    out = run(f, seq, stamps=stamps)
    assert f.counts['reset_stamp_back'] == 1
    assert np.allclose(out[10], seq[10])

    g = TemporalFilter(config())
    stamps = T0 + DT_NS * np.arange(20)
    stamps[10:] += 3600 * 10**9                       # an hour ahead: the track expired
    out = run(g, seq, stamps=stamps)
    assert g.counts['expired'] == 1 and np.allclose(out[10], seq[10])
    assert len(g.tracks) == 1 and g.counts['new_tracks'] == 2

    h = TemporalFilter(config())
    stamps = T0 + DT_NS * np.arange(20)
    stamps[10:] -= 3600 * 10**9                       # an hour back (sim time restarted)
    out = run(h, seq, stamps=stamps)
    assert h.counts['reset_stamp_jump'] == 1 and np.allclose(out[10], seq[10])
    assert np.abs(out[15] - seq[15]).max() > 0        # and filtering goes on from there


def test_tracks_expire_after_the_timeout():
    f = TemporalFilter(config(timeout_s=0.5))
    seq = noisy(walker(5))
    f.update('cam', T0, ['a'], seq[:1])
    f.update('cam', T0, ['b'], seq[1:2] + np.array([3.0, 0, 0]))
    f.update('cam', T0 + 4 * 10**8, ['b'], seq[2:3] + np.array([3.0, 0, 0]))
    assert f.counts['expired'] == 0 and len(f.tracks) == 2
    f.update('cam', T0 + 8 * 10**8, ['b'], seq[3:4] + np.array([3.0, 0, 0]))
    assert f.counts['expired'] == 1 and list(f.tracks) == [('cam', 'b')]
    assert f.counts['reset_stamp_jump'] == 0


def test_memory_stays_bounded_with_many_ids():
    f = TemporalFilter(config(max_tracks=50))
    pose = walker(1)
    for k in range(1000):
        f.update('cam', T0 + k * 1000, [f'id{k}', f'id{k}'], np.repeat(pose, 2, axis=0))
    assert len(f.tracks) == 50
    assert f.counts['evicted'] == 950 and f.counts['duplicate_ids'] == 1000
    assert ('cam', 'id999') in f.tracks and ('cam', 'id0') not in f.tracks


def test_cameras_have_separate_tracks():
    f = TemporalFilter(config())
    seq = noisy(walker(3))
    f.update('left', T0, ['a'], seq[:1])
    out = f.update('right', T0, ['a'], seq[1:2] + np.array([5.0, 0, 0]))
    assert f.counts['reset_id_switch'] == 0 and len(f.tracks) == 2
    assert np.allclose(out, seq[1:2] + np.array([5.0, 0, 0]))


def crossing(frames: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Two walkers crossing in x (one at 6 m, one at 7 m depth) passing each other."""
    return walker(frames, depth=6.0, x0=-2.0, vx=2.0), walker(frames, depth=7.0, x0=2.0,
                                                                vx=-2.0, seed=5)


def test_nearest_neighbour_association_keeps_identities_through_a_crossing():
    a, b = crossing()
    ma, mb = noisy(a, seed=1), noisy(b, seed=2)
    f = TemporalFilter(config(associate=True))
    outs = []
    for k in range(len(a)):
        order = [0, 1] if k % 2 else [1, 0]             # detector order changes
        frame = np.stack([ma[k], mb[k]])[order]
        out = f.update('cam', T0 + k * DT_NS, ['', ''], frame)
        outs.append(out[np.argsort(order)])
    outs = np.stack(outs)
    assert f.counts['new_tracks'] == 2 and f.counts['associated'] == 2 * (len(a) - 1)
    assert len(f.tracks) == 2
    for k, (truth, meas) in enumerate(((a, ma), (b, mb))):
        # each output follows its own person: closer to it than the raw input is
        assert np.linalg.norm(outs[:, k, 0] - truth[:, 0], axis=-1).max() < 0.5
        assert accel(outs[:, k], truth) < 0.6 * accel(meas, truth)


def test_without_association_id_less_persons_pass_through():
    f = TemporalFilter(config())
    seq = noisy(walker(3))
    for k in range(3):
        assert np.array_equal(f.update('cam', T0 + k * DT_NS, [''], seq[k:k + 1]),
                              seq[k:k + 1])
    assert not f.tracks


def test_bad_shapes_and_parameters_are_clear_errors():
    f = TemporalFilter(config())
    with pytest.raises(ValueError, match='N ids'):
        f.update('cam', T0, ['a', 'b'], walker(1))
    with pytest.raises(ValueError, match='same filter kind'):
        config(ray=Kalman(0.01, 1.0))
    with pytest.raises(ValueError, match='finite'):
        config(pose=OneEuro(float('nan'), 1.0))
    with pytest.raises(ValueError, match='max_tracks'):
        config(max_tracks=0)


def test_the_node_defaults_build_a_one_euro_filter_and_off_builds_none():
    from pose_lifter.core.temporal import from_parameters
    from pose_lifter.node.params import load_defaults

    values = load_defaults()
    f = from_parameters({**values, 'temporal_filter': True})
    assert isinstance(f.config.pose, OneEuro) and f.config.max_tracks >= 1
    assert from_parameters({**values, 'temporal_filter': False}) is None


def test_the_bench_step_filters_every_person_without_resets():
    from pose_lifter.cli.bench import filter_frames

    step = filter_frames(np.concatenate([walker(1, x0=x) for x in range(-5, 5)]))
    for _ in range(5):
        step()
    temporal = step.temporal
    assert len(temporal.tracks) == 10 and temporal.counts['new_tracks'] == 10
    assert not any(k.startswith('reset') for k in temporal.counts)
