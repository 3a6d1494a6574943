"""Metric placement: from the network's root-relative body-unit pose to metres in the camera frame.

A monocular lifter recovers shape, not size. Size comes from a body-size prior (the expected
total bone length of an adult, in metres, stored in the model contract); the root depth then
follows from the intrinsics: it is the depth at which the metric pose best reprojects onto the
observed 2D (a linear least-squares problem with a closed form).
"""
from __future__ import annotations

import numpy as np

from .camera import finite_points
from .skeleton import H36M17, Skeleton, bone_lengths


def metric_scale(pose: np.ndarray, bone_sum_m: float, skeleton: Skeleton = H36M17) -> np.ndarray:
    """Metres per body unit so that the pose's bones add up to the prior.

    pose: (N, J, 3) root-relative, body units -> (N,).
    """
    total = bone_lengths(pose, skeleton).sum(axis=-1)
    return bone_sum_m / np.maximum(total, 1e-9)


def root_depth(pose_m: np.ndarray, seen_2d: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Depth of the root on the virtual camera's optical axis, metres.

    pose_m: (N, J, 3) root-relative metres in the virtual camera frame; seen_2d: (N, J, 2)
    root-centred normalised coordinates in the virtual camera, 0 where missing (a missing
    joint adds nothing; ``seen_points``); fallback: (N,) depth used where the least-squares
    problem is degenerate. Minimises sum_j |p_j (Z + z_j) - (x_j, y_j)|^2 over Z.
    """
    p = seen_2d
    num = (p * (pose_m[..., :2] - p * pose_m[..., 2:3])).sum(axis=(-1, -2))
    den = (p * p).sum(axis=(-1, -2))
    ok = den > 1e-12
    z = num / np.where(ok, den, 1.0)
    return np.where(ok & np.isfinite(z) & (z > 0.1), z, fallback)


def seen_points(virtual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, J, 2) 2D with NaN where missing -> (N, J) bool seen, (N, J, 2) with 0 where not."""
    seen = finite_points(virtual)
    return seen, np.where(seen[..., None], virtual, 0.0)


def anchor_to_rays(pose_m: np.ndarray, seen: np.ndarray, seen_2d: np.ndarray) -> np.ndarray:
    """Move every observed joint along its camera ray to the predicted depth.

    pose_m: (N, J, 3) placed poses in the virtual camera frame (metres, root on the axis);
    seen: (N, J) bool and seen_2d: (N, J, 2) the root-centred normalised 2D, 0 where missing
    (``seen_points``; missing joints keep the prediction). The result reprojects exactly onto
    the observed 2D; only the network's depths are kept, as in depth-only lifters (Drover et
    al. 2018, Chen et al. 2019).
    """
    out = pose_m.copy()
    out[..., :2] = np.where(seen[..., None], seen_2d * pose_m[..., 2:3], pose_m[..., :2])
    return out


def place(pose_units: np.ndarray, virtual: np.ndarray, rotation: np.ndarray, scale: np.ndarray,
          depth_units: float, bone_sum_m: float, anchor: bool = False,
          skeleton: Skeleton = H36M17) -> tuple[np.ndarray, np.ndarray]:
    """Place root-relative poses in the camera frame.

    pose_units: (N, J, 3) root-relative body units, virtual camera frame;
    virtual: (N, J, 2) root-centred virtual-camera 2D (NaN where missing); rotation: (N, 3, 3)
    camera -> virtual; scale: (N,) 2D normalisation scale; depth_units: the contract's
    virtual depth; anchor: keep only the predicted depths and put each seen joint on its ray
    (``anchor_to_rays``).
    Returns (joints (N, J, 3) metres in the camera frame, metres_per_unit (N,)).
    """
    k = metric_scale(pose_units, bone_sum_m, skeleton)
    placed = pose_units * k[:, None, None]
    # The network's convention: at depth depth_units (body units) the pose projects onto the
    # 2D divided by scale, i.e. a root depth of k * depth_units / scale metres.
    fallback = k * depth_units / np.maximum(scale, 1e-9)
    seen, seen_2d = seen_points(virtual)
    placed[..., 2] += root_depth(placed, seen_2d, fallback)[:, None]
    if anchor:
        placed = anchor_to_rays(placed, seen, seen_2d)
    return placed @ rotation, k
