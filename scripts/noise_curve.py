"""Accuracy and gating of shipped models against detector noise (the model card's curve).

    .venv/bin/python scripts/noise_curve.py --model models/default.onnx models/supervised.onnx \
        --data models/demo_poses.npz --out docs/images/noise_curve.png --json out/card/noise.json

For each noise level (pixel std on every joint) the test poses go through the fixed evaluation
cameras as COCO-17 detections with ``--drop`` of the joints missing (``pose-lifter eval
--joint-format coco17 --noise-px L --drop D``): real persons accepted (of all persons, lifted or
not), corrupted persons rejected, PA-MPJPE and the lowest per-kind ROC-AUC.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from pose_lifter.core.backends import create_backend  # noqa: E402
from pose_lifter.core.detector_noise import DetectorNoise  # noqa: E402
from pose_lifter.core.evaluation import evaluate_pose_set  # noqa: E402
from pose_lifter.core.pipeline import Lifter  # noqa: E402
from pose_lifter.core.poses import load_pose_file  # noqa: E402


def curve(model: str, poses, levels: list[float], drop: float, fmt: str) -> list[dict]:
    lifter = Lifter(create_backend(model, 'onnxruntime'))
    rows = []
    for level in levels:
        r = evaluate_pose_set(lifter, poses, joint_format=fmt,
                              noise=DetectorNoise(noise_px=level, drop_prob=drop))
        g = r['gating']
        rows.append({'noise_px': level, 'pa_mpjpe': r['metrics']['pa_mpjpe'],
                     'n_mpjpe': r['metrics']['n_mpjpe'], 'lifted': r['lifted'] / r['views'],
                     'real_accepted': g['real_accepted_all'],
                     'corrupted_rejected': g['corrupted_rejected_all'],
                     'auc': g['gating_auc'], 'per_kind_auc': g['per_kind_auc'],
                     'per_kind_rejected': g['per_kind_rejected_all']})
        print(json.dumps({'model': model, **rows[-1]}))
    return rows


def plot(results: dict[str, list[dict]], out: Path, drop: float, fmt: str) -> None:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for k, (name, rows) in enumerate(results.items()):
        x, colour = [r['noise_px'] for r in rows], f'C{k}'
        ax1.plot(x, [100 * r['real_accepted'] for r in rows], 'o-', color=colour,
                 label=f'{name}: real accepted')
        ax1.plot(x, [100 * r['corrupted_rejected'] for r in rows], 's--', color=colour,
                 label=f'{name}: corrupted rejected')
        ax2.plot(x, [r['pa_mpjpe'] for r in rows], 'o-', color=colour, label=name)
    ax1.set(xlabel='detector noise (px, std per joint)', ylabel='%', ylim=(0, 101),
            title=f'gating, {fmt}, {100 * drop:g} % joints dropped')
    ax2.set(xlabel='detector noise (px, std per joint)', ylabel='PA-MPJPE (mm)',
            title='accuracy of the real persons')
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--model', nargs='+', required=True)
    p.add_argument('--data', default='models/demo_poses.npz')
    p.add_argument('--levels', default='0,1,2,4,6,8')
    p.add_argument('--drop', type=float, default=0.05)
    p.add_argument('--joint-format', default='coco17')
    p.add_argument('--fps', type=float, default=10.0)
    p.add_argument('--out', default='out/noise_curve.png')
    p.add_argument('--json')
    a = p.parse_args()
    poses = load_pose_file(a.data).subsample(a.fps)
    levels = [float(v) for v in a.levels.split(',')]
    results = {Path(m).stem: curve(m, poses, levels, a.drop, a.joint_format) for m in a.model}
    plot(results, Path(a.out), a.drop, a.joint_format)
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(results, indent=1))


if __name__ == '__main__':
    main()
