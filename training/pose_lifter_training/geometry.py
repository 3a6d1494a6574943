"""Torch geometry of the training objective, twin of the numpy runtime core.

The network's pose is root-relative, in body units, in the virtual camera frame (x right, y down,
z forward); the root sits at the origin and is not part of the (N, J-1, 3) arrays. Placed at the
contract's depth c on the optical axis it reprojects onto the normalised 2D:
``project(Y) = (Y_x, Y_y) / (Y_z + c)``. ``renormalise`` is what ``normalization.normalise``
does after its virtual-camera step (root-centre, divide by c * scale-chain length); the parity
tests check both against the numpy core.
"""
from __future__ import annotations

import math

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


VIEW_AXES = ('camera_y', 'body_tilt')
MAX_TILT_RAD = math.radians(60.0)


def rotation_about(axis: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Rodrigues: unit axes (N, 3), angles (N,) or (N, K) -> rotations (N[, K], 3, 3)."""
    if theta.dim() == 2:
        axis = axis[:, None].expand(-1, theta.shape[1], -1)
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([torch.stack([zero, -z, y], -1), torch.stack([z, zero, -x], -1),
                     torch.stack([-y, x, zero], -1)], dim=-2)
    s, c = torch.sin(theta)[..., None, None], torch.cos(theta)[..., None, None]
    eye = torch.eye(3, dtype=axis.dtype, device=axis.device)
    return eye + s * k + (1.0 - c) * (k @ k)


def tilted_up_axis(pose: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """The body's up direction (pelvis -> thorax) reduced to its tilt about the camera x axis,
    clamped to +-60 degrees from the image vertical, as a unit axis: (N, J-1, 3) -> (N, 3).

    A camera looking down (or up) at a person sees the world vertical tilted about its x
    axis; turning the lifted person about this axis instead of the camera's y axis gives novel
    views from cameras at the same elevation (after ElePose, Wandt et al. CVPR 2022, which
    learns the elevation instead). Sideways lean is left out: cameras rarely roll, people lean.
    The axis carries no gradient."""
    full = add_root(pose.detach(), skeleton)
    up = full[:, skeleton.index('thorax')] - full[:, skeleton.root]
    tilt = torch.atan2(up[:, 2], -up[:, 1]).clamp(-MAX_TILT_RAD, MAX_TILT_RAD)
    return torch.stack([torch.zeros_like(tilt), -torch.cos(tilt), torch.sin(tilt)], dim=-1)


def novel_views(pose: torch.Tensor, theta: torch.Tensor, renorm: bool,
                spec: NormalisationSpec = SPEC, skeleton: Skeleton = H36M17,
                axis: str = 'camera_y') -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rotate by theta about the camera y axis (``camera_y``) or the body's tilted up axis
    (``body_tilt``, ``tilted_up_axis``), project, optionally re-normalise.

    pose (N, J-1, 3); theta (N,) or (N, K) -> views (N[, K], J-1, 2), rotations (N[, K], 3, 3)
    and the re-normalisation factor (N[, K]) (ones without ``renorm``).
    """
    if axis == 'camera_y':
        rot = rotation_y(theta)
    elif axis == 'body_tilt':
        rot = rotation_about(tilted_up_axis(pose, skeleton), theta)
    else:
        raise ValueError(f'view axis {axis!r}: choose one of {list(VIEW_AXES)}')
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


def bone_lengths(pose: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """(N, J-1, 3) root-relative pose -> (N, B) lengths of the skeleton's bones."""
    full = add_root(pose, skeleton)
    b = torch.tensor(skeleton.bones.tolist(), device=pose.device)
    return torch.linalg.vector_norm(full[:, b[:, 1]] - full[:, b[:, 0]], dim=-1)


def bone_asymmetry(pose: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """Mean |left bone - right twin| relative to the 3D scale-chain length: (N, J-1, 3) -> (N,).

    An anatomical prior (bodies are left/right symmetric), not a statistic of any data set.
    """
    lengths = bone_lengths(pose, skeleton)
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
