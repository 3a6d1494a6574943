"""``pose-lifter``: lift / eval / bench / bag. Errors print one clear line and exit non-zero."""
from __future__ import annotations

import argparse
import sys

from ..core.backends import BACKENDS, BackendError
from ..core.errors import PoseLifterInputError
from ..resources import default_model, demo_poses
from . import bag, bench, evaluate, lift
from .lift import CliError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='pose-lifter', description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('--model', default=str(default_model()),
                        help='self-describing ONNX model (default: the shipped model)')
    common.add_argument('--backend', default='auto', choices=BACKENDS)
    sub = parser.add_subparsers(dest='command', required=True)
    for add in (lift.add_parser, evaluate.add_parser):
        add(_with_parents(sub, common))
    bench.add_parser(_with_parents(sub, common), demo_poses())
    bag.add_parser(sub)
    return parser


class _with_parents:
    """Subparser factory adding the shared options to every command."""

    def __init__(self, sub, common):
        self.sub, self.common = sub, common

    def add_parser(self, name, **kw):
        return self.sub.add_parser(name, parents=[self.common], **kw)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    # User errors only (every one derives from PoseLifterInputError, or is the CLI's own or a
    # backend that cannot run); any other exception is a bug and keeps its traceback.
    except (CliError, PoseLifterInputError, BackendError) as exc:
        print(f'pose-lifter {args.command}: error: {exc}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
