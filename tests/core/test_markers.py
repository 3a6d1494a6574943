"""core.markers: RViz geometry as plain data (ids, namespaces, colours, gating, deletes)."""
import numpy as np
import pytest

from pose_lifter.core.markers import (
    ADD,
    ANONYMOUS_BASE,
    DELETE,
    GATE_MODES,
    LINE_LIST,
    NS_BONES,
    NS_JOINTS,
    SPHERE_LIST,
    MarkerRegistry,
    MarkerStyle,
    skeleton_markers,
    track_color,
)
from pose_lifter.core.skeleton import H36M17

J = H36M17.num_joints


def poses(n: int) -> np.ndarray:
    """(n, 17, 3) distinct poses 5 m in front of the camera."""
    rng = np.random.default_rng(n)
    return rng.normal(0.0, 0.3, (n, J, 3)) + np.array([0.0, 0.0, 5.0])


def adds(markers):
    return [m for m in markers if m.action == ADD]


def deletes(markers):
    return sorted((m.ns, m.id) for m in markers if m.action == DELETE)


def test_one_line_list_and_one_sphere_list_per_person():
    p = poses(2)
    out = skeleton_markers(p, np.ones(2, bool), ['a', 'b'], MarkerRegistry(), MarkerStyle())
    assert len(out) == 4 and deletes(out) == []
    bones = [m for m in out if m.ns == NS_BONES]
    joints = [m for m in out if m.ns == NS_JOINTS]
    assert {m.kind for m in bones} == {LINE_LIST} and {m.kind for m in joints} == {SPHERE_LIST}
    b = H36M17.bones
    for n, (line, sphere) in enumerate(zip(bones, joints)):
        assert line.id == sphere.id
        assert line.points.shape == (2 * len(b), 3)            # a pair of points per bone
        np.testing.assert_array_equal(line.points[0::2], p[n][b[:, 0]])
        np.testing.assert_array_equal(line.points[1::2], p[n][b[:, 1]])
        np.testing.assert_array_equal(sphere.points, p[n])
    assert len({m.id for m in bones}) == 2


def test_colours_are_unit_floats_and_distinct():
    colours = [track_color(i) for i in range(50)]
    for c in colours:
        assert len(c) == 4 and all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in c)
    assert len(set(colours)) == 50


def test_ids_are_stable_per_track_and_deletes_follow_vanished_tracks():
    reg = MarkerRegistry()
    style = MarkerStyle()
    first = adds(skeleton_markers(poses(3), np.ones(3, bool), ['x', 'y', 'z'], reg, style))
    by_track = dict(zip(['x', 'y', 'z'], [m.id for m in first if m.ns == NS_BONES]))
    # reorder, drop y, add w: x and z keep their ids, y is deleted, w gets a new id
    out = skeleton_markers(poses(3), np.ones(3, bool), ['z', 'w', 'x'], reg, style)
    now = [m.id for m in adds(out) if m.ns == NS_BONES]
    assert now[0] == by_track['z'] and now[2] == by_track['x']
    assert now[1] not in by_track.values()
    assert deletes(out) == [(NS_BONES, by_track['y']), (NS_JOINTS, by_track['y'])]
    # everybody gone: everything deleted, once
    out = skeleton_markers(np.zeros((0, J, 3)), np.zeros(0, bool), [], reg, style)
    assert len(deletes(out)) == 6 and adds(out) == []
    assert skeleton_markers(np.zeros((0, J, 3)), np.zeros(0, bool), [], reg, style) == []


def test_anonymous_persons_get_per_frame_ids_and_duplicates_never_share():
    reg = MarkerRegistry()
    out = skeleton_markers(poses(4), np.ones(4, bool), ['', 't', '', 't'], reg, MarkerStyle())
    ids = [m.id for m in adds(out) if m.ns == NS_BONES]
    assert len(set(ids)) == 4
    assert sorted(i for i in ids if i >= ANONYMOUS_BASE) == [ANONYMOUS_BASE + k for k in range(3)]
    out = skeleton_markers(poses(1), np.ones(1, bool), [''], reg, MarkerStyle())
    assert [m.id for m in adds(out) if m.ns == NS_BONES] == [ANONYMOUS_BASE]
    assert len(deletes(out)) == 2 * 3                      # t and two anonymous slots


@pytest.mark.parametrize('mode', GATE_MODES)
def test_gate_modes(mode):
    plausible = np.array([True, False])
    out = skeleton_markers(poses(2), plausible, ['good', 'bad'], MarkerRegistry(),
                           MarkerStyle(gate_mode=mode, alpha=0.8))
    bones = [m for m in adds(out) if m.ns == NS_BONES]
    if mode == 'drop':
        assert len(bones) == 1
        return
    good, bad = bones
    assert good.color == track_color(good.id, 0.8)
    if mode == 'grey':
        r, g, b, a = bad.color
        assert r == g == b and a < 0.8
    else:
        assert bad.color == track_color(bad.id, 0.8)


def test_dropping_an_implausible_track_deletes_its_markers():
    reg = MarkerRegistry()
    style = MarkerStyle(gate_mode='drop')
    first = skeleton_markers(poses(1), np.ones(1, bool), ['t'], reg, style)
    out = skeleton_markers(poses(1), np.zeros(1, bool), ['t'], reg, style)
    assert adds(out) == [] and deletes(out) == [(NS_BONES, first[0].id), (NS_JOINTS, first[0].id)]


def test_unlifted_persons_are_not_drawn_and_style_is_applied():
    p = poses(2)
    p[1] = np.nan
    style = MarkerStyle(bone_width=0.05, joint_size=0.1, lifetime_s=2.0)
    out = skeleton_markers(p, np.ones(2, bool), ['a', 'b'], MarkerRegistry(), style)
    assert len(out) == 2
    line, sphere = out
    assert (line.scale, sphere.scale) == (0.05, 0.1)
    assert line.lifetime_s == sphere.lifetime_s == 2.0


def test_shape_mismatch_and_bad_gate_mode_raise():
    with pytest.raises(ValueError):
        skeleton_markers(poses(2), np.ones(3, bool), ['a', 'b'], MarkerRegistry(), MarkerStyle())
    with pytest.raises(ValueError, match='gate_mode'):
        MarkerStyle(gate_mode='hide')


def test_uncertainty_shows_as_joint_opacity_and_inferred_joints_paler():
    from pose_lifter.core.markers import MIN_ALPHA, joint_colors
    joints = np.zeros((1, 17, 3))
    joints[0, :, 2] = 5.0
    radii = np.full((1, 17), 0.05)
    radii[0, 16] = 1.0                                    # a wrist known to 1 m: faded
    inferred = np.zeros((1, 17), bool)
    inferred[0, 3] = True
    plain = skeleton_markers(joints, np.ones(1, bool), ['a'], MarkerRegistry(), MarkerStyle(),
                             radii=radii, inferred=inferred)
    assert all(m.colors is None for m in plain)           # off by default: lean messages
    shown = skeleton_markers(joints, np.ones(1, bool), ['a'], MarkerRegistry(),
                             MarkerStyle(uncertainty=True), radii=radii, inferred=inferred)
    spheres = [m for m in shown if m.ns == 'joints'][0]
    c = spheres.colors
    assert c.shape == (17, 4) and c[0, 3] == pytest.approx(1.0)
    assert c[16, 3] == pytest.approx(MIN_ALPHA)
    assert (c[3, :3] > c[0, :3] - 1e-12).all() and (c[3, :3] != c[0, :3]).any()
    unknown = joint_colors((1.0, 0.0, 0.0, 0.8), np.full(17, np.nan), None)
    np.testing.assert_allclose(unknown[:, 3], 0.8)
