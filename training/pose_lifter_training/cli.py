"""``pose-lifter-train``: fit, evaluate and export.

    pose-lifter-train convert-bvh BVH_DIR --rig cmu --out data/my_poses.npz [--fps 30]
    pose-lifter-train fit --preset default --data data/cmu_mocap_h36m17.npz \
        --out runs/NAME [--config f.yaml] [--set model.width=256 train.epochs=5] [--resume]
    pose-lifter-train evaluate --checkpoint runs/NAME/best.pt --split test [--json out.json]
    pose-lifter-train export --checkpoint runs/NAME/best.pt --out models/x.onnx [--tensorrt]

Multi-GPU: ``torchrun --nproc_per_node=N -m pose_lifter_training.cli fit ...``.
Expected failures (missing data, bad config key, corrupt checkpoint) exit with status 2 and a
one-line message, no traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pose_lifter.core.contract import ContractError
from pose_lifter.core.poses import PoseFileError

from .bvh.cli import add_parser as add_convert_bvh_parser
from .bvh.cli import run as convert_bvh
from .checkpoint import CheckpointError
from .config import PRESETS, ConfigError, load_config

EXPECTED = (ConfigError, CheckpointError, PoseFileError, ContractError, FileNotFoundError,
            FileExistsError, FloatingPointError)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='pose-lifter-train', description=__doc__.split('\n')[0])
    sub = p.add_subparsers(dest='command', required=True)
    fit = sub.add_parser('fit', help='train a lifter')
    fit.add_argument('--preset', default='default', choices=PRESETS)
    fit.add_argument('--config', help='YAML merged over the preset (full or partial)')
    fit.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE',
                     help='overrides, e.g. model.width=256 train.epochs=5')
    fit.add_argument('--data', help='pose file (sets data.path)')
    fit.add_argument('--out', required=True, help='run directory')
    fit.add_argument('--resume', action='store_true', help='continue from OUT/last.pt')
    ev = sub.add_parser('evaluate', help='metrics of a checkpoint on val or test')
    ev.add_argument('--checkpoint', required=True)
    ev.add_argument('--split', default='test', choices=('val', 'test'))
    ev.add_argument('--data', help='pose file (default: the one the checkpoint was trained on)')
    ev.add_argument('--json', help='write the full report here')
    ev.add_argument('--device', default='cpu')
    ex = sub.add_parser('export', help='ONNX (and optionally TensorRT) export')
    ex.add_argument('--checkpoint', required=True)
    ex.add_argument('--out', required=True, help='.onnx path; the model card goes beside it')
    ex.add_argument('--opset', type=int, default=17)
    ex.add_argument('--tensorrt', action='store_true', help='also build a TensorRT engine')
    ex.add_argument('--max-persons', type=int, default=64)
    ex.add_argument('--realism-reproj-tau', type=float, default=None,
                    help='realism x exp(-reprojection error / tau); recalibrates the threshold '
                    'on the validation subjects')
    ex.add_argument('--data', help='pose file for recalibration (default: the training one)')
    ex.add_argument('--fp32', action='store_true', help='TensorRT without FP16')
    add_convert_bvh_parser(sub)
    return p


def _fit(args: argparse.Namespace) -> int:
    overrides = list(args.set)
    if args.data:
        overrides.append(f'data.path={args.data}')
    cfg = load_config(args.preset, args.config, overrides)
    if not args.resume:
        from .sources import detect_format
        detect_format(cfg.data.path)   # fail fast with a clear message
    from .train import fit
    summary = fit(cfg, args.out, resume=args.resume)
    if summary:
        print(json.dumps(summary, indent=2))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_checkpoint, format_table
    report = evaluate_checkpoint(args.checkpoint, args.split, args.data, args.device)
    print(f'{args.split} subjects {report["subjects"]}, epoch {report["epoch"]}, '
          f'{report["model"]["overall"]["count"]} poses (mm)')
    print(format_table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


def _export(args: argparse.Namespace) -> int:
    from .export import TensorRTUnavailable, build_tensorrt_engine, export_onnx
    contract = export_onnx(args.checkpoint, args.out, args.opset,
                           reproj_tau=args.realism_reproj_tau, data_path=args.data)
    print(f'wrote {args.out} (content hash {contract.content_hash[:12]}, realism threshold '
          f'{contract.realism_threshold:.4f})')
    if args.tensorrt:
        try:
            engine = build_tensorrt_engine(args.out, max_persons=args.max_persons,
                                           fp16=not args.fp32)
        except TensorRTUnavailable as exc:
            print(f'error: {exc}', file=sys.stderr)
            return 2
        print(f'wrote {engine}')
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == 'convert-bvh':
        return convert_bvh(args)       # reports its own errors (one line per bad file)
    try:
        return {'fit': _fit, 'evaluate': _evaluate, 'export': _export}[args.command](args)
    except EXPECTED as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
