"""Training and evaluation sets, kept in memory as arrays (no per-sample DataLoader).

Training 2D is regenerated every epoch: each 3D pose goes through a fresh random camera
(``cameras.random_views``) and the runtime normalisation (``normalise_camera_points``); only that
normalised 2D reaches the unsupervised loss. Validation/test use the fixed ``eval_views`` set.

Body units (the network's output space, and the supervised target): a root-relative pose in the
virtual camera frame, metres * depth / (root_depth_m * scale) -- the pose that, placed at the
contract's depth, reprojects onto the normalised 2D (the inverse of ``placement.place``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose_lifter.core.adapters import to_h36m17
from pose_lifter.core.camera import pixels_to_normalized
from pose_lifter.core.cameras import eval_views, random_views
from pose_lifter.core.detector_noise import joint_kappa, person_height, perturb, project_visible
from pose_lifter.core.normalization import (
    NormalisationSpec,
    Normalised,
    normalise,
    normalise_camera_points,
)
from pose_lifter.core.poses import PoseFileError, PoseSet
from pose_lifter.core.skeleton import H36M17, Skeleton, bone_lengths, flip_left_right
from pose_lifter.core.synth_keypoints import from_h36m17

from .config import DataConfig
from .sources import VIDEOPOSE3D_FPS, load_poses, load_videopose3d_2d, normalise_keypoints


def insert_root(points: np.ndarray, skeleton: Skeleton = H36M17) -> np.ndarray:
    """(N, J-1, D) non-root joints -> (N, J, D) with the root at the origin."""
    n, _, d = points.shape
    out = np.zeros((n, skeleton.num_joints, d), dtype=points.dtype)
    out[:, skeleton.non_root] = points
    return out


def flip_rows(points: np.ndarray, rows: np.ndarray, skeleton: Skeleton = H36M17) -> np.ndarray:
    """Mirror the poses ``rows`` (bool (N,)) of (N, J-1, D) root-centred non-root joints."""
    out = points.copy()
    if rows.any():
        full = flip_left_right(insert_root(points[rows], skeleton), skeleton)
        out[rows] = full[:, skeleton.non_root]
    return out


def limb_joints(skeleton: Skeleton = H36M17) -> np.ndarray:
    """Indices into the non-root array of the joints missing-joint augmentation may drop:
    side joints whose parent is a side joint too (knees, ankles, elbows, wrists)."""
    side, parents = skeleton.side, np.asarray(skeleton.parents)
    limb = [j for j in range(skeleton.num_joints)
            if side[j] != 0 and parents[j] >= 0 and side[parents[j]] != 0]
    return np.searchsorted(skeleton.non_root, limb)


def missing_mask(n: int, prob: float, max_missing: int, rng: np.random.Generator,
                 skeleton: Skeleton = H36M17) -> np.ndarray:
    """(N, J-1) bool visibility; a share ``prob`` of rows loses 1..max_missing limb joints."""
    mask = np.ones((n, skeleton.num_joints - 1), dtype=bool)
    candidates = limb_joints(skeleton)
    rows = np.flatnonzero(rng.random(n) < prob)
    for r in rows:
        k = rng.integers(1, max_missing + 1)
        mask[r, rng.choice(candidates, size=min(k, len(candidates)), replace=False)] = False
    return mask


def body_units(rel_virtual_m: np.ndarray, root_depth_m: np.ndarray, scale: np.ndarray,
               depth: float) -> np.ndarray:
    """(N, J, 3) root-relative metres, virtual frame -> body units (see the module docstring)."""
    return rel_virtual_m * (depth / (root_depth_m * scale))[:, None, None]


def bone_sum_m(poses: PoseSet, skeleton: Skeleton = H36M17) -> float:
    """Body-size prior: mean total bone length of the poses, metres (NaN without poses)."""
    if len(poses) == 0:
        return float('nan')
    return float(bone_lengths(poses.joints.astype(np.float64), skeleton).sum(-1).mean() / 1000.0)


@dataclass
class EpochData:
    """One epoch of training rows."""

    inputs: np.ndarray      # (N, J-1, 2) float32 normalised 2D
    visible: np.ndarray     # (N, J-1) bool, False for joints dropped by augmentation
    targets: np.ndarray     # (N, J-1, 3) float32 body units; NaN rows for 2D-only sources


class TrainData:
    """World 3D training poses (+ optional fixed 2D-only rows) -> fresh 2D every epoch."""

    def __init__(self, poses: PoseSet, cfg: DataConfig, extra_inputs: np.ndarray | None = None,
                 spec: NormalisationSpec = NormalisationSpec(), skeleton: Skeleton = H36M17):
        self.joints = poses.joints.astype(np.float64)
        self.extra = extra_inputs if extra_inputs is not None else \
            np.zeros((0, skeleton.num_joints - 1, 2), np.float32)
        self.extra_visible = np.ones(self.extra.shape[:2], bool)   # joints seen in the 2D
        self.cfg, self.spec, self.skeleton = cfg, spec, skeleton

    def __len__(self) -> int:
        return len(self.joints) + len(self.extra)

    def views(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A random camera per 3D pose -> inputs (M, J-1, 2), body-unit targets (M, J-1, 3)."""
        if len(self.joints) == 0:   # 2D-only run
            j = self.skeleton.num_joints - 1
            return np.zeros((0, j, 2), np.float32), np.zeros((0, j, 3), np.float32)
        cam, K = random_views(self.joints, rng, distance=tuple(self.cfg.distance_m),
                              height=tuple(self.cfg.height_m), focal=tuple(self.cfg.focal_px))
        if self.cfg.noise_prob > 0:
            norm, rel = detector_view(cam, K, self.cfg, rng, self.spec, self.skeleton)
        else:
            norm, rel = normalise_camera_points(cam, self.spec, self.skeleton)
        root = self.skeleton.index(self.spec.root)
        target = body_units(rel, np.linalg.norm(cam[:, root], axis=-1), norm.scale,
                            self.spec.depth)
        keep = self.skeleton.non_root
        seen = np.isfinite(norm.virtual[:, keep]).all(-1)
        inputs = np.where(seen[..., None], norm.inputs, np.nan)   # NaN = not detected
        return inputs[norm.ok], target[norm.ok][:, keep].astype(np.float32)

    def sample_epoch(self, rng: np.random.Generator, with_extra: bool = True) -> EpochData:
        inputs, targets = self.views(rng)
        if with_extra and len(self.extra):   # joints missing in the recorded 2D stay missing
            extra = np.where(self.extra_visible[..., None], self.extra, np.nan)
            inputs = np.concatenate([inputs, extra])
            nan = np.full((len(self.extra),) + targets.shape[1:], np.nan, np.float32)
            targets = np.concatenate([targets, nan])
        flip = rng.random(len(inputs)) < self.cfg.flip_prob
        inputs = flip_rows(inputs, flip, self.skeleton)
        targets = flip_rows(targets, flip, self.skeleton)
        visible = missing_mask(len(inputs), self.cfg.missing_prob, self.cfg.missing_max, rng,
                               self.skeleton) & np.isfinite(inputs).all(-1)
        return EpochData(np.nan_to_num(inputs).astype(np.float32), visible, targets)

    def mean_pose(self, rng: np.random.Generator) -> np.ndarray:
        """(J-1, 3) mean training pose in body units (the mean-pose baseline); zeros without
        3D poses."""
        if len(self.joints) == 0:
            return np.zeros((self.skeleton.num_joints - 1, 3))
        return self.views(rng)[1].mean(axis=0)


def detector_view(cam: np.ndarray, K: np.ndarray, cfg: DataConfig, rng: np.random.Generator,
                  spec: NormalisationSpec = NormalisationSpec(), skeleton: Skeleton = H36M17
                  ) -> tuple[Normalised, np.ndarray]:
    """Camera-frame poses as a 2D detector reports them, normalised like the runtime does.

    cam (N, J, 3) m, K (N, 3, 3). A share ``noise_prob`` of poses gets detector noise
    (``core.detector_noise``: a pixel floor ~ U(0, noise_px_max), a size-relative part
    ~ U(0, noise_size_max) per pose, dropped and badly localised joints); a share
    ``coco_prob`` goes through COCO-17 keypoints and the runtime's COCO adapter (derived
    pelvis, thorax, spine, head), as detections do. Returns the Normalised 2D (missing joints
    NaN in ``virtual``) and the root-relative 3D in its virtual camera frame (N, J, 3).
    """
    n = len(cam)
    coco = rng.random(n) < cfg.coco_prob
    noisy = rng.random(n) < cfg.noise_prob
    floor = np.where(noisy, rng.uniform(0.0, cfg.noise_px_max, n), 0.0)
    frac = np.where(noisy, rng.uniform(0.0, cfg.noise_size_max, n), 0.0)
    drop = np.where(noisy, cfg.noise_drop, 0.0)[:, None]
    low = np.where(noisy, cfg.noise_low_conf, 0.0)[:, None]
    kp = np.full(cam.shape[:-1] + (2,), np.nan)
    for fmt, rows in (('coco17', coco), (skeleton.name, ~coco)):
        if not rows.any():
            continue
        pts = from_h36m17(cam[rows], fmt)
        px = project_visible(pts, K[rows])
        sigma = floor[rows, None] + frac[rows, None] * person_height(px)[:, None] * \
            joint_kappa(fmt)
        px, conf = perturb(px, sigma, drop[rows], low[rows], 3.0, rng)
        kp[rows], _ = to_h36m17(px, conf, fmt)
    norm = normalise(pixels_to_normalized(kp, K), spec, skeleton)
    root = skeleton.index(spec.root)
    rel = (cam - cam[:, root:root + 1]) @ np.swapaxes(norm.rotation, -1, -2)
    return norm, rel


@dataclass
class EvalSet:
    """Poses through the fixed evaluation cameras, ready for the runtime placement path."""

    inputs: np.ndarray      # (N, J-1, 2) float32 network input
    virtual: np.ndarray     # (N, J, 2) root-centred virtual-camera 2D
    rotation: np.ndarray    # (N, 3, 3) camera -> virtual camera
    scale: np.ndarray       # (N,) normalisation scale
    gt_mm: np.ndarray       # (N, J, 3) ground truth, camera frame, mm
    target: np.ndarray      # (N, J-1, 3) ground truth in body units
    pixels: np.ndarray      # (N, J, 2)
    K: np.ndarray           # (N, 3, 3)
    clip: np.ndarray        # (N,) int
    camera: np.ndarray      # (N,) int index into EVAL_CAMERAS
    clip_names: np.ndarray  # (C,) str

    def __len__(self) -> int:
        return len(self.inputs)


def build_eval_set(poses: PoseSet, spec: NormalisationSpec = NormalisationSpec(),
                   skeleton: Skeleton = H36M17) -> EvalSet:
    """Every pose through every camera of ``cameras.EVAL_CAMERAS`` (camera-major rows)."""
    if len(poses) == 0:
        raise PoseFileError('evaluation split is empty (check the subject lists)')
    cam3d, pixels, K = eval_views(poses.joints.astype(np.float64))
    norm = normalise(pixels_to_normalized(pixels, K), spec, skeleton)
    root = skeleton.index(spec.root)
    rel = (cam3d - cam3d[:, root:root + 1]) @ np.swapaxes(norm.rotation, -1, -2)
    target = body_units(rel, np.linalg.norm(cam3d[:, root], axis=-1), norm.scale, spec.depth)
    n_cams = len(cam3d) // len(poses)
    clip = np.tile(poses.clip, n_cams)
    camera = np.repeat(np.arange(n_cams), len(poses))
    ok = norm.ok
    return EvalSet(norm.inputs[ok], norm.virtual[ok], norm.rotation[ok], norm.scale[ok],
                   cam3d[ok] * 1000.0, target[ok][:, skeleton.non_root].astype(np.float32),
                   pixels[ok], K[ok], clip[ok], camera[ok], poses.clip_names)


def empty_poses() -> PoseSet:
    """No 3D at all (a run on unlabelled 2D only)."""
    return PoseSet(np.zeros((0, H36M17.num_joints, 3), np.float32), np.zeros(0, np.int64),
                   np.zeros(0, str), np.zeros(0, str), np.zeros(0))


@dataclass
class Splits:
    train: PoseSet          # at train_fps
    val: PoseSet            # at eval_fps
    test: PoseSet           # at eval_fps
    extra_2d: np.ndarray | None   # (M, J-1, 2) normalised 2D-only training rows


def load_splits(cfg: DataConfig, path: str | None = None) -> Splits:
    """Subject splits of the pose file (and the 2D-only file) named in the config.

    Every validation/test subject must be in the 3D file; a train subject may come from either.
    """
    poses = (load_poses(path or cfg.path, cfg.trust_pickle) if path or cfg.path
             else empty_poses())
    subjects = {str(s) for s in np.unique(poses.subjects)}
    extra, extra_subjects = None, set()
    if cfg.extra_2d:
        kp = load_videopose3d_2d(cfg.extra_2d, trust_pickle=cfg.trust_pickle)
        extra_subjects = {str(s) for s in np.unique(kp.subjects)}
        step = max(1, int(round(VIDEOPOSE3D_FPS / cfg.train_fps)))
        kp = kp.select(np.isin(kp.subjects, cfg.train_subjects) & (np.arange(len(kp)) % step == 0))
        if len(kp):
            extra = normalise_keypoints(kp)

    def pick(names: list[str], fps: float, what: str, also: set[str]) -> PoseSet:
        if not (path or cfg.path):   # no 3D file: every split is empty
            return poses
        missing = sorted(set(names) - subjects - also)
        if missing:
            raise PoseFileError(f'{what} subjects {missing} are not in {path or cfg.path} '
                                f'(it has {sorted(subjects)})')
        return poses.subjects_only(names).subsample(fps)

    return Splits(pick(cfg.train_subjects, cfg.train_fps, 'train', extra_subjects),
                  pick(cfg.val_subjects, cfg.eval_fps, 'validation', set()),
                  pick(cfg.test_subjects, cfg.eval_fps, 'test', set()), extra)
