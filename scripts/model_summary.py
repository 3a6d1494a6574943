#!/usr/bin/env python3
"""The headline numbers of one or more exported models on a pose file, one JSON line each.

    .venv/bin/python scripts/model_summary.py models/default.onnx runs/x/model.onnx \
        [--data models/demo_poses.npz] [--json out/summary.json]

Per model, through the runtime pipeline (``pose-lifter eval``'s code): exact H36M-17 input
(MPJPE, N-MPJPE, PA-MPJPE, mirror rate, uncertainty coverage and rank correlation); COCO-17
detections with 4 px noise and 5 % of the joints dropped (PA-MPJPE, real persons accepted,
corrupted rejected, ROC-AUC per corruption kind, uncertainty); the same with the legs hidden
(PA-MPJPE of the seen joints over the same with everything visible).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from pose_lifter.core.backends import create_backend
from pose_lifter.core.detector_noise import DetectorNoise
from pose_lifter.core.evaluation import evaluate_pose_set
from pose_lifter.core.pipeline import Lifter
from pose_lifter.core.poses import load_pose_file


def summary(model: str, data: str, fps: float = 10.0) -> dict:
    poses = load_pose_file(data).subsample(fps)
    lifter = Lifter(create_backend(model, 'onnxruntime'))
    noise = DetectorNoise(noise_px=4.0, drop_prob=0.05)
    clean = evaluate_pose_set(lifter, poses)
    coco = evaluate_pose_set(lifter, poses, joint_format='coco17', noise=noise)
    legs = evaluate_pose_set(lifter, poses, joint_format='coco17', noise=noise,
                             occlude='legs', gating=False)
    m, g = clean['metrics'], coco['gating']
    out = {'model': model, 'mpjpe': m['mpjpe'], 'n_mpjpe': m['n_mpjpe'],
           'pa_mpjpe': m['pa_mpjpe'], 'mirror_rate': m['mirror_rate'],
           'coco4_pa_mpjpe': coco['metrics']['pa_mpjpe'],
           'coco4_mpjpe': coco['metrics']['mpjpe'],
           'coco4_real_accepted': g['real_accepted_all'],
           'coco4_corrupted_rejected': g['corrupted_rejected_all'],
           'coco4_auc': g['gating_auc'],
           **{f'coco4_auc_{k}': v for k, v in g['per_kind_auc'].items()},
           'legs_pa_mpjpe_seen': legs['occluded']['pa_mpjpe_seen'],
           'legs_ratio_to_all_visible': legs['occluded']['ratio_to_all_visible'],
           'legs_mpjpe_inferred': legs['occluded']['mpjpe_inferred'],
           'legs_accepted': legs['accepted_all_real']}
    for name, run in (('h36m', clean), ('coco4', coco), ('legs', legs)):
        for key in ('coverage', 'spearman', 'coverage_inferred'):
            if 'uncertainty' in run and run['uncertainty'].get(key) is not None:
                out[f'{name}_unc_{key}'] = run['uncertainty'][key]
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('models', nargs='+')
    p.add_argument('--data', default='models/demo_poses.npz')
    p.add_argument('--json', help='also write all summaries here (a JSON list)')
    args = p.parse_args()
    rows = []
    for model in args.models:
        row = summary(model, args.data)
        rows.append(row)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                          for k, v in row.items()}), flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=1) + '\n')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
