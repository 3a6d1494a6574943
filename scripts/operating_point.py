#!/usr/bin/env python3
"""Pick a gated model's realism-threshold percentile on the validation subject alone.

The threshold is ``pose-lifter-train calibrate --percentile P`` (COCO-17 detections, 4 px,
5 % dropped, validation subject 14). This script tries P = 1..5 and keeps the largest whose
validation persons, as the same detections through the evaluation cameras, are still accepted
at ``--min-accepted`` (of all persons, lifted or not): the most corrupted persons rejected for
that acceptance. The test subject plays no part.

    .venv/bin/python scripts/operating_point.py runs/gate-s1/gated.onnx \
        [--data data/cmu_mocap_h36m17.npz] [--min-accepted 0.95] [--out models/default.onnx]
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pose_lifter.core.backends import create_backend
from pose_lifter.core.detector_noise import DetectorNoise
from pose_lifter.core.evaluation import evaluate_pose_set
from pose_lifter.core.pipeline import Lifter
from pose_lifter.core.poses import load_pose_file

ROOT = Path(__file__).resolve().parents[1]
CALIBRATE = ['--joint-format', 'coco17', '--noise-px', '4', '--drop', '0.05']


def validation_gating(model: Path, data: Path, subjects: list[str]) -> dict:
    poses = load_pose_file(data).subjects_only(subjects).subsample(10.0)
    lifter = Lifter(create_backend(model, 'onnxruntime'))
    g = evaluate_pose_set(lifter, poses, joint_format='coco17',
                          noise=DetectorNoise(noise_px=4.0, drop_prob=0.05))['gating']
    return {'accepted': g['real_accepted_all'], 'rejected': g['corrupted_rejected_all']}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('model', type=Path)
    p.add_argument('--data', type=Path, default=ROOT / 'data' / 'cmu_mocap_h36m17.npz')
    p.add_argument('--subjects', nargs='+', default=['14'], help='validation subjects')
    p.add_argument('--min-accepted', type=float, default=0.95)
    p.add_argument('--percentiles', type=float, nargs='+', default=[1, 2, 3, 4, 5])
    p.add_argument('--out', type=Path, help='write the chosen model here (default: in place)')
    args = p.parse_args()
    train = [sys.executable, '-m', 'pose_lifter_training.cli']
    rows, best = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for pct in sorted(args.percentiles):
            cand = Path(tmp) / f'p{pct:g}.onnx'
            subprocess.run(train + ['calibrate', '--model', str(args.model), '--out', str(cand),
                                    '--data', str(args.data), '--percentile', f'{pct:g}',
                                    '--subjects', ','.join(args.subjects)] + CALIBRATE,
                           check=True, stdout=subprocess.DEVNULL)
            row = {'percentile': pct, **validation_gating(cand, args.data, args.subjects)}
            rows.append(row)
            print(json.dumps(row), flush=True)
            if row['accepted'] >= args.min_accepted:
                best = (pct, cand)
        if best is None:
            print(f'no percentile keeps {args.min_accepted:.0%} of the validation persons',
                  file=sys.stderr)
            return 1
        shutil.copyfile(best[1], args.out or args.model)
    print(f'chose percentile {best[0]:g}: wrote {args.out or args.model}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
