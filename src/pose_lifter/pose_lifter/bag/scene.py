"""The synthetic scene of ``bag make``: clips, one static camera per clip, persons, detector
effects. numpy only (the messages are built in make.py).

Conventions (also written into the bag's metadata, key ``pose_lifter``):

- Clip ``c`` is seen by camera ``c`` (frame ``camera_<c>_optical_frame``): the camera set's
  spec ``c mod len(set)`` (core.cameras.CameraSpec), placed with core.cameras.place_cameras
  around the clip's mean root, moved back so that ``distance`` holds from the nearest point
  of the walk along the camera's azimuth (people stay 3 to 30 m away). Static for the clip.
- Person ``k`` of clip ``c`` has track id ``c<c>p<k>``: ``k = 0`` is the clip itself, ``k > 0``
  replays clip ``c + k`` (time-shifted, wrapped) placed beside/behind it.
- A corrupted person (``corrupt_prob``, per person and frame) keeps its track id, as a
  detector that misplaces joints keeps tracking the person, and has GT status
  ``corrupt:<kind>`` (kinds of core.corruptions, applied to the camera-frame 3D before the
  projection, so both joint formats see the same failure); real persons have GT status ``gt``.
  (Bags of earlier versions gave a corrupted person the id ``corrupt:<kind>:<track>``;
  ``bag score`` still reads those.)
- A person is left out of a frame when its root is closer than ``MIN_DEPTH_M`` or fewer than
  ``MIN_VISIBLE`` joints fall inside the image; joints outside the image are missing (NaN,
  confidence 0), as a detector reports them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.camera import project
from ..core.cameras import EVAL_CAMERAS, CameraSpec, place_cameras, to_camera
from ..core.corruptions import KINDS, corrupt
from ..core.poses import PoseSet
from ..core.synth_keypoints import from_h36m17

CAMERA_SETS: dict[str, tuple[CameraSpec, ...]] = {'eval': EVAL_CAMERAS,
                                                  'front': EVAL_CAMERAS[:1]}
CORRUPT_PREFIX = 'corrupt:'
GT_STATUS = 'gt'
MIN_DEPTH_M = 1.0
MIN_VISIBLE = 6
PERSON_SPACING_M = (1.2, 1.5)   # extra persons: sideways and further away, per index


@dataclass
class SceneOptions:
    """Everything ``bag make`` varies (pixel units for noise)."""

    cameras: str = 'eval'
    joint_format: str = 'h36m17'
    noise_px: float = 0.0
    drop_prob: float = 0.0
    low_conf_prob: float = 0.0
    persons: int = 1
    corrupt_prob: float = 0.0
    distortion: tuple[float, ...] = ()    # plumb_bob k1, k2, p1, p2, k3
    seed: int = 0


@dataclass
class ClipView:
    """One clip through its static camera: T frames, P persons (NaN rows: person absent)."""

    name: str
    frame_id: str
    spec: CameraSpec
    centre: np.ndarray          # (3,) camera centre, world metres (pose file frame, Y up)
    rotation: np.ndarray        # (3, 3) world -> camera
    dt_ns: int                  # frame period
    ids: list[str]              # (P,) track ids (corrupted or not)
    keypoints: np.ndarray       # (T, P, J, 2) pixels (distorted if the camera is), NaN missing
    confidence: np.ndarray      # (T, P, J)
    gt: np.ndarray              # (T, P, 17, 3) camera frame metres (uncorrupted)
    present: np.ndarray         # (T, P) bool
    corruption: np.ndarray      # (T, P) str, '' for real persons
    extra: dict = field(default_factory=dict)

    def person_id(self, t: int, p: int) -> str:
        """The track id of person ``p`` at frame ``t`` (the same when it is corrupted)."""
        return self.ids[p]

    def gt_status(self, t: int, p: int) -> str:
        kind = self.corruption[t, p]
        return f'{CORRUPT_PREFIX}{kind}' if kind else GT_STATUS


def static_camera(roots_m: np.ndarray, spec: CameraSpec) -> tuple[np.ndarray, np.ndarray]:
    """Place ``spec`` for a whole walk: roots_m (T, 3) world metres -> centre (3,), R (3, 3)."""
    mean = roots_m.mean(axis=0)
    az = np.radians(spec.azimuth)
    toward = np.array([np.sin(az), 0.0, np.cos(az)])        # root -> camera, horizontal
    reach = max(0.0, float(((roots_m - mean) @ toward).max()))
    anchor = (mean + reach * toward)[None]
    centre, rot = place_cameras(anchor, np.array([spec.distance]), np.array([spec.height]),
                                np.array([spec.azimuth]), np.array([spec.pan]),
                                np.array([spec.tilt]))
    return centre[0], rot[0]


def distort(pixels: np.ndarray, K: np.ndarray, coeffs: tuple[float, ...]) -> np.ndarray:
    """plumb_bob (Brown-Conrady) forward model: ideal pixels (..., 2) -> distorted pixels."""
    if not coeffs or not any(coeffs):
        return pixels
    k1, k2, p1, p2, k3 = (tuple(coeffs) + (0.0,) * 5)[:5]
    x = (pixels[..., 0] - K[0, 2]) / K[0, 0]
    y = (pixels[..., 1] - K[1, 2]) / K[1, 1]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([xd * K[0, 0] + K[0, 2], yd * K[1, 1] + K[1, 2]], axis=-1)


def _person_track(poses: PoseSet, clip: int, k: int, length: int) -> np.ndarray:
    """World joints (length, 17, 3) mm of person k: clip + k, time-shifted and wrapped."""
    clips = np.unique(poses.clip)
    src = clips[(np.searchsorted(clips, clip) + k) % len(clips)]
    joints = poses.joints[poses.clip == src]
    shift = (k * len(joints)) // 3
    return joints[(np.arange(length) + shift) % len(joints)]


def _place_persons(poses: PoseSet, clip: int, length: int, persons: int, rot: np.ndarray
                   ) -> np.ndarray:
    """(length, P, 17, 3) world mm: person 0 as recorded, others beside/behind it."""
    primary = poses.joints[poses.clip == clip]
    base = primary[:, 0].mean(axis=0) * np.array([1, 0, 1])
    right = rot[0] * np.array([1, 0, 1])
    back = -rot[2] * np.array([1, 0, 1])
    right, back = right / np.linalg.norm(right), back / np.linalg.norm(back)
    out = [primary[:length]]
    for k in range(1, persons):
        track = _person_track(poses, clip, k, length)
        own = track[:, 0].mean(axis=0) * np.array([1, 0, 1])
        side = PERSON_SPACING_M[0] * ((k + 1) // 2) * (1 if k % 2 else -1)
        offset = 1000.0 * (side * right - PERSON_SPACING_M[1] * k * back)
        out.append(track - own + base + offset)
    return np.stack(out, axis=1)


def _detector(points3d: np.ndarray, spec: CameraSpec, opts: SceneOptions,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame keypoints (T, P, J, 3) m -> pixels (T, P, J, 2) and confidences."""
    z = points3d[..., 2:3]
    px = project(np.where(z > 1e-3, points3d, np.nan).reshape(-1, *points3d.shape[-2:]),
                 spec.K).reshape(points3d.shape[:-1] + (2,))
    px = distort(px, spec.K, opts.distortion)
    conf = rng.uniform(0.6, 1.0, px.shape[:-1])
    low = rng.random(conf.shape) < opts.low_conf_prob
    conf[low] = rng.uniform(0.05, 0.3, int(low.sum()))
    sigma = opts.noise_px * np.where(low, 3.0, 1.0)[..., None]
    px = px + rng.standard_normal(px.shape) * sigma
    inside = np.isfinite(px).all(-1) & (px[..., 0] >= 0) & (px[..., 0] < spec.width) & \
        (px[..., 1] >= 0) & (px[..., 1] < spec.height_px)
    missing = ~inside | (rng.random(conf.shape) < opts.drop_prob)
    px[missing] = np.nan
    conf[missing] = 0.0
    return px, conf


def clip_view(poses: PoseSet, clip: int, index: int, opts: SceneOptions,
              rng: np.random.Generator, max_frames: int | None = None) -> ClipView:
    """Clip ``clip`` of ``poses`` as the ``index``-th camera of the bag sees it."""
    specs = CAMERA_SETS[opts.cameras]
    spec = specs[index % len(specs)]
    frames = int((poses.clip == clip).sum())
    length = frames if max_frames is None else min(frames, max_frames)
    primary = poses.joints[poses.clip == clip][:length] / 1000.0
    centre, rot = static_camera(primary[:, 0], spec)
    world = _place_persons(poses, clip, length, opts.persons, rot)      # (T, P, 17, 3) mm
    t, p = world.shape[:2]
    flat = world.reshape(t * p, 17, 3)
    gt = to_camera(flat, np.broadcast_to(centre, (t * p, 3)),
                   np.broadcast_to(rot, (t * p, 3, 3))).reshape(t, p, 17, 3)
    corruption = np.full((t, p), '', dtype=object)
    chosen = rng.random((t, p)) < opts.corrupt_prob
    corruption[chosen] = np.asarray(KINDS)[rng.integers(len(KINDS), size=int(chosen.sum()))]
    seen = gt.copy()
    for kind in KINDS:
        rows = corruption == kind
        if rows.any():
            seen[rows] = corrupt(gt[rows], kind, rng)
    px, conf = _detector(from_h36m17(seen, opts.joint_format), spec, opts, rng)
    present = (gt[:, :, 0, 2] >= MIN_DEPTH_M) & ((conf > 0).sum(-1) >= MIN_VISIBLE)
    dt_ns = int(round(1e9 / float(poses.clip_fps[clip])))
    return ClipView(str(poses.clip_names[clip]), f'camera_{index}_optical_frame', spec, centre,
                    rot, dt_ns, [f'c{index}p{k}' for k in range(p)], px, conf, gt, present,
                    corruption)


def scene(poses: PoseSet, opts: SceneOptions, max_frames: int | None = None
          ) -> list[ClipView]:
    """Every clip of ``poses`` (in clip order) through its camera; at most ``max_frames``
    frames in all (the first ones)."""
    rng = np.random.default_rng(opts.seed)
    views, left = [], max_frames
    for index, clip in enumerate(np.unique(poses.clip)):
        if left is not None and left <= 0:
            break
        view = clip_view(poses, int(clip), index, opts, rng, left)
        views.append(view)
        if left is not None:
            left -= len(view.present)
    return views
