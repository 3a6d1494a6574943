"""Forward kinematics of a parsed BVH file, vectorised over frames.

Conventions (those of the BVH format as written by the common exporters):

- Rotation channels are Euler angles in degrees, applied in the order the ``CHANNELS`` line lists
  them: ``Zrotation Xrotation Yrotation`` gives ``R = Rz @ Rx @ Ry`` (intrinsic rotations), and a
  point in the joint's frame maps to the parent's frame as ``R @ p + t``.
- ``t`` is the joint's ``OFFSET``; a position channel, where present, gives that component
  instead (``translation='replace'``, the usual reading: exporters that write 6-channel joints,
  such as the Bandai-Namco files, repeat the OFFSET there) or is added to it
  (``translation='add'``).
- A joint's world position is the origin of its frame: ``pos = pos_parent + R_parent @ t``.
"""
from __future__ import annotations

import numpy as np

from .parse import Bvh

TRANSLATION_MODES = ('replace', 'add')


def axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    """Rotation matrices about one coordinate axis: (F,) degrees -> (F, 3, 3)."""
    a = np.deg2rad(np.asarray(degrees, dtype=np.float64))
    c, s = np.cos(a), np.sin(a)
    one, zero = np.ones_like(a), np.zeros_like(a)
    if axis == 'X':
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif axis == 'Y':
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    elif axis == 'Z':
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    else:
        raise ValueError(f'axis must be X, Y or Z, got {axis!r}')
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def euler_matrices(degrees: np.ndarray, axes: str) -> np.ndarray:
    """Intrinsic Euler angles in the given axis order: (F, k) degrees, k = len(axes) -> (F, 3, 3).

    ``euler_matrices(a, 'ZXY') = Rz(a[:, 0]) @ Rx(a[:, 1]) @ Ry(a[:, 2])``.
    """
    degrees = np.asarray(degrees, dtype=np.float64)
    out = np.broadcast_to(np.eye(3), (degrees.shape[0], 3, 3)).copy()
    for k, axis in enumerate(axes):
        out = out @ axis_rotation(axis, degrees[:, k])
    return out


def local_transforms(bvh: Bvh, translation: str = 'replace'
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Each joint's rotation and translation relative to its parent.

    Returns ``R`` (F, J, 3, 3) and ``t`` (F, J, 3), file units.
    """
    if translation not in TRANSLATION_MODES:
        raise ValueError(f'translation must be one of {TRANSLATION_MODES}, got {translation!r}')
    frames, count = len(bvh.motion), len(bvh.joints)
    rot = np.broadcast_to(np.eye(3), (frames, count, 3, 3)).copy()
    trans = np.empty((frames, count, 3))
    for j, joint in enumerate(bvh.joints):
        trans[:, j] = joint.offset
        axes, cols = '', []
        for k, channel in enumerate(joint.channels):
            col = bvh.motion[:, joint.first_column + k]
            axis = 'XYZ'.index(channel[0])
            if channel.endswith('position'):
                trans[:, j, axis] = col if translation == 'replace' else trans[:, j, axis] + col
            else:
                axes += channel[0]
                cols.append(col)
        if axes:
            rot[:, j] = euler_matrices(np.stack(cols, axis=-1), axes)
    return rot, trans


def forward_kinematics(bvh: Bvh, translation: str = 'replace'
                       ) -> tuple[np.ndarray, np.ndarray]:
    """World positions (F, J, 3) and world rotations (F, J, 3, 3) of every joint (and end site),
    in the file's units and axes."""
    rot, trans = local_transforms(bvh, translation)
    pos = np.empty_like(trans)
    world = np.empty_like(rot)
    for j, joint in enumerate(bvh.joints):
        p = joint.parent
        if p < 0:
            pos[:, j] = trans[:, j]
            world[:, j] = rot[:, j]
        else:
            pos[:, j] = pos[:, p] + np.einsum('fab,fb->fa', world[:, p], trans[:, j])
            world[:, j] = world[:, p] @ rot[:, j]
    return pos, world
