"""``pose-lifter lift``: batch lifting of detector output (docs/cli.md)."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..core.backends import create_backend
from ..core.pipeline import Lifter


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit code 2."""


def load_keypoints(path: Path) -> dict:
    """Read ``kp.npz``: keypoints (N, J, 2), optional confidence (N, J), K, joint_format."""
    if not path.is_file():
        raise CliError(f'input file not found: {path}')
    try:
        with np.load(path, allow_pickle=False) as d:
            data = {k: d[k] for k in d.files}
    except Exception as exc:
        raise CliError(f'{path}: not a readable .npz file ({exc})') from None
    for key in ('keypoints', 'K'):
        if key not in data:
            raise CliError(f'{path}: missing array {key!r} (need keypoints (N, J, 2) and K)')
    data['joint_format'] = str(data.get('joint_format', 'h36m17'))
    return data


def run(args: argparse.Namespace) -> int:
    data = load_keypoints(Path(args.input))
    lifter = Lifter(create_backend(args.model, args.backend),
                    realism_threshold=args.threshold, min_valid_joints=args.min_valid_joints,
                    anchor_to_rays=not args.no_anchor, min_confidence=args.min_confidence)
    try:
        res = lifter.lift(data['keypoints'], data['K'], data.get('confidence'),
                          data['joint_format'])
    except ValueError as exc:
        raise CliError(f'{args.input}: {exc}') from None
    np.savez(args.output, joints3d=res.joints3d.astype(np.float32),
             realism=res.realism.astype(np.float32), plausible=res.plausible,
             status=res.status.astype(str), valid_joints=res.valid_joints)
    counts = {str(s): int((res.status == s).sum()) for s in np.unique(res.status.astype(str))}
    print(f'lifted {len(res)} persons with {lifter.backend.describe()}: {counts} '
          f'-> {args.output}')
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser('lift', help='lift 2D keypoints from an .npz file to metric 3D')
    p.add_argument('--input', required=True, help='kp.npz: keypoints, confidence, K, joint_format')
    p.add_argument('--output', required=True, help='out.npz: joints3d, realism, plausible, status')
    p.add_argument('--threshold', type=float, default=None,
                   help="realism threshold (default: the model's calibrated one)")
    p.add_argument('--min-valid-joints', type=int, default=12)
    p.add_argument('--min-confidence', type=float, default=0.0,
                   help='joints with a lower confidence count as missing (default 0: any > 0)')
    p.add_argument('--no-anchor', action='store_true',
                   help='return the raw network pose instead of anchoring joints to their rays')
    p.set_defaults(func=run)
