#!/usr/bin/env python3
"""2D-only adaptation to new cameras, on a domain shift built from the CMU pose file.

Source: an exported model (default: the shipped models/default.onnx, trained on the 2D of the
default training subjects through virtual cameras 0.5-2.5 m high). Target: subjects 07 and 14
(never training data of the shipped model) seen by 8 static cameras mounted HIGH (3.5-4.5 m,
4-5 m away: looking down ~30 degrees, outside the training envelope). Every 3rd clip of each
target subject is held out (whole clips: no near-duplicate frames leak); a rosbag of the other
clips is made with the ``bag make`` scene (1 px noise, 30 fps). Adaptation = ``fit --data-2d BAG
--init-from SOURCE``: only the bag's keypoints + CameraInfo reach training, best.pt is chosen by
the 2D-only criterion on the bag's held-out time blocks. The held-out clips' 3D (same high
cameras) is logged per epoch for the rank correlation and gives the final score.

    PYTHONPATH=src/pose_lifter:training nice .venv/bin/python scripts/adaptation_study.py \
        [--seeds 0 1 2] [--epochs 12] [--out runs/adaptation_high] [--set KEY=VALUE ...]

Runs in-process (the high camera set is patched into the bag scene and the evaluation views).
A finished run directory (metrics.json) is reused.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import numpy as np

from pose_lifter.core import cameras as C

ROOT = Path(__file__).resolve().parents[1]
TARGET = ['07', '14']
HIGH = tuple(C.CameraSpec(distance=d, height=4.0 + dh, azimuth=a, focal=f) for d, dh, a, f in (
    (4.0, 0.0, 0, 800), (5.0, 0.5, 45, 1000), (4.5, 0.0, 90, 900), (4.0, -0.5, 135, 700),
    (5.0, 0.0, 180, 800), (4.5, 0.5, 225, 1000), (4.0, 0.0, 270, 900), (5.0, -0.5, 315, 700)))
ADAPT = ['train.batch=256', 'train.threads=1', 'train.progress=false', 'train.plots=false']


def pose_file() -> Path:
    for p in (ROOT / 'data' / 'cmu_mocap_h36m17.npz',
              ROOT.parent / 'shared' / 'data' / 'cmu_mocap_h36m17.npz'):
        if p.is_file():
            return p
    sys.exit('error: no cmu_mocap_h36m17.npz in data/ or ../shared/data/ (run `make data`)')


def use_high_cameras() -> None:
    """The high camera set for ``bag make`` (camera set 'high') and for every evaluation set."""
    import pose_lifter_training.data as D
    from pose_lifter.bag import scene
    scene.CAMERA_SETS['high'] = HIGH
    D.eval_views = functools.partial(C.eval_views, cameras=HIGH)


def target_files(poses_path: Path, out: Path) -> tuple[Path, Path]:
    """(bag of the adaptation clips, pose file of the held-out clips)."""
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
    held_clip = np.array([order[c] % 3 == 1 for c in poses.clip])
    save_pose_file(held, poses.select(held_clip))
    adapt_path = out / 'target_adapt.npz'
    save_pose_file(adapt_path, poses.select(~held_clip))
    make_bag(adapt_path, bag, SceneOptions(cameras='high', noise_px=1.0, seed=0), fps=30.0)
    return bag, held


def score(model_path: Path, held: Path) -> dict[str, float]:
    """PA-MPJPE / N-MPJPE (mm) on the held-out target clips through the high cameras."""
    from pose_lifter.core import metrics as M
    from pose_lifter.core.poses import load_pose_file
    from pose_lifter_training.adapt import lifting_model, read_init
    from pose_lifter_training.data import build_eval_set
    from pose_lifter_training.evaluate import place_mm, predict
    es = build_eval_set(load_pose_file(held).subsample(10.0))
    out = predict(lifting_model(model_path), es.inputs)
    m = M.pose_metrics(place_mm(out['pose'], es, read_init(model_path).bone_sum_m), es.gt_mm)
    return {k: float(m[k]) for k in ('pa_mpjpe', 'n_mpjpe')}


def adapt(seed: int, args, bag: Path, held: Path) -> Path:
    from pose_lifter_training.adapt import adopt_architecture, read_init
    from pose_lifter_training.config import load_config
    from pose_lifter_training.train import fit
    out = args.out / f'adapt_s{seed}'
    if (out / 'metrics.json').is_file():
        return out
    # data.path = the held-out 3D, only logged per epoch: no 3D training poses
    cfg = load_config('default', overrides=ADAPT + [
        f'data.unlabelled={bag}', f'train.init_from={args.source}', f'data.path={held}',
        'data.train_subjects=[]', f'data.val_subjects={TARGET}', 'data.test_subjects=[]',
        'data.eval_fps=10', f'train.epochs={args.epochs}', f'train.seed={seed}',
        f'train.select_metric={args.select}'] + args.set)
    adopt_architecture(cfg, read_init(cfg.train.init_from))
    fit(cfg, out)
    return out


def table(results: list[dict], select: str) -> str:
    crit = ('crit_2d', 'cons_3d', 'plaus_2d', 'reproj_2d', 'realism_2d')
    lines = [f'seed | source PA / N-MPJPE | adapted ({select}-selected) PA / N-MPJPE | PA gain '
             f'| epoch | oracle PA | Spearman with PA: ' + ' / '.join(crit)]
    for r in results:
        s, a, k = r['source'], r['adapted'], r['ranking']
        rho = ' / '.join(f'{k[c]["spearman"]:+.2f}' if c in k else 'n/a' for c in crit)
        lines.append(f'{r["seed"]} | {s["pa_mpjpe"]:.1f} / {s["n_mpjpe"]:.1f} | '
                     f'{a["pa_mpjpe"]:.1f} / {a["n_mpjpe"]:.1f} | {r["gain"]:.1f} % | '
                     f'{r["best_epoch"]} | {k.get("best_possible", float("nan")):.1f} | {rho}')
    if len(results) > 1:
        def ms(v):
            v = np.asarray(v)
            return f'{v.mean():.1f} +- {v.std(ddof=1):.1f}'
        lines.append(f'mean +- sd | {ms([r["source"]["pa_mpjpe"] for r in results])} | '
                     f'{ms([r["adapted"]["pa_mpjpe"] for r in results])} | '
                     f'{ms([r["gain"] for r in results])} %')
    return '\n'.join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--source', type=Path, default=ROOT / 'models' / 'default.onnx')
    p.add_argument('--seeds', type=int, nargs='+', default=[0])
    p.add_argument('--epochs', type=int, default=12)
    p.add_argument('--select', default='crit_2d', help='2D-only train.select_metric')
    p.add_argument('--out', type=Path, default=ROOT / 'runs' / 'adaptation_high')
    p.add_argument('--set', nargs='*', default=[], help='extra overrides of the adaptation')
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    use_high_cameras()
    bag, held = target_files(pose_file(), args.out)
    from pose_lifter_training.selection import rank_report
    results = []
    for seed in args.seeds:
        run = adapt(seed, args, bag, held)
        history = json.loads((run / 'history.json').read_text())
        src, ada = score(args.source, held), score(run / 'best.pt', held)
        results.append({'seed': seed, 'source': src, 'adapted': ada,
                        'gain': 100.0 * (1.0 - ada['pa_mpjpe'] / src['pa_mpjpe']),
                        'best_epoch': json.loads((run / 'metrics.json').read_text())
                        ['best_epoch'], 'ranking': rank_report(history, 'pa_mpjpe')})
        (args.out / 'results.json').write_text(json.dumps(results, indent=2))
    print(f'target: held-out clips of subjects {TARGET} through 8 cameras 3.5-4.5 m high (mm, '
          f'10 fps); source {args.source.name}')
    print(table(results, args.select))
    return 0


if __name__ == '__main__':
    sys.exit(main())
