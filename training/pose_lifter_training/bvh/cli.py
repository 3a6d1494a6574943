"""``pose-lifter-train convert-bvh``: many BVH files -> one pose file.

    pose-lifter-train convert-bvh BVH_DIR [MORE ...] --rig cmu --out data/poses.npz \
        [--fps 30] [--subject S | --subject-pattern REGEX] [--units cm | --scale 10] [--up Z]

A file that cannot be read or converted is reported in one line and skipped (counted in the
summary); ``--strict`` stops at the first one instead and writes nothing.
"""
from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from .convert import (
    Clip,
    ConversionError,
    clip_names,
    convert_bvh,
    find_bvh_files,
    subject_from_name,
    write_pose_file,
)
from .parse import BvhError, read_bvh
from .rig import UNITS_MM, UP_AXES, RigError, builtin_rigs, check_pattern, load_rig


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``convert-bvh`` on the ``pose-lifter-train`` subcommands."""
    p = sub.add_parser('convert-bvh', help='BVH motion capture -> pose file (docs/data.md)',
                       description=__doc__.split('\n')[0])
    p.add_argument('inputs', nargs='+', metavar='FILE_OR_DIR',
                   help='.bvh files, or folders searched recursively for them')
    p.add_argument('--rig', required=True,
                   help=f'joint mapping: {" | ".join(builtin_rigs())} or the path of a rig YAML')
    p.add_argument('--out', required=True, help='pose file to write (.npz)')
    p.add_argument('--fps', type=float, help='subsample each clip to about this frame rate')
    p.add_argument('--subject', help='subject id of every file (default: from the file name)')
    p.add_argument('--subject-pattern', help="regex on the file name whose group 1 (or group "
                   "'subject') is the subject; default: the rig's, e.g. CMU 02_01 -> 02")
    unit = p.add_mutually_exclusive_group()
    unit.add_argument('--units', choices=[*UNITS_MM, 'auto'],
                      help="the files' length unit (default: the rig's); auto: the unit that "
                      'gives an adult-sized skeleton')
    unit.add_argument('--scale', type=float, help='millimetres per file unit')
    p.add_argument('--up', choices=UP_AXES, help="the files' up axis (default: the rig's)")
    p.add_argument('--skip-frames', type=int, help="leading frames to drop (default: the rig's)")
    p.add_argument('--strict', action='store_true', help='stop at the first bad file')


def _convert_one(path, name: str, rig, args: argparse.Namespace) -> Clip:
    bvh = read_bvh(path)
    subject = args.subject or subject_from_name(path.stem,
                                                args.subject_pattern or rig.subject_pattern)
    return convert_bvh(bvh, rig, name, subject, scale_to_mm=args.scale,
                       units=args.units, up_axis=args.up, target_fps=args.fps,
                       skip_frames=args.skip_frames)


def run(args: argparse.Namespace) -> int:
    """Convert, print a summary; 0 when a file was written, 2 otherwise (130: interrupted)."""
    try:
        return _run(args)
    except KeyboardInterrupt:
        print('interrupted: nothing written', file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    try:
        rig = load_rig(args.rig)
        if args.scale is not None and not args.scale > 0:
            raise RigError(f'--scale must be > 0, got {args.scale:g}')
        if args.fps is not None and not args.fps > 0:
            raise RigError(f'--fps must be > 0, got {args.fps:g}')
        if args.skip_frames is not None and args.skip_frames < 0:
            raise RigError(f'--skip-frames must be >= 0, got {args.skip_frames}')
        if args.subject_pattern is not None:
            check_pattern(args.subject_pattern, '--subject-pattern')
        files = find_bvh_files(args.inputs)
    except (RigError, FileNotFoundError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    if not files:
        print(f'error: no .bvh files in {" ".join(args.inputs)}', file=sys.stderr)
        return 2
    clips, skipped = [], 0
    bar = tqdm(files, desc='convert-bvh', unit='file', disable=None)
    for path, name in zip(bar, clip_names(files)):
        try:
            clips.append(_convert_one(path, name, rig, args))
        except (BvhError, ConversionError) as exc:
            msg = str(exc) if str(path) in str(exc) else f'{path}: {exc}'
            if args.strict:
                bar.close()
                print(f'error: {msg}\nstopped (--strict): nothing written', file=sys.stderr)
                return 2
            skipped += 1
            tqdm.write(f'skipped {msg}', file=sys.stderr)
    bar.close()
    if not clips:
        print(f'error: none of the {len(files)} files could be converted', file=sys.stderr)
        return 2
    try:
        write_pose_file(args.out, clips)
    except OSError as exc:
        print(f'error: cannot write {args.out}: {exc.strerror or exc}', file=sys.stderr)
        return 2
    frames = sum(len(c.joints) for c in clips)
    subjects = sorted({c.subject for c in clips})
    units = sorted({c.units for c in clips})
    print(f'wrote {args.out}: {len(clips)} clips, {frames} frames, subjects {" ".join(subjects)}'
          f', rig {rig.name}, source units {", ".join(units)}')
    if skipped:
        print(f'skipped {skipped} of {len(files)} files (reasons above)', file=sys.stderr)
    return 0
