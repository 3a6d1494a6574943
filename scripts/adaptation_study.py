#!/usr/bin/env python3
"""2D-only adaptation to a new domain, on domain shifts built from the CMU pose file.

Two shifts (``--shift``):

``motion`` (the default): a lifter trained on people walking, running and jumping meets people
climbing. The target is subject 01's playground climbing (457 s, hands above the head, legs
raised, crouching). The source models are trained by this script with the members' recipe
(width 256, 20 epochs, ``scripts/seed_runs.sh``) on the locomotion subjects 02 (walk, run, jump,
punch) and 03 (uneven terrain), validated on 14, one per seed (``--source-subjects``).
Every 3rd clip of subject 01 is held out; a rosbag of the other clips is made with ``bag make``
(the evaluation cameras, 1 px noise, 30 fps) and is the adaptation's only data.

``cameras``: the source is an exported model (default: the shipped models/default.onnx,
trained on the 2D of the default training subjects through virtual cameras 0.5-2.5 m high).
Target: subjects 07 and 14 (never its training data) seen by 8 static cameras mounted HIGH
(3.5-4.5 m, 4-5 m away: looking down ~30 degrees, outside the training envelope), every 3rd
clip held out, the bag made through the high cameras.

In both, whole clips are held out (no near-duplicate frames leak). Two adaptations
(``--method``):

``fit`` = ``fit --data-2d BAG --init-from SOURCE``: only the bag's keypoints + CameraInfo reach
training (the GAN objective on them), best.pt is chosen by the 2D-only criterion on the bag's
held-out time blocks. The held-out clips' 3D (same cameras) is logged per epoch for the rank
correlation and gives the final score.

``distill`` (cameras only) = ``distill --init SOURCE --member models/ensemble.onnx
--student-height LO HI --data-2d BAG --select prior_3d`` for every candidate height band
(``--heights``): the student learns, through cameras of that band, what the teacher answers
from the level views it knows (the training mocap, no target 3D); the bag's 2D is not trained
on, it only chooses -- the epoch and then the band with the lowest ``prior_3d`` (the lifts of
the bag's 2D against the training poses). The chosen student is scored on the held-out clips.

    PYTHONPATH=src/pose_lifter:training nice .venv/bin/python scripts/adaptation_study.py \
        [--shift motion|cameras] [--seeds 0 1 2] [--epochs 12] [--out DIR] [--set KEY=VALUE ...]

Runs in-process (for ``cameras`` the high camera set is patched into the bag scene and the
evaluation views). A finished run directory (metrics.json) is reused.
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
CLIMB = ['01']
SOURCE_SUBJECTS = ['02', '03']     # walk, run, jump, punch, uneven terrain
SOURCE_RECIPE = ['model.width=256', 'model.critic_width=256', 'train.batch=256',
                 'train.threads=1', 'train.umap=false', 'train.progress=false',
                 'train.plots=false', 'train.epochs=20']
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


def target_files(poses_path: Path, out: Path, target: list[str], cameras: str
                 ) -> tuple[Path, Path]:
    """(bag of the adaptation clips, pose file of the held-out clips)."""
    from pose_lifter.bag.make import make_bag
    from pose_lifter.bag.scene import SceneOptions
    from pose_lifter.core.poses import load_pose_file, save_pose_file
    bag, held = out / 'target_bag', out / 'target_heldout.npz'
    if bag.exists() and held.is_file():
        return bag, held
    poses = load_pose_file(poses_path).subjects_only(target)
    clips = np.unique(poses.clip)
    order = {c: i for s in target
             for i, c in enumerate(c for c in clips if poses.clip_subjects[c] == s)}
    held_clip = np.array([order[c] % 3 == 1 for c in poses.clip])
    save_pose_file(held, poses.select(held_clip))
    adapt_path = out / 'target_adapt.npz'
    save_pose_file(adapt_path, poses.select(~held_clip))
    make_bag(adapt_path, bag, SceneOptions(cameras=cameras, noise_px=1.0, seed=0), fps=30.0)
    return bag, held


def score(model_path: Path, held: Path) -> dict[str, float]:
    """PA-MPJPE / N-MPJPE (mm) on the held-out target clips through the evaluation views."""
    from pose_lifter.core import metrics as M
    from pose_lifter.core.poses import load_pose_file
    from pose_lifter_training.adapt import lifting_model, read_init
    from pose_lifter_training.data import build_eval_set
    from pose_lifter_training.evaluate import place_mm, predict
    es = build_eval_set(load_pose_file(held).subsample(10.0))
    out = predict(lifting_model(model_path), es.inputs)
    m = M.pose_metrics(place_mm(out['pose'], es, read_init(model_path).bone_sum_m), es.gt_mm)
    return {k: float(m[k]) for k in ('pa_mpjpe', 'n_mpjpe')}


def train_source(seed: int, args) -> Path:
    """The motion shift's source: the members' recipe without the target subject (best.pt)."""
    from pose_lifter_training.config import load_config
    from pose_lifter_training.train import fit
    out = args.out / f'source_s{seed}'
    if not (out / 'metrics.json').is_file():
        cfg = load_config('default', overrides=SOURCE_RECIPE + [
            f'data.path={pose_file()}', f'data.train_subjects={args.source_subjects}',
            "data.val_subjects=['14']", "data.test_subjects=['07']",
            f'train.seed={seed}'] + args.source_set)
        fit(cfg, out)
    return out / 'best.pt'


def adapt(seed: int, args, source: Path, target: list[str], bag: Path, held: Path) -> Path:
    from pose_lifter_training.adapt import adopt_architecture, read_init
    from pose_lifter_training.config import load_config
    from pose_lifter_training.train import fit
    out = args.out / f'adapt_s{seed}'
    if (out / 'metrics.json').is_file():
        return out
    # data.path = the held-out 3D, only logged per epoch: no 3D training poses
    cfg = load_config('default', overrides=ADAPT + [
        f'data.unlabelled={bag}', f'train.init_from={source}', f'data.path={held}',
        'data.train_subjects=[]', f'data.val_subjects={target}', 'data.test_subjects=[]',
        'data.eval_fps=10', f'train.epochs={args.epochs}', f'train.seed={seed}',
        f'train.select_metric={args.select}'] + args.set)
    adopt_architecture(cfg, read_init(cfg.train.init_from))
    fit(cfg, out)
    return out


def distill_bands(seed: int, args, source: Path, bag: Path, held: Path) -> dict:
    """Re-distil SOURCE for each candidate height band; the band and epoch chosen by
    prior_3d on the bag's 2D. Returns per band the chosen epoch's prior_3d and (for the
    record, not for the choice) the held-out 3D score, and the chosen band."""
    from pose_lifter_training.distill import Envelope, distill, teacher_envelope
    teacher = teacher_envelope([args.teacher])
    bands = {}
    for lo, hi in zip(args.heights[::2], args.heights[1::2]):
        out = args.out / f'distill_s{seed}_h{lo:g}-{hi:g}'
        if not (out / 'history.json').is_file() or not (out / 'best.pt').is_file() or \
                len(json.loads((out / 'history.json').read_text())) < args.epochs:
            distill(str(source), [str(args.teacher)], out, epochs=args.epochs, seed=seed,
                    threads=1, noise_prob=0.5, coco_prob=0.5, occlusion=0.4,
                    student_envelope=Envelope(teacher.distance, (lo, hi), teacher.focal),
                    data_2d=str(bag), select='prior_3d', anchor_teacher=args.anchor_teacher)
        history = json.loads((out / 'history.json').read_text())
        best = min(history, key=lambda m: m['target_prior_3d'])
        bands[f'{lo:g}-{hi:g}'] = {'prior_3d': best['target_prior_3d'], 'epoch': best['epoch'],
                                   'score': score(out / 'best.pt', held), 'run': str(out)}
    chosen = min(bands, key=lambda b: bands[b]['prior_3d'])
    return {'bands': bands, 'chosen': chosen}


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
    p.add_argument('--shift', choices=('motion', 'cameras'), default='motion')
    p.add_argument('--source', type=Path, default=None,
                   help='cameras: the source model (default models/default.onnx); motion: '
                        'trained here per seed unless given')
    p.add_argument('--source-subjects', nargs='+', default=SOURCE_SUBJECTS,
                   help="motion: the source model's training subjects (default: locomotion)")
    p.add_argument('--source-set', nargs='*', default=[],
                   help="extra overrides of the motion shift's source training")
    p.add_argument('--method', choices=('fit', 'distill'), default='fit',
                   help='fit: the GAN objective on the 2D; distill (cameras): re-distil for '
                   'candidate camera heights, chosen by prior_3d on the 2D')
    p.add_argument('--teacher', type=Path, default=ROOT / 'models' / 'ensemble.onnx',
                   help='distill: the teacher')
    p.add_argument('--anchor-teacher', action='store_true',
                   help="distill: the teacher's answer on its input's rays (the shipped recipe)")
    p.add_argument('--heights', type=float, nargs='+',
                   default=[0.5, 2.5, 2.5, 3.5, 3.5, 4.5, 4.5, 5.5],
                   help='distill: candidate camera height bands LO HI LO HI ... (m)')
    p.add_argument('--seeds', type=int, nargs='+', default=[0])
    p.add_argument('--epochs', type=int, default=12)
    p.add_argument('--select', default='crit_2d', help='2D-only train.select_metric')
    p.add_argument('--out', type=Path, default=None,
                   help='default runs/adaptation_motion or runs/adaptation_high')
    p.add_argument('--set', nargs='*', default=[], help='extra overrides of the adaptation')
    args = p.parse_args()
    motion = args.shift == 'motion'
    args.out = args.out or ROOT / 'runs' / ('adaptation_motion' if motion else 'adaptation_high')
    args.out.mkdir(parents=True, exist_ok=True)
    if motion:
        target, cameras = CLIMB, 'eval'
    else:
        use_high_cameras()
        target, cameras = TARGET, 'high'
        args.source = args.source or ROOT / 'models' / 'default.onnx'
    bag, held = target_files(pose_file(), args.out, target, cameras)
    if args.method == 'distill':
        if motion or len(args.heights) % 2:
            sys.exit('error: --method distill is for --shift cameras, with LO HI pairs')
        return distill_study(args, bag, held)
    from pose_lifter_training.selection import rank_report
    results = []
    for seed in args.seeds:
        source = args.source or train_source(seed, args)
        run = adapt(seed, args, source, target, bag, held)
        history = json.loads((run / 'history.json').read_text())
        src, ada = score(source, held), score(run / 'best.pt', held)
        results.append({'seed': seed, 'source': src, 'adapted': ada,
                        'gain': 100.0 * (1.0 - ada['pa_mpjpe'] / src['pa_mpjpe']),
                        'best_epoch': json.loads((run / 'metrics.json').read_text())
                        ['best_epoch'], 'ranking': rank_report(history, 'pa_mpjpe')})
        (args.out / 'results.json').write_text(json.dumps(results, indent=2))
    where = ('the evaluation cameras' if motion else '8 cameras 3.5-4.5 m high')
    print(f'target: held-out clips of subjects {target} through {where} (mm, 10 fps); '
          f'source {args.source or "trained without the target, per seed"}')
    print(table(results, args.select))
    return 0


def distill_study(args, bag: Path, held: Path) -> int:
    src = score(args.source, held)
    results = []
    for seed in args.seeds:
        r = distill_bands(seed, args, args.source, bag, held)
        chosen = r['bands'][r['chosen']]['score']
        results.append({'seed': seed, 'source': src, **r, 'adapted': chosen,
                        'gain': 100.0 * (1.0 - chosen['pa_mpjpe'] / src['pa_mpjpe'])})
        (args.out / 'results.json').write_text(json.dumps(results, indent=2))
    print(f'target: held-out clips of subjects {TARGET} through 8 cameras 3.5-4.5 m high '
          f'(mm, 10 fps); source {args.source}: PA / N-MPJPE {src["pa_mpjpe"]:.1f} / '
          f'{src["n_mpjpe"]:.1f}')
    print('seed | ' + ' | '.join(f'{b} m: prior_3d, PA' for b in results[0]['bands']) +
          ' | chosen | adapted PA / N-MPJPE | PA gain')
    for r in results:
        cells = ' | '.join(f'{v["prior_3d"]:.5f}, {v["score"]["pa_mpjpe"]:.1f}'
                           for v in r['bands'].values())
        print(f'{r["seed"]} | {cells} | {r["chosen"]} | {r["adapted"]["pa_mpjpe"]:.1f} / '
              f'{r["adapted"]["n_mpjpe"]:.1f} | {r["gain"]:.1f} %')
    if len(results) > 1:
        g = np.array([r['gain'] for r in results])
        a = np.array([r['adapted']['pa_mpjpe'] for r in results])
        print(f'mean +- sd: adapted PA {a.mean():.1f} +- {a.std(ddof=1):.1f}, gain '
              f'{g.mean():.1f} +- {g.std(ddof=1):.1f} %')
    return 0


if __name__ == '__main__':
    sys.exit(main())
