"""calibrate --data-2d also sets the track gate's threshold from a recording's tracked persons."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip('rosbags')

from pose_lifter.bag.make import make_bag  # noqa: E402
from pose_lifter.bag.scene import SceneOptions  # noqa: E402
from pose_lifter.core.backends import create_backend  # noqa: E402
from pose_lifter.core.track_gate import TrackGate  # noqa: E402
from pose_lifter_training.calibrate import track_gate_on_2d  # noqa: E402
from pose_lifter_training.cli import main  # noqa: E402
from pose_lifter_training.sources2d import Source2DError  # noqa: E402


def _recording(tmp_path_factory, demo_poses, noise_px: float, ids: bool = True):
    """A detector's tracked COCO-17 output of the demo clips at ``noise_px`` (10 fps)."""
    out = tmp_path_factory.mktemp('rec') / f'rec{noise_px:g}'
    make_bag(demo_poses, out, SceneOptions(joint_format='coco17', noise_px=noise_px,
                                           drop_prob=0.05, seed=1), fps=10.0, max_frames=150)
    if not ids:                     # the same detections without track ids
        from pose_lifter.bag import io
        plain = out.with_name(out.name + '_noids')
        writer = io.open_writer(plain)
        with io.BagReader(out) as reader:
            for topic in (io.CAMERA_INFO, io.KEYPOINTS):
                conn = io.add_topic(writer, topic, reader.topics[topic])
                for t, msg in reader.decoded(topic):
                    for s in getattr(msg, 'skeletons', ()):
                        s.id = ''
                    writer.write(conn, t, io.serialize(msg))
        writer.close()
        return plain
    return out


@pytest.fixture(scope='module')
def recordings(tmp_path_factory, demo_poses):
    return {px: _recording(tmp_path_factory, demo_poses, px) for px in (1.0, 8.0)}


def test_the_threshold_follows_the_recordings_noise(default_model, recordings):
    gate = TrackGate.from_dict(create_backend(default_model).contract.track_gate)
    clean = track_gate_on_2d(default_model, recordings[1.0], 3.0)
    noisy = track_gate_on_2d(default_model, recordings[8.0], 3.0)
    # noisier detections move more between frames: a lower combined realism, so a lower
    # threshold for the same share of real persons
    assert 0 < noisy['threshold'] < clean['threshold'] < 1
    assert noisy['threshold'] < gate.threshold
    loose = track_gate_on_2d(default_model, recordings[8.0], 20.0)
    assert loose['threshold'] > noisy['threshold']
    for spec in (clean, noisy):
        cal = spec['threshold_calibration']
        assert cal['persons'] >= 100 and cal['percentile'] == 3.0
        TrackGate.from_dict(spec)                  # a gate the node can load
        assert spec['weights'] == list(gate.weights) and spec['bias'] == gate.bias


def test_calibrate_sets_both_thresholds_and_keeps_the_graph(default_model, recordings,
                                                              tmp_path, capsys):
    model = tmp_path / 'm.onnx'
    shutil.copy(default_model, model)
    before = create_backend(model).contract
    assert main(['calibrate', '--model', str(model), '--data-2d', str(recordings[8.0])]) == 0
    out = capsys.readouterr().out
    assert 'realism threshold' in out and 'track gate threshold' in out
    after = create_backend(model).contract
    assert after.content_hash == before.content_hash
    assert after.realism_threshold != before.realism_threshold
    assert after.track_gate['threshold'] == pytest.approx(
        track_gate_on_2d(default_model, recordings[8.0], 3.0)['threshold'])
    assert after.track_gate['threshold_calibration']['data_2d'] == recordings[8.0].name
    assert main(['calibrate', '--model', str(model), '--data-2d', str(recordings[8.0]),
                 '--track-gate-percentile', '-1']) == 2


def test_without_track_ids_the_track_gate_threshold_is_kept(default_model, tmp_path_factory,
                                                           demo_poses, tmp_path, capsys):
    plain = _recording(tmp_path_factory, demo_poses, 4.0, ids=False)
    with pytest.raises(Source2DError, match='track ids'):
        track_gate_on_2d(default_model, plain)
    model = tmp_path / 'm.onnx'
    shutil.copy(default_model, model)
    threshold = create_backend(model).contract.track_gate['threshold']
    assert main(['calibrate', '--model', str(model), '--data-2d', str(plain)]) == 0
    assert 'track gate threshold kept' in capsys.readouterr().out
    assert create_backend(model).contract.track_gate['threshold'] == threshold
    npz = tmp_path / 'kp.npz'
    np.savez(npz, keypoints=np.zeros((1, 17, 2)), K=np.eye(3), joint_format='coco17')
    with pytest.raises(Source2DError, match='no track ids'):
        track_gate_on_2d(default_model, npz)
