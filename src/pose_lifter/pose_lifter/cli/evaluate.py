"""``pose-lifter eval``: project a pose file through the fixed cameras, lift, print metrics."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..core.backends import create_backend
from ..core.backends.baselines import BASELINES, BaselineBackend
from ..core.detector_noise import DetectorNoise
from ..core.evaluation import OCCLUSIONS, evaluate_pose_set
from ..core.pipeline import Lifter
from ..core.poses import PoseFileError, load_pose_file
from ..core.synth_keypoints import SYNTH_FORMATS
from ..core.track_gate import TrackGate
from .lift import CliError

TABLE_ROWS = (('mpjpe', 'MPJPE (mm)', 1.0), ('n_mpjpe', 'N-MPJPE (mm)', 1.0),
              ('pa_mpjpe', 'PA-MPJPE, no reflection (mm)', 1.0), ('pck150', 'PCK@150mm (%)', 100),
              ('auc', 'AUC 0-150mm (%)', 100), ('mirror_rate', 'mirror rate (%)', 100),
              ('legacy_thesis', 'legacy thesis metric (mm)', 1.0))


def format_table(result: dict) -> str:
    """A Markdown table of the headline numbers."""
    m = result['metrics']
    lines = ['| metric | value |', '|---|---|']
    lines += [f'| {label} | {m[key] * f:.1f} |' for key, label, f in TABLE_ROWS]
    if 'gating' in result:
        g = result['gating']
        lines += [f'| gating ROC-AUC real vs corrupted | {g["gating_auc"]:.3f} |',
                  f'| real poses rejected at threshold (%) | {g["real_rejected"] * 100:.1f} |',
                  f'| corrupted poses rejected (%) | {g["corrupted_rejected"] * 100:.1f} |']
        lines += [f'| ROC-AUC {kind} | {auc:.3f} |' for kind, auc in g['per_kind_auc'].items()]
        if 'real_accepted_all' in g:
            lines += [f'| all real persons accepted, lifted or not (%) | '
                      f'{g["real_accepted_all"] * 100:.1f} |',
                      f'| all corrupted persons rejected (%) | '
                      f'{g["corrupted_rejected_all"] * 100:.1f} |']
        if 'track_gate' in g:
            lines.append(f'| judged by the track gate, with a previous frame (%) | '
                         f'{g["track_gate"]["history_share"] * 100:.1f} |')
    lines.append(f'| poses x cameras lifted | {result["lifted"]} / {result["views"]} |')
    return '\n'.join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        poses = load_pose_file(args.data)
    except PoseFileError as exc:
        raise CliError(str(exc)) from None
    if args.subjects:
        poses = poses.subjects_only(args.subjects.split(','))
    if args.fps:
        poses = poses.subsample(args.fps)
    if len(poses) == 0:
        raise CliError(f'{args.data}: no frames left after --subjects/--fps selection')
    backend = create_backend(args.model, args.backend)
    if args.baseline:
        backend = BaselineBackend(backend.contract, args.baseline)
    lifter = Lifter(backend, realism_threshold=args.threshold, anchor_to_rays=not args.no_anchor,
                    min_confidence=args.min_confidence)
    noise = None
    if args.joint_format != 'h36m17' or args.noise_px or args.noise_size or args.drop or \
            args.low_conf:
        try:
            noise = DetectorNoise(args.noise_px, args.noise_size, args.drop, args.low_conf)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    track = None
    if args.track_gate:
        if not lifter.contract.track_gate:
            raise CliError(f'{args.model} has no track gate (fit one: pose-lifter-train '
                           f'track-gate --model {args.model})')
        try:
            track = TrackGate.from_dict(lifter.contract.track_gate)
        except ValueError as exc:
            raise CliError(f'{args.model}: {exc}') from None
    result = evaluate_pose_set(lifter, poses, gating=not (args.no_gating or args.baseline),
                               joint_format=args.joint_format, noise=noise, seed=args.seed,
                               occlude=args.occlude, track_gate=track)
    result['model'] = str(args.model)
    result['backend'] = lifter.backend.describe()
    result['data'] = {'file': str(args.data), 'subjects': args.subjects or 'all',
                      'fps': args.fps}
    text = json.dumps(result, indent=2)
    if args.json:
        Path(args.json).write_text(text + '\n')
    if args.table:
        print(format_table(result))
    else:
        print(text)
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser('eval', help='accuracy and gating metrics on a pose file (JSON)')
    p.add_argument('--data', required=True, help='pose .npz (docs/pose-files.md)')
    p.add_argument('--json', help='also write the JSON here')
    p.add_argument('--subjects', help='comma-separated subject ids to keep (default: all)')
    p.add_argument('--fps', type=float, default=10.0, help='subsample clips to this rate')
    p.add_argument('--threshold', type=float, default=None)
    p.add_argument('--no-gating', action='store_true', help='skip the corrupted-input gating run')
    p.add_argument('--table', action='store_true', help='print a Markdown table, not JSON')
    p.add_argument('--baseline', choices=BASELINES,
                   help="score a trivial baseline with the model's contract instead")
    p.add_argument('--joint-format', default='h36m17', choices=SYNTH_FORMATS,
                   help='detector layout the poses are presented in (coco17: synthesised face)')
    p.add_argument('--noise-px', type=float, default=0.0,
                   help='detector noise: pixel std on every joint')
    p.add_argument('--noise-size', type=float, default=0.0,
                   help='detector noise: + this x person height x COCO joint spread')
    p.add_argument('--drop', type=float, default=0.0, help='share of joints not detected')
    p.add_argument('--low-conf', type=float, default=0.0,
                   help='share of badly localised, low-confidence joints (3x noise)')
    p.add_argument('--min-confidence', type=float, default=0.0,
                   help='joints with a lower confidence count as missing')
    p.add_argument('--occlude', choices=sorted(OCCLUSIONS),
                   help='hide these joints of every person (legs: knees and ankles; right/'
                        "left: that side's elbow, wrist, knee and ankle)")
    p.add_argument('--track-gate', action='store_true',
                   help="judge realism with the model's track gate: each person's realism "
                        "and its motion since the clip's previous evaluation frame")
    p.add_argument('--seed', type=int, default=0, help='seed of noise and corruptions')
    p.add_argument('--no-anchor', action='store_true',
                   help='score the raw network pose (no ray anchoring)')
    p.set_defaults(func=run)
