"""BVH (Biovision Hierarchy) reader: the HIERARCHY tree and the MOTION table.

Accepted: one ``ROOT`` with nested ``JOINT`` and ``End Site`` blocks, an ``OFFSET`` and (for
joints) a ``CHANNELS n ...`` line each, channels in any order and any subset of
``{X,Y,Z}position`` / ``{X,Y,Z}rotation`` (case-insensitive, e.g. 6-channel joints below the
root), then ``MOTION``, ``Frames: F``, ``Frame Time: dt`` and F rows of numbers. Joint names may
contain spaces; an ``End Site`` becomes a channel-less joint named ``<parent>_end``.
Every problem raises ``BvhError`` naming the file and line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_CHANNEL = re.compile(r'^([xyz])(position|rotation)$', re.IGNORECASE)


class BvhError(ValueError):
    """A BVH file that cannot be read; the message names the file and (where known) the line."""


@dataclass(frozen=True)
class BvhJoint:
    """One node of the hierarchy."""

    name: str
    parent: int                  # index into Bvh.joints, -1 for the root
    offset: np.ndarray           # (3,) float64, file units, in the parent's frame
    channels: tuple[str, ...]    # normalised, e.g. ('Xposition', 'Zrotation', ...)
    first_column: int            # column of channels[0] in Bvh.motion
    end_site: bool = False


@dataclass
class Bvh:
    """A parsed file. Joints are in file order, so every parent comes before its children."""

    joints: list[BvhJoint]
    motion: np.ndarray           # (F, C) float64, C = sum of the channel counts
    frame_time: float            # seconds per frame
    path: str = '<string>'

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    @property
    def names(self) -> list[str]:
        return [j.name for j in self.joints]

    def __len__(self) -> int:
        return len(self.motion)


def _tokens(text: str) -> list[tuple[str, int]]:
    """(token, 1-based line) pairs; braces are tokens even when glued to a word."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        for tok in line.replace('{', ' { ').replace('}', ' } ').split():
            out.append((tok, number))
    return out


class _Reader:
    def __init__(self, tokens: list[tuple[str, int]], path: str):
        self.toks, self.i, self.path = tokens, 0, path

    def error(self, msg: str, line: int | None = None) -> BvhError:
        if line is None:
            line = self.toks[min(self.i, len(self.toks) - 1)][1] if self.toks else 1
        return BvhError(f'{self.path}:{line}: {msg}')

    def peek(self) -> str | None:
        return self.toks[self.i][0] if self.i < len(self.toks) else None

    def take(self, what: str) -> tuple[str, int]:
        if self.i >= len(self.toks):
            raise self.error(f'the hierarchy ends early (a missing brace?), expected {what}')
        self.i += 1
        return self.toks[self.i - 1]

    def expect(self, word: str) -> int:
        tok, line = self.take(repr(word))
        if tok.upper() != word.upper():
            raise self.error(f'expected {word!r}, found {tok!r}', line)
        return line

    def number(self, what: str) -> float:
        tok, line = self.take(what)
        try:
            value = float(tok)
        except ValueError:
            raise self.error(f'{what}: {tok!r} is not a number', line) from None
        if not np.isfinite(value):
            raise self.error(f'{what}: {tok!r} is not finite', line)
        return value

    def name(self, keyword: str, line: int) -> str:
        """The rest of the keyword's line up to a brace (names may contain spaces)."""
        words = []
        while self.i < len(self.toks) and self.toks[self.i][1] == line \
                and self.toks[self.i][0] not in ('{', '}'):
            words.append(self.toks[self.i][0])
            self.i += 1
        if not words:
            raise self.error(f'{keyword} without a name', line)
        return ' '.join(words)


def _same_line(r: _Reader, line: int, what: str) -> None:
    if r.i >= len(r.toks) or r.toks[r.i][1] != line:
        raise r.error(f'{what} is missing', line)


def _channels(r: _Reader) -> tuple[str, ...]:
    line = r.expect('CHANNELS')
    _same_line(r, line, 'the channel count')
    count = r.number('channel count')
    if count != int(count) or not 0 <= count <= 6:
        raise r.error(f'channel count must be 0..6, got {count:g}', line)
    out = []
    for k in range(int(count)):
        _same_line(r, line, f'channel {k + 1} of {int(count)}')
        tok, tline = r.take('a channel name')
        m = _CHANNEL.match(tok)
        if not m:
            raise r.error(f'unknown channel {tok!r} (expected Xposition .. Zrotation)', tline)
        out.append(m.group(1).upper() + m.group(2).lower())
    if len(set(out)) != len(out):
        raise r.error(f'repeated channel in {out}', line)
    return tuple(out)


def _offset(r: _Reader) -> np.ndarray:
    line = r.expect('OFFSET')
    out = []
    for axis in 'xyz':
        _same_line(r, line, f'OFFSET {axis} (OFFSET needs x y z)')
        out.append(r.number(f'OFFSET {axis}'))
    return np.array(out)


def _block(r: _Reader, name: str, line: int, parent: int, joints: list[BvhJoint],
           column: int) -> int:
    """Parse ``{ OFFSET CHANNELS children }`` of one joint; return the next free column."""
    if any(j.name == name for j in joints):
        raise r.error(f'joint names are not unique: {name!r} again', line)
    r.expect('{')
    offset = _offset(r)
    channels = _channels(r)
    index = len(joints)
    joints.append(BvhJoint(name, parent, offset, channels, column))
    column += len(channels)
    while True:
        tok, line = r.take("'JOINT', 'End Site' or '}'")
        word = tok.upper()
        if word == '}':
            return column
        if word == 'JOINT':
            column = _block(r, r.name('JOINT', line), line, index, joints, column)
        elif word == 'END':
            if any(j.name == f'{name}_end' for j in joints):
                raise r.error(f'the End Site of {name!r} clashes with a joint named '
                              f'{name + "_end"!r}', line)
            r.expect('Site')
            r.expect('{')
            end = _offset(r)
            r.expect('}')
            joints.append(BvhJoint(f'{name}_end', index, end, (), column, end_site=True))
        else:
            raise r.error(f"expected 'JOINT', 'End Site' or '}}', found {tok!r}", line)


def _hierarchy(r: _Reader) -> list[BvhJoint]:
    if r.peek() is None:
        raise r.error('empty: no HIERARCHY (not a BVH file?)')
    if r.peek().upper() != 'HIERARCHY':
        raise r.error(f"expected 'HIERARCHY', found {r.peek()!r} (not a BVH file?)")
    r.take('HIERARCHY')
    tok, line = r.take("'ROOT'")
    if tok.upper() != 'ROOT':
        raise r.error(f"expected 'ROOT', found {tok!r}", line)
    joints: list[BvhJoint] = []
    _block(r, r.name('ROOT', line), line, -1, joints, 0)
    if r.peek() is not None and r.peek().upper() == 'ROOT':
        raise r.error('a second ROOT (several skeletons in one file) is not supported')
    return joints


_FRAMES = re.compile(r'^\s*frames\s*:\s*(\S+)\s*$', re.IGNORECASE)
_FRAME_TIME = re.compile(r'^\s*frame\s+time\s*:\s*(\S+)\s*$', re.IGNORECASE)


def _header(lines: list[str], at: int, pattern: re.Pattern, label: str, path: str
            ) -> tuple[float, int]:
    """Value of the ``label:`` line, the first non-blank line from ``at``; (value, next line)."""
    while at < len(lines) and not lines[at].strip():
        at += 1
    if at >= len(lines):
        raise BvhError(f'{path}:{len(lines)}: unexpected end of file, expected {label + ":"!r}')
    m = pattern.match(lines[at])
    if not m:
        raise BvhError(f'{path}:{at + 1}: expected {label + ":"!r}, found {lines[at].strip()!r}')
    try:
        value = float(m.group(1))
    except ValueError:
        raise BvhError(f'{path}:{at + 1}: {label}: {m.group(1)!r} is not a number') from None
    return value, at + 1


def _motion(lines: list[str], at: int, channels: int, path: str) -> tuple[np.ndarray, float]:
    """The MOTION section; ``at`` is the index of the line after ``MOTION``."""
    frames, at = _header(lines, at, _FRAMES, 'Frames', path)
    if frames != int(frames) or frames < 0:
        raise BvhError(f'{path}:{at}: Frames must be a whole number >= 0, got {frames:g}')
    frame_time, at = _header(lines, at, _FRAME_TIME, 'Frame Time', path)
    if not frame_time > 0 or not np.isfinite(frame_time):
        raise BvhError(f'{path}:{at}: Frame Time must be > 0, got {frame_time:g}')
    rows = [(n, s) for n, s in enumerate(lines[at:], at + 1) if s.strip()]
    frames = int(frames)
    if len(rows) < frames:
        raise BvhError(f'{path}:{len(lines)}: Frames says {frames} but only {len(rows)} rows '
                       'of motion follow')
    if len(rows) > frames:
        raise BvhError(f'{path}:{rows[frames][0]}: Frames says {frames} but {len(rows)} rows '
                       'of motion follow')
    try:
        values = np.array(' '.join(s for _, s in rows).split(), dtype=np.float64)
    except ValueError:
        values = None
    if values is None or values.size != frames * channels or not np.isfinite(values).all():
        for n, s in rows:               # find the first bad row for the message
            try:
                row = np.array(s.split(), dtype=np.float64)
            except ValueError:
                raise BvhError(f'{path}:{n}: motion row holds a value that is not a number'
                               ) from None
            if row.size != channels:
                raise BvhError(f'{path}:{n}: motion row has {row.size} values, the hierarchy '
                               f'declares {channels} channels')
            if not np.isfinite(row).all():
                raise BvhError(f'{path}:{n}: motion row holds a non-finite value')
    return values.reshape(frames, channels), frame_time


def parse_bvh(text: str, path: str = '<string>') -> Bvh:
    """Parse the text of a BVH file (see the module docstring for what is accepted)."""
    lines = text.splitlines()
    motion_at = next((n for n, s in enumerate(lines) if s.strip().upper() == 'MOTION'), None)
    r = _Reader(_tokens('\n'.join(lines[:motion_at])), path)
    joints = _hierarchy(r)
    if r.peek() is not None:
        raise r.error(f'unexpected {r.peek()!r} after the hierarchy')
    if motion_at is None:
        raise BvhError(f'{path}:{len(lines)}: no MOTION section after the hierarchy')
    channels = sum(len(j.channels) for j in joints)
    motion, frame_time = _motion(lines, motion_at + 1, channels, path)
    return Bvh(joints, motion, frame_time, path)


def read_bvh(path: str | Path) -> Bvh:
    """Read and parse a BVH file; unreadable files raise ``BvhError`` too."""
    path = Path(path)
    try:
        text = path.read_text(encoding='utf-8', errors='replace')
    except OSError as exc:
        raise BvhError(f'{path}: cannot read ({exc.strerror or exc})') from None
    return parse_bvh(text, str(path))
