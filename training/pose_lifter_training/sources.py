"""Pose sources on disk: the project's pose file, VideoPose3D's 3D file and its 2D-only file.

3D files go through ``pose_lifter.core.poses`` (one loader for training, evaluation and the CLI);
this module only adds format detection and VideoPose3D's ground-truth 2D file.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose_lifter.core.camera import intrinsics, pixels_to_normalized
from pose_lifter.core.normalization import NormalisationSpec, normalise
from pose_lifter.core.poses import (
    PoseFileError,
    PoseSet,
    load_pose_file,
    load_videopose3d,
    pickle_refused,
)
from pose_lifter.core.skeleton import H36M17

# Human3.6M cameras have fx ~ fy ~ 1145 px and the principal point near the centre of their
# 1000 x 1000 (1000 x 1002) images. Approximate; pass exact per-camera intrinsics if you have them.
H36M_APPROX_K = intrinsics(1145.0, 1145.0, 500.0, 500.0)
VIDEOPOSE3D_FPS = 50.0


def detect_format(path: str | Path) -> str:
    """'videopose3d_3d', 'videopose3d_2d' or 'pose_file' from the keys of an ``.npz``."""
    path = Path(path)
    if not path.is_file():
        raise PoseFileError(f'pose file not found: {path}')
    try:
        with np.load(path, allow_pickle=False) as d:
            keys = set(d.files)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise PoseFileError(f'{path}: not a readable .npz ({exc})') from None
    if 'positions_3d' in keys:
        return 'videopose3d_3d'
    if 'positions_2d' in keys:
        return 'videopose3d_2d'
    return 'pose_file'


def load_poses(path: str | Path, trust_pickle: bool = False) -> PoseSet:
    """Any supported 3D pose file as a PoseSet (mm, world, Y up).

    VideoPose3D files are pickles: read only with ``trust_pickle`` (``UntrustedPickle``
    otherwise); the project's pose files never need it.
    """
    kind = detect_format(path)
    if kind == 'videopose3d_3d':
        return load_videopose3d(path, trust_pickle=trust_pickle)
    if kind == 'videopose3d_2d':
        raise PoseFileError(f'{path} holds 2D keypoints only; pass it as data.extra_2d')
    return load_pose_file(path)


@dataclass
class Keypoints2D:
    """Pixel keypoints of F frames with labels (2D-only training source)."""

    pixels: np.ndarray          # (F, J, 2) float32 pixels
    K: np.ndarray               # (F, 3, 3) intrinsics
    clip: np.ndarray            # (F,) int index into clip_names
    camera: np.ndarray          # (F,) int camera index within its recording
    clip_names: np.ndarray      # (C,) str 'subject/action/camera'
    clip_subjects: np.ndarray   # (C,) str

    @property
    def subjects(self) -> np.ndarray:
        return self.clip_subjects[self.clip]

    def __len__(self) -> int:
        return len(self.pixels)

    def select(self, mask: np.ndarray) -> Keypoints2D:
        return Keypoints2D(self.pixels[mask], self.K[mask], self.clip[mask], self.camera[mask],
                           self.clip_names, self.clip_subjects)


def load_videopose3d_2d(path: str | Path, K: dict[int, np.ndarray] | None = None, *,
                        trust_pickle: bool = False) -> Keypoints2D:
    """VideoPose3D ``data_2d_h36m_gt.npz``: ``positions_2d[subject][action][cam]`` (F, 17, 2).

    K maps a camera index to its (3, 3) intrinsics; missing cameras use ``H36M_APPROX_K``.
    The 17 joints are in the H36M-17 order of ``H36M17`` (VideoPose3D's layout 'h36m').
    The file is a pickle: read only with ``trust_pickle=True`` (``UntrustedPickle`` otherwise).
    """
    path = Path(path)
    if not path.is_file():
        raise PoseFileError(f'2D keypoint file not found: {path}')
    if not trust_pickle:
        raise pickle_refused(path, 'VideoPose3D')
    try:
        d = np.load(path, allow_pickle=True)
        data = d['positions_2d'].item()
        meta = d['metadata'].item() if 'metadata' in d.files else {}
        if not isinstance(data, dict) or not all(
                isinstance(v, dict) and all(isinstance(c, (list, tuple, np.ndarray))
                                            for c in v.values()) for v in data.values()):
            raise TypeError('positions_2d is not a dict of dicts of per-camera arrays')
    except Exception as exc:
        raise PoseFileError(f'{path}: not a VideoPose3D positions_2d file ({exc})') from None
    layout = meta.get('layout_name', 'h36m') if isinstance(meta, dict) else 'h36m'
    if layout != 'h36m' or (isinstance(meta, dict) and
                            meta.get('num_joints', H36M17.num_joints) != H36M17.num_joints):
        raise PoseFileError(f'{path}: layout {layout!r} is not the 17-joint h36m layout')
    pixels, clip, cams, names, subjects = [], [], [], [], []
    for subject in sorted(data):
        for action in sorted(data[subject]):
            for cam, kp in enumerate(data[subject][action]):
                try:
                    kp = np.asarray(kp, dtype=np.float32)
                except (TypeError, ValueError) as exc:
                    raise PoseFileError(f'{path}: {subject}/{action}/{cam} is not an array of '
                                        f'keypoints ({exc})') from None
                if kp.ndim != 3 or kp.shape[1:] != (H36M17.num_joints, 2):
                    raise PoseFileError(f'{path}: {subject}/{action}/{cam} has shape '
                                        f'{kp.shape}, expected (F, 17, 2)')
                pixels.append(kp)
                clip.append(np.full(len(kp), len(names)))
                cams.append(np.full(len(kp), cam))
                names.append(f'{subject}/{action}/{cam}')
                subjects.append(subject)
    if not pixels:
        raise PoseFileError(f'{path}: no keypoints')
    cam = np.concatenate(cams)
    K = K or {}
    ks = np.stack([np.asarray(K.get(int(c), H36M_APPROX_K), dtype=np.float64)
                   for c in range(cam.max() + 1)])
    return Keypoints2D(np.concatenate(pixels), ks[cam], np.concatenate(clip), cam,
                       np.array(names), np.array(subjects))


def normalise_keypoints(kp: Keypoints2D, spec: NormalisationSpec = NormalisationSpec()
                        ) -> np.ndarray:
    """Pixel keypoints -> network inputs (M, J-1, 2) float32 of the poses that normalise."""
    norm = normalise(pixels_to_normalized(kp.pixels.astype(np.float64), kp.K), spec)
    return norm.inputs[norm.ok]
