"""How far a per-frame gate can go: the shipped gate's ROC-AUC per corruption kind next to an
oracle's that knows every person's true 2D.

    .venv/bin/python scripts/gate_oracle.py --model models/default.onnx \
        --data models/demo_poses.npz --noise-px 0 1.5 4 8 --json out/gate_oracle.json

The persons are the ones ``pose-lifter eval --joint-format coco17 --noise-px L --drop D`` scores
(same seed, same random stream: the script checks that its model AUCs equal eval's). The oracle
sees the detections of a person and the exact projection of that person's true pose (for a
corrupted person: of the pose before the corruption), and scores the deviation between them,
each joint whitened by its noise spread (``detector_noise.joint_kappa`` x the pixel noise):

- ``chi2``: the sum of squared whitened deviations over the seen joints (the likelihood-ratio
  statistic against Gaussian noise of known size);
- ``top3``: the sum of the three largest (a displaced-joint corruption moves two or three).

No gate that sees one frame can know the true pose, so the oracle bounds what any such gate
reaches on these persons: a displaced joint whose move runs along the camera ray, or stays
within the noise, looks real even to it.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from pose_lifter.core.backends import create_backend
from pose_lifter.core.cameras import EVAL_CAMERAS, eval_views
from pose_lifter.core.corruptions import corrupt_mixed
from pose_lifter.core.detector_noise import (
    DetectorNoise,
    from_h36m17,
    joint_kappa,
    project_visible,
    synthesise_detections,
)
from pose_lifter.core.evaluation import evaluate_pose_set, lift_in_chunks
from pose_lifter.core.metrics import roc_auc
from pose_lifter.core.pipeline import STATUS_TOO_FEW, Lifter
from pose_lifter.core.poses import load_pose_file


def whitened_sq(observed: np.ndarray, truth: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """(N, J, 2) detections (NaN missing), (N, J, 2) true projections, (J,) relative spreads
    -> (N, J) squared deviation over the spread, NaN where the joint is missing."""
    return ((observed - truth) ** 2).sum(-1) / spread ** 2


def oracle_scores(dev: np.ndarray) -> dict[str, np.ndarray]:
    """(N, J) whitened squared deviations -> the oracle's statistics (N,) each (higher: less
    real)."""
    filled = np.where(np.isfinite(dev), dev, 0.0)
    return {'chi2': filled.sum(-1), 'top3': np.sort(filled, axis=-1)[:, -3:].sum(-1)}


def check_stream(lifter: Lifter, report: dict, real: tuple, bad: tuple, K: np.ndarray,
                 kinds: np.ndarray, joint_format: str) -> tuple[np.ndarray, np.ndarray]:
    """Raise unless the persons rebuilt here are the ones ``report`` scored: the model's
    per-kind AUC on them must be eval's. Returns which real and corrupted persons were lifted
    (the ones eval's AUCs count), (N,) bool each."""
    _, real_score, real_status = lift_in_chunks(lifter, real[0], K, joint_format=joint_format,
                                                confidence=real[1])
    _, bad_score, bad_status = lift_in_chunks(lifter, bad[0], K, joint_format=joint_format,
                                              confidence=bad[1])
    lifted, bad_lifted = real_status != STATUS_TOO_FEW, bad_status != STATUS_TOO_FEW
    for kind, auc in report['gating']['per_kind_auc'].items():
        mine = roc_auc(real_score[lifted], bad_score[bad_lifted & (kinds == kind)])
        if abs(mine - auc) > 1e-9:
            raise SystemExit(f'the persons rebuilt here are not the ones eval scored ({kind}: '
                             f'AUC {mine} vs {auc}); core/evaluation.py changed its random '
                             'stream: update level_row')
    return lifted, bad_lifted


def level_row(lifter: Lifter, poses, joint_format: str, noise: DetectorNoise, seed: int
              ) -> dict:
    """The model's and the oracle's per-kind AUC at one noise level."""
    report = evaluate_pose_set(lifter, poses, joint_format=joint_format, noise=noise, seed=seed)
    # evaluate_pose_set's random stream, step by step: real detections, corruptions in 3D,
    # corrupted detections (lifting draws nothing)
    rng = np.random.default_rng(seed)
    cam3d, _, K = eval_views(poses.joints, EVAL_CAMERAS)
    real_px, real_conf = synthesise_detections(cam3d, K, joint_format, noise, rng)
    bad3d, kinds = corrupt_mixed(cam3d, rng)
    bad_px, bad_conf = synthesise_detections(bad3d, K, joint_format, noise, rng)
    lifted, bad_lifted = check_stream(lifter, report, (real_px, real_conf),
                                      (bad_px, bad_conf), K, kinds, joint_format)
    truth = project_visible(from_h36m17(cam3d, joint_format), K)
    spread = joint_kappa(joint_format) * max(noise.noise_px, 1e-3)
    real = oracle_scores(whitened_sq(real_px, truth, spread))
    bad = oracle_scores(whitened_sq(bad_px, truth, spread))
    model = report['gating']['per_kind_auc']
    row = {'noise_px': noise.noise_px, 'drop': noise.drop_prob, 'kinds': {}}
    for kind in np.unique(kinds):
        m = bad_lifted & (kinds == kind)          # the persons eval's AUC counts
        # the oracle's score grows with the deviation: real persons should score lower
        row['kinds'][str(kind)] = {'model': model[str(kind)],
                                   **{name: roc_auc(-real[name][lifted], -bad[name][m])
                                      for name in real}}
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', default='models/default.onnx')
    p.add_argument('--data', default='models/demo_poses.npz')
    p.add_argument('--joint-format', default='coco17')
    p.add_argument('--noise-px', type=float, nargs='+', default=[0.0, 1.5, 4.0, 8.0])
    p.add_argument('--drop', type=float, default=0.05)
    p.add_argument('--fps', type=float, default=10.0, help="as pose-lifter eval's --fps")
    p.add_argument('--seed', type=int, default=0, help="as pose-lifter eval's --seed")
    p.add_argument('--json', help='also write the rows here')
    args = p.parse_args(argv)
    poses = load_pose_file(args.data).subsample(args.fps)
    lifter = Lifter(create_backend(args.model, 'onnxruntime'))
    rows = [level_row(lifter, poses, args.joint_format,
                      DetectorNoise(noise_px=level, drop_prob=args.drop), args.seed)
            for level in args.noise_px]
    print(f'ROC-AUC per corruption kind, {args.joint_format}, {args.drop:.0%} dropped: '
          f'model / oracle chi2 / oracle top3')
    print('| noise px | ' + ' | '.join(rows[0]['kinds']) + ' |')
    print('| --- |' + ' --- |' * len(rows[0]['kinds']))
    for r in rows:
        cells = [f"{v['model']:.3f} / {v['chi2']:.3f} / {v['top3']:.3f}"
                 for v in r['kinds'].values()]
        print(f"| {r['noise_px']:g} | " + ' | '.join(cells) + ' |')
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
