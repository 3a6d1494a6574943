"""core/track_gate.py: realism from this frame and the same track's previous detection."""
import numpy as np
import pytest

from pose_lifter.core import track_gate as tg
from pose_lifter.core.pipeline import STATUS_IMPLAUSIBLE, STATUS_OK, STATUS_TOO_FEW

J = 17


def person(rng, n=1, height=300.0):
    """(n, J, 2) pixels of a plausible-sized person around (900, 500)."""
    base = rng.uniform([-0.2, -0.5], [0.2, 0.5], (J, 2)) * height + [900.0, 500.0]
    return np.repeat(base[None], n, axis=0)


def test_common_motion_is_not_a_deviation():
    rng = np.random.default_rng(0)
    before = person(rng)
    now = before + [35.0, -12.0]                      # the whole person walked
    m = tg.joint_motion(now, before, np.ones(J))
    np.testing.assert_allclose(m, 0.0, atol=1e-12)
    now[0, 5] += [40.0, 0.0]                          # one joint jumped 40 px
    m = tg.joint_motion(now, before, np.ones(J))
    assert m[0, 5] == pytest.approx((40.0 / tg.MOTION_UNIT_PX) ** 2)
    assert np.delete(m[0], 5).max() < 1e-9


def test_missing_joints_and_too_few_joints_have_no_motion():
    rng = np.random.default_rng(1)
    before, now = person(rng), person(rng)
    now[0, 3] = np.nan
    m = tg.joint_motion(now, before, np.ones(J))
    assert np.isnan(m[0, 3]) and np.isfinite(np.delete(m[0], 3)).all()
    now[0, tg.MIN_JOINTS - 1:] = np.nan                # fewer than MIN_JOINTS seen in both
    assert np.isnan(tg.joint_motion(now, before, np.ones(J))).all()


@pytest.mark.parametrize('joint_format', ['h36m17', 'body25'])
def test_a_frames_plain_float_features_equal_the_batch_path(joint_format, monkeypatch):
    """The node's frames (<= SMALL_FRAME persons) take a plain-float path: the same features
    as the numpy batch path, over missing joints, too few joints, no history, stale or
    missing dt, realism 0 / 1 and jumps."""
    rng = np.random.default_rng(3)
    j = 17 if joint_format == 'h36m17' else 25
    small, batch = [], []
    for _ in range(400):
        n = int(rng.integers(1, tg.SMALL_FRAME + 1))
        cur = rng.normal(500.0, 100.0, (n, j, 2))
        prev = cur + rng.normal(0.0, rng.choice([0.5, 5.0, 80.0]), (n, j, 2))
        for arr in (cur, prev):
            arr[rng.random((n, j)) < rng.choice([0.0, 0.1, 0.8])] = np.nan
        prev[rng.random(n) < 0.2] = np.nan
        realism = rng.random(n)
        realism[rng.random(n) < 0.2] = rng.choice([0.0, 1.0])
        dt = rng.choice([0.033, 0.2, 0.0, -0.1, np.nan], n) if rng.random() < 0.8 else None
        small.append(tg.features(realism, cur, prev, dt, joint_format))
        with monkeypatch.context() as m:
            m.setattr(tg, 'SMALL_FRAME', 0)
            batch.append(tg.features(realism, cur, prev, dt, joint_format))
    small, batch = np.concatenate(small), np.concatenate(batch)
    assert small.shape == batch.shape
    assert (batch[:, 1] == 1).mean() > 0.2 and (batch[:, 1] == 0).mean() > 0.2  # both kinds
    np.testing.assert_allclose(small, batch, rtol=1e-12, atol=1e-12)


def test_features_without_history_are_the_frame_alone():
    rng = np.random.default_rng(2)
    now = person(rng, 3)
    prev = now.copy()
    prev[1] = np.nan                                  # person 1: no history
    x = tg.features(np.array([0.9, 0.9, 0.5]), now, prev, np.array([0.1, 0.1, np.nan]),
                    'coco17')
    assert x.shape == (3, len(tg.FEATURES))
    assert x[0, 0] == pytest.approx(np.log(9.0))     # the logit
    assert (x[1, 1:] == 0).all() and (x[2, 1:] == 0).all()   # no history, or no dt
    assert x[0, 1] == 1.0 and x[0, 6] == pytest.approx(np.log(0.1))
    assert np.isfinite(tg.features(np.array([1.0, 0.0]), now[:2], None, None, 'coco17')).all()


def test_a_gate_rejects_a_jump_it_accepts_without_history():
    rng = np.random.default_rng(3)
    before = person(rng, 2)
    now = before + rng.normal(0, 2.0, before.shape)
    now[1, [7, 9]] += [[60.0, 30.0], [-50.0, 45.0]]   # person 1: two joints displaced
    gate = tg.TrackGate(weights=(1.0, 0.0, -0.5, -1.5, 0.0, 0.0, 0.0, 0.0), bias=2.0,
                        threshold=0.5)
    realism = np.array([0.8, 0.8])
    status = np.array([STATUS_OK, STATUS_OK], dtype=object)
    combined, verdict, plausible = tg.judge(gate, realism, status, now, before,
                                            np.array([0.1, 0.1]), 'coco17', 0.5)
    assert list(verdict) == [STATUS_OK, STATUS_IMPLAUSIBLE] and list(plausible) == [True, False]
    _, alone, _ = tg.judge(gate, realism, status, now, None, None, 'coco17', 0.5)
    assert list(alone) == [STATUS_OK, STATUS_OK]
    assert combined[1] < gate.threshold < combined[0]


def test_judge_frame_judges_against_the_tracks_and_keeps_what_it_is_told():
    """The node's step: a jump against the track's kept detection is rejected and not kept
    (the next frame is judged against the last good one); ``keep`` overrides what is kept."""
    rng = np.random.default_rng(3)
    good = person(rng, 1)
    bad = good.copy()
    bad[0, [7, 9]] += [[60.0, 30.0], [-50.0, 45.0]]
    gate = tg.TrackGate(weights=(1.0, 0.0, -0.5, -1.5, 0.0, 0.0, 0.0, 0.0), bias=2.0,
                        threshold=0.5)
    realism, status = np.array([0.8]), np.array([STATUS_OK], dtype=object)
    conf = np.ones((1, J))

    def step(history, px, stamp, keep=None):
        return tg.judge_frame(gate, history, 'cam', ['a'], stamp, 'coco17', px, conf, 0.0,
                              realism, status, 0.5, keep)

    history = tg.TrackHistory(0.5)
    first = step(history, good, 0)
    assert first[2].tolist() == [True] and np.isnan(first[3]).all()      # no history yet
    jump = step(history, bad, 100_000_000)
    assert jump[2].tolist() == [False] and jump[3].tolist() == [pytest.approx(0.1)]
    back = step(history, good, 200_000_000)                 # against the good frame, 0.2 s
    assert back[2].tolist() == [True] and back[3].tolist() == [pytest.approx(0.2)]
    forced = tg.TrackHistory(0.5)
    step(forced, good, 0)
    step(forced, bad, 100_000_000, keep=np.array([True]))   # kept although rejected
    assert step(forced, bad, 200_000_000)[2].tolist() == [True]      # no jump against it


def test_without_history_the_model_threshold_decides():
    """A new track is accepted exactly when the frame alone would be: its realism maps the
    model's threshold onto the gate's, monotonically."""
    gate = tg.TrackGate(weights=(0.7, 3.0, -1.0, -1.0, 0.0, 0.0, 0.0, 0.0), bias=-2.0,
                        threshold=0.3)
    realism = np.linspace(0.03, 0.93, 19)
    status = np.full(19, STATUS_OK, dtype=object)
    now = np.full((19, J, 2), 100.0)
    combined, _, plausible = tg.judge(gate, realism, status, now, None, None, 'h36m17', 0.6)
    np.testing.assert_array_equal(plausible, realism >= 0.6)
    assert (np.diff(combined) > 0).all()
    mid = gate.realism(np.array([[tg.logit(np.array(0.6))] + [0.0] * 7]), 0.6)
    assert mid[0] == pytest.approx(0.3)


def test_judge_keeps_other_statuses_and_unlifted_persons():
    gate = tg.TrackGate(weights=(1.0,) + (0.0,) * 7, bias=10.0, threshold=0.5)
    status = np.array([STATUS_TOO_FEW, 'out_of_range', STATUS_IMPLAUSIBLE], dtype=object)
    realism = np.array([np.nan, 0.9, 0.1])
    combined, verdict, plausible = tg.judge(gate, realism, status,
                                            np.full((3, J, 2), 5.0), None, None, 'h36m17', 0.05)
    assert np.isnan(combined[0]) and list(verdict) == [STATUS_TOO_FEW, 'out_of_range',
                                                       STATUS_OK]
    assert list(plausible) == [False, False, True]


def test_gate_round_trip_and_bad_gates():
    gate = tg.TrackGate(tuple(np.linspace(1, -1, len(tg.FEATURES))), 0.3, 0.4, 0.5, 'rule',
                        {'seed': 1})
    assert tg.TrackGate.from_dict(gate.to_dict()) == gate
    with pytest.raises(ValueError, match='features'):
        tg.TrackGate.from_dict({**gate.to_dict(), 'features': ['logit']})
    with pytest.raises(ValueError, match='incomplete'):
        tg.TrackGate.from_dict({'features': list(tg.FEATURES), 'weights': [0.0] * 8})
    with pytest.raises(ValueError, match='finite'):
        tg.TrackGate((np.nan,) + (0.0,) * 7, 0.0, 0.5)
    with pytest.raises(ValueError, match='positive weight'):
        tg.TrackGate((0.0,) * 8, 0.0, 0.5)
    with pytest.raises(ValueError, match='threshold'):
        tg.TrackGate((1.0,) + (0.0,) * 7, 0.0, 1.0)


def test_fit_logistic_recovers_a_known_model():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(20000, 3))
    w_true, b_true = np.array([2.0, -1.0, 0.5]), -0.3
    y = (rng.random(20000) < 1 / (1 + np.exp(-(x @ w_true + b_true)))).astype(float)
    w, b = tg.fit_logistic(x, y, l2=0.0)
    np.testing.assert_allclose(w, w_true, atol=0.1)
    assert b == pytest.approx(b_true, abs=0.1)


def test_history_keeps_accepted_detections_per_track_and_forgets_old_ones():
    h = tg.TrackHistory(max_gap_s=0.5, max_tracks=2)
    pts = np.arange(2 * J * 2, dtype=float).reshape(2, J, 2)
    h.update('cam', ['a', 'b'], 1_000_000_000, 'coco17', pts, np.array([True, False]))
    prev, dt = h.previous('cam', ['a', 'b', '', 'a'], 1_100_000_000, 'coco17', J)
    np.testing.assert_array_equal(prev[0], pts[0])
    assert dt[0] == pytest.approx(0.1) and np.isnan(prev[1:3]).all() and np.isnan(dt[1:3]).all()
    assert np.isnan(h.previous('cam2', ['a'], 1_100_000_000, 'coco17', J)[0]).all()
    assert np.isnan(h.previous('cam', ['a'], 1_100_000_000, 'h36m17', J)[0]).all()
    assert np.isnan(h.previous('cam', ['a'], 2_000_000_000, 'coco17', J)[0]).all()  # too old
    assert np.isnan(h.previous('cam', ['a'], 1_000_000_000, 'coco17', J)[0]).all()  # not after
    h.update('cam', ['c', 'd'], 1_200_000_000, 'coco17', pts, np.array([True, True]))
    assert len(h) == 2                                  # 'a', the oldest, evicted
    assert np.isnan(h.previous('cam', ['a'], 1_300_000_000, 'coco17', J)[0]).all()
    h.update('cam', ['c'], 3_000_000_000, 'coco17', pts[:1], np.array([True]))
    assert len(h) == 1                                  # 'd' expired


def test_seen_points_masks_what_the_lifter_does_not_use():
    kp = np.ones((1, 3, 2))
    conf = np.array([[0.9, 0.05, 0.0]])
    assert np.isnan(tg.seen_points(kp, conf, 0.1)[0, 1:]).all()
    assert np.isfinite(tg.seen_points(kp, conf, 0.0)[0, :2]).all()


def test_evaluation_previous_frame_is_seen_by_the_current_camera(demo_poses):
    """A person standing still projects to the same pixels in both frames (the camera does
    not follow the root between frames); a clip's first frame has no previous frame."""
    from pose_lifter.core.cameras import EVAL_CAMERAS, eval_views
    from pose_lifter.core.evaluation import previous_frames
    from pose_lifter.core.poses import load_pose_file
    poses = load_pose_file(demo_poses).subsample(10.0)
    poses = poses.select(np.arange(len(poses.joints)) < 40)
    still = poses.select(np.arange(len(poses.joints)) < 40)
    still.joints[:] = poses.joints[0]
    cameras = EVAL_CAMERAS[:2]
    _, px, K = eval_views(still.joints, cameras)
    prev, dt = previous_frames(still, cameras, K, 'h36m17', None, 0)
    first = np.zeros(len(px), bool)
    first[[0, 40]] = True
    first[np.tile(np.r_[False, still.clip[1:] != still.clip[:-1]], 2)] = True
    assert np.isnan(prev[first]).all() and np.isnan(dt[first]).all()
    np.testing.assert_allclose(prev[~first], px[~first], atol=1e-6)
    np.testing.assert_allclose(dt[~first], 1.0 / still.clip_fps[np.tile(still.clip, 2)][~first])
    # a moving person: the previous pose through the current camera, not the previous view
    _, moving_px, K = eval_views(poses.joints, cameras)
    prev, _ = previous_frames(poses, cameras, K, 'h36m17', None, 0)
    _, before_px, _ = eval_views(poses.joints[:-1], cameras[:1])
    assert not np.allclose(prev[1:40], before_px[:39], atol=1e-3)


def test_evaluate_with_a_track_gate_reports_its_verdicts(tiny_model, demo_poses):
    from pose_lifter.core.backends import create_backend
    from pose_lifter.core.detector_noise import DetectorNoise
    from pose_lifter.core.evaluation import evaluate_pose_set
    from pose_lifter.core.pipeline import Lifter
    from pose_lifter.core.poses import load_pose_file
    poses = load_pose_file(demo_poses).subsample(2.0)
    lifter = Lifter(create_backend(tiny_model, 'onnxruntime'))
    noise = DetectorNoise(4.0, drop_prob=0.05)
    plain = evaluate_pose_set(lifter, poses, joint_format='coco17', noise=noise)
    accept_all = tg.TrackGate((1e-3, 50.0) + (0.0,) * 6, 0.0, 0.5)
    out = evaluate_pose_set(lifter, poses, joint_format='coco17', noise=noise,
                            track_gate=accept_all)
    share = out['gating']['track_gate']['history_share']
    assert out['model_threshold'] == 0.5 and 0.8 < share < 1.0
    assert out['metrics'] == plain['metrics']                  # accuracy is the lift's own
    # with a previous frame everyone is accepted; without one the model decides as before
    assert out['gating']['real_accepted_all'] >= plain['gating']['real_accepted_all']
    assert out['gating']['corrupted_rejected_all'] <= 1.0 - share + 1e-9
    reject_all = tg.TrackGate((1e-3, -50.0) + (0.0,) * 6, 0.0, 0.5)
    out = evaluate_pose_set(lifter, poses, joint_format='coco17', noise=noise,
                            track_gate=reject_all)
    assert out['gating']['real_accepted_all'] <= 1.0 - share + 1e-9
    assert out['gating']['corrupted_rejected_all'] >= share - 1e-9
