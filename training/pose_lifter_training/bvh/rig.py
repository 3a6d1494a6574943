"""Rig mappings: how the joints of one family of BVH skeletons make the 17 H36M-17 joints.

A rig is data (``rigs/<name>.yaml``, or any YAML a user writes; docs/data.md explains the format):

    name: cmu                      # stored per clip as clip_rigs
    units: cmu                     # mm | cm | m | inch | cmu | auto, or scale_to_mm: 56.444
    up_axis: Y                     # the file's up axis: Y or Z
    translation: replace           # position channels replace (or add to) the OFFSET
    skip_frames: 1                 # leading frames that are not motion (a T-pose)
    subject_pattern: '^(\\d+)_'     # regex on the file name; group 1 (or 'subject') = subject
    joints:
      pelvis: {mean: [LeftUpLeg, RightUpLeg]}          # mean of rig joints (weights: optional)
      r_hip: RightUpLeg                               # a rig joint
      thorax: [Neck1, Neck]                           # the first of these the file has
      head: {joint: Head, offset: [0, 135, 20]}       # fixed offset (mm) in a joint's frame
      ...                                             # all 17 H36M-17 joints

Offsets are in millimetres, along the axes of the rig joint's own frame (the frame its
children's OFFSETs are written in), so they do not depend on the file's units.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pose_lifter.core.skeleton import H36M17

from .kinematics import TRANSLATION_MODES

RIG_DIR = Path(__file__).resolve().parents[1] / 'rigs'
UNITS_MM = {'mm': 1.0, 'cm': 10.0, 'm': 1000.0, 'inch': 25.4,
            # CMU ASF/AMC length unit (``:units length 0.45``), kept by the cgspeed BVH release:
            # 1 unit = 1/0.45 inch.
            'cmu': 25.4 / 0.45}
UP_AXES = ('Y', 'Z')
_KEYS = {'name', 'description', 'units', 'scale_to_mm', 'up_axis', 'translation',
         'skip_frames', 'subject_pattern', 'joints', 'source', 'license'}


class RigError(ValueError):
    """A rig file that does not describe a usable mapping."""


@dataclass(frozen=True)
class JointSpec:
    """How one H36M-17 joint is made: weighted mean of rig joints, plus an optional offset (mm)
    in the frame of the first of them. Each entry of ``sources`` lists alternative names."""

    sources: tuple[tuple[str, ...], ...]
    weights: tuple[float, ...]
    offset: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class Rig:
    name: str
    joints: dict[str, JointSpec]
    scale_to_mm: float | None = None     # None: from ``units`` ('auto' -> estimated per file)
    units: str = 'mm'
    up_axis: str = 'Y'
    translation: str = 'replace'
    skip_frames: int = 0
    subject_pattern: str | None = None
    extra: dict = field(default_factory=dict)


def _names(value, where: str) -> tuple[str, ...]:
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise RigError(f'{where}: expected a joint name or a list of alternative names, got {value!r}')


def _spec(value, where: str) -> JointSpec:
    if not isinstance(value, dict):
        return JointSpec((_names(value, where),), (1.0,))
    unknown = set(value) - {'joint', 'mean', 'weights', 'offset'}
    if unknown or ('joint' in value) == ('mean' in value):
        raise RigError(f'{where}: give either joint: NAME or mean: [NAMES] (plus optional '
                       f'weights, offset); got keys {sorted(value)}')
    if 'joint' in value:
        sources = (_names(value['joint'], where),)
    else:
        if not isinstance(value['mean'], list) or not value['mean']:
            raise RigError(f'{where}: mean must be a non-empty list of joint names')
        sources = tuple(_names(v, where) for v in value['mean'])
    weights = value.get('weights', [1.0] * len(sources))
    if not isinstance(weights, list) or len(weights) != len(sources) or not all(
            isinstance(w, (int, float)) and math.isfinite(w) and w >= 0 for w in weights) \
            or sum(weights) <= 0:
        raise RigError(f'{where}: weights must be {len(sources)} numbers >= 0 with a '
                       f'positive sum, got {weights!r}')
    offset = value.get('offset')
    if offset is not None:
        if not isinstance(offset, list) or len(offset) != 3 or not all(
                isinstance(o, (int, float)) and math.isfinite(o) for o in offset):
            raise RigError(f'{where}: offset must be [x, y, z], got {offset!r}')
        offset = tuple(float(o) for o in offset)
    return JointSpec(sources, tuple(float(w) / sum(weights) for w in weights), offset)


def rig_from_dict(data: dict, where: str = 'rig') -> Rig:
    """Validate a rig mapping read from YAML."""
    if not isinstance(data, dict):
        raise RigError(f'{where}: a rig file is a YAML mapping')
    unknown = set(data) - _KEYS
    if unknown:
        raise RigError(f'{where}: unknown keys {sorted(unknown)} (allowed: {sorted(_KEYS)})')
    joints = data.get('joints')
    if not isinstance(joints, dict):
        raise RigError(f'{where}: needs a joints: mapping for the 17 H36M-17 joints')
    wanted = set(H36M17.joint_names)
    if set(joints) != wanted:
        raise RigError(f'{where}: joints must be exactly the H36M-17 joints; missing '
                       f'{sorted(wanted - set(joints))}, unknown {sorted(set(joints) - wanted)}')
    units = str(data.get('units', 'mm'))
    scale = data.get('scale_to_mm')
    if scale is not None:
        scale = parse_scale(scale, where)
    elif units != 'auto' and units not in UNITS_MM:
        raise RigError(f'{where}: units must be one of {sorted(UNITS_MM)} or auto, got {units!r}')
    up = str(data.get('up_axis', 'Y')).upper()
    if up not in UP_AXES:
        raise RigError(f'{where}: up_axis must be Y or Z, got {up!r}')
    translation = data.get('translation', 'replace')
    if translation not in TRANSLATION_MODES:
        raise RigError(f'{where}: translation must be one of {TRANSLATION_MODES}')
    skip = data.get('skip_frames', 0)
    if not isinstance(skip, int) or skip < 0:
        raise RigError(f'{where}: skip_frames must be a whole number >= 0, got {skip!r}')
    pattern = data.get('subject_pattern')
    if pattern is not None:
        check_pattern(pattern, f'{where}: subject_pattern')
    name = data.get('name')
    if not isinstance(name, str) or not name:
        raise RigError(f'{where}: needs a name (stored as clip_rigs)')
    specs = {j: _spec(joints[j], f'{where}: joints.{j}') for j in H36M17.joint_names}
    return Rig(name, specs, scale, units, up, translation, skip, pattern,
               {k: data[k] for k in ('description', 'source', 'license') if k in data})


def check_pattern(pattern, where: str = 'subject pattern') -> str:
    """A subject pattern must be a valid regular expression."""
    if not isinstance(pattern, str) or not pattern:
        raise RigError(f'{where} must be a regular expression, got {pattern!r}')
    try:
        re.compile(pattern)
    except re.error as exc:
        raise RigError(f'{where} {pattern!r} is not a valid regular expression ({exc})'
                       ) from None
    return pattern


def parse_scale(value, where: str = 'scale') -> float:
    try:
        scale = float(value)
    except (TypeError, ValueError):
        raise RigError(f'{where}: scale_to_mm must be a number, got {value!r}') from None
    if not (math.isfinite(scale) and scale > 0):
        raise RigError(f'{where}: scale_to_mm must be > 0, got {value!r}')
    return scale


def builtin_rigs() -> list[str]:
    """Names of the rig files shipped with the package."""
    return sorted(p.stem for p in RIG_DIR.glob('*.yaml'))


def load_rig(name_or_path: str | Path) -> Rig:
    """A shipped rig by name (``cmu``, ``bandai_namco``) or a rig YAML by path."""
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith(('.yaml', '.yml')) or path.is_file()):
        path = RIG_DIR / f'{text}.yaml'
        if not path.is_file():
            raise RigError(f'unknown rig {text!r}: shipped rigs are {builtin_rigs()}, or give '
                           'the path of a rig YAML')
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise RigError(f'{path}: cannot read ({exc.strerror or exc})') from None
    except yaml.YAMLError as exc:
        raise RigError(f'{path}: not valid YAML ({exc})') from None
    return rig_from_dict(data, str(path))
