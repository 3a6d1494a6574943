"""Unlabelled 2D training data from the user's own recordings: a rosbag2 or a ``kp.npz``.

A bag (MCAP or sqlite3, read with rosbags like ``pose_lifter.bag.io``) holds
``pose_lifter_msgs/Skeleton2DArray`` and ``sensor_msgs/CameraInfo`` on any topic names (found by
type, or named); every keypoint message is paired with the CameraInfo of its frame nearest in
stamp and undistorted with the runtime's ``core.undistort``. A ``kp.npz`` is the input of
``pose-lifter lift``: ``keypoints`` (N, J, 2) pixels, optional ``confidence`` (N, J), ``K``
(3, 3) or (N, 3, 3), ``joint_format``, optional ``image_size`` (2,) = width, height and ``fps``.

Both become training rows through the runtime path: adapters to H36M-17 -> pixels to normalised
coordinates -> ``normalise``. A joint is missing when NaN, below ``min_confidence`` or outside the
image; a person with fewer than ``min_joints`` H36M joints, or without root and scale chain, is
skipped and counted. Held-out rows are whole time blocks (neighbouring frames are near-duplicates,
a random-frame split would leak). Bad input raises ``Source2DError`` with a one-line message, or
is counted in ``Source2D.skipped``.
"""
from __future__ import annotations

import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pose_lifter.core.adapters import UnknownJointFormat, num_joints, to_h36m17
from pose_lifter.core.camera import InvalidIntrinsics, pixels_to_normalized, validate_intrinsics
from pose_lifter.core.normalization import NormalisationSpec, normalise
from pose_lifter.core.poses import PoseFileError
from pose_lifter.core.skeleton import H36M17
from pose_lifter.core.stamps import NS_PER_S, stamp_to_ns
from pose_lifter.core.undistort import CameraModel, UnknownDistortionModel, undistort_points

SKELETON2D_ARRAY = 'pose_lifter_msgs/msg/Skeleton2DArray'
CAMERA_INFO = 'sensor_msgs/msg/CameraInfo'


class Source2DError(PoseFileError):
    """A 2D source that cannot be used (the message says which file and why)."""


@dataclass
class Frames2D:
    """Persons of a recording, each with its camera (pixels already undistorted)."""

    keypoints: list[np.ndarray] = field(default_factory=list)   # per format group (P, J, 2)
    confidence: list[np.ndarray] = field(default_factory=list)  # (P, J)
    K: list[np.ndarray] = field(default_factory=list)           # (P, 3, 3)
    size: list[np.ndarray] = field(default_factory=list)        # (P, 2) width, height; 0 unknown
    time_s: list[np.ndarray] = field(default_factory=list)      # (P,)
    formats: list[str] = field(default_factory=list)            # one per group


@dataclass
class Rows2D:
    """Network inputs of the usable persons."""

    inputs: np.ndarray      # (M, J-1, 2) float32 normalised 2D, 0 for missing joints
    visible: np.ndarray     # (M, J-1) bool
    time_s: np.ndarray      # (M,) float64

    def __len__(self) -> int:
        return len(self.inputs)

    def select(self, mask: np.ndarray) -> Rows2D:
        return Rows2D(self.inputs[mask], self.visible[mask], self.time_s[mask])


@dataclass
class Source2D:
    """Training and held-out rows of one source, with what was skipped and why."""

    train: Rows2D
    heldout: Rows2D
    skipped: dict[str, int]
    info: dict

    def all_rows(self) -> Rows2D:
        """Training and held-out rows together (for uses that train on none of them)."""
        return Rows2D(*[np.concatenate([a, b]) for a, b in zip(
            (self.train.inputs, self.train.visible, self.train.time_s),
            (self.heldout.inputs, self.heldout.visible, self.heldout.time_s))])

    def summary(self) -> str:
        skips = ', '.join(f'{k} {v}' for k, v in sorted(self.skipped.items())) or 'none'
        return (f'2D source {self.info["path"]}: {self.info["persons"]} persons -> '
                f'{len(self.train)} training rows, {len(self.heldout)} held-out rows '
                f'({self.info["blocks"]} time blocks of {self.info["block_s"]:g} s); '
                f'skipped: {skips}')


def _empty_rows() -> Rows2D:
    j = H36M17.num_joints - 1
    return Rows2D(np.zeros((0, j, 2), np.float32), np.zeros((0, j), bool), np.zeros(0))


# ---------------------------------------------------------------- npz

def read_npz(path: Path, skipped: Counter) -> Frames2D:
    """``kp.npz`` (see the module docstring) -> Frames2D. Raises Source2DError."""
    try:
        with np.load(path, allow_pickle=False) as d:
            data = {k: d[k] for k in d.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise Source2DError(f'{path}: not a readable .npz of plain arrays '
                            f'({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})'
                            ) from None
    for key in ('keypoints', 'K'):
        if key not in data:
            raise Source2DError(f'{path}: missing array {key!r} (need keypoints (N, J, 2) and '
                                f'K (3, 3) or (N, 3, 3); has {sorted(data)})')
    fmt = str(data.get('joint_format', 'h36m17'))
    try:
        j = num_joints(fmt)
    except UnknownJointFormat as exc:
        raise Source2DError(f'{path}: {exc}') from None
    kp = np.asarray(data['keypoints'], dtype=np.float64)
    if kp.ndim != 3 or kp.shape[1:] != (j, 2):
        raise Source2DError(f'{path}: keypoints have shape {kp.shape}, joint_format {fmt} '
                            f'needs (N, {j}, 2)')
    n = len(kp)
    conf = data.get('confidence')
    if conf is not None:
        conf = np.asarray(conf, dtype=np.float64)
        if conf.shape != (n, j):
            raise Source2DError(f'{path}: confidence has shape {conf.shape}, expected {(n, j)}')
    K = np.asarray(data['K'], dtype=np.float64)
    if K.shape not in ((3, 3), (n, 3, 3)):
        raise Source2DError(f'{path}: K has shape {K.shape}, expected (3, 3) or ({n}, 3, 3)')
    K = np.broadcast_to(K, (n, 3, 3)).copy()
    good = _valid_K(K)
    if not good.any():
        raise Source2DError(f'{path}: K is not a pinhole intrinsics matrix (zeros, non-finite '
                            'or focal length <= 0); pass the camera matrix of the recording')
    skipped['bad_K'] += int((~good).sum())
    size = np.zeros((n, 2))
    if 'image_size' in data:
        s = np.asarray(data['image_size'], dtype=np.float64)
        if s.shape not in ((2,), (n, 2)):
            raise Source2DError(f'{path}: image_size has shape {s.shape}, expected (2,) = '
                                'width, height')
        size[:] = s
    fps = float(data['fps']) if 'fps' in data else 30.0
    if not np.isfinite(fps) or fps <= 0:
        raise Source2DError(f'{path}: fps must be a positive number, got {fps}')
    frames = Frames2D()
    frames.keypoints.append(kp[good])
    frames.confidence.append(np.ones((n, j))[good] if conf is None else conf[good])
    frames.K.append(K[good])
    frames.size.append(size[good])
    frames.time_s.append(np.arange(n)[good] / fps)
    frames.formats.append(fmt)
    return frames


def _valid_K(K: np.ndarray) -> np.ndarray:
    """(N, 3, 3) -> (N,) bool: finite with positive focal lengths."""
    return np.isfinite(K).all(axis=(1, 2)) & (K[:, 0, 0] > 0) & (K[:, 1, 1] > 0)


# ---------------------------------------------------------------- bag

def _pick_topic(have: dict[str, str], msgtype: str, wanted: str | None, what: str,
                option: str, path: Path) -> str:
    listing = ', '.join(f'{t} ({m})' for t, m in sorted(have.items())) or 'none'
    if wanted:
        name = wanted if wanted.startswith('/') else '/' + wanted
        if name not in have:
            raise Source2DError(f'{path}: no topic {name}. Topics in the bag: {listing}')
        if have[name] != msgtype:
            raise Source2DError(f'{path}: topic {name} has type {have[name]}, expected '
                                f'{msgtype}. Topics in the bag: {listing}')
        return name
    found = sorted(t for t, m in have.items() if m == msgtype)
    if not found:
        raise Source2DError(f'{path}: no {what} topic (type {msgtype}). Topics in the bag: '
                            f'{listing}')
    if len(found) > 1:
        raise Source2DError(f'{path}: several {what} topics {found}; choose one with {option}')
    return found[0]


def _stamp(header) -> float:
    return stamp_to_ns(header.stamp) / NS_PER_S


def _cameras(reader, topic: str, skipped: Counter) -> dict[str, tuple[np.ndarray, list]]:
    """frame_id -> (sorted stamps (C,), [(CameraModel, (w, h))]) of the valid CameraInfos."""
    cache: dict[bytes, CameraModel | None] = {}
    per: dict[str, list] = {}
    for _, msg in reader.decoded(topic):
        key = b''.join(np.asarray(a, np.float64).tobytes() for a in (msg.k, msg.d, msg.p)) + \
            msg.distortion_model.encode()
        if key not in cache:
            try:
                cache[key] = CameraModel.from_arrays(np.asarray(msg.k), np.asarray(msg.d),
                                                     msg.distortion_model, np.asarray(msg.p))
            except (InvalidIntrinsics, UnknownDistortionModel, ValueError):
                cache[key] = None
        if cache[key] is None:
            skipped['bad_camera_info'] += 1
            continue
        size = np.array([msg.width, msg.height], np.float64)
        per.setdefault(msg.header.frame_id, []).append((_stamp(msg.header), cache[key], size))
    out = {}
    for frame, items in per.items():
        items.sort(key=lambda x: x[0])
        out[frame] = (np.array([x[0] for x in items]), [(x[1], x[2]) for x in items])
    return out


def _nearest(cams: dict, frame_id: str, t: float):
    """The CameraInfo of ``frame_id`` nearest in stamp (any frame if it has none)."""
    key = frame_id if frame_id in cams else (next(iter(cams)) if len(cams) == 1 else None)
    if key is None:
        return None
    stamps, items = cams[key]
    i = int(np.searchsorted(stamps, t))
    cand = [c for c in (i - 1, i) if 0 <= c < len(stamps)]
    best = min(cand, key=lambda c: abs(stamps[c] - t))
    return items[best]


@dataclass
class TrackedFrame:
    """One keypoint message of a bag with the persons of it that could be read."""

    frame_id: str
    stamp_ns: int
    joint_format: str
    ids: list[str]              # (N,) track ids ('' = none)
    keypoints: np.ndarray       # (N, J, 2) undistorted pixels
    confidence: np.ndarray      # (N, J)
    K: np.ndarray               # (3, 3) of the undistorted pixels
    size: np.ndarray            # (2,) width, height of the CameraInfo (0: unknown)


def bag_frames(path: Path, keypoints_topic: str | None, camera_info_topic: str | None,
               skipped: Counter, info: dict):
    """Every keypoint message of a rosbag2 with persons, in bag order, as TrackedFrame
    (a generator; what cannot be read is counted in ``skipped``). Raises Source2DError."""
    from pose_lifter.bag.io import BagError, BagReader
    try:
        reader = BagReader(path)
    except BagError as exc:
        raise Source2DError(str(exc)) from None
    try:
        with reader:
            have = reader.topics
            kp_topic = _pick_topic(have, SKELETON2D_ARRAY, keypoints_topic, 'keypoint',
                                   '--keypoints-topic', path)
            ci_topic = _pick_topic(have, CAMERA_INFO, camera_info_topic, 'CameraInfo',
                                   '--camera-info-topic', path)
            info.update(keypoints_topic=kp_topic, camera_info_topic=ci_topic)
            cams = _cameras(reader, ci_topic, skipped)
            if not cams:
                raise Source2DError(f'{path}: no valid CameraInfo on {ci_topic} '
                                    f'({skipped["bad_camera_info"]} invalid: K of zeros, '
                                    'non-finite or unknown distortion model)')
            for _, msg in reader.decoded(kp_topic):
                info['messages'] = info.get('messages', 0) + 1
                frame = _frame(msg, cams, skipped)
                if frame is not None:
                    yield frame
    except BagError as exc:
        raise Source2DError(str(exc)) from None


def read_bag(path: Path, keypoints_topic: str | None, camera_info_topic: str | None,
             skipped: Counter, info: dict) -> Frames2D:
    """rosbag2 -> Frames2D (undistorted pixels). Raises Source2DError."""
    groups: dict[str, dict[str, list]] = {}
    for fr in bag_frames(path, keypoints_topic, camera_info_topic, skipped, info):
        n = len(fr.keypoints)
        g = groups.setdefault(fr.joint_format, {'kp': [], 'conf': [], 'K': [], 'size': [],
                                                't': []})
        g['kp'].append(fr.keypoints)
        g['conf'].append(fr.confidence)
        g['K'].append(np.repeat(fr.K[None], n, axis=0))
        g['size'].append(np.repeat(fr.size[None], n, axis=0))
        g['t'].append(np.full(n, fr.stamp_ns / NS_PER_S))
    frames = Frames2D()
    for fmt, g in groups.items():
        frames.keypoints.append(np.concatenate(g['kp']))
        frames.confidence.append(np.concatenate(g['conf']))
        frames.K.append(np.concatenate(g['K']))
        frames.size.append(np.concatenate(g['size']))
        frames.time_s.append(np.concatenate(g['t']))
        frames.formats.append(fmt)
    return frames


def _frame(msg, cams: dict, skipped: Counter) -> TrackedFrame | None:
    """One Skeleton2DArray -> its readable persons with their camera, or None."""
    n = len(msg.skeletons)
    if n == 0:
        skipped['empty_messages'] += 1
        return None
    try:
        j = num_joints(msg.joint_format)
    except UnknownJointFormat:
        skipped['unknown_joint_format'] += n
        return None
    stamp = stamp_to_ns(msg.header.stamp)
    cam = _nearest(cams, msg.header.frame_id, stamp / NS_PER_S)
    if cam is None:
        skipped['no_camera_info_for_frame'] += n
        return None
    model, size = cam
    kps, confs, ids = [], [], []
    for skel in msg.skeletons:
        lengths = (len(skel.x), len(skel.y), len(skel.confidence))
        if lengths[0] != j or lengths[1] != j or lengths[2] not in (0, j):
            skipped['inconsistent_joint_count'] += 1
            continue
        kps.append(np.stack([np.asarray(skel.x, np.float64), np.asarray(skel.y, np.float64)],
                            -1))
        confs.append(np.asarray(skel.confidence, np.float64) if lengths[2] else np.ones(j))
        ids.append(str(skel.id))
    if not kps:
        return None
    kp = np.stack(kps)
    if model.distorted:
        kp = undistort_points(kp, model)
    return TrackedFrame(msg.header.frame_id, stamp, msg.joint_format, ids, kp,
                        np.stack(confs), model.K, size)


# ---------------------------------------------------------------- rows

def to_rows(frames: Frames2D, min_confidence: float, min_joints: int, skipped: Counter,
            spec: NormalisationSpec = NormalisationSpec()) -> Rows2D:
    """Frames2D -> network rows through adapters and the runtime normalisation."""
    parts = []
    for kp, conf, K, size, t, fmt in zip(frames.keypoints, frames.confidence, frames.K,
                                         frames.size, frames.time_s, frames.formats):
        if not len(kp):
            continue
        conf = np.where(np.nan_to_num(conf, nan=0.0) < min_confidence, 0.0, conf)
        outside = ((kp < 0) | (kp > size[:, None, :])).any(-1) & (size[:, None, :] > 0).all(-1)
        kp = np.where(outside[..., None], np.nan, kp)
        kp17, conf17 = to_h36m17(kp, conf, fmt)
        count = (conf17 > 0).sum(axis=1)
        norm = normalise(pixels_to_normalized(kp17, validate_intrinsics(K)), spec)
        few = count < min_joints
        skipped['too_few_joints'] += int(few.sum())
        skipped['no_root_or_scale_chain'] += int((~few & ~norm.ok).sum())
        keep = ~few & norm.ok
        vis = (conf17 > 0)[:, H36M17.non_root]
        parts.append(Rows2D(norm.inputs[keep], vis[keep], t[keep]))
    if not parts:
        return _empty_rows()
    return Rows2D(np.concatenate([p.inputs for p in parts]),
                  np.concatenate([p.visible for p in parts]),
                  np.concatenate([p.time_s for p in parts]))


def split_blocks(rows: Rows2D, holdout: float, block_s: float) -> tuple[Rows2D, Rows2D, int]:
    """Hold out whole time blocks: every k-th block (k = round(1 / holdout)), the first at
    k // 2 (or the last block of a short recording). Returns (train, heldout, number of
    blocks); ``holdout`` 0 holds out nothing."""
    if len(rows) == 0 or holdout <= 0:
        return rows, _empty_rows(), 0
    block = np.floor((rows.time_s - rows.time_s.min()) / block_s).astype(np.int64)
    ids, index = np.unique(block, return_inverse=True)
    if len(ids) < 2:
        return rows, _empty_rows(), len(ids)
    k = max(2, int(round(1.0 / holdout)))
    held = (np.arange(len(ids)) % k) == min(k // 2, len(ids) - 1)
    mask = held[index]
    return rows.select(~mask), rows.select(mask), len(ids)


def load_2d(path: str | Path, keypoints_topic: str | None = None,
            camera_info_topic: str | None = None, min_confidence: float = 0.1,
            min_joints: int = 12, holdout: float = 0.1, block_s: float = 5.0) -> Source2D:
    """A bag (directory, .mcap or .db3) or a kp.npz -> Source2D. Raises Source2DError."""
    path = Path(path)
    if not path.exists():
        raise Source2DError(f'2D source not found: {path}')
    skipped: Counter = Counter()
    info: dict = {'path': str(path)}
    if path.is_file() and path.suffix == '.npz':
        info['kind'] = 'npz'
        frames = read_npz(path, skipped)
    else:
        info['kind'] = 'bag'
        frames = read_bag(path, keypoints_topic, camera_info_topic, skipped, info)
    info['persons'] = int(sum(len(k) for k in frames.keypoints)) + \
        int(skipped['inconsistent_joint_count'] + skipped['unknown_joint_format'] +
            skipped['no_camera_info_for_frame'] + skipped['bad_K'])
    rows = to_rows(frames, min_confidence, min_joints, skipped)
    skips = {k: int(v) for k, v in skipped.items() if v}
    if len(rows) == 0:
        detail = ', '.join(f'{k} {v}' for k, v in sorted(skips.items())) or 'no persons'
        raise Source2DError(f'{path}: no usable 2D poses ({detail})')
    train, heldout, blocks = split_blocks(rows, holdout, block_s)
    if len(train) == 0:
        raise Source2DError(f'{path}: every usable pose fell into the held-out blocks; '
                            'lower data.unlabelled_holdout')
    info.update(blocks=blocks, block_s=block_s, rows=len(rows))
    return Source2D(train, heldout, skips, info)
