"""BVH motion capture -> the project's pose file (H36M-17, millimetres, Y up).

One BVH file becomes one clip: forward kinematics (``kinematics``), the rig's joint mapping
(``rig``), units to millimetres, the up axis to Y, optional subsampling. ``write_pose_file``
stores many clips in the layout ``pose_lifter.core.poses.load_pose_file`` reads.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from pose_lifter.core.skeleton import H36M17

from .kinematics import forward_kinematics
from .parse import Bvh
from .rig import UNITS_MM, Rig

# Ankle -> knee -> hip -> pelvis -> spine -> thorax path of an adult, mm: median 1373
# (1st-99th percentile 1320-1430) in the project's CMU file; used by units 'auto' only.
ADULT_CHAIN_MM = 1370.0
_CHAIN = ('l_ankle', 'l_knee', 'l_hip', 'pelvis', 'spine', 'thorax')
THIGH_MM_RANGE = (150.0, 1000.0)      # a median hip-knee length outside this: wrong units


class ConversionError(ValueError):
    """A parsed BVH file that cannot become a clip (rig mismatch, implausible size, ...)."""


@dataclass
class Clip:
    """One converted file."""

    name: str
    subject: str
    rig: str
    fps: float
    joints: np.ndarray          # (F, 17, 3) float32, mm, Y up
    units: str = 'mm'           # the source units that were converted ('scale x.xx' if given)


def _index(bvh: Bvh, names: tuple[str, ...], target: str) -> int:
    have = {n: k for k, n in enumerate(bvh.names)}
    for n in names:
        if n in have:
            return have[n]
    shown = ', '.join(j.name for j in bvh.joints if not j.end_site)
    raise ConversionError(f'{bvh.path}: rig joint {" or ".join(names)} (for {target}) is not in '
                          f'the file; its joints are: {shown}')


def map_joints(bvh: Bvh, rig: Rig, scale_to_mm: float | None = 1.0) -> np.ndarray:
    """H36M-17 joints of every frame in the file's axes: (F, 17, 3) float64, millimetres
    (file units x ``scale_to_mm``). ``scale_to_mm=None``: file units, rig offsets left out."""
    pos, rot = forward_kinematics(bvh, rig.translation)
    out = np.zeros((len(bvh), H36M17.num_joints, 3))
    for j, target in enumerate(H36M17.joint_names):
        spec = rig.joints[target]
        idx = [_index(bvh, names, target) for names in spec.sources]
        for w, i in zip(spec.weights, idx):
            out[:, j] += w * pos[:, i]
        if scale_to_mm is None:
            continue
        out[:, j] *= scale_to_mm
        if spec.offset is not None:
            out[:, j] += rot[:, idx[0]] @ np.asarray(spec.offset)
    return out


def chain_length(points: np.ndarray) -> np.ndarray:
    """(..., 17, 3) -> (...,) length of the ankle-to-thorax path (``_CHAIN``)."""
    idx = [H36M17.index(n) for n in _CHAIN]
    return np.linalg.norm(np.diff(points[..., idx, :], axis=-2), axis=-1).sum(axis=-1)


def guess_units(points: np.ndarray) -> str:
    """Units 'auto': the unit that makes the median ankle-to-thorax path closest (in ratio) to
    an adult's ``ADULT_CHAIN_MM``. points: (F, 17, 3) in file units."""
    length = float(np.median(chain_length(points)))
    if not length > 0:
        raise ConversionError('cannot guess the units of a skeleton of zero size')
    return min(UNITS_MM, key=lambda u: abs(math.log(length * UNITS_MM[u] / ADULT_CHAIN_MM)))


def to_y_up(points: np.ndarray, up_axis: str) -> np.ndarray:
    """(..., 3) in a Y-up or Z-up frame -> Y up (Z up: a -90 degree turn about X)."""
    if up_axis == 'Y':
        return points
    if up_axis == 'Z':
        return np.stack([points[..., 0], points[..., 2], -points[..., 1]], axis=-1)
    raise ConversionError(f'up axis must be Y or Z, got {up_axis!r}')


def subsample_step(fps: float, target_fps: float | None) -> int:
    """Keep every n-th frame so that ``fps / n`` is closest to ``target_fps`` (never upsample)."""
    if not target_fps:
        return 1
    return max(1, int(round(fps / target_fps)))


def subject_from_name(name: str, pattern: str | None) -> str:
    """Subject id from a file name: group 'subject' (or group 1, or the whole match)."""
    if not pattern:
        raise ConversionError(f'no subject for {name!r}: give --subject or --subject-pattern')
    try:
        m = re.search(pattern, name)
    except re.error as exc:
        raise ConversionError(f'subject pattern {pattern!r} is not a valid regular expression '
                              f'({exc})') from None
    if not m:
        raise ConversionError(f'subject pattern {pattern!r} does not match the name {name!r}; '
                              'give --subject or another --subject-pattern')
    if 'subject' in m.re.groupindex:
        return m.group('subject')
    return m.group(1) if m.re.groups else m.group(0)


def convert_bvh(bvh: Bvh, rig: Rig, name: str, subject: str, *,
                scale_to_mm: float | None = None, units: str | None = None,
                up_axis: str | None = None, target_fps: float | None = None,
                skip_frames: int | None = None) -> Clip:
    """One parsed file -> one clip. Arguments left None come from the rig."""
    skip = rig.skip_frames if skip_frames is None else skip_frames
    if len(bvh) <= skip:
        raise ConversionError(f'{bvh.path}: {len(bvh)} frames, none left after skipping {skip}')
    step = subsample_step(bvh.fps, target_fps)
    bvh = replace(bvh, motion=bvh.motion[skip::step])
    if scale_to_mm is None and units is None:
        scale_to_mm = rig.scale_to_mm
        units = rig.units
    if scale_to_mm is None:
        if units == 'auto':
            units = guess_units(map_joints(bvh, rig, None))
        scale_to_mm = UNITS_MM[units]
    else:
        units = f'scale {scale_to_mm:g}'
    points = to_y_up(map_joints(bvh, rig, scale_to_mm), up_axis or rig.up_axis)
    if not np.isfinite(points).all():
        raise ConversionError(f'{bvh.path}: non-finite joint positions')
    thigh = float(np.median(np.linalg.norm(points[:, [1, 4]] - points[:, [2, 5]], axis=-1)))
    if not THIGH_MM_RANGE[0] <= thigh <= THIGH_MM_RANGE[1]:
        raise ConversionError(f'{bvh.path}: median thigh length {thigh:.4g} mm with units '
                              f'{units!r} is not a human one ({THIGH_MM_RANGE[0]:g}-'
                              f'{THIGH_MM_RANGE[1]:g} mm): wrong --units or --scale?')
    return Clip(name, subject, rig.name, bvh.fps / step, points.astype(np.float32), units)


def find_bvh_files(inputs: list[str | Path]) -> list[Path]:
    """Files as given, directories searched recursively for ``*.bvh`` (any case), sorted."""
    out: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            out += sorted(p for p in path.rglob('*') if p.suffix.lower() == '.bvh'
                          and p.is_file())
        elif path.exists():
            out.append(path)
        else:
            raise FileNotFoundError(f'no such file or directory: {path}')
    return list(dict.fromkeys(out))


def clip_names(files: list[Path]) -> list[str]:
    """File stems as clip names; stems that repeat get their parent folder as a prefix."""
    stems = [f.stem for f in files]
    return [f'{f.parent.name}/{f.stem}' if stems.count(f.stem) > 1 else f.stem for f in files]


def write_pose_file(path: str | Path, clips: list[Clip]) -> None:
    """The clips as one pose file (see docs/data.md); written to a temporary file first."""
    if not clips:
        raise ConversionError('no clips to write')
    lengths = np.array([len(c.joints) for c in clips], dtype=np.int64)
    arrays = dict(
        joints=np.concatenate([c.joints for c in clips]).astype(np.float32),
        clip_names=np.array([c.name for c in clips]),
        clip_subjects=np.array([c.subject for c in clips]),
        clip_rigs=np.array([c.rig for c in clips]),
        clip_starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64),
        clip_lengths=lengths,
        clip_fps=np.array([c.fps for c in clips], dtype=np.float64),
        joint_names=np.array(H36M17.joint_names),
        parents=np.array(H36M17.parents, dtype=np.int64),
        units=np.array('mm'),
        up_axis=np.array('Y'))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + '.part')
    try:
        with open(tmp, 'wb') as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
