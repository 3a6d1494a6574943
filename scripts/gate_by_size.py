#!/usr/bin/env python3
"""Where the gate misses displaced joints: ROC-AUC per person size and per move size.

The model card's field protocol (test subject, evaluation cameras, COCO-17 detections with
4 px noise and 5 % of the joints dropped, corruptions made in 3D as ``pose-lifter eval``
makes them), split by the person's height in the image (quartiles) and, for the ``displace``
corruption, by how far its most-moved joint went in the image relative to that height:

    .venv/bin/python scripts/gate_by_size.py [--model models/default.onnx] \
        [--data models/demo_poses.npz] [--json out/gate_by_size.json]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from pose_lifter.core.backends import create_backend
from pose_lifter.core.camera import project
from pose_lifter.core.cameras import EVAL_CAMERAS, eval_views
from pose_lifter.core.corruptions import corrupt_mixed
from pose_lifter.core.detector_noise import DetectorNoise, synthesise_detections
from pose_lifter.core.evaluation import lift_all
from pose_lifter.core.metrics import roc_auc
from pose_lifter.core.pipeline import STATUS_TOO_FEW, Lifter
from pose_lifter.core.poses import load_pose_file

ROOT = Path(__file__).resolve().parents[1]
MOVE_BANDS = ((0.0, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 10.0))   # x person height


def by_size(model: Path, data: Path, seed: int = 0) -> dict:
    """AUC of every corruption kind per height quartile, and of ``displace`` per move band."""
    lifter = Lifter(create_backend(model, 'onnxruntime'))
    poses = load_pose_file(data).subsample(10.0)
    rng = np.random.default_rng(seed)
    noise = DetectorNoise(noise_px=4.0, drop_prob=0.05)
    cam3d, clean_px, K = eval_views(poses.joints, EVAL_CAMERAS)
    # the random draws in the order of pose-lifter eval's: the card's AUCs come out again
    real_px, real_conf = synthesise_detections(cam3d, K, 'coco17', noise, rng)
    bad3d, kinds = corrupt_mixed(cam3d, rng)
    bad_px, bad_conf = synthesise_detections(bad3d, K, 'coco17', noise, rng)
    real = lift_all(lifter, real_px, K, joint_format='coco17', confidence=real_conf)
    bad = lift_all(lifter, bad_px, K, joint_format='coco17', confidence=bad_conf)
    ok_real, ok_bad = real.status != STATUS_TOO_FEW, bad.status != STATUS_TOO_FEW
    height = clean_px[..., 1].max(axis=1) - clean_px[..., 1].min(axis=1)        # (N,) px
    moved = np.linalg.norm(project(bad3d, K) - clean_px, axis=-1).max(axis=1)    # (N,) px

    def auc(real_rows: np.ndarray, bad_rows: np.ndarray) -> float:
        return roc_auc(real.realism[ok_real & real_rows], bad.realism[ok_bad & bad_rows])

    everyone = np.ones(len(height), bool)
    out = {'model': str(model), 'persons': int(len(height)),
           'auc': {str(k): auc(everyone, kinds == k) for k in np.unique(kinds)},
           'by_height': [], 'displace_by_move': []}
    edges = np.percentile(height, [0, 25, 50, 75, 100])
    for lo, hi in zip(edges[:-1], edges[1:]):
        rows = (height >= lo) & (height <= hi)
        out['by_height'].append({'height_px': [float(lo), float(hi)], **{
            str(k): auc(rows, rows & (kinds == k)) for k in np.unique(kinds)}})
    displaced = kinds == 'displace'
    for lo, hi in MOVE_BANDS:
        rows = displaced & (moved >= lo * height) & (moved < hi * height)
        out['displace_by_move'].append({'move_x_height': [lo, hi], 'auc': auc(everyone, rows),
                                        'share': float(rows.sum() / displaced.sum())})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--model', type=Path, default=ROOT / 'models' / 'default.onnx')
    ap.add_argument('--data', type=Path, default=ROOT / 'models' / 'demo_poses.npz')
    ap.add_argument('--json', type=Path)
    args = ap.parse_args()
    out = by_size(args.model, args.data)
    print(f"all persons: {', '.join(f'{k} {v:.3f}' for k, v in out['auc'].items())}")
    for row in out['by_height']:
        lo, hi = row['height_px']
        print(f'{lo:5.0f}-{hi:4.0f} px tall: ' +
              ', '.join(f'{k} {v:.3f}' for k, v in row.items() if k != 'height_px'))
    for row in out['displace_by_move']:
        lo, hi = row['move_x_height']
        print(f"displace, largest move {lo:.1f}-{min(hi, 1.0):.1f} x height: AUC "
              f"{row['auc']:.3f} ({100 * row['share']:.1f} % of the displaced persons)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + '\n')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
