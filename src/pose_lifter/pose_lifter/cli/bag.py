"""``pose-lifter bag make | replay | score``: rosbag tools (docs/bags.md).

Exit codes: 0 ok, 2 unusable input (missing/damaged bag, missing topics, bad options, a pose
file or output path that cannot be used), 1 the replay failed (node never came up, died, timed
out), 130 interrupted. Every such error is one clear line on stderr; a replay output bag is
closed and readable whatever happened. Only the project's user errors
(core.errors.PoseLifterInputError), bag errors (bag.io.BagError), rosbags' own reader/writer/
serialisation errors and OS errors on files are reported that way: anything else is a bug and
keeps its traceback.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path

from ..bag.node_process import param_assignments
from ..core.backends import BACKENDS
from ..core.errors import PoseLifterInputError
from ..core.synth_keypoints import SYNTH_FORMATS


class BagOptionError(PoseLifterInputError):
    """A bag tool option out of its range or malformed."""


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(',') if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected comma-separated numbers, got {text!r}'
                                         ) from None




def run_make(args: argparse.Namespace) -> int:
    from ..bag.make import make_bag
    from ..bag.scene import SceneOptions

    for name in ('drop_prob', 'low_conf_prob', 'corrupt_prob'):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise BagOptionError(f'--{name.replace("_", "-")} must be in [0, 1]')
    if args.persons < 1 or args.noise_px < 0:
        raise BagOptionError('--persons must be >= 1 and --noise-px >= 0')
    if len(args.distortion) > 5:
        raise BagOptionError('--distortion takes at most 5 plumb_bob coefficients '
                             'k1,k2,p1,p2,k3')
    subjects = [s for item in args.subjects or [] for s in item.split(',') if s]
    opts = SceneOptions(args.cameras, args.joint_format, args.noise_px, args.drop_prob,
                        args.low_conf_prob, args.persons, args.corrupt_prob, args.distortion,
                        args.seed)
    summary = make_bag(args.poses, args.out, opts, subjects or None, args.fps, args.max_frames)
    print(json.dumps(summary))
    return 0


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM ends a replay like Ctrl-C: the node is stopped and the output bag closed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_replay(args: argparse.Namespace) -> int:
    from ..bag.replay import ReplayOptions, replay

    opts = ReplayOptions(
        rate=args.rate, model=args.model, backend=args.backend, attach=args.attach,
        keypoints_topic=args.keypoints_topic, camera_info_topic=args.camera_info_topic,
        skeletons_topic=args.skeletons_topic, markers_topic=args.markers_topic,
        diagnostics_topic=args.diagnostics_topic, timeout_s=args.timeout,
        startup_timeout_s=args.startup_timeout, drain_s=args.drain, max_gap_s=args.max_gap,
        domain_id=args.domain_id,
        node_params=param_assignments(args.param, '--param', BagOptionError))
    with _sigterm_as_interrupt():
        summary = replay(args.input, args.out, opts, log=lambda s: print(s, file=sys.stderr))
    print(json.dumps({k: summary[k] for k in ('output', 'status', 'published_frames',
                                               'answered_frames', 'recorded', 'wall_s')
                      if k in summary}))
    return 0


def default_report_dir(output_bag: str) -> Path:
    """Where ``bag score`` writes without --report: out/<bag name>/report (relative to the
    working directory)."""
    return Path('out') / Path(output_bag.rstrip('/')).name / 'report'


def run_score(args: argparse.Namespace) -> int:
    from ..bag.report import (
        baseline_rows,
        comparison_rows,
        markdown_table,
        md_table,
        summary_rows,
        to_json,
        write_report,
    )
    from ..bag.score import compare, score

    result = score(args.output, args.gt, args.threshold, args.model)
    if args.compare:
        other = score(args.compare, args.gt, args.threshold, args.model)
        result['comparison'] = compare(result, other)
        result['warnings'] += [f'{args.compare}: {w}' for w in other['warnings']]
    for warning in result['warnings']:
        print(f'pose-lifter bag score: warning: {warning}', file=sys.stderr)
    folder = Path(args.report) if args.report else default_report_dir(args.output)
    page = write_report(result, folder)
    if args.json:
        Path(args.json).write_text(json.dumps(to_json(result), indent=2) + '\n')
    print(markdown_table(summary_rows(result)))
    base = baseline_rows(result)
    if base is not None:
        print('\n' + '\n'.join(md_table(*base)))
    if result.get('comparison'):
        print('\n' + '\n'.join(md_table(*comparison_rows(result))))
    print(f'\nreport: {page}')
    return 0


def run(args: argparse.Namespace) -> int:
    from rosbags.rosbag2 import ReaderError, WriterError
    from rosbags.serde import SerdeError
    from rosbags.typesys import TypesysError

    from ..bag.io import BagError
    from ..bag.replay import ReplayError

    try:
        return args.bag_func(args)
    except ReplayError as exc:
        print(f'pose-lifter bag {args.bag_command}: error: {one_line(exc)}', file=sys.stderr)
        return 1
    except (BagError, PoseLifterInputError) as exc:
        print(f'pose-lifter bag {args.bag_command}: error: {one_line(exc)}', file=sys.stderr)
        return 2
    except (ReaderError, WriterError, SerdeError, TypesysError, OSError) as exc:
        print(f'pose-lifter bag {args.bag_command}: error: {type(exc).__name__}: '
              f'{one_line(exc)}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'pose-lifter bag {args.bag_command}: interrupted', file=sys.stderr)
        return 130


def one_line(exc: BaseException) -> str:
    """An error message on one line (library messages may span several)."""
    return ' '.join(str(exc).split())


def add_parser(sub) -> None:
    bag = sub.add_parser('bag', help='rosbag tools: make a bag, replay it through the node, '
                                     'score the recording')
    bag.set_defaults(func=run)
    cmds = bag.add_subparsers(dest='bag_command', required=True)

    p = cmds.add_parser('make', help='2D keypoints + CameraInfo + GT 3D bag from a pose file')
    p.add_argument('poses', help='pose .npz (docs/pose-files.md)')
    p.add_argument('--out', required=True, help='new bag folder (rosbag2, MCAP)')
    p.add_argument('--cameras', choices=('eval', 'front'), default='eval',
                   help='camera set: clip i uses spec i mod len(set) (core.cameras)')
    p.add_argument('--joint-format', choices=SYNTH_FORMATS, default='h36m17')
    p.add_argument('--noise-px', type=float, default=0.0, help='Gaussian pixel noise (std)')
    p.add_argument('--drop-prob', type=float, default=0.0, help='per joint: missing')
    p.add_argument('--low-conf-prob', type=float, default=0.0,
                   help='per joint: confidence 0.05-0.3 and 3x the noise')
    p.add_argument('--persons', type=int, default=1, help='persons per frame')
    p.add_argument('--corrupt-prob', type=float, default=0.0,
                   help='per person and frame: a corrupted skeleton (labelled)')
    p.add_argument('--fps', type=float, default=None, help='subsample clips to about this rate')
    p.add_argument('--subjects', nargs='+', help='subject ids to keep (default: all)')
    p.add_argument('--max-frames', type=int, default=None, help='at most this many frames')
    p.add_argument('--distortion', type=_floats, default=(),
                   help='plumb_bob k1,k2,p1,p2,k3 applied to the keypoints and CameraInfo')
    p.add_argument('--seed', type=int, default=0)
    p.set_defaults(bag_func=run_make)

    p = cmds.add_parser('replay', help='play a bag through the live node and record outputs')
    p.add_argument('input', metavar='IN', help='input bag (keypoints + CameraInfo)')
    p.add_argument('--out', required=True, help='new output bag folder')
    p.add_argument('--rate', type=float, default=1.0, help='playback speed factor')
    p.add_argument('--model', default=None, help="node's model (default: its config)")
    p.add_argument('--backend', choices=BACKENDS, default=None)
    p.add_argument('--attach', action='store_true',
                   help='use a running node (domain: ROS_DOMAIN_ID or --domain-id)')
    p.add_argument('--keypoints-topic', default='/keypoints_2d')
    p.add_argument('--camera-info-topic', default='/camera_info')
    p.add_argument('--skeletons-topic', default='/skeletons_3d')
    p.add_argument('--markers-topic', default='/markers')
    p.add_argument('--diagnostics-topic', default='/diagnostics')
    p.add_argument('--timeout', type=float, default=None,
                   help='whole-run limit, s (default: bag duration / rate + 60 s + waits)')
    p.add_argument('--startup-timeout', type=float, default=30.0,
                   help='limit for the node to come up and match, s')
    p.add_argument('--drain', type=float, default=3.0,
                   help='after the last input, wait at most this long without output, s')
    p.add_argument('--max-gap', type=float, default=2.0,
                   help='cut longer gaps in the bag timeline to this, s')
    p.add_argument('--domain-id', type=int, default=None,
                   help='DDS domain (default: a fresh one; with --attach ROS_DOMAIN_ID)')
    p.add_argument('--param', action='append', metavar='NAME:=VALUE',
                   help='extra node parameter (repeatable)')
    p.set_defaults(bag_func=run_replay)

    p = cmds.add_parser('score', help='accuracy, gating and latency report of a replay output')
    p.add_argument('output', metavar='OUT', help='output bag of `bag replay`')
    p.add_argument('--gt', default=None,
                   help='bag with /skeletons_3d_gt (default: the copy in OUT)')
    p.add_argument('--report', default=None,
                   help='report folder (default: out/<name of OUT>/report)')
    p.add_argument('--model', default=None,
                   help="the node's model, when the replay attached to a running node "
                        "(default: the replay's --model, else the shipped model); for the "
                        "report's model hash and the baselines")
    p.add_argument('--json', default=None, help='also write the JSON here')
    p.add_argument('--compare', default=None, metavar='OUT2',
                   help='another replay output of the same input bag (e.g. replayed with '
                        '--param temporal_filter:=false): its jitter, accuracy and latency '
                        'beside these, in the report and JSON (comparison)')
    p.add_argument('--threshold', type=float, default=None,
                   help="the node's realism threshold, if neither its diagnostics nor the "
                        "replay's --model tell")
    p.set_defaults(bag_func=run_score)
