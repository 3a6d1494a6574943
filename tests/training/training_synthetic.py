"""Small synthetic pose sets for the training tests (no ../shared data needed).

A standing skeleton (Y up, facing +Z, mm) with randomly swung arms and legs, a random yaw and a
random position per frame; clips are grouped into subjects like the real pose files.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pose_lifter.core.poses import PoseSet, save_pose_file
from pose_lifter.core.skeleton import H36M17

# Facing +Z with Y up, the person's left is +X.
BASE = {
    'pelvis': (0, 950, 0), 'r_hip': (-110, 940, 0), 'r_knee': (-115, 520, 20),
    'r_ankle': (-120, 90, 0), 'l_hip': (110, 940, 0), 'l_knee': (115, 520, 20),
    'l_ankle': (120, 90, 0), 'spine': (0, 1180, -10), 'thorax': (0, 1420, 0),
    'neck_nose': (0, 1540, 90), 'head': (0, 1640, 10), 'l_shoulder': (170, 1400, 0),
    'l_elbow': (190, 1120, 0), 'l_wrist': (200, 860, 30), 'r_shoulder': (-170, 1400, 0),
    'r_elbow': (-190, 1120, 0), 'r_wrist': (-200, 860, 30),
}
BASE_POSE = np.array([BASE[n] for n in H36M17.joint_names], dtype=np.float64)


def _rot_x(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1),
                     np.stack([z, s, c], -1)], -2)


def _rot_y(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1),
                     np.stack([-s, z, c], -1)], -2)


def random_poses(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 17, 3) world poses, mm, Y up."""
    poses = np.repeat(BASE_POSE[None], n, axis=0)
    chains = {'l_shoulder': ('l_elbow', 'l_wrist'), 'r_shoulder': ('r_elbow', 'r_wrist'),
              'l_hip': ('l_knee', 'l_ankle'), 'r_hip': ('r_knee', 'r_ankle')}
    for top, rest in chains.items():
        pivot = poses[:, H36M17.index(top)][:, None]
        idx = [H36M17.index(j) for j in rest]
        swing = _rot_x(rng.uniform(-0.9, 0.9, n))
        poses[:, idx] = (poses[:, idx] - pivot) @ np.swapaxes(swing, -1, -2) + pivot
    root = poses[:, :1].copy()
    yaw = _rot_y(rng.uniform(-np.pi, np.pi, n))
    poses = (poses - root) @ np.swapaxes(yaw, -1, -2) + root
    poses[..., [0, 2]] += rng.uniform(-2000, 2000, (n, 1, 2))
    return poses


def synthetic_set(subjects: tuple[str, ...] = ('s1', 's2', 'v1', 't1'), clips: int = 2,
                  frames: int = 40, fps: float = 30.0, seed: int = 0) -> PoseSet:
    rng = np.random.default_rng(seed)
    joints, clip, names, subs = [], [], [], []
    for s in subjects:
        for c in range(clips):
            joints.append(random_poses(frames, rng))
            clip.append(np.full(frames, len(names)))
            names.append(f'{s}_clip{c}')
            subs.append(s)
    return PoseSet(np.concatenate(joints).astype(np.float32), np.concatenate(clip),
                   np.array(names), np.array(subs), np.full(len(names), fps))


def write_synthetic(path: Path, **kwargs) -> Path:
    save_pose_file(path, synthetic_set(**kwargs))
    return path


TINY = ['model.width=32', 'model.critic_width=32', 'model.latent=8', 'model.critic_views=4',
        'train.batch=64', 'train.epochs=1', 'train.progress=false', 'train.plots=false',
        'train.threads=1', "data.train_subjects=['s1','s2']", "data.val_subjects=['v1']",
        "data.test_subjects=['t1']", 'data.train_fps=30', 'data.eval_fps=15']


def tiny_config(pose_file: Path, preset: str = 'default', extra: list[str] | None = None):
    """A tiny run config (width 32, 1 epoch) on the synthetic subjects s1, s2 / v1 / t1."""
    from pose_lifter_training.config import load_config
    return load_config(preset, overrides=TINY + [f'data.path={pose_file}'] + (extra or []))
