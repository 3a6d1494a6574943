"""Bad inputs to the bag tools: a clear error naming the problem, a non-zero exit, no hang,
and any output bag closed and readable."""
from __future__ import annotations

import shutil
import time

import pytest
from bag_support import detector_bag, wrong_type_bag

from pose_lifter.bag import io
from pose_lifter.bag.schedule import load_schedule
from pose_lifter.cli.main import main


def _truncated(src, dst):
    shutil.copytree(src, dst)
    mcap = next(dst.glob('*.mcap'))
    mcap.write_bytes(mcap.read_bytes()[:mcap.stat().st_size // 2])
    return dst


@pytest.mark.parametrize('command', ['replay', 'score'])
def test_truncated_mcap(small_bag, tmp_path, capsys, command):
    bad = _truncated(small_bag, tmp_path / 'cut')
    args = ['--out', str(tmp_path / 'out')] if command == 'replay' else []
    assert main(['bag', command, str(bad)] + args) == 2
    err = capsys.readouterr().err
    assert 'cannot read bag' in err and str(bad) in err
    # The bare .mcap file is refused the same way.
    assert main(['bag', command, str(next(bad.glob('*.mcap')))] + args) == 2
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('command', ['replay', 'score'])
def test_missing_bag(tmp_path, capsys, command):
    args = ['--out', str(tmp_path / 'out')] if command == 'replay' else []
    assert main(['bag', command, str(tmp_path / 'nothing')] + args) == 2
    assert 'bag not found' in capsys.readouterr().err


def test_missing_input_topics_are_named(tmp_path, demo_poses, capsys):
    bag = detector_bag(tmp_path / 'renamed', demo_poses, frames=2)
    assert main(['bag', 'replay', str(bag), '--out', str(tmp_path / 'out')]) == 2
    err = capsys.readouterr().err
    assert 'no topic /keypoints_2d' in err and 'no topic /camera_info' in err
    assert '/detector/keypoints (pose_lifter_msgs/msg/Skeleton2DArray)' in err
    assert main(['bag', 'score', str(bag)]) == 2
    assert 'no topic /skeletons_3d' in capsys.readouterr().err


@pytest.mark.parametrize('msgtype', ['std_msgs/msg/String', 'acme_msgs/msg/Blob'])
def test_wrong_or_unknown_message_type(tmp_path, capsys, msgtype):
    bag = wrong_type_bag(tmp_path / 'typed', msgtype)
    assert main(['bag', 'replay', str(bag), '--out', str(tmp_path / 'out')]) == 2
    err = capsys.readouterr().err
    assert f'topic /keypoints_2d has type {msgtype}, expected ' \
           'pose_lifter_msgs/msg/Skeleton2DArray' in err


def test_clock_gaps_are_cut_not_waited_for(tmp_path, demo_poses):
    bag = detector_bag(tmp_path / 'gap', demo_poses, frames=6, gap_s=3600.0)
    with io.BagReader(bag) as reader:
        schedule = load_schedule(reader, ['/detector/keypoints', '/detector/camera_info'], 0.5)
    assert [round(g['gap_s']) for g in schedule.gaps] == [3600]
    assert schedule.duration_s == pytest.approx(0.2 + 0.5 + 0.1 * 2)
    play = [t for topic, _, t, _ in schedule.items if topic == '/detector/keypoints']
    assert (play[3] - play[2]) / 1e9 == pytest.approx(0.5)


def test_bad_options(small_bag, tmp_path, capsys):
    assert main(['bag', 'replay', str(small_bag), '--out', str(tmp_path / 'o'),
                 '--rate', '0']) == 2
    assert '--rate must be > 0' in capsys.readouterr().err
    assert main(['bag', 'make', 'x.npz', '--out', str(tmp_path / 'm'),
                 '--drop-prob', '2']) == 2
    assert '--drop-prob must be in [0, 1]' in capsys.readouterr().err


def _failed_output(out):
    """The output bag of a failed replay: readable, outcome recorded."""
    with io.BagReader(out) as reader:
        meta = reader.custom[io.META_REPLAY]
        assert io.SKELETONS not in reader.topics
    assert meta['status'] == 'error'
    return meta


@pytest.mark.ros
def test_attach_without_a_node_times_out_cleanly(small_bag, tmp_path, capsys, domain_id):
    out = tmp_path / 'out'
    start = time.monotonic()
    assert main(['bag', 'replay', str(small_bag), '--out', str(out), '--attach',
                 '--domain-id', str(domain_id), '--startup-timeout', '1.5']) == 1
    assert time.monotonic() - start < 15.0
    err = capsys.readouterr().err
    assert 'did not come up within 2 s' in err or 'did not come up within 1 s' in err
    assert 'no subscription to /keypoints_2d' in err
    assert 'did not come up' in _failed_output(out)['error']
    assert main(['bag', 'score', str(out)]) == 2
    assert 'no topic /skeletons_3d' in capsys.readouterr().err


@pytest.mark.ros
def test_node_that_exits_at_start(small_bag, tmp_path, capsys, domain_id, tiny_model):
    out = tmp_path / 'out'
    assert main(['bag', 'replay', str(small_bag), '--out', str(out), '--model',
                 str(tiny_model), '--domain-id', str(domain_id), '--param',
                 'max_persons:=0', '--startup-timeout', '30']) == 1
    err = capsys.readouterr().err
    assert 'the node exited with code' in err and 'max_persons' in err
    assert _failed_output(out)['node_exit_code'] not in (None, 0)
    assert (out / 'node.log').is_file()


@pytest.mark.ros
def test_node_with_a_bad_model_never_comes_up(small_bag, tmp_path, capsys, domain_id):
    out = tmp_path / 'out'
    assert main(['bag', 'replay', str(small_bag), '--out', str(out), '--model',
                 str(tmp_path / 'missing.onnx'), '--domain-id', str(domain_id),
                 '--startup-timeout', '4']) == 1
    err = capsys.readouterr().err
    assert 'did not come up within 4 s' in err and 'configure failed' in err
    _failed_output(out)
