"""Write an example ``kp.npz`` for ``pose-lifter lift`` from a pose file (docs/cli.md).

    .venv/bin/python -m pose_lifter.cli.example_input kp.npz [--poses models/demo_poses.npz]

The middle frame of every clip, seen by every fixed evaluation camera (core.cameras), as
COCO-17 keypoints (core.synth_keypoints) with Gaussian pixel noise; the shipped
``models/example_kp.npz`` is this command's output with the defaults. Besides the keys lift
reads (``keypoints``, ``confidence``, ``K``, ``joint_format``) it holds the camera-frame ground
truth ``joints3d_gt`` (N, 17, 3) metres, which lift ignores.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..core.camera import project
from ..core.cameras import EVAL_CAMERAS, eval_views
from ..core.poses import PoseFileError, load_pose_file
from ..core.synth_keypoints import SYNTH_FORMATS, from_h36m17

NOISE_PX = 1.5
SEED = 0


def example_input(poses_path: str | Path, joint_format: str = 'coco17',
                  noise_px: float = NOISE_PX, seed: int = SEED) -> dict[str, np.ndarray]:
    """The arrays of an example kp.npz: N = clips x cameras persons.

    keypoints (N, J, 2) float32 pixels, confidence (N, J) float32, K (N, 3, 3) float64,
    joint_format () str, joints3d_gt (N, 17, 3) float32 metres in the camera optical frame."""
    poses = load_pose_file(poses_path)
    middle = [int(np.flatnonzero(poses.clip == c)[len(np.flatnonzero(poses.clip == c)) // 2])
              for c in np.unique(poses.clip)]
    cam3d, _, K = eval_views(poses.joints[middle], EVAL_CAMERAS)
    pixels = project(from_h36m17(cam3d, joint_format), K)       # (N, J, 2)
    rng = np.random.default_rng(seed)
    pixels = pixels + rng.standard_normal(pixels.shape) * noise_px
    confidence = rng.uniform(0.6, 1.0, pixels.shape[:-1])
    return {'keypoints': pixels.astype(np.float32), 'confidence': confidence.astype(np.float32),
            'K': np.ascontiguousarray(K, dtype=np.float64),
            'joint_format': np.array(joint_format), 'joints3d_gt': cam3d.astype(np.float32)}


def main(argv: list[str] | None = None) -> int:
    from ..resources import demo_poses

    p = argparse.ArgumentParser(prog='python -m pose_lifter.cli.example_input',
                                description=__doc__.split('\n')[0])
    p.add_argument('out', help='the kp.npz to write')
    p.add_argument('--poses', default=str(demo_poses()), help='pose .npz (docs/pose-files.md)')
    p.add_argument('--joint-format', default='coco17', choices=SYNTH_FORMATS)
    p.add_argument('--noise-px', type=float, default=NOISE_PX)
    p.add_argument('--seed', type=int, default=SEED)
    args = p.parse_args(argv)
    try:
        arrays = example_input(args.poses, args.joint_format, args.noise_px, args.seed)
    except PoseFileError as exc:
        print(f'example_input: error: {exc}', file=sys.stderr)
        return 2
    np.savez_compressed(args.out, **arrays)
    print(f'{len(arrays["keypoints"])} persons ({args.joint_format}) -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
