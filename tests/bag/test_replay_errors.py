"""``bag replay`` on undecodable input data: one clear line, never a rosbags traceback; a few
bad messages among good ones are skipped and counted."""
from __future__ import annotations

import numpy as np
import pytest
from bag_support import T0

from pose_lifter.bag import io
from pose_lifter.bag import messages as m
from pose_lifter.bag.replay import drop_undecodable
from pose_lifter.bag.schedule import load_schedule
from pose_lifter.cli.main import main
from pose_lifter.core.cameras import EVAL_CAMERAS

GARBAGE = [b'\x00\x01\x00\x00' + b'\x01' * 8 + b'\xff\xff\xff\x7fab',   # absurd string length
           b'\x00\x01\x00\x00garbage', b'']                              # short, empty


def mixed_bag(path, good: int, bad: int):
    """/keypoints_2d with ``good`` decodable frames after ``bad`` undecodable ones."""
    writer = io.open_writer(path)
    kp = io.add_topic(writer, io.KEYPOINTS, io.SKELETON2D_ARRAY)
    ci = io.add_topic(writer, io.CAMERA_INFO, io.CAMERA_INFO_TYPE)
    for i in range(bad + good):
        ns = T0 + i * 100_000_000
        writer.write(ci, ns, io.serialize(m.camera_info(ns, 'cam', EVAL_CAMERAS[0])))
        data = GARBAGE[i % len(GARBAGE)] if i < bad else io.serialize(m.skeleton2d_array(
            ns, 'cam', 'h36m17', ['a'], np.full((1, 17, 2), 100.0), np.ones((1, 17))))
        writer.write(kp, ns, data)
    writer.close()
    return path


def test_only_undecodable_keypoints_is_one_line_exit_2(tmp_path, capsys):
    bag = mixed_bag(tmp_path / 'garbage', good=0, bad=6)
    out = tmp_path / 'out'
    assert main(['bag', 'replay', str(bag), '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert 'Traceback' not in err and len(err.strip().splitlines()) == 1, err
    assert 'no /keypoints_2d message decodes as pose_lifter_msgs/msg/Skeleton2DArray' in err
    assert '6 tried' in err
    assert not out.exists()                      # refused before anything started


def test_undecodable_messages_among_good_ones_are_dropped_and_counted(tmp_path):
    bag = mixed_bag(tmp_path / 'mixed', good=4, bad=3)
    inputs = [io.KEYPOINTS, io.CAMERA_INFO]
    with io.BagReader(bag) as reader:
        schedule = load_schedule(reader, inputs, 2.0)
    kept, bad = drop_undecodable(schedule, {io.KEYPOINTS: io.SKELETON2D_ARRAY,
                                            io.CAMERA_INFO: io.CAMERA_INFO_TYPE}, bag)
    assert bad == {io.KEYPOINTS: 3}
    assert sum(1 for item in kept.items if item[0] == io.KEYPOINTS) == 4
    assert sum(1 for item in kept.items if item[0] == io.CAMERA_INFO) == 7
    assert len(kept.items) == len(schedule.items) - 3


@pytest.mark.ros
def test_replay_skips_and_reports_undecodable_frames(tmp_path, capsys, tiny_model, domain_id):
    bag = mixed_bag(tmp_path / 'mixed', good=4, bad=2)
    out = tmp_path / 'out'
    assert main(['bag', 'replay', str(bag), '--out', str(out), '--model', str(tiny_model),
                 '--domain-id', str(domain_id), '--rate', '4']) == 0
    captured = capsys.readouterr()
    assert '2 /keypoints_2d message(s)' in captured.out + captured.err
    summary = io.read_custom_data(out)[io.META_REPLAY]
    assert summary['undecodable'] == {io.KEYPOINTS: 2}
    assert summary['published_frames'] == 4


def test_unreadable_custom_data_is_said_not_swallowed(tmp_path, capsys):
    import yaml
    bag = mixed_bag(tmp_path / 'meta', good=1, bad=0)
    meta = bag / 'metadata.yaml'
    info = yaml.safe_load(meta.read_text())
    info['rosbag2_bagfile_information']['custom_data'] = {
        io.META_MAKE: '{"frames": 3}', io.META_REPLAY: '{not json'}
    meta.write_text(yaml.safe_dump(info))
    problems = []
    assert io.read_custom_data(bag, problems) == {io.META_MAKE: {'frames': 3}}
    assert len(problems) == 1 and io.META_REPLAY in problems[0]
    with io.BagReader(bag) as reader:          # kept on the reader for the tools to report
        assert reader.problems == problems
    io.read_custom_data(bag)                     # without a list: a warning line on stderr
    assert f'warning: {meta}: custom_data {io.META_REPLAY} ignored' in capsys.readouterr().err


def test_an_unreadable_model_contract_is_a_score_warning(tmp_path):
    from pose_lifter.bag.score import node_threshold
    warnings = []
    replay = {'options': {'model': str(tmp_path / 'gone.onnx')}}
    assert node_threshold({}, replay, None, warnings) is None
    assert len(warnings) == 1 and 'gone.onnx' in warnings[0]
    assert node_threshold({'realism_threshold': '0.3'}, replay, None, warnings) == (
        0.3, 'node diagnostics')
