#!/usr/bin/env python3
"""How good are a teacher's distillation targets? PA-MPJPE of its answers against the 3D.

A diagnosis for `pose-lifter-train distill`, not part of training: every pose of the chosen
subjects is seen through VIEWS random cameras of the training envelope; the teacher (e.g.
`models/ensemble.onnx`) answers each exact projection, raw or put on its input's rays
(`--anchor-teacher`), each answer is carried into the world frame and scaled to the same
bone sum, and the answers of one view and the mean of the first k views are scored against
the ground truth after Procrustes alignment (mm; per joint group too). The student learns
about the mean over views of its targets, so the mean rows bound what it can reach.

    .venv/bin/python scripts/teacher_targets.py --subjects 14 [--teacher models/ensemble.onnx]
        [--data data/cmu_mocap_h36m17.npz] [--poses 1500] [--views 7] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from pose_lifter.core.cameras import to_camera
from pose_lifter.core.metrics import procrustes_align
from pose_lifter.core.normalization import NormalisationSpec, normalise_camera_points
from pose_lifter.core.poses import load_pose_file
from pose_lifter.core.skeleton import H36M17, bone_lengths
from pose_lifter_training.config import DataConfig
from pose_lifter_training.distill import Envelope, Teacher
from pose_lifter_training.models import on_input_rays

ROOT = Path(__file__).resolve().parents[1]
GROUPS = {'ankles': ('l_ankle', 'r_ankle'), 'knees': ('l_knee', 'r_knee'),
          'wrists': ('l_wrist', 'r_wrist')}


def world_answers(teacher: Teacher, joints_mm: np.ndarray, views: int, anchor: bool,
                  rng: np.random.Generator) -> np.ndarray:
    """(V, N, 17, 3) the teacher's answers to ``views`` random views of ``joints_mm``
    (N, 17, 3), in the world frame, each scaled to a bone sum of 1."""
    env, out = Envelope.of(DataConfig()), []
    for _ in range(views):
        centre, rot, _ = env.cameras(joints_mm[:, 0] / 1000.0, rng)
        cam = to_camera(joints_mm, centre, rot)
        clean, _ = normalise_camera_points(cam)
        x = torch.from_numpy(clean.inputs.astype(np.float32))
        with torch.no_grad():
            pose = teacher(x.reshape(len(x), -1))
            if anchor:
                pose = on_input_rays(pose, x, NormalisationSpec().depth)
        full = np.zeros(joints_mm.shape)
        full[:, 1:] = pose.numpy()
        # virtual frame -> camera frame (rows: v = c R^T) -> world (c = w r^T)
        world = full @ clean.rotation @ rot
        out.append(world / bone_lengths(world).sum(-1)[:, None, None])
    return np.stack(out)


def score(pred: np.ndarray, gt_mm: np.ndarray) -> dict:
    err = np.linalg.norm(procrustes_align(pred, gt_mm) - gt_mm, axis=-1)   # (N, J) mm
    row = {'pa_mpjpe': float(err.mean())}
    for name, joints in GROUPS.items():
        row[name] = float(err[:, [H36M17.index(j) for j in joints]].mean())
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--teacher', nargs='+', default=[str(ROOT / 'models' / 'ensemble.onnx')])
    p.add_argument('--data', type=Path, default=ROOT / 'data' / 'cmu_mocap_h36m17.npz')
    p.add_argument('--subjects', default='14', help='comma-separated (default: validation)')
    p.add_argument('--poses', type=int, default=1500, help='at most this many (10 fps)')
    p.add_argument('--views', type=int, default=7)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', type=Path)
    args = p.parse_args()
    if args.views < 1:
        print('error: --views must be >= 1', file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    poses = load_pose_file(args.data).subjects_only(args.subjects.split(',')).subsample(10.0)
    joints = poses.joints.astype(np.float64)[:args.poses]
    if len(joints) == 0:
        print(f'error: no poses of subjects {args.subjects} in {args.data}', file=sys.stderr)
        return 2
    gt = joints - joints[:, :1]
    teacher = Teacher(args.teacher).eval()
    rows = []
    for anchor in (False, True):
        answers = world_answers(teacher, joints, args.views, anchor,
                                np.random.default_rng(args.seed))
        for k in sorted({1, min(3, args.views), args.views}):
            row = {'anchored': anchor, 'views': k,
                   **score(answers[:k].mean(axis=0) * 1000.0, gt)}
            rows.append(row)
            print(json.dumps({key: round(v, 1) if isinstance(v, float) else v
                              for key, v in row.items()}), flush=True)
    if args.json:
        args.json.write_text(json.dumps({'subjects': args.subjects, 'poses': len(joints),
                                         'teacher': args.teacher, 'rows': rows}, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
