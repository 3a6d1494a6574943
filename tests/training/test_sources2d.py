"""Unlabelled 2D sources: bags and kp.npz -> training rows; every bad input -> clear error/skip."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pose_lifter.core.camera import intrinsics
from pose_lifter.core.skeleton import H36M17
from pose_lifter_training.sources2d import Source2DError, load_2d, split_blocks

pytest.importorskip('rosbags')

K = intrinsics(1000.0, 1000.0, 640.0, 360.0)


def standing_pixels(n: int, seed: int = 0) -> np.ndarray:
    """(n, 17, 2) pixels of the synthetic standing skeleton 10 m in front of the camera."""
    from training_synthetic import random_poses
    world = random_poses(n, np.random.default_rng(seed)) / 1000.0   # m, Y up
    cam = world * np.array([1.0, -1.0, 1.0])                        # y down
    cam = cam - cam[:, :1] * np.array([1.0, 0.0, 1.0]) + np.array([0.0, 0.9, 10.0])
    return (cam[..., :2] / cam[..., 2:3]) * 1000.0 + np.array([640.0, 360.0])


def write_bag(path: Path, frames: list[dict], kp_topic: str = '/cam/skeletons',
              ci_topic: str = '/cam/info', extra_kp_topic: str | None = None) -> Path:
    """A bag of Skeleton2DArray + CameraInfo; each frame dict: keypoints (P, J, 2),
    optional confidence, joint_format, K, t (s)."""
    from pose_lifter.bag import messages as m
    from pose_lifter.bag.io import add_topic, open_writer, serialize
    from pose_lifter.core.cameras import CameraSpec
    writer = open_writer(path)
    try:
        kp_c = add_topic(writer, kp_topic, 'pose_lifter_msgs/msg/Skeleton2DArray')
        ci_c = add_topic(writer, ci_topic, 'sensor_msgs/msg/CameraInfo')
        extra = add_topic(writer, extra_kp_topic, 'pose_lifter_msgs/msg/Skeleton2DArray') \
            if extra_kp_topic else None
        for f in frames:
            ns = int(1_700_000_000e9 + f['t'] * 1e9)
            spec = CameraSpec(distance=10.0, height=1.5, azimuth=0.0, focal=1000.0,
                              width=1280, height_px=720)
            info = m.camera_info(ns, 'cam', spec)
            info.k = np.asarray(f.get('K', K), np.float64).ravel()
            info.p = np.zeros(12)
            kp = np.asarray(f['keypoints'])
            conf = f.get('confidence', np.ones(kp.shape[:2]))
            msg = m.skeleton2d_array(ns, 'cam', f.get('joint_format', 'h36m17'),
                                     [str(i) for i in range(len(kp))], kp, conf)
            writer.write(ci_c, ns, serialize(info))
            writer.write(kp_c, ns, serialize(msg))
            if extra is not None:
                writer.write(extra, ns, serialize(msg))
    finally:
        writer.close()
    return path


def frames_of(px: np.ndarray, fps: float = 10.0) -> list[dict]:
    return [{'keypoints': px[i:i + 1], 't': i / fps} for i in range(len(px))]


def test_bag_any_topic_names_to_rows(tmp_path):
    px = standing_pixels(60)
    bag = write_bag(tmp_path / 'b', frames_of(px))
    src = load_2d(bag, holdout=0.25, block_s=1.0)
    assert src.info['keypoints_topic'] == '/cam/skeletons'
    assert src.info['camera_info_topic'] == '/cam/info'
    assert len(src.train) + len(src.heldout) == 60 and len(src.heldout) > 0
    assert src.train.inputs.shape[1:] == (16, 2) and src.train.visible.all()
    # same rows as the runtime normalisation of the pixels
    from pose_lifter.core.camera import pixels_to_normalized
    from pose_lifter.core.normalization import normalise
    ref = normalise(pixels_to_normalized(px, K)).inputs
    both = np.concatenate([src.train.inputs, src.heldout.inputs])
    order = np.argsort(np.concatenate([src.train.time_s, src.heldout.time_s]))
    np.testing.assert_allclose(both[order], ref, atol=1e-5)
    assert 'training rows' in src.summary()


def test_bag_make_bag_coco_is_read(tmp_path, pose_file):
    from pose_lifter.bag.make import make_bag
    from pose_lifter.bag.scene import SceneOptions
    make_bag(pose_file, tmp_path / 'made', SceneOptions(joint_format='coco17', noise_px=1.0),
             max_frames=40)
    src = load_2d(tmp_path / 'made', holdout=0.5, block_s=0.5)
    assert src.info['keypoints_topic'] == '/keypoints_2d'
    assert len(src.train) > 0 and len(src.heldout) > 0


def test_bag_without_keypoint_topic_lists_topics(tmp_path):
    from pose_lifter.bag import messages as m
    from pose_lifter.bag.io import add_topic, open_writer, serialize
    writer = open_writer(tmp_path / 'b')
    c = add_topic(writer, '/clock', 'rosgraph_msgs/msg/Clock')
    writer.write(c, 1, serialize(m.clock(1)))
    writer.close()
    with pytest.raises(Source2DError, match=r'no keypoint topic.*Topics in the bag: /clock '
                       r'\(rosgraph_msgs/msg/Clock\)'):
        load_2d(tmp_path / 'b')


def test_named_topic_missing_and_ambiguous_topics(tmp_path):
    bag = write_bag(tmp_path / 'b', frames_of(standing_pixels(4)), extra_kp_topic='/other')
    with pytest.raises(Source2DError, match='several keypoint topics.*--keypoints-topic'):
        load_2d(bag)
    with pytest.raises(Source2DError, match='no topic /nope'):
        load_2d(bag, keypoints_topic='/nope')
    assert len(load_2d(bag, keypoints_topic='other', holdout=0).train) == 4


def test_inconsistent_joint_counts_are_counted(tmp_path):
    px = standing_pixels(6)
    frames = frames_of(px)
    frames[3] = {'keypoints': px[3:4, :12], 't': 0.3}   # 12 joints in an h36m17 message
    frames[4] = {'keypoints': px[4:5], 'joint_format': 'openpose99', 't': 0.4}
    src = load_2d(write_bag(tmp_path / 'b', frames), holdout=0)
    assert src.skipped['inconsistent_joint_count'] == 1
    assert src.skipped['unknown_joint_format'] == 1
    assert len(src.train) == 4


def test_all_nan_frames_are_counted_and_all_nan_bag_is_an_error(tmp_path):
    px = standing_pixels(5)
    px[1:3] = np.nan
    src = load_2d(write_bag(tmp_path / 'a', frames_of(px)), holdout=0)
    assert src.skipped == {'too_few_joints': 2} and len(src.train) == 3
    with pytest.raises(Source2DError, match=r'no usable 2D poses \(too_few_joints 5\)'):
        load_2d(write_bag(tmp_path / 'b', frames_of(np.full((5, 17, 2), np.nan))))


def test_camera_info_with_zero_K(tmp_path):
    frames = frames_of(standing_pixels(4))
    for f in frames:
        f['K'] = np.zeros((3, 3))
    with pytest.raises(Source2DError, match='no valid CameraInfo.*4 invalid: K of zeros'):
        load_2d(write_bag(tmp_path / 'b', frames))


def test_low_confidence_and_outside_image_joints_are_missing(tmp_path):
    px = standing_pixels(3)
    conf = np.ones((3, 17))
    conf[0, H36M17.index('l_wrist')] = 0.05
    px[1, H36M17.index('r_ankle')] = (5000.0, 300.0)   # right of a 1280 px image
    np.savez(tmp_path / 'kp.npz', keypoints=px, confidence=conf, K=K,
             joint_format='h36m17', image_size=np.array([1280, 720]))
    src = load_2d(tmp_path / 'kp.npz', holdout=0, min_confidence=0.1)
    j = list(H36M17.non_root)
    assert not src.train.visible[0, j.index(H36M17.index('l_wrist'))]
    assert not src.train.visible[1, j.index(H36M17.index('r_ankle'))]
    assert src.train.visible.sum() == 3 * 16 - 2
    assert src.train.inputs[0, j.index(H36M17.index('l_wrist'))].tolist() == [0.0, 0.0]


@pytest.mark.parametrize('arrays, message', [
    ({'keypoints': np.zeros((3, 17, 2))}, "missing array 'K'"),
    ({'keypoints': np.zeros((3, 17, 2)), 'K': np.zeros((3, 3))}, 'K is not a pinhole'),
    ({'keypoints': np.zeros((3, 17, 2)), 'K': np.full((3, 3), np.nan)}, 'K is not a pinhole'),
    ({'keypoints': np.zeros((3, 17, 2)), 'K': K, 'joint_format': 'openpose99'},
     'unknown joint_format'),
    ({'keypoints': np.zeros((3, 12, 2)), 'K': K}, r'needs \(N, 17, 2\)'),
    ({'keypoints': np.zeros((3, 17, 2)), 'K': K, 'confidence': np.ones((3, 5))},
     'confidence has shape'),
    ({'keypoints': np.zeros((3, 17, 2)), 'K': np.eye(4)}, 'K has shape'),
    ({'keypoints': np.full((3, 17, 2), np.nan), 'K': K}, 'no usable 2D poses'),
    ({'keypoints': np.array([object()] * 3), 'K': K}, 'not a readable .npz'),
])
def test_bad_npz_gives_one_line_error(tmp_path, arrays, message):
    path = tmp_path / 'kp.npz'
    np.savez(path, **arrays)
    with pytest.raises(Source2DError, match=message) as info:
        load_2d(path)
    assert '\n' not in str(info.value)


def test_unreadable_or_missing_file(tmp_path):
    (tmp_path / 'x.npz').write_bytes(b'not a zip')
    with pytest.raises(Source2DError, match='not a readable .npz'):
        load_2d(tmp_path / 'x.npz')
    with pytest.raises(Source2DError, match='not found'):
        load_2d(tmp_path / 'missing.npz')
    (tmp_path / 'junk.mcap').write_bytes(b'\x00' * 64)
    with pytest.raises(Source2DError, match='cannot read bag'):
        load_2d(tmp_path / 'junk.mcap')


def test_split_is_by_time_blocks():
    from pose_lifter_training.sources2d import Rows2D
    t = np.arange(1000) / 30.0   # 33 s at 30 fps
    rows = Rows2D(np.zeros((1000, 16, 2), np.float32), np.ones((1000, 16), bool), t)
    train, held, blocks = split_blocks(rows, holdout=0.2, block_s=5.0)
    assert blocks == 7 and len(train) + len(held) == 1000
    held_blocks = np.unique(np.floor(held.time_s / 5.0))
    assert set(held_blocks) == {2.0}   # every 5th block from the 3rd: block 2 (of 0..6)
    assert not set(np.floor(train.time_s / 5.0)) & set(held_blocks)


def test_cli_bad_2d_source_exits_2_without_traceback(tmp_path, capsys):
    from pose_lifter_training.cli import main
    np.savez(tmp_path / 'kp.npz', keypoints=np.zeros((3, 17, 2)), K=np.zeros((3, 3)))
    code = main(['fit', '--data-2d', str(tmp_path / 'kp.npz'), '--out', str(tmp_path / 'r'),
                 '--set', 'train.epochs=1', 'model.width=16', 'model.critic_width=16'])
    err = capsys.readouterr().err
    assert code == 2 and 'K is not a pinhole' in err and 'Traceback' not in err
