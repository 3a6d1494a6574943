"""``pose-lifter lift``: batch lifting of detector output (docs/cli.md).

Bounded memory at any N: the input members are streamed ``--chunk`` persons at a time
(``npz_stream``; only ``keypoints``, ``confidence``, ``K`` and ``joint_format`` are read, other
keys never), results go to arrays on disk next to the output, and the output ``.npz`` is written
from them block by block. The output path is checked (``.npz`` suffix, existing directory, a
file can be created there) before any work starts; the file appears only when complete.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..core.backends import create_backend
from ..core.errors import PoseLifterInputError
from ..core.pipeline import Lifter
from .npz_stream import Member, NpzError, members, write_member

DEFAULT_CHUNK = 4096           # persons lifted per call
MAX_FORMAT_CHARS = 64


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit code 2."""


class Inputs:
    """The members of ``kp.npz`` that ``lift`` uses, checked from their headers."""

    def __init__(self, path: Path):
        self.path = path
        if not path.is_file():
            raise CliError(f'input file not found: {path}')
        try:
            self.zf = zipfile.ZipFile(path)
            found = members(self.zf)
        except (zipfile.BadZipFile, OSError, NpzError) as exc:
            raise CliError(f'{path}: not a readable .npz file ({exc})') from None
        for key in ('keypoints', 'K'):
            if key not in found:
                raise CliError(f'{path}: missing array {key!r} (need keypoints (N, J, 2) and K)')
        self.keypoints: Member = found['keypoints']
        self.confidence: Member | None = found.get('confidence')
        kp = self.keypoints.shape
        if len(kp) != 3 or kp[2] != 2:
            raise CliError(f'{path}: keypoints must have shape (N, J, 2), got {kp}')
        self.n = kp[0]
        if self.confidence is not None and self.confidence.shape != kp[:2]:
            raise CliError(f'{path}: confidence must have shape {kp[:2]} (N, J), got '
                           f'{self.confidence.shape}')
        for m in (self.keypoints, self.confidence):
            if m is not None and m.dtype.kind not in 'fiub':
                raise CliError(f'{path}: {m.name} must be numbers, got dtype {m.dtype}')
        k = found['K']
        if k.shape not in ((3, 3), (self.n, 3, 3)) or k.dtype.kind not in 'fiu':
            raise CliError(f'{path}: K must be (3, 3) or (N, 3, 3) numbers, got {k.shape} '
                           f'{k.dtype}')
        fmt = found.get('joint_format')
        if fmt is not None and (fmt.shape != () or fmt.dtype.kind != 'U'
                                or fmt.dtype.itemsize > 4 * MAX_FORMAT_CHARS):
            raise CliError(f'{path}: joint_format must be a short string (0-d array), got '
                           f'shape {fmt.shape} dtype {fmt.dtype}')
        try:
            self.K_shared = k.read_all() if k.shape == (3, 3) else None
            self.joint_format = 'h36m17' if fmt is None else str(fmt.read_all()[()])
        except (NpzError, zipfile.BadZipFile, OSError, EOFError) as exc:
            raise CliError(f'{path}: {exc}') from None
        self.K = k

    def chunks(self, rows: int):
        """(keypoints, K, confidence) blocks of at most ``rows`` persons."""
        try:
            kp = self.keypoints.blocks(rows)
            conf = self.confidence.blocks(rows) if self.confidence is not None else None
            ks = self.K.blocks(rows) if self.K_shared is None else None
            for block in kp:
                yield (block, self.K_shared if ks is None else next(ks),
                       None if conf is None else next(conf))
        except (NpzError, zipfile.BadZipFile, OSError, EOFError) as exc:
            raise CliError(f'{self.path}: {exc}') from None


def check_output(path: str) -> tuple[Path, Path]:
    """The output path and a fresh temporary file beside it, before any work is done."""
    out = Path(path)
    if out.suffix != '.npz':
        raise CliError(f'--output must end in .npz (got {path!r}): the output is an .npz file')
    if out.is_dir():
        raise CliError(f'--output {path} is a directory')
    if not out.parent.is_dir():
        raise CliError(f'output directory does not exist: {out.parent}')
    try:
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f'.{out.name}.', suffix='.part')
    except OSError as exc:
        raise CliError(f'cannot write {out}: {exc.strerror or exc}') from None
    os.close(fd)
    return out, Path(tmp)


def run(args: argparse.Namespace) -> int:
    if args.chunk < 1:
        raise CliError(f'--chunk must be >= 1, got {args.chunk}')
    inputs = Inputs(Path(args.input))
    out, part = check_output(args.output)
    try:
        with tempfile.TemporaryDirectory(dir=out.parent, prefix='.lift-') as work:
            lifter = Lifter(create_backend(args.model, args.backend),
                            realism_threshold=args.threshold,
                            min_valid_joints=args.min_valid_joints,
                            anchor_to_rays=not args.no_anchor, min_confidence=args.min_confidence)
            try:
                counts = _lift_to(lifter, inputs, Path(work), part, args)
            except OSError as exc:                  # disk full, directory gone meanwhile
                raise CliError(f'cannot write {out}: {exc.strerror or exc}') from None
        os.replace(part, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
        inputs.zf.close()
    print(f'lifted {inputs.n} persons with {lifter.backend.describe()}: {counts} -> {out}')
    return 0


def _lift_to(lifter: Lifter, inputs: Inputs, work: Path, part: Path,
             args: argparse.Namespace) -> dict[str, int]:
    """Lift every chunk into on-disk arrays, then write them as the ``.npz`` at ``part``."""
    n, rows = inputs.n, args.chunk
    arrays = {
        'joints3d': ((n, 17, 3), np.float32), 'realism': ((n,), np.float32),
        'plausible': ((n,), np.bool_), 'status': ((n,), 'U32'),
        'valid_joints': ((n,), np.int64)}
    res = {k: np.lib.format.open_memmap(work / f'{k}.npy', 'w+', dtype, shape)
           for k, (shape, dtype) in arrays.items()}
    start = 0
    for kp, K, conf in inputs.chunks(rows):
        try:
            r = lifter.lift(kp, K, conf, inputs.joint_format)
        except PoseLifterInputError as exc:      # anything else is a bug: its traceback
            raise CliError(f'{args.input}: {exc}') from None
        stop = start + len(kp)
        res['joints3d'][start:stop] = r.joints3d
        res['realism'][start:stop] = r.realism
        res['plausible'][start:stop] = r.plausible
        res['status'][start:stop] = r.status.astype(str)
        res['valid_joints'][start:stop] = r.valid_joints
        start = stop
    status = res['status']
    names = sorted({str(s) for i in range(0, n, rows) for s in np.unique(status[i:i + rows])})
    counts = {s: int(sum(int((status[i:i + rows] == s).sum()) for i in range(0, n, rows)))
              for s in names}
    width = max((len(s) for s in names), default=1)
    with zipfile.ZipFile(part, 'w', zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, arr in res.items():
            write_member(zf, key, arr, rows, f'U{width}' if key == 'status' else None)
    return counts


def add_parser(sub) -> None:
    p = sub.add_parser('lift', help='lift 2D keypoints from an .npz file to metric 3D')
    p.add_argument('--input', required=True, help='kp.npz: keypoints, confidence, K, joint_format')
    p.add_argument('--output', required=True,
                   help='out.npz (must end in .npz): joints3d, realism, plausible, status')
    p.add_argument('--threshold', type=float, default=None,
                   help="realism threshold (default: the model's calibrated one)")
    p.add_argument('--min-valid-joints', type=int, default=12)
    p.add_argument('--min-confidence', type=float, default=0.0,
                   help='joints with a lower confidence count as missing (default 0: any > 0)')
    p.add_argument('--no-anchor', action='store_true',
                   help='return the raw network pose instead of anchoring joints to their rays')
    p.add_argument('--chunk', type=int, default=DEFAULT_CHUNK,
                   help=f'persons lifted per call (memory bound; default {DEFAULT_CHUNK})')
    p.set_defaults(func=run)
