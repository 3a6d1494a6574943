"""Torch geometry of the training objective, twin of the numpy runtime core.

The network's pose is root-relative, in body units, in the virtual camera frame (x right, y down,
z forward); the root sits at the origin and is not part of the (N, J-1, 3) arrays. Placed at the
contract's depth c on the optical axis it reprojects onto the normalised 2D:
``project(Y) = (Y_x, Y_y) / (Y_z + c)``. ``renormalise`` is what ``normalization.normalise``
does after its virtual-camera step (root-centre, divide by c * scale-chain length); the parity
tests check both against the numpy core.
"""
from __future__ import annotations

import torch

from pose_lifter.core.normalization import NormalisationSpec
from pose_lifter.core.skeleton import H36M17, Skeleton

SPEC = NormalisationSpec()
EPS = 1e-12


def add_root(points: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """(..., J-1, D) non-root joints -> (..., J, D) with the root at the origin."""
    root = skeleton.root
    zeros = torch.zeros_like(points[..., :1, :])
    return torch.cat([points[..., :root, :], zeros, points[..., root:, :]], dim=-2)


def project(pose: torch.Tensor, depth: float = SPEC.depth, min_z: float = EPS) -> torch.Tensor:
    """pi(Y + (0, 0, depth)): (..., J-1, 3) -> (..., J-1, 2); camera depth clamped to min_z."""
    return pose[..., :2] / torch.clamp(pose[..., 2:3] + depth, min=min_z)


def rotation_y(theta: torch.Tensor) -> torch.Tensor:
    """(...,) angles (rad) -> (..., 3, 3) rotations about the camera y axis (image vertical)."""
    c, s = torch.cos(theta), torch.sin(theta)
    zero, one = torch.zeros_like(theta), torch.ones_like(theta)
    rows = [torch.stack([c, zero, s], -1), torch.stack([zero, one, zero], -1),
            torch.stack([-s, zero, c], -1)]
    return torch.stack(rows, dim=-2)


def rotate(pose: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """Rotate about the root: pose (..., J-1, 3), rotation (..., 3, 3) -> (..., J-1, 3)."""
    return pose @ rotation.transpose(-1, -2)


def chain_length(points: torch.Tensor, spec: NormalisationSpec = SPEC,
                 skeleton: Skeleton = H36M17) -> torch.Tensor:
    """Length of the scale chain (head, thorax, spine, pelvis): (..., J-1, D) -> (...,)."""
    full = add_root(points, skeleton)
    idx = [skeleton.index(j) for j in spec.chain]
    seg = full[..., idx[:-1], :] - full[..., idx[1:], :]
    return torch.linalg.vector_norm(seg, dim=-1).sum(dim=-1)


def renormalise(points: torch.Tensor, spec: NormalisationSpec = SPEC,
                skeleton: Skeleton = H36M17) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pose 2D normalisation of root-centred points, (..., J-1, 2).

    Returns the normalised points (chain length 1 / depth) and the factor applied, (...,).
    """
    factor = 1.0 / torch.clamp(spec.depth * chain_length(points, spec, skeleton), min=EPS)
    return points * factor[..., None, None], factor


def novel_views(pose: torch.Tensor, theta: torch.Tensor, renorm: bool,
                spec: NormalisationSpec = SPEC, skeleton: Skeleton = H36M17
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rotate by R_y(theta), project, optionally re-normalise.

    pose (N, J-1, 3); theta (N,) or (N, K) -> views (N[, K], J-1, 2), rotations (N[, K], 3, 3)
    and the re-normalisation factor (N[, K]) (ones without ``renorm``).
    """
    rot = rotation_y(theta)
    rotated = rotate(pose[:, None] if theta.dim() == 2 else pose, rot)
    views = project(rotated, spec.depth)
    if renorm:
        views, factor = renormalise(views, spec, skeleton)
    else:
        factor = torch.ones(views.shape[:-2], dtype=views.dtype, device=views.device)
    return views, rot, factor


def body_forward(pose: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """Unit forward direction of the body: (left hips + left shoulders) x (thorax - pelvis).

    pose: (N, J-1, 3) -> (N, 3). Left vectors point from each r_ joint to its l_ twin; in a
    right-handed frame left x up points where the person faces.
    """
    full = add_root(pose, skeleton)
    i = skeleton.index
    left = (full[:, i('l_hip')] - full[:, i('r_hip')]) + \
        (full[:, i('l_shoulder')] - full[:, i('r_shoulder')])
    up = full[:, i('thorax')] - full[:, skeleton.root]
    fwd = torch.linalg.cross(left, up, dim=-1)
    return fwd / torch.clamp(torch.linalg.vector_norm(fwd, dim=-1, keepdim=True), min=EPS)


def face_forward_violation(pose: torch.Tensor, margin: float = 0.0,
                           skeleton: Skeleton = H36M17) -> torch.Tensor:
    """Hinge on the nose lying in front of the thorax along the body's forward direction.

    pose: (N, J-1, 3) -> (N,) relu(margin - d / L), d = (nose - thorax) . forward and L the 3D
    scale-chain length. A depth-flipped (mirrored) pose reverses the sign of d: on the CMU
    training subjects d > 0 for ~95 % of frames and d / L > -0.04 for 99 %.
    """
    full = add_root(pose, skeleton)
    d = ((full[:, skeleton.index('neck_nose')] - full[:, skeleton.index('thorax')]) *
         body_forward(pose, skeleton)).sum(-1)
    length = torch.clamp(chain_length(pose, SPEC, skeleton), min=EPS)
    return torch.relu(margin - d / length)


def symmetric_bone_pairs(skeleton: Skeleton = H36M17) -> tuple[list[int], list[int]]:
    """Indices into ``skeleton.bones`` of each left bone and its right twin."""
    bones = [tuple(b) for b in skeleton.bones.tolist()]
    flip = skeleton.flip_permutation
    left, right = [], []
    for k, (p, c) in enumerate(bones):
        if skeleton.side[c] == 1:
            left.append(k)
            right.append(bones.index((int(flip[p]), int(flip[c]))))
    return left, right


def bone_asymmetry(pose: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """Mean |left bone - right twin| relative to the 3D scale-chain length: (N, J-1, 3) -> (N,).

    An anatomical prior (bodies are left/right symmetric), not a statistic of any data set.
    """
    full = add_root(pose, skeleton)
    b = torch.tensor(skeleton.bones.tolist(), device=pose.device)
    lengths = torch.linalg.vector_norm(full[:, b[:, 1]] - full[:, b[:, 0]], dim=-1)
    left, right = symmetric_bone_pairs(skeleton)
    diff = (lengths[:, left] - lengths[:, right]).abs().mean(dim=-1)
    return diff / torch.clamp(chain_length(pose, SPEC, skeleton), min=EPS)


def knee_backward(pose: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """Hinge on each knee pointing forward: (N, J-1, 3) -> (N,) mean over both legs of
    relu(-v), v = (knee - mid(hip, ankle)) . forward / L, L the 3D scale-chain length.

    Knees do not bend backwards: on the CMU subjects v >= 0 in 98-99 % of frames (median
    0.28), and a leg flipped in depth reverses the sign of v, so this resolves the per-leg depth
    ambiguity that the face-forward prior (one joint, the nose) cannot.
    """
    full = add_root(pose, skeleton)
    fwd = body_forward(pose, skeleton)
    length = torch.clamp(chain_length(pose, SPEC, skeleton), min=EPS)
    i = skeleton.index
    out = torch.zeros_like(length)
    for side in ('l_', 'r_'):
        hip, knee, ankle = (full[:, i(side + n)] for n in ('hip', 'knee', 'ankle'))
        v = ((knee - 0.5 * (hip + ankle)) * fwd).sum(-1) / length
        out = out + 0.5 * torch.relu(-v)
    return out
