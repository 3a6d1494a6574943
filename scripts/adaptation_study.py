#!/usr/bin/env python3
"""2D-only domain adaptation on a domain shift built from the CMU pose file.

Source: a lifter trained (unsupervised, from virtual-camera 2D of 3D poses) on climbing and
uneven terrain (subjects 01, 03), selected on 3D validation subject 07, exported to ONNX.
Target: dance and basketball (subjects 05, 06). Every 4th clip of each target subject is held
out (whole clips: no near-duplicate frames leak); a rosbag of the other clips is made with
``bag make`` (8 evaluation cameras, 1 px noise). Adaptation: ``pose-lifter-train fit --data-2d
BAG --init-from source.onnx``: only the bag's keypoints + CameraInfo reach training, best.pt is
chosen by the 2D-only criterion on the bag's held-out time blocks. The held-out target clips'
3D is only logged per epoch (for the rank correlation) and used for the final score.

    PYTHONPATH=src/pose_lifter:training nice .venv/bin/python scripts/adaptation_study.py \
        [--seeds 0 1 2] [--source-epochs 15] [--adapt-epochs 20] [--out runs/adaptation]

Runs are cached: a finished run directory (metrics.json) is reused.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ['01', '03']
SOURCE_VAL, SOURCE_TEST = ['07'], ['14']
TARGET = ['05', '06']
WIDTH = ['model.width=256', 'model.critic_width=256', 'train.batch=256', 'train.threads=1',
         'train.progress=false', 'train.plots=false']


def pose_file() -> Path:
    for p in (ROOT / 'data' / 'cmu_mocap_h36m17.npz',
              ROOT.parent / 'shared' / 'data' / 'cmu_mocap_h36m17.npz'):
        if p.is_file():
            return p
    sys.exit('error: no cmu_mocap_h36m17.npz in data/ or ../shared/data/ (run `make data`)')


def train_cli(*args: str) -> None:
    env = dict(os.environ, PYTHONPATH=f'{ROOT / "src" / "pose_lifter"}:{ROOT / "training"}')
    cmd = ['nice', sys.executable, '-m', 'pose_lifter_training.cli', *args]
    print('$', ' '.join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)


def target_files(poses_path: Path, out: Path) -> tuple[Path, Path]:
    """Target clips split by clip: (bag of the adaptation clips, pose file of held-out clips)."""
    from pose_lifter.bag.make import make_bag
    from pose_lifter.bag.scene import SceneOptions
    from pose_lifter.core.poses import load_pose_file, save_pose_file
    bag, held = out / 'target_bag', out / 'target_heldout.npz'
    if bag.exists() and held.is_file():
        return bag, held
    poses = load_pose_file(poses_path).subjects_only(TARGET)
    clips = np.unique(poses.clip)
    order = {c: i for s in TARGET
             for i, c in enumerate(c for c in clips if poses.clip_subjects[c] == s)}
    held_clip = np.array([order[c] % 4 == 3 for c in poses.clip])
    save_pose_file(held, poses.select(held_clip))
    adapt_path = out / 'target_adapt.npz'
    save_pose_file(adapt_path, poses.select(~held_clip))
    make_bag(adapt_path, bag, SceneOptions(cameras='eval', noise_px=1.0, seed=0), fps=30.0)
    return bag, held


def score(model_path: Path, held: Path) -> dict[str, float]:
    """PA-MPJPE / N-MPJPE / MPJPE (mm) on the held-out target clips, evaluation cameras."""
    from pose_lifter.core import metrics as M
    from pose_lifter.core.poses import load_pose_file
    from pose_lifter_training.adapt import lifting_model, read_init
    from pose_lifter_training.data import build_eval_set
    from pose_lifter_training.evaluate import place_mm, predict
    es = build_eval_set(load_pose_file(held).subsample(10.0))
    out = predict(lifting_model(model_path), es.inputs)
    pred = place_mm(out['pose'], es, read_init(model_path).bone_sum_m)
    m = M.pose_metrics(pred, es.gt_mm)
    return {k: float(m[k]) for k in ('pa_mpjpe', 'n_mpjpe', 'mpjpe')}


def one_seed(seed: int, args, poses_path: Path, bag: Path, held: Path) -> dict:
    src, ada = args.out / f'source_s{seed}', args.out / f'adapt_s{seed}'
    if not (src / 'metrics.json').is_file():
        train_cli('fit', '--data', str(poses_path), '--out', str(src), '--set', *WIDTH,
                  f'train.epochs={args.source_epochs}', f'train.seed={seed}',
                  f'data.train_subjects={SOURCE}', f'data.val_subjects={SOURCE_VAL}',
                  f'data.test_subjects={SOURCE_TEST}', *args.set)
    onnx = src / 'source.onnx'
    if not onnx.is_file():
        train_cli('export', '--checkpoint', str(src / 'best.pt'), '--out', str(onnx))
    if not (ada / 'metrics.json').is_file():
        # --data: the held-out target 3D, logged per epoch only (no 3D training poses,
        # selection by the 2D criterion)
        train_cli('fit', '--data-2d', str(bag), '--init-from', str(onnx), '--data', str(held),
                  '--out', str(ada), '--set', *WIDTH, f'train.epochs={args.adapt_epochs}',
                  f'train.seed={seed}', 'train.select_metric=crit_2d', 'data.train_subjects=[]',
                  f'data.val_subjects={TARGET}', 'data.test_subjects=[]', 'data.eval_fps=10',
                  *args.adapt_set)
    from pose_lifter_training.selection import rank_report
    history = json.loads((ada / 'history.json').read_text())
    return {'seed': seed, 'source': score(onnx, held), 'adapted': score(ada / 'best.pt', held),
            'best_epoch': json.loads((ada / 'metrics.json').read_text())['best_epoch'],
            'ranking': rank_report(history, 'pa_mpjpe')}


def table(results: list[dict]) -> str:
    lines = ['seed | source PA / N-MPJPE | adapted (2D-selected) PA / N-MPJPE | PA gain | '
             'epoch | oracle PA | Spearman crit_2d / reproj / cons_2d / cons_3d / realism']
    gains = []
    for r in results:
        s, a, k = r['source'], r['adapted'], r['ranking']
        gain = 100.0 * (1.0 - a['pa_mpjpe'] / s['pa_mpjpe'])
        gains.append(gain)
        rho = ' / '.join(f'{k[c]["spearman"]:+.2f}' if c in k else 'n/a'
                         for c in ('crit_2d', 'reproj_2d', 'cons_2d', 'cons_3d', 'realism_2d'))
        lines.append(f'{r["seed"]} | {s["pa_mpjpe"]:.1f} / {s["n_mpjpe"]:.1f} | '
                     f'{a["pa_mpjpe"]:.1f} / {a["n_mpjpe"]:.1f} | {gain:.1f} % | '
                     f'{r["best_epoch"]} | {k.get("best_possible", float("nan")):.1f} | {rho}')
    sp, ap = (np.array([r[w]['pa_mpjpe'] for r in results]) for w in ('source', 'adapted'))
    sn, an = (np.array([r[w]['n_mpjpe'] for r in results]) for w in ('source', 'adapted'))
    g = np.array(gains)
    lines.append(f'mean +- sd | {sp.mean():.1f} +- {sp.std(ddof=min(1, len(sp) - 1)):.1f} / '
                 f'{sn.mean():.1f} | {ap.mean():.1f} +- {ap.std(ddof=min(1, len(ap) - 1)):.1f}'
                 f' / {an.mean():.1f} | {g.mean():.1f} +- {g.std(ddof=min(1, len(g) - 1)):.1f} %')
    return '\n'.join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[0])
    p.add_argument('--source-epochs', type=int, default=15)
    p.add_argument('--adapt-epochs', type=int, default=20)
    p.add_argument('--out', type=Path, default=ROOT / 'runs' / 'adaptation')
    p.add_argument('--set', nargs='*', default=[], help='extra overrides of the source runs')
    p.add_argument('--adapt-set', nargs='*', default=[], help='extra overrides of adaptation')
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    poses_path = pose_file()
    bag, held = target_files(poses_path, args.out)
    results = []
    for seed in args.seeds:
        results.append(one_seed(seed, args, poses_path, bag, held))
        (args.out / 'results.json').write_text(json.dumps(results, indent=2))
    print(f'target held-out clips of subjects {TARGET} (mm, 8 evaluation cameras, 10 fps); '
          f'source trained on {SOURCE}')
    print(table(results))
    return 0


if __name__ == '__main__':
    sys.exit(main())
