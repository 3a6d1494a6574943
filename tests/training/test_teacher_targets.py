"""scripts/teacher_targets.py: a teacher's distillation targets scored against the 3D."""
from __future__ import annotations

import json
import sys

import numpy as np
import torch
from script_module import load_script

from pose_lifter.core.cameras import to_camera
from pose_lifter.core.normalization import normalise_camera_points
from pose_lifter.core.poses import load_pose_file
from pose_lifter_training.config import DataConfig
from pose_lifter_training.distill import Envelope


def _script():
    return load_script('teacher_targets')


def test_a_teacher_that_answers_the_truth_scores_zero_from_every_view(pose_file):
    """The carry from each view's virtual frame into the world is exact."""
    script = _script()
    joints = load_pose_file(pose_file).joints.astype(np.float64)[:40]
    rng = np.random.default_rng(5)
    truth = []
    for _ in range(3):        # the draws world_answers makes, in its order
        centre, rot, _ = Envelope.of(DataConfig()).cameras(joints[:, 0] / 1000.0, rng)
        truth.append(normalise_camera_points(to_camera(joints, centre, rot))[1][:, 1:])
    calls = iter(truth)

    def oracle(x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(next(calls), dtype=torch.float32)
    answers = script.world_answers(oracle, joints, 3, False, np.random.default_rng(5))
    gt = joints - joints[:, :1]
    for view in answers:
        assert script.score(view * 1000.0, gt)['pa_mpjpe'] < 0.05
    # a teacher that is wrong from one view is wrong in the mean too
    answers[0, :, 3] += 0.05
    assert script.score(answers.mean(axis=0) * 1000.0, gt)['ankles'] > 1.0


def test_the_script_scores_raw_and_anchored_targets(tmp_path, tiny_run, pose_file,
                                                    monkeypatch):
    model = tiny_run / 'best.pt'
    subject = str(load_pose_file(pose_file).subjects[0])
    out = tmp_path / 't.json'
    monkeypatch.setattr(sys, 'argv', ['teacher_targets.py', '--teacher', str(model),
                                      '--data', str(pose_file), '--subjects', subject,
                                      '--views', '3', '--json', str(out)])
    assert _script().main() == 0
    rows = json.loads(out.read_text())['rows']
    assert [(r['anchored'], r['views']) for r in rows] == \
        [(False, 1), (False, 3), (True, 1), (True, 3)]
    assert all(np.isfinite(r['pa_mpjpe']) and r['pa_mpjpe'] > 0 for r in rows)
    assert rows[0]['pa_mpjpe'] != rows[2]['pa_mpjpe']        # anchoring moves the answers
    monkeypatch.setattr(sys, 'argv', ['teacher_targets.py', '--teacher', str(model),
                                      '--data', str(pose_file), '--subjects', 'nobody'])
    assert _script().main() == 2
