"""Ecosystem inputs -> arrays, without DDS: yolo_ros DetectionArray, ROS4HRI Skeleton2D, the
body batcher, and the OpenPose-COCO-18 adapter. Conversions run on plain stand-ins and on the
real message classes (yolo_msgs, hri_msgs: built into .venv by make setup; skipped with the
reason where they are not)."""
from types import SimpleNamespace as NS

import numpy as np
import pytest
from ecosystem_msgs import detection_array, hri_skeleton, openpose18_from_coco17

from pose_lifter.core.adapters import COCO17_NAMES, OPENPOSE_COCO18_NAMES, to_h36m17
from pose_lifter.core.camera import project
from pose_lifter.core.synth_keypoints import coco17_from_h36m17
from pose_lifter.node import inputs
from pose_lifter.node.inputs import BadInput, BodyBatcher

W, H = 1920, 1080


def real(module: str):
    return pytest.importorskip(module, reason=f'{module} is not built (make setup builds it '
                               'from ../shared/ros-src)')


@pytest.fixture(scope='module')
def coco_px(scene):
    """(F, 17, 2) COCO-17 pixels of real poses."""
    return project(coco17_from_h36m17(scene.joints3d), scene.K)


# ----------------------------------------------------------------- OpenPose-COCO-18 adapter
def test_openpose_coco18_adapts_like_coco17(coco_px):
    """Same shoulders, hips, limbs and face: the H36M joints equal the COCO-17 adapter's."""
    op, op_conf = openpose18_from_coco17(coco_px)
    a, ac = to_h36m17(op, op_conf, 'openpose_coco18')
    b, bc = to_h36m17(coco_px, None, 'coco17')
    np.testing.assert_allclose(a, b, atol=1e-9)
    np.testing.assert_array_equal(ac, bc)
    assert np.isfinite(a).all()


def test_openpose_coco18_eye_ear_order_does_not_matter(coco_px):
    """hri_msgs lists l_eye, r_eye, l_ear, r_ear; OpenPose r_eye, l_eye, r_ear, l_ear."""
    op, _ = openpose18_from_coco17(coco_px[:3])
    swapped = op[:, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 14, 17, 16]]
    np.testing.assert_allclose(to_h36m17(op, None, 'openpose_coco18')[0],
                               to_h36m17(swapped, None, 'openpose_coco18')[0])


def test_openpose_coco18_names_follow_hri_msgs_constants():
    hri = real('hri_msgs.msg')
    for j, name in enumerate(OPENPOSE_COCO18_NAMES):
        side = {'l': 'LEFT', 'r': 'RIGHT'}.get(name[:1]) if name[1:2] == '_' else None
        const = f'{side}_{name[2:].upper()}' if side else name.upper()
        assert getattr(hri.Skeleton2D, const) == j, name


# ----------------------------------------------------------------- yolo_ros
def fake_detection(class_name='person', class_id=0, id='', points=()):
    data = [NS(id=k, point=NS(x=x, y=y), score=s) for k, x, y, s in points]
    return NS(class_name=class_name, class_id=class_id, id=id, keypoints=NS(data=data))


@pytest.mark.parametrize('name, class_id, person', [
    ('person', 0, True), ('Person', 5, True), ('car', 0, False), ('', 0, True), ('', 2, False)])
def test_person_rule(name, class_id, person):
    assert inputs.is_person(fake_detection(name, class_id)) is person


def test_sparse_one_based_keypoints_become_dense_with_missing():
    det = fake_detection(points=[(1, 10.0, 20.0, 0.9), (17, 30.0, 40.0, 0.5)])
    kp, conf = inputs.yolo_keypoints(det)
    assert kp.shape == (17, 2) and conf.shape == (17,)
    np.testing.assert_array_equal(kp[0], [10, 20])             # id 1 = nose
    np.testing.assert_array_equal(kp[16], [30, 40])            # id 17 = r_ankle
    assert conf[0] == 0.9 and conf[16] == 0.5
    assert np.isnan(kp[1:16]).all() and (conf[1:16] == 0).all()


@pytest.mark.parametrize('ids, what', [([0], 'outside 1..17'), ([18], 'outside 1..17'),
                                       ([3, 3], 'listed twice')])
def test_bad_keypoint_ids_are_bad_input(ids, what):
    det = fake_detection(id='7', points=[(k, 1.0, 1.0, 1.0) for k in ids])
    with pytest.raises(BadInput, match=what) as err:
        inputs.yolo_keypoints(det)
    assert err.value.reason == 'bad_keypoint_id' and "'7'" in str(err.value)


def test_detection_array_keeps_persons_with_their_ids():
    msg = NS(detections=[
        fake_detection(id='4', points=[(6, 1.0, 2.0, 0.8)]),
        fake_detection('dog', 16, id='5', points=[(1, 1.0, 1.0, 1.0)]),
        fake_detection(id='9'),                                   # a person, no keypoints
    ])
    frame, others = inputs.frame_from_detections(msg, max_persons=10)
    assert others == 1 and frame.ids == ['4', '9'] and frame.joint_format == 'coco17'
    assert frame.keypoints.shape == (2, 17, 2)
    np.testing.assert_array_equal(frame.keypoints[0, COCO17_NAMES.index('l_shoulder')], [1, 2])
    assert (frame.confidence[1] == 0).all() and np.isnan(frame.keypoints[1]).all()


def test_real_detection_array(coco_px):
    yolo = real('yolo_msgs.msg')
    from std_msgs.msg import Header
    kp = coco_px[:3]
    conf = np.full((3, 17), 0.7)
    msg = detection_array(yolo, Header(), kp, conf, ids=['11', '12', '13'],
                          missing={(1, 0), (1, 9)},
                          classes=[(0, 'person'), (2, 'car'), (0, 'person')])
    from rclpy.serialization import deserialize_message, serialize_message
    msg = deserialize_message(serialize_message(msg), yolo.DetectionArray)
    frame, others = inputs.frame_from_detections(msg, max_persons=1)
    assert others == 1 and frame.truncated == 1 and len(frame.ids) == 1
    frame, _ = inputs.frame_from_detections(msg, max_persons=5)
    assert frame.ids == ['11', '13']
    np.testing.assert_allclose(frame.keypoints, kp[[0, 2]])
    np.testing.assert_allclose(frame.confidence, conf[[0, 2]])
    # and missing keypoints of a person stay missing
    msg.detections[0].keypoints.data = [p for p in msg.detections[0].keypoints.data
                                        if p.id != 10]
    frame, _ = inputs.frame_from_detections(msg, max_persons=5)
    assert np.isnan(frame.keypoints[0, 9]).all() and frame.confidence[0, 9] == 0


# ----------------------------------------------------------------- ROS4HRI
def fake_skeleton(points):
    return NS(skeleton=[NS(x=x, y=y, c=c) for x, y, c in points])


def test_hri_keypoints_are_denormalised_and_out_of_range_is_missing():
    points = [(0.5, 0.25, 0.9)] * 18
    points[3] = (1.5, 0.5, 0.9)                                  # outside the image
    points[4] = (0.2, 0.2, 0.0)                                  # c = 0: not detected
    points[5] = (float('nan'), 0.1, 0.8)
    kp, conf = inputs.hri_keypoints(fake_skeleton(points), 640, 480)
    np.testing.assert_allclose(kp[0], [320, 120])
    assert np.isnan(kp[3]).all() and conf[3] == 0
    assert conf[4] == 0 and np.isnan(kp[5]).all() and conf[5] == 0
    with pytest.raises(BadInput, match='17 points') as err:
        inputs.hri_keypoints(fake_skeleton(points[:17]), 640, 480)
    assert err.value.reason == 'bad_lengths'


def test_frame_from_bodies_needs_an_image_size():
    body = ('abcde', fake_skeleton([(0.5, 0.5, 1.0)] * 18))
    with pytest.raises(BadInput, match='0x0') as err:
        inputs.frame_from_bodies([body], 0, 0, 5)
    assert err.value.reason == 'bad_camera_info'
    empty = inputs.frame_from_bodies([], 0, 0, 5)                # nobody: no size needed
    assert empty.keypoints.shape == (0, 18, 2) and empty.ids == []


def test_real_hri_skeletons(coco_px):
    hri = real('hri_msgs.msg')
    from std_msgs.msg import Header
    op, op_conf = openpose18_from_coco17(coco_px[:2])
    bodies = [(b, hri_skeleton(hri, Header(), op[i], op_conf[i], W, H))
              for i, b in enumerate(['bodyA', 'bodyB'])]
    frame = inputs.frame_from_bodies(bodies, W, H, max_persons=8)
    assert frame.ids == ['bodyA', 'bodyB'] and frame.joint_format == 'openpose_coco18'
    np.testing.assert_allclose(frame.keypoints, op, atol=1e-3)   # float32 normalised
    adapted, _ = to_h36m17(frame.keypoints, frame.confidence, frame.joint_format)
    np.testing.assert_allclose(adapted, to_h36m17(coco_px[:2], None, 'coco17')[0], atol=1e-3)


@pytest.mark.parametrize('body, ok', [('abcde', True), ('b_1', True), ('1abc', False),
                                      ('', False), ('a/b', False), ('a-b', False)])
def test_body_ids_as_topic_tokens(body, ok):
    assert inputs.valid_body_id(body) is ok
    if ok:
        assert inputs.body_topic(body) == f'/humans/bodies/{body}/skeleton2d'


# ----------------------------------------------------------------- BodyBatcher
MS = 1_000_000


def batch_ids(batches):
    return [(b.stamp_ns, [i for i, _ in b.bodies]) for b in batches]


def test_batch_emitted_when_every_tracked_body_arrived():
    b = BodyBatcher(50 * MS)
    assert b.track(['A', 'B'], 100 * MS, 'ids') == []
    assert b.add('B', 100 * MS, 'skB', 'hB') == []
    out = b.add('A', 100 * MS, 'skA', 'hA')
    assert batch_ids(out) == [(100 * MS, ['A', 'B'])]           # tracked order
    assert out[0].bodies == [('A', 'skA'), ('B', 'skB')]


def test_stamps_within_slop_gather_and_the_newest_stamps_the_batch():
    b = BodyBatcher(50 * MS)
    b.track(['A', 'B'], 0, None)
    b.add('A', 1000 * MS, 'a', 'hA')
    out = b.add('B', 1049 * MS, 'b', 'hB')
    assert batch_ids(out) == [(1049 * MS, ['A', 'B'])] and out[0].header == 'hB'


def test_next_image_closes_a_partial_batch():
    b = BodyBatcher(10 * MS)
    b.track(['A', 'B'], 0, None)
    assert b.add('A', 100 * MS, 'a1', None) == []               # B's skeleton never comes
    out = b.add('A', 133 * MS, 'a2', None)
    assert batch_ids(out) == [(100 * MS, ['A'])]
    out = b.add('B', 133 * MS, 'b2', None)
    assert batch_ids(out) == [(133 * MS, ['A', 'B'])]


def test_bodies_apart_by_the_slop_are_different_images():
    b = BodyBatcher(10 * MS)
    b.track(['A', 'B'], 0, None)
    b.add('A', 100 * MS, 'a', None)
    out = b.add('B', 110 * MS, 'b', None)                       # exactly the slop: no match
    assert batch_ids(out) == [(100 * MS, ['A'])]


def test_tracking_changes_late_and_untracked_skeletons():
    b = BodyBatcher(10 * MS)
    b.track(['A', 'B'], 0, None)
    assert b.add('C', 100 * MS, 'c', None) == []                # not tracked: ignored
    b.add('A', 100 * MS, 'a', None)
    out = b.track(['A'], 100 * MS, None)                        # B left: A's image is complete
    assert batch_ids(out) == [(100 * MS, ['A'])]
    b.add('A', 200 * MS, 'a2', None)
    assert b.add('A', 150 * MS, 'late', None) == []             # older than the waiting one
    out = b.track([], 250 * MS, 'ids header')                   # nobody left: empty batch
    assert batch_ids(out) == [(250 * MS, [])] and out[0].header == 'ids header'
    assert b.add('A', 300 * MS, 'a3', None) == []               # A is no longer tracked


@pytest.mark.parametrize('package', ['yolo_msgs', 'hri_msgs'])
def test_message_packages_built_where_shared_sources_exist(package):
    """With ../shared/ros-src beside the repository, the real-message tests must run."""
    import importlib.util
    from pathlib import Path
    source = Path(__file__).resolve().parents[2].parent / 'shared' / 'ros-src' / package
    if not source.is_dir():
        pytest.skip(f'no {source}')
    assert importlib.util.find_spec(package) is not None, (
        f'{package} is not built although {source} exists (make setup builds it)')
