"""Pose files (docs/pose-files.md): the project's ``.npz`` format and VideoPose3D's Human3.6M
files.

A ``PoseSet`` is world-frame 3D in millimetres, Y up, with clip and subject labels per frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import PoseLifterInputError
from .skeleton import H36M17

# VideoPose3D's 32-joint Human3.6M layout -> H36M-17 (the standard 17-joint subset).
H36M32_TO_17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)


class PoseFileError(PoseLifterInputError):
    """A pose file that is missing, unreadable or not in a known layout."""


class UntrustedPickle(PoseFileError):
    """A file whose data can only be read by unpickling it, without the caller's consent."""


def pickle_refused(path: str | Path, what: str) -> UntrustedPickle:
    """The error for a pickled file read without ``trust_pickle`` (one line, with the fix)."""
    return UntrustedPickle(
        f'{path}: {what} files store Python pickles, and unpickling a crafted file runs code; '
        'load it only if you trust where it came from: trust_pickle=True in Python, '
        '--set data.trust_pickle=true for pose-lifter-train (or convert it once with '
        'save_pose_file)')


@dataclass
class PoseSet:
    """3D poses with per-frame labels."""

    joints: np.ndarray          # (F, 17, 3) float32, mm, world frame, Y up
    clip: np.ndarray            # (F,) int index into clip_names
    clip_names: np.ndarray      # (C,) str
    clip_subjects: np.ndarray   # (C,) str
    clip_fps: np.ndarray        # (C,) float

    @property
    def subjects(self) -> np.ndarray:
        """(F,) subject of every frame."""
        return self.clip_subjects[self.clip]

    def select(self, mask: np.ndarray) -> 'PoseSet':
        return PoseSet(self.joints[mask], self.clip[mask], self.clip_names, self.clip_subjects,
                       self.clip_fps)

    def subjects_only(self, subjects: list[str] | tuple[str, ...]) -> 'PoseSet':
        return self.select(np.isin(self.subjects, np.asarray(subjects, dtype=str)))

    def subsample(self, target_fps: float) -> 'PoseSet':
        """Keep frames so that every clip runs at about ``target_fps`` (never upsamples)."""
        keep = np.zeros(len(self.clip), dtype=bool)
        fps = self.clip_fps.copy()
        for c in np.unique(self.clip):
            idx = np.flatnonzero(self.clip == c)
            step = max(1, int(round(self.clip_fps[c] / target_fps)))
            keep[idx[::step]] = True
            fps[c] = self.clip_fps[c] / step
        return PoseSet(self.joints[keep], self.clip[keep], self.clip_names, self.clip_subjects,
                       fps)

    def __len__(self) -> int:
        return len(self.joints)


def load_pose_file(path: str | Path) -> PoseSet:
    """Load the project's pose ``.npz`` (see ``shared/data/README.md``)."""
    path = Path(path)
    if not path.is_file():
        raise PoseFileError(f'pose file not found: {path}')
    try:
        d = np.load(path, allow_pickle=False)
        joints = np.asarray(d['joints'], dtype=np.float32)
        starts, lengths = d['clip_starts'], d['clip_lengths']
        names, subjects, fps = d['clip_names'], d['clip_subjects'], d['clip_fps']
        units, up = str(d['units']), str(d['up_axis'])
    except KeyError as exc:
        raise PoseFileError(f'{path}: missing key {exc}; a pose file needs joints, clip_starts, '
                            'clip_lengths, clip_names, clip_subjects, clip_fps, units, up_axis'
                            ) from None
    except Exception as exc:  # zipfile/pickle/format errors from numpy
        raise PoseFileError(f'{path}: not a readable pose .npz ({exc})') from None
    if joints.ndim != 3 or joints.shape[1:] != (H36M17.num_joints, 3):
        raise PoseFileError(f'{path}: joints must be (F, 17, 3), got {joints.shape}')
    if units != 'mm' or up != 'Y':
        raise PoseFileError(f'{path}: expected units "mm" and up_axis "Y", got {units!r}, {up!r}')
    clip = np.full(len(joints), -1, dtype=np.int64)
    for c, (s, n) in enumerate(zip(starts, lengths)):
        clip[s:s + n] = c
    if (clip < 0).any():
        raise PoseFileError(f'{path}: clip ranges do not cover all frames')
    return PoseSet(joints, clip, np.asarray(names, dtype=str), np.asarray(subjects, dtype=str),
                   np.asarray(fps, dtype=np.float64))


def save_pose_file(path: str | Path, poses: PoseSet) -> None:
    """Write a PoseSet in the project's format (clips must be contiguous and in order)."""
    order = np.argsort(poses.clip, kind='stable')
    clip = poses.clip[order]
    used = np.unique(clip)
    starts = np.searchsorted(clip, used)
    lengths = np.bincount(clip)[used]
    np.savez_compressed(
        path, joints=poses.joints[order].astype(np.float32), clip_starts=starts.astype(np.int64),
        clip_lengths=lengths.astype(np.int64), clip_names=poses.clip_names[used],
        clip_subjects=poses.clip_subjects[used], clip_fps=poses.clip_fps[used],
        clip_rigs=np.array(['unknown'] * len(used)), joint_names=np.array(H36M17.joint_names),
        parents=np.array(H36M17.parents), units=np.array('mm'), up_axis=np.array('Y'))


def load_videopose3d(path: str | Path, fps: float = 50.0, *,
                     trust_pickle: bool = False) -> PoseSet:
    """Load VideoPose3D's ``data_3d_h36m.npz`` (``positions_3d[subject][action]`` (F, 32, 3) m,
    Z up) as a PoseSet in mm with Y up.

    The file holds a pickled dict, and unpickling runs whatever code a crafted file names: it is
    read only with ``trust_pickle=True`` (``UntrustedPickle`` otherwise, before anything is
    unpickled).
    """
    path = Path(path)
    if not path.is_file():
        raise PoseFileError(f'Human3.6M file not found: {path}')
    if not trust_pickle:
        raise pickle_refused(path, 'VideoPose3D')
    try:
        data = np.load(path, allow_pickle=True)['positions_3d'].item()
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise TypeError('positions_3d is not a dict of dicts')
    except Exception as exc:
        raise PoseFileError(f'{path}: not a VideoPose3D positions_3d file ({exc})') from None
    joints, clip, names, subjects = [], [], [], []
    for subject in sorted(data):
        for action in sorted(data[subject]):
            try:
                pos = np.asarray(data[subject][action], dtype=np.float32)
            except (TypeError, ValueError) as exc:
                raise PoseFileError(f'{path}: {subject}/{action} is not an array of positions '
                                    f'({exc})') from None
            if pos.ndim != 3 or pos.shape[1:] != (32, 3):
                raise PoseFileError(f'{path}: {subject}/{action} has shape {pos.shape}, '
                                    'expected (F, 32, 3)')
            p = pos[:, H36M32_TO_17] * 1000.0
            joints.append(np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1))  # Z up -> Y up
            clip.append(np.full(len(p), len(names)))
            names.append(f'{subject}/{action}')
            subjects.append(subject)
    return PoseSet(np.concatenate(joints), np.concatenate(clip), np.array(names),
                   np.array(subjects), np.full(len(names), fps))
