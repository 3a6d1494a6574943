"""Metric placement: from the network's root-relative body-unit pose to metres in the camera frame.

A monocular lifter recovers shape, not size. Size comes from a body-size prior (the expected
total bone length of an adult, in metres, stored in the model contract); the root depth then
follows from the intrinsics: it is the depth at which the metric pose best reprojects onto the
observed 2D (a linear least-squares problem with a closed form).
"""
from __future__ import annotations

import numpy as np

from .skeleton import H36M17, Skeleton, bone_lengths


def metric_scale(pose: np.ndarray, bone_sum_m: float, skeleton: Skeleton = H36M17) -> np.ndarray:
    """Metres per body unit so that the pose's bones add up to the prior.

    pose: (N, J, 3) root-relative, body units -> (N,).
    """
    total = bone_lengths(pose, skeleton).sum(axis=-1)
    return bone_sum_m / np.maximum(total, 1e-9)


def root_depth(pose_m: np.ndarray, virtual: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Depth of the root on the virtual camera's optical axis, metres.

    pose_m: (N, J, 3) root-relative metres in the virtual camera frame; virtual: (N, J, 2)
    root-centred normalised coordinates in the virtual camera (NaN where missing);
    fallback: (N,) depth used where the least-squares problem is degenerate.
    Minimises sum_j |p_j (Z + z_j) - (x_j, y_j)|^2 over Z.
    """
    valid = np.isfinite(virtual).all(axis=-1)
    p = np.where(valid[..., None], virtual, 0.0)
    num = (p * (pose_m[..., :2] - p * pose_m[..., 2:3])).sum(axis=(-1, -2))
    den = (p * p).sum(axis=(-1, -2))
    ok = den > 1e-12
    z = num / np.where(ok, den, 1.0)
    return np.where(ok & np.isfinite(z) & (z > 0.1), z, fallback)


def anchor_to_rays(pose_m: np.ndarray, virtual: np.ndarray) -> np.ndarray:
    """Move every observed joint along its camera ray to the predicted depth.

    pose_m: (N, J, 3) placed poses in the virtual camera frame (metres, root on the axis);
    virtual: (N, J, 2) root-centred normalised 2D, NaN where missing (those keep the
    prediction). The result reprojects exactly onto the observed 2D; only the network's depths
    are kept, as in depth-only lifters (Drover et al. 2018, Chen et al. 2019).
    """
    seen = np.isfinite(virtual).all(axis=-1)
    ray_xy = np.where(seen[..., None], virtual, 0.0) * pose_m[..., 2:3]
    return np.where(seen[..., None], np.concatenate([ray_xy, pose_m[..., 2:3]], -1), pose_m)


def place(pose_units: np.ndarray, virtual: np.ndarray, rotation: np.ndarray, scale: np.ndarray,
          depth_units: float, bone_sum_m: float, anchor: bool = False,
          skeleton: Skeleton = H36M17) -> tuple[np.ndarray, np.ndarray]:
    """Place root-relative poses in the camera frame.

    pose_units: (N, J, 3) root-relative body units, virtual camera frame;
    virtual: (N, J, 2) root-centred virtual-camera 2D; rotation: (N, 3, 3) camera -> virtual;
    scale: (N,) 2D normalisation scale; depth_units: the contract's virtual depth;
    anchor: keep only the predicted depths and put each seen joint on its ray
    (``anchor_to_rays``).
    Returns (joints (N, J, 3) metres in the camera frame, metres_per_unit (N,)).
    """
    k = metric_scale(pose_units, bone_sum_m, skeleton)
    pose_m = pose_units * k[:, None, None]
    # The network's convention: at depth depth_units (body units) the pose projects onto the
    # 2D divided by scale, i.e. a root depth of k * depth_units / scale metres.
    fallback = k * depth_units / np.maximum(scale, 1e-9)
    z = root_depth(pose_m, virtual, fallback)
    placed = pose_m.copy()
    placed[..., 2] += z[:, None]
    if anchor:
        placed = anchor_to_rays(placed, virtual)
    return placed @ rotation, k
