"""BVH -> pose file: parser, forward kinematics, rig mappings, units/up axis, CLI.

Every BVH here is written by the test itself: hand-made skeletons with known offsets and
rotations, plus files in the layout of the CMU (cgspeed) and Bandai-Namco releases, written from
their documented hierarchies with our own numbers (no third-party data).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import yaml

from pose_lifter.core.poses import load_pose_file
from pose_lifter.core.skeleton import H36M17
from pose_lifter_training.bvh import (
    BvhError,
    ConversionError,
    RigError,
    convert_bvh,
    euler_matrices,
    forward_kinematics,
    load_rig,
    map_joints,
    parse_bvh,
    read_bvh,
    rig_from_dict,
)
from pose_lifter_training.bvh.convert import guess_units, subject_from_name
from pose_lifter_training.cli import main
from pose_lifter_training.config import DataConfig
from pose_lifter_training.data import load_splits
from pose_lifter_training.sources import load_poses

J = {n: k for k, n in enumerate(H36M17.joint_names)}
RY90 = np.array([[0.0, 0, 1], [0, 1, 0], [-1, 0, 0]])      # (x, y, z) -> (z, y, -x)

# ---- a small BVH writer (tests only) -------------------------------------------------------

ROT_ZXY = 'Zrotation Xrotation Yrotation'
ROOT6 = 'Xposition Yposition Zposition ' + ROT_ZXY


def node(name, offset, channels=ROT_ZXY, children=(), end=None):
    return dict(name=name, offset=offset, channels=channels.split(), children=list(children),
                end=end)


def walk(root):
    yield root
    for child in root['children']:
        yield from walk(child)


def bvh_text(root, frames: list[dict], frame_time: float = 0.0083333) -> str:
    """frames: per frame {joint name: channel values in CHANNELS order} (missing = zeros)."""
    lines = ['HIERARCHY']

    def emit(n, depth, keyword):
        pad = '\t' * depth
        lines.extend([f'{pad}{keyword} {n["name"]}', pad + '{',
                      f'{pad}\tOFFSET {" ".join(f"{v:g}" for v in n["offset"])}',
                      f'{pad}\tCHANNELS {len(n["channels"])} {" ".join(n["channels"])}'])
        for child in n['children']:
            emit(child, depth + 1, 'JOINT')
        if n['end'] is not None:
            lines.extend([f'{pad}\tEnd Site', pad + '\t{',
                          f'{pad}\t\tOFFSET {" ".join(f"{v:g}" for v in n["end"])}', pad + '\t}'])
        lines.append(pad + '}')

    emit(root, 0, 'ROOT')
    lines += ['MOTION', f'Frames: {len(frames)}', f'Frame Time: {frame_time}']
    for values in frames:
        row = []
        for n in walk(root):
            row += list(values.get(n['name'], [0.0] * len(n['channels'])))
        lines.append(' '.join(f'{v:g}' for v in row))
    return '\n'.join(lines) + '\n'


# ---- hand-computed forward kinematics ------------------------------------------------------

FK_BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Chest
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
  JOINT Left Arm
  {
    OFFSET 3 0 0
    CHANNELS 3 Xrotation Yrotation Zrotation
    End Site
    {
      OFFSET 0 0 4
    }
  }
}
MOTION
Frames: 4
Frame Time: 0.5
1 2 3 0 0 0  0 0 0  0 0 0
1 2 3 0 0 90  0 0 0  0 0 0
0 0 0 0 0 0  90 90 0  90 0 90
0 0 0 90 0 0  0 0 0  0 0 0
"""


def test_parse_hierarchy_and_motion():
    bvh = parse_bvh(FK_BVH)
    assert bvh.names == ['Hips', 'Chest', 'Chest_end', 'Left Arm', 'Left Arm_end']
    assert [j.parent for j in bvh.joints] == [-1, 0, 1, 0, 3]
    assert bvh.joints[3].channels == ('Xrotation', 'Yrotation', 'Zrotation')
    assert bvh.joints[3].first_column == 9 and bvh.joints[4].end_site
    assert bvh.motion.shape == (4, 12) and bvh.fps == 2.0


def test_forward_kinematics_by_hand():
    pos, _ = forward_kinematics(parse_bvh(FK_BVH))
    names = ['Hips', 'Chest', 'Chest_end', 'Left Arm', 'Left Arm_end']
    expected = np.array([
        # rest pose at root (1, 2, 3)
        [[1, 2, 3], [1, 12, 3], [1, 17, 3], [4, 2, 3], [4, 2, 7]],
        # root turned 90 deg about Y: (x, y, z) -> (z, y, -x)
        [[1, 2, 3], [1, 12, 3], [1, 17, 3], [1, 2, 0], [5, 2, 0]],
        # Chest Z90 X90 in ZXY order: Rz Rx (0,5,0) = (0,0,5)  (XZ order would give (-5,0,0));
        # Arm X90 Z90 in XYZ order: Rx Rz (0,0,4) = (0,-4,0)   (ZX order would give (4,0,0))
        [[0, 0, 0], [0, 10, 0], [0, 10, 5], [3, 0, 0], [3, -4, 0]],
        # root turned 90 deg about Z: (x, y, z) -> (-y, x, z), carried down to the children
        [[0, 0, 0], [-10, 0, 0], [-15, 0, 0], [0, 3, 0], [0, 3, 4]]], dtype=float)
    assert pos.shape == (4, len(names), 3)
    np.testing.assert_allclose(pos, expected, atol=1e-9)


def test_euler_order_is_the_channel_order():
    a = np.array([[30.0, -50.0, 70.0]])
    rx, ry, rz = (euler_matrices(a[:, [k]], axis)[0] for k, axis in enumerate('XYZ'))
    np.testing.assert_allclose(euler_matrices(a[:, [2, 0, 1]], 'ZXY')[0], rz @ rx @ ry)
    np.testing.assert_allclose(euler_matrices(a, 'XYZ')[0], rx @ ry @ rz)
    assert not np.allclose(rz @ rx @ ry, rx @ ry @ rz)


def test_six_channel_joint_positions_replace_or_add_to_the_offset():
    text = FK_BVH.replace('CHANNELS 3 Zrotation Xrotation Yrotation',
                          'CHANNELS 6 Zrotation Xposition Yposition Zposition Xrotation Yrotation')
    text = text.replace('Frames: 4', 'Frames: 1').split('1 2 3 0 0 0')[0]
    text += '0 0 0 0 0 0  0 1 20 2 0 0  0 0 0\n'     # Chest: Z=0, pos (1, 20, 2), X=0, Y=0
    bvh = parse_bvh(text)
    pos, _ = forward_kinematics(bvh)
    np.testing.assert_allclose(pos[0, 1], [1, 20, 2])         # replaces OFFSET (0, 10, 0)
    pos, _ = forward_kinematics(bvh, translation='add')
    np.testing.assert_allclose(pos[0, 1], [1, 30, 2])


# ---- a hand-made humanoid (cm, Y up, facing +Z, its left on +X) and a rig for it ------------

def humanoid(convert=lambda v: v):
    def n(name, off, **kw):
        kw.setdefault('channels', ROT_ZXY)
        if kw.get('end') is not None:
            kw['end'] = convert(kw['end'])
        return node(name, convert(off), **kw)
    leg = [n('LHip', [10, 0, 0], children=[n('LKnee', [0, -45, 0], children=[
              n('LAnkle', [0, -45, 0], end=[0, -5, 12])])]),
           n('RHip', [-10, 0, 0], children=[n('RKnee', [0, -45, 0], children=[
              n('RAnkle', [0, -45, 0], end=[0, -5, 12])])])]
    arms = [n('LShoulder', [18, 0, 0], children=[n('LElbow', [28, 0, 0], children=[
                n('LWrist', [25, 0, 0], end=[8, 0, 0])])]),
            n('RShoulder', [-18, 0, 0], children=[n('RElbow', [-28, 0, 0], children=[
                n('RWrist', [-25, 0, 0], end=[-8, 0, 0])])])]
    spine = n('Spine', [0, 25, 0], children=[n('Neck', [0, 25, 0], children=[
        n('Head', [0, 10, 0], end=[0, 15, 0])] + arms)])
    return n('Root', [0, 0, 0], channels=ROOT6, children=leg + [spine])


TEST_RIG = dict(
    name='test_rig', units='cm', up_axis='Y', subject_pattern=r'^(S\d+)_',
    joints=dict(pelvis={'mean': ['LHip', 'RHip']}, r_hip='RHip', r_knee='RKnee',
                r_ankle='RAnkle', l_hip='LHip', l_knee='LKnee', l_ankle='LAnkle',
                spine={'mean': ['Spine', 'Neck'], 'weights': [3, 1]},
                thorax=['Chest', 'Neck'], neck_nose={'joint': 'Head', 'offset': [0, 20, 80]},
                head='Head_end', l_shoulder='LShoulder', l_elbow='LElbow', l_wrist='LWrist',
                r_shoulder='RShoulder', r_elbow='RElbow', r_wrist='RWrist'))

# rest pose, root at (0, 100, 0) cm, in mm
REST_MM = {'pelvis': [0, 1000, 0], 'r_hip': [-100, 1000, 0], 'r_knee': [-100, 550, 0],
           'r_ankle': [-100, 100, 0], 'l_hip': [100, 1000, 0], 'l_knee': [100, 550, 0],
           'l_ankle': [100, 100, 0], 'spine': [0, 1312.5, 0], 'thorax': [0, 1500, 0],
           'neck_nose': [0, 1620, 80], 'head': [0, 1750, 0], 'l_shoulder': [180, 1500, 0],
           'l_elbow': [460, 1500, 0], 'l_wrist': [710, 1500, 0], 'r_shoulder': [-180, 1500, 0],
           'r_elbow': [-460, 1500, 0], 'r_wrist': [-710, 1500, 0]}
REST = np.array([REST_MM[n] for n in H36M17.joint_names], dtype=float)

# frame 0: rest at (0, 100, 0); frame 1: at (50, 100, -20) turned 90 deg about Y (faces +X)
HUMANOID_FRAMES = [{'Root': [0, 100, 0, 0, 0, 0]}, {'Root': [50, 100, -20, 0, 0, 90]}]
ROOT1_MM = np.array([500.0, 1000, -200])


def facing(pose: np.ndarray) -> np.ndarray:
    """Forward direction implied by the left/right labels: (l_hip - r_hip) x (thorax - pelvis)."""
    return np.cross(pose[J['l_hip']] - pose[J['r_hip']], pose[J['thorax']] - pose[J['pelvis']])


def test_rig_mapping_gives_h36m17_with_left_on_the_left():
    rig = rig_from_dict(TEST_RIG)
    clip = convert_bvh(parse_bvh(bvh_text(humanoid(), HUMANOID_FRAMES)), rig, 'S1_walk', 'S1')
    assert clip.joints.dtype == np.float32 and clip.joints.shape == (2, 17, 3)
    np.testing.assert_allclose(clip.joints[0], REST, atol=1e-3)
    np.testing.assert_allclose(clip.joints[1], ROOT1_MM + (REST - REST[0]) @ RY90.T, atol=1e-3)
    # the subject faces +Z, then +X; its left hip, and the nose, agree with that
    for pose, forward in zip(clip.joints, ([0, 0, 1], [1, 0, 0])):
        assert np.dot(facing(pose), forward) > 0
        assert np.dot(pose[J['neck_nose']] - pose[J['thorax']], forward) > 0


def test_z_up_file_and_units_give_the_same_pose():
    rig = rig_from_dict(TEST_RIG)
    y_up = convert_bvh(parse_bvh(bvh_text(humanoid(), HUMANOID_FRAMES)), rig, 'a', 'S1')
    # the same skeleton written Z up in metres: (x, y, z)_Yup -> (x, -z, y); turn about Z
    z_up = humanoid(lambda v: [v[0] / 100, -v[2] / 100, v[1] / 100])
    frames = [{'Root': [0, 0, 1.0, 0, 0, 0]}, {'Root': [0.5, 0.2, 1.0, 90, 0, 0]}]
    # the rig's offsets (mm) are along the Head joint's axes, which are Z up here
    joints = {**TEST_RIG['joints'], 'neck_nose': {'joint': 'Head', 'offset': [0, -80, 20]}}
    z_rig = rig_from_dict({**TEST_RIG, 'joints': joints})
    clip = convert_bvh(parse_bvh(bvh_text(z_up, frames)), z_rig, 'b', 'S1', units='m',
                       up_axis='Z')
    np.testing.assert_allclose(clip.joints, y_up.joints, atol=1e-3)
    assert clip.units == 'm'


def test_units_auto_and_implausible_units():
    bvh = parse_bvh(bvh_text(humanoid(), HUMANOID_FRAMES))
    rig = rig_from_dict(TEST_RIG)
    assert guess_units(map_joints(bvh, rig)) == 'cm'
    clip = convert_bvh(bvh, rig, 'a', 'S1', units='auto')
    np.testing.assert_allclose(clip.joints[0], REST, atol=1e-3)
    with pytest.raises(ConversionError, match='wrong --units'):
        convert_bvh(bvh, rig, 'a', 'S1', units='mm')
    clip = convert_bvh(bvh, rig, 'a', 'S1', scale_to_mm=5.0)
    offset = np.zeros_like(REST)
    offset[J['neck_nose']] = [0, 20, 80]               # the rig offset is in mm, not scaled
    np.testing.assert_allclose(clip.joints[0], (REST - offset) / 2 + offset, atol=1e-3)


def test_subsampling_and_skipped_frames():
    frames = [{'Root': [k, 100, 0, 0, 0, 0]} for k in range(9)]
    bvh = parse_bvh(bvh_text(humanoid(), frames, frame_time=1 / 120))
    rig = rig_from_dict(TEST_RIG)
    clip = convert_bvh(bvh, rig, 'a', 'S1', target_fps=30)
    assert clip.fps == pytest.approx(30.0)
    np.testing.assert_allclose(clip.joints[:, 0, 0], [0, 40, 80])      # frames 0, 4, 8 (cm)
    clip = convert_bvh(bvh, rig, 'a', 'S1', target_fps=30, skip_frames=1)
    np.testing.assert_allclose(clip.joints[:, 0, 0], [10, 50])
    assert len(convert_bvh(bvh, rig, 'a', 'S1', target_fps=500).joints) == 9   # never upsample


def test_subject_from_the_file_name():
    assert subject_from_name('02_01', r'^(\d+)_') == '02'
    assert subject_from_name('take_S7_x', r'_(?P<subject>S\d+)_') == 'S7'
    with pytest.raises(ConversionError, match='does not match'):
        subject_from_name('walk', r'^(\d+)_')
    with pytest.raises(ConversionError, match='--subject'):
        subject_from_name('walk', None)


def test_rig_joint_missing_from_the_file():
    rig = rig_from_dict({**TEST_RIG, 'joints': {**TEST_RIG['joints'], 'r_wrist': 'RHand'}})
    with pytest.raises(ConversionError, match=r'RHand \(for r_wrist\) is not in the file'):
        convert_bvh(parse_bvh(bvh_text(humanoid(), HUMANOID_FRAMES)), rig, 'a', 'S1')


@pytest.mark.parametrize('change, message', [
    ({'joints': {'pelvis': 'Hips'}}, 'missing'),
    ({'units': 'furlong'}, 'units'),
    ({'up_axis': 'X'}, 'up_axis'),
    ({'colour': 'red'}, 'unknown keys'),
    ({'name': ''}, 'name'),
    ({'translation': 'sideways'}, 'translation'),
    ({'scale_to_mm': -1}, '> 0'),
    ({'subject_pattern': '^(S\\d+'}, 'not a valid regular expression'),
    ({'joints': {**TEST_RIG['joints'], 'head': {'joint': 'Head', 'offset': [1, 2]}}}, 'offset'),
    ({'joints': {**TEST_RIG['joints'], 'spine': {'mean': ['A', 'B'], 'weights': [1]}}},
     'weights'),
    ({'joints': {**TEST_RIG['joints'], 'spine': {'joint': 'A', 'mean': ['B']}}}, 'either'),
])
def test_bad_rig_files(change, message):
    with pytest.raises(RigError, match=message):
        rig_from_dict({**TEST_RIG, **change})


# ---- malformed files: one clear error with the line --------------------------------------

@pytest.mark.parametrize('edit, line, message', [
    (lambda t: t.replace('  }\n  JOINT Left Arm', '  JOINT Left Arm', 1), 23, 'missing brace'),
    (lambda t: t.replace('OFFSET 3 0 0', 'OFFSET 3 0'), 17, 'OFFSET z'),
    (lambda t: t.replace('Xrotation Yrotation Zrotation', 'Xrotation Yrotation Qrotation'), 18,
     'unknown channel'),
    (lambda t: t.replace('1 2 3 0 0 90  0 0 0  0 0 0', '1 2 3 0 0 90  0 0 0  0 0'), 29,
     'has 11 values'),
    (lambda t: t.replace('0 0 0 0 0 0  90 90', '0 0 0 0 0 x  90 90'), 30, 'not a number'),
    (lambda t: t.replace('Frames: 4', 'Frames: 5'), 31, 'only 4 rows'),
    (lambda t: t.replace('Frame Time: 0.5', 'Frame Time: 0'), 27, 'Frame Time'),
    (lambda t: t.replace('Frame Time: 0.5', 'Frametime 0.5'), 27, 'Frame Time'),
    (lambda t: t.split('MOTION')[0], 24, 'no MOTION'),
    (lambda t: t.replace('JOINT Left Arm', 'JOINT Chest'), 15, 'not unique'),
    (lambda t: t.replace('HIERARCHY', 'HIERARCHIE'), 1, 'HIERARCHY'),
    (lambda t: '', 1, 'empty'),
])
def test_malformed_files_name_the_line(edit, line, message):
    with pytest.raises(BvhError, match=message) as err:
        parse_bvh(edit(FK_BVH), 'x.bvh')
    assert f'x.bvh:{line}:' in str(err.value)


def test_unreadable_file(tmp_path):
    with pytest.raises(BvhError, match='cannot read'):
        read_bvh(tmp_path / 'missing.bvh')


# ---- the shipped rigs on files laid out like the real releases ---------------------------

ROT_ZYX = 'Zrotation Yrotation Xrotation'


def cmu_skeleton():
    """The cgspeed CMU BVH hierarchy (names, nesting, channel orders, ASF length units),
    with our own rounded offsets. Rest pose: Y up, facing +Z, the subject's left on +X."""
    def n(name, off, children=(), end=None):
        return node(name, off, ROT_ZYX, children, end)

    def leg(side, s):
        return n(f'{side[0]}HipJoint', [0, 0, 0], [n(f'{side}UpLeg', [s * 1.5, -1.8, 0.8], [
            n(f'{side}Leg', [s * 2.4, -6.6, 0], [n(f'{side}Foot', [s * 2.5, -6.9, 0], [
                n(f'{side}ToeBase', [s * 0.2, -0.5, 2.0], end=[0, 0, 1.0])])])])])

    def arm(side, s):
        hand = n(f'{side}Hand', [s * 3.4, 0, 0], [
            n(f'{side}FingerBase', [0, 0, 0], [n(f'{side}HandIndex1', [s * 0.7, 0, 0],
                                                 end=[s * 0.6, 0, 0])]),
            n(f'{side[0]}Thumb', [0, 0, 0], end=[s * 0.6, 0, 0.6])])
        return n(f'{side}Shoulder', [0, 0, 0], [n(f'{side}Arm', [s * 3.4, 0.8, 0.1], [
            n(f'{side}ForeArm', [s * 5.0, 0, 0], [hand])])])

    neck = n('Neck', [0, 0, 0], [n('Neck1', [0, 1.7, 0.1], [
        n('Head', [0, 1.6, -0.4], end=[0, 1.7, -0.2])])])
    spine = n('LowerBack', [0, 0, 0], [n('Spine', [0, 2.1, -0.1], [
        n('Spine1', [0, 2.1, -0.1], [neck, arm('Left', 1), arm('Right', -1)])])])
    return node('Hips', [0, 0, 0], 'Xposition Yposition Zposition ' + ROT_ZYX,
                [leg('Left', 1), leg('Right', -1), spine])


def bandai_namco_skeleton():
    """The Bandai-Namco Motiondataset hierarchy (joint_Root, 6 channels everywhere, bones
    along local X, cm) with our own rounded offsets."""
    six = 'Xposition Yposition Zposition ' + ROT_ZXY

    def n(name, off, children=(), end=False):
        return node(name, off, six, children, [0, 0, 0] if end else None)

    def leg(side, s):
        return n(f'UpperLeg_{side}', [-2, -s * 6.5, 0], [n(f'LowerLeg_{side}', [s * 39, 0, 0], [
            n(f'Foot_{side}', [s * 41, 0, 0], [n(f'Toes_{side}', [s * 11.7, 0, 0], end=True)])])])

    def arm(side, s):
        return n(f'Shoulder_{side}', [13, 0, s * 5], [n(f'UpperArm_{side}', [s * 5.3, 0, 0], [
            n(f'LowerArm_{side}', [s * 24.3, 0, 0], [n(f'Hand_{side}', [s * 22.3, 0, 0],
                                                      end=True)])])])

    chest = n('Chest', [9, -0.4, 0], [n('Neck', [16.4, 0, 0], [n('Head', [6.5, 0, 0], end=True)]),
                                      arm('L', 1), arm('R', -1)])
    hips = n('Hips', [0, 93, 0], [n('Spine', [15.7, 0, 0], [chest]), leg('L', 1), leg('R', -1)])
    return n('joint_Root', [0, 0, 0], [hips])


def bn_frame(root_y_deg: float = 0.0) -> dict:
    """A standing pose in that rig: the channel values that turn its bones upright (the rig's
    rest pose lies along X), arms out to the sides; position channels repeat the OFFSETs."""
    values = {}
    for joint in walk(bandai_namco_skeleton()):
        values[joint['name']] = list(joint['offset']) + [0.0, 0.0, 0.0]
    values['joint_Root'][3:] = [0, 0, root_y_deg]
    values['Hips'][3:] = [90, 0, 0]             # local X up, local Y to the subject's right
    values['Spine'][3:] = [90, 90, -90]         # from here: X up, Y forward, Z to the left
    values['UpperLeg_L'][3:] = [180, 0, 0]      # left leg down
    values['Foot_L'][3:] = [0, 0, -90]          # toes forward
    values['Foot_R'][3:] = [0, 0, 90]
    values['Shoulder_L'][3:] = [0, 0, -90]      # arm bones along the subject's left
    values['Shoulder_R'][3:] = [0, 0, -90]
    return values


def check_standing_subject(bvh, clip, toe: str, foot: str) -> None:
    """Left/right and front/back of the converted poses agree with the rig's feet."""
    pos, _ = forward_kinematics(bvh)
    names = bvh.names
    for k, pose in enumerate(clip.joints):
        forward = pos[k, names.index(toe)] - pos[k, names.index(foot)]
        forward[1] = 0.0
        assert np.dot(facing(pose), forward) > 0, 'left and right are swapped'
        assert np.dot(pose[J['neck_nose']] - pose[J['thorax']], forward) > 0
        up = pose[[J['l_ankle'], J['l_knee'], J['l_hip'], J['spine'], J['thorax'],
                   J['neck_nose'], J['head']], 1]
        assert np.all(np.diff(up) > 0), f'joints not stacked upright: {up}'


def test_cmu_rig_on_a_cmu_layout_file():
    root = cmu_skeleton()
    frames = [{'Hips': [0, 17, 0, 0, 0, 0]},                       # the added T-pose frame
              {'Hips': [10, 17, -5, 0, 0, 0], 'LeftLeg': [0, 0, 30]},
              {'Hips': [10, 17, -5, 0, 180, 0]}]
    bvh = parse_bvh(bvh_text(root, frames), '02_01.bvh')
    clip = convert_bvh(bvh, load_rig('cmu'), '02_01', subject_from_name('02_01', r'^(\d+)_'))
    assert clip.subject == '02' and clip.rig == 'cmu' and len(clip.joints) == 2
    assert clip.fps == pytest.approx(120.0, rel=1e-4)
    thigh = np.linalg.norm(clip.joints[:, J['r_hip']] - clip.joints[:, J['r_knee']], axis=-1)
    np.testing.assert_allclose(thigh, np.hypot(2.4, 6.6) * 25.4 / 0.45, rtol=1e-5)
    check_standing_subject(replace(bvh, motion=bvh.motion[1:]), clip, 'LeftToeBase', 'LeftFoot')
    assert clip.joints[0, J['l_hip'], 0] > clip.joints[0, J['r_hip'], 0]     # faces +Z
    assert clip.joints[1, J['l_hip'], 0] < clip.joints[1, J['r_hip'], 0]     # turned round


def test_bandai_namco_rig_on_a_bandai_namco_layout_file():
    frames = [bn_frame(0.0), bn_frame(90.0)]
    bvh = parse_bvh(bvh_text(bandai_namco_skeleton(), frames, 1 / 30), 'x.bvh')
    rig = load_rig('bandai_namco')
    name = 'dataset-1_walk_normal_001'
    clip = convert_bvh(bvh, rig, name, subject_from_name(name, rig.subject_pattern))
    assert clip.subject == 'dataset-1' and clip.fps == pytest.approx(30.0)
    pose = clip.joints[0]
    np.testing.assert_allclose(pose[J['l_hip']], [65, 910, 0], atol=1e-3)    # left = +X
    np.testing.assert_allclose(pose[J['l_ankle']], [65, 110, 0], atol=1e-3)
    np.testing.assert_allclose(pose[J['l_shoulder']], [103, 1307, -4], atol=1e-3)
    check_standing_subject(bvh, clip, 'Toes_L', 'Foot_L')
    np.testing.assert_allclose(clip.joints[1] - clip.joints[1, :1],            # turned 90 deg
                               (clip.joints[0] - clip.joints[0, :1]) @ RY90.T, atol=1e-3)


# ---- the pose file and the CLI -----------------------------------------------------------

POSE_FILE_KEYS = {'joints', 'clip_names', 'clip_subjects', 'clip_rigs', 'clip_starts',
                  'clip_lengths', 'clip_fps', 'joint_names', 'parents', 'units', 'up_axis'}


def write_humanoid_files(folder, names=('S1_walk', 'S1_run', 'S2_walk', 'S3_jump')):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'rig.yaml').write_text(yaml.safe_dump(TEST_RIG))
    for k, name in enumerate(names):
        frames = [{'Root': [k, 100, 0, 0, 0, 10 * f]} for f in range(6)]
        (folder / f'{name}.bvh').write_text(bvh_text(humanoid(), frames, 1 / 60))
    return folder


def test_pose_file_loads_and_splits(tmp_path):
    folder = write_humanoid_files(tmp_path / 'bvh')
    out = tmp_path / 'poses.npz'
    assert main(['convert-bvh', str(folder), '--rig', str(folder / 'rig.yaml'),
                 '--out', str(out), '--fps', '30']) == 0
    with np.load(out, allow_pickle=False) as d:
        assert set(d.files) == POSE_FILE_KEYS
        assert d['joints'].dtype == np.float32 and d['joints'].shape == (12, 17, 3)
        assert list(d['clip_names']) == ['S1_run', 'S1_walk', 'S2_walk', 'S3_jump']
        assert list(d['clip_subjects']) == ['S1', 'S1', 'S2', 'S3']
        assert list(d['clip_rigs']) == ['test_rig'] * 4
        assert list(d['clip_starts']) == [0, 3, 6, 9] and list(d['clip_lengths']) == [3] * 4
        np.testing.assert_allclose(d['clip_fps'], 30.0)
        assert list(d['joint_names']) == list(H36M17.joint_names)
        assert list(d['parents']) == list(H36M17.parents)
        assert str(d['units']) == 'mm' and str(d['up_axis']) == 'Y'
    poses = load_pose_file(out)
    assert len(poses) == 12 and list(poses.clip_subjects) == ['S1', 'S1', 'S2', 'S3']
    assert len(load_poses(out)) == 12
    splits = load_splits(DataConfig(path=str(out), train_subjects=['S1'], val_subjects=['S2'],
                                    test_subjects=['S3'], train_fps=30, eval_fps=10))
    assert len(splits.train) == 6 and len(splits.val) == 1 and len(splits.test) == 1


def test_cli_skips_and_counts_bad_files(tmp_path, capsys):
    folder = write_humanoid_files(tmp_path / 'bvh', names=('S1_walk', 'S2_walk'))
    (folder / 'S3_broken.bvh').write_text(FK_BVH.replace('OFFSET 3 0 0', 'OFFSET 3 0'))
    (folder / 'nosubject.bvh').write_text(bvh_text(humanoid(), HUMANOID_FRAMES))
    out = tmp_path / 'poses.npz'
    code = main(['convert-bvh', str(folder), '--rig', str(folder / 'rig.yaml'), '--out',
                 str(out)])
    err = capsys.readouterr().err
    assert code == 0 and load_pose_file(out).clip_names.tolist() == ['S1_walk', 'S2_walk']
    assert 'S3_broken.bvh:17: OFFSET z' in err and "name 'nosubject'" in err
    assert 'skipped 2 of 4 files' in err and 'Traceback' not in err
    out.unlink()
    assert main(['convert-bvh', str(folder), '--rig', str(folder / 'rig.yaml'), '--out',
                 str(out), '--strict']) == 2
    assert 'stopped (--strict)' in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize('args, message', [
    (['--rig', 'no_such_rig'], 'unknown rig'),
    (['--rig', 'cmu', '--scale', '-2'], '--scale must be > 0'),
    (['--rig', 'cmu', '--subject-pattern', '(('], '--subject-pattern'),
    (['--rig', 'RIG', '--out', '/proc/no/such/dir/o.npz'], 'cannot write'),
])
def test_cli_errors_are_one_line(tmp_path, capsys, args, message):
    folder = write_humanoid_files(tmp_path / 'bvh', names=('S1_walk',))
    args = [str(folder / 'rig.yaml') if a == 'RIG' else a for a in args]
    assert main(['convert-bvh', str(folder), '--out', str(tmp_path / 'o.npz')] + args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_cli_nothing_convertible(tmp_path, capsys):
    folder = write_humanoid_files(tmp_path / 'bvh', names=('S1_walk',))
    assert main(['convert-bvh', str(folder), '--rig', 'cmu', '--subject', '01', '--out',
                 str(tmp_path / 'o.npz')]) == 2
    err = capsys.readouterr().err
    assert 'LeftUpLeg' in err and 'none of the 1 files' in err
    assert main(['convert-bvh', str(tmp_path / 'nothing_here'), '--rig', 'cmu', '--out',
                 str(tmp_path / 'o.npz')]) == 2


def test_output_has_the_layout_of_the_project_file(tmp_path, shared_data):
    """Same keys, dtypes kinds and shapes as the project's CMU pose file."""
    folder = write_humanoid_files(tmp_path / 'bvh', names=('S1_walk',))
    out = tmp_path / 'poses.npz'
    assert main(['convert-bvh', str(folder), '--rig', str(folder / 'rig.yaml'), '--out',
                 str(out)]) == 0
    with np.load(out) as ours, np.load(shared_data) as ref:
        assert set(ours.files) == set(ref.files)
        for key in ref.files:
            assert ours[key].dtype.kind == ref[key].dtype.kind, key
            assert ours[key].ndim == ref[key].ndim, key
            assert ours[key].shape[1:] == ref[key].shape[1:], key
