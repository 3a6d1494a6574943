"""Torch geometry vs the numpy runtime core (one preprocessing, two languages)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from training_synthetic import random_poses

from pose_lifter.core.normalization import NormalisationSpec, normalise_camera_points
from pose_lifter.core.skeleton import H36M17, chain_length
from pose_lifter_training import geometry
from pose_lifter_training.data import insert_root
from pose_lifter_training.geometry import (
    add_root,
    face_forward_violation,
    novel_views,
    project,
    renormalise,
    rotation_y,
)

SPEC = NormalisationSpec()


def body_poses(n: int = 50, seed: int = 0) -> np.ndarray:
    """(n, J-1, 3) root-relative poses in body units (chain length ~1), camera-like axes."""
    world = random_poses(n, np.random.default_rng(seed))
    rel = world - world[:, :1]
    rel = rel * np.array([1.0, -1.0, -1.0])            # Y up -> y down (proper rotation)
    rel /= chain_length(rel)[:, None, None]
    return rel[:, 1:]


def test_project_and_renormalise_match_the_numpy_normalisation():
    pose = body_poses()
    cam = insert_root(pose) + np.array([0.0, 0.0, SPEC.depth])    # root on the optical axis
    norm, rel = normalise_camera_points(cam, SPEC)
    t = torch.tensor(pose)
    x, factor = renormalise(project(t, SPEC.depth), SPEC)
    np.testing.assert_allclose(x.numpy(), norm.inputs, atol=1e-6)
    np.testing.assert_allclose(project(t).numpy(), (cam[:, 1:, :2] / cam[:, 1:, 2:]),
                               atol=1e-12)
    np.testing.assert_allclose(rel[:, 1:], pose, atol=1e-9)       # rotation is the identity
    chain = chain_length(insert_root(x.numpy().astype(np.float64)))
    np.testing.assert_allclose(chain, 1.0 / SPEC.depth, rtol=1e-5)
    assert factor.shape == (len(pose),)


def test_novel_views_rotate_about_the_camera_y_axis():
    r = rotation_y(torch.tensor([0.3, -2.0], dtype=torch.float64))
    np.testing.assert_allclose((r @ r.transpose(-1, -2)).numpy(), np.eye(3)[None].repeat(2, 0),
                               atol=1e-12)
    np.testing.assert_allclose(torch.linalg.det(r).numpy(), 1.0)
    pose = torch.tensor(body_poses(4))
    views, rot, factor = novel_views(pose, torch.zeros(4, dtype=torch.float64), renorm=False)
    np.testing.assert_allclose(views.numpy(), project(pose).numpy())
    assert torch.all(factor == 1)
    # y is unchanged by R_y, so the raw views keep y / (z' + c) structure
    views, _, _ = novel_views(pose, torch.full((4, 3), 1.0, dtype=torch.float64), renorm=True)
    assert views.shape == (4, 3, 16, 2)


def test_add_root_inserts_zeros_at_the_root():
    x = torch.randn(3, H36M17.num_joints - 1, 2)
    full = add_root(x)
    assert full.shape == (3, H36M17.num_joints, 2)
    assert torch.all(full[:, H36M17.root] == 0)
    assert torch.equal(full[:, H36M17.non_root.tolist()], x)


def test_face_forward_prior_flags_depth_flipped_poses():
    pose = torch.tensor(body_poses(200))
    assert face_forward_violation(pose).max() < 1e-9
    mirrored = pose * torch.tensor([1.0, 1.0, -1.0], dtype=pose.dtype)   # depth flip
    assert (face_forward_violation(mirrored) > 0.02).float().mean() > 0.95
    # a left/right label swap with mirrored x is a real body again: no violation
    flipped = pose[:, H36M17.flip_permutation[1:] - 1] * torch.tensor([-1.0, 1.0, 1.0],
                                                                      dtype=pose.dtype)
    assert face_forward_violation(flipped).max() < 1e-9


def test_rotation_about_the_y_axis_is_rotation_y():
    theta = torch.tensor([0.3, -1.2, 2.5])
    axis = torch.tensor([[0.0, 1.0, 0.0]]).expand(3, -1)
    assert torch.allclose(geometry.rotation_about(axis, theta), geometry.rotation_y(theta),
                          atol=1e-6)
    many = geometry.rotation_about(axis, theta[None].expand(3, -1))
    assert many.shape == (3, 3, 3, 3)


def _pitched(pose: torch.Tensor, deg: float) -> torch.Tensor:
    """The pose seen by a camera pitched down by ``deg`` (rotation about camera x)."""
    a = math.radians(deg)
    r = torch.tensor([[1.0, 0.0, 0.0], [0.0, math.cos(a), -math.sin(a)],
                      [0.0, math.sin(a), math.cos(a)]])
    return pose @ r.T


def test_body_tilt_views_turn_the_person_about_its_own_up_axis():
    """Seen from a camera looking down 30 degrees, the body's up axis is tilted; novel views
    about it keep the person's up vector fixed (a camera circling at the same elevation),
    while views about the camera's y axis tip the person over."""
    upright = torch.tensor(body_poses(1), dtype=torch.float32)                # (1, 16, 3)
    level_axis = geometry.tilted_up_axis(upright)
    assert torch.allclose(level_axis, torch.tensor([[0.0, -1.0, 0.0]]), atol=0.05)
    seen = _pitched(upright, 30.0)
    axis = geometry.tilted_up_axis(seen)
    up = seen[0, H36M17.index('thorax') - 1] / seen[0, H36M17.index('thorax') - 1].norm()
    assert torch.allclose(axis[0], up, atol=0.05)
    theta = torch.tensor([[1.0, 2.0]])
    _, rot, _ = geometry.novel_views(seen, theta, True, axis='body_tilt')
    turned = geometry.rotate(seen[:, None], rot)[0, :, H36M17.index('thorax') - 1]
    assert torch.allclose(turned, seen[0, H36M17.index('thorax') - 1].expand(2, -1), atol=1e-4)
    _, rot_y, _ = geometry.novel_views(seen, theta, True, axis='camera_y')
    tipped = geometry.rotate(seen[:, None], rot_y)[0, :, H36M17.index('thorax') - 1]
    assert (tipped - seen[0, H36M17.index('thorax') - 1]).norm(dim=-1).min() > 0.05
    with pytest.raises(ValueError, match='view axis'):
        geometry.novel_views(seen, theta, True, axis='sideways')
