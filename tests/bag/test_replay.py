"""make -> replay (real node child, real DDS on loopback) -> score, end to end."""
from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from bag_support import detector_bag

import pose_lifter
from pose_lifter.bag import io
from pose_lifter.bag.node_process import dds_env
from pose_lifter.cli.main import main

pytestmark = pytest.mark.ros


@pytest.fixture(autouse=True)
def _needs_ros():
    pytest.importorskip('rclpy')
    pytest.importorskip('pose_lifter_msgs.msg', reason='pose_lifter_msgs not built')
    pytest.importorskip('pose_lifter.node.main', reason='the node is not there yet')


def _replay(bag, out, model, domain_id, *extra) -> tuple[int, str, str]:
    return main(['bag', 'replay', str(bag), '--out', str(out), '--model', str(model),
                 '--domain-id', str(domain_id), '--rate', '2', '--drain', '1.5',
                 '--timeout', '60', *extra])


def test_make_replay_score(small_bag, tmp_path, tiny_model, domain_id, capsys):
    out = tmp_path / 'out'
    assert _replay(small_bag, out, tiny_model, domain_id) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary['status'] == 'ok' and summary['published_frames'] == 24
    # The node keeps only the newest input under load: most frames, not necessarily all.
    assert summary['answered_frames'] >= 18
    with io.BagReader(out) as reader:
        topics = reader.topics
        meta = reader.custom
    assert {io.SKELETONS, io.MARKERS, io.KEYPOINTS, io.CAMERA_INFO, io.GT} <= set(topics)
    assert meta[io.META_REPLAY]['node_exit_code'] == 0 and io.META_MAKE in meta
    report = tmp_path / 'report'
    assert main(['bag', 'score', str(out), '--gt', str(small_bag), '--report', str(report),
                 '--json', str(tmp_path / 's.json')]) == 0
    table = capsys.readouterr().out
    assert '| MPJPE (mm) |' in table and 'gating ROC-AUC' in table
    data = json.loads((tmp_path / 's.json').read_text())
    acc, lat = data['accuracy'], data['latency']
    assert acc['lifted'] > 0 and 0 < acc['metrics']['mpjpe'] < 1000
    assert data['gating']['corrupted'] > 0 and data['gating']['threshold'] == 0.5
    assert lat['source'] == 'publish_time' and lat['inputs'] == 24
    assert lat['outputs'] == summary['answered_frames'] and lat['ms']['p50'] > 0
    assert (report / 'report.html').is_file() and (report / 'skeletons.png').is_file()
    # What went in: the model the replay ran, identified by its contract hash.
    from pose_lifter.core.backends.onnx_backend import read_contract
    digest = read_contract(tiny_model).content_hash
    assert meta[io.META_REPLAY]['model'] == {'path': str(tiny_model), 'content_hash': digest}
    model = data['inputs']['model']
    assert model['content_hash'] == model['content_hash_at_replay'] == digest
    assert 'warning' not in model and data['inputs']['bag_make']['persons'] == 2
    assert set(data['baselines']) == {'model', 'zero_depth', 'mean_pose'}


def test_a_plain_rosbags_bag_with_only_the_inputs_and_a_clock_gap(tmp_path, demo_poses,
                                                                     tiny_model, domain_id,
                                                                     capsys):
    bag = detector_bag(tmp_path / 'detector', demo_poses, frames=16, gap_s=3600.0)
    out = tmp_path / 'out'
    assert _replay(bag, out, tiny_model, domain_id, '--keypoints-topic', '/detector/keypoints',
                   '--camera-info-topic', '/detector/camera_info', '--max-gap', '0.5') == 0
    captured = capsys.readouterr()
    assert 'clock gap of 3600.100 s' in captured.err
    summary = json.loads(captured.out)
    assert summary['published_frames'] == 16 and summary['answered_frames'] >= 12
    with io.BagReader(out) as reader:
        gaps = reader.custom[io.META_REPLAY]['gaps']
        assert '/detector/keypoints' in reader.topics and io.GT not in reader.topics
    assert [round(g['gap_s']) for g in gaps] == [3600]
    assert main(['bag', 'score', str(out), '--report', str(tmp_path / 'r'),
                 '--json', str(tmp_path / 's.json')]) == 0
    table = capsys.readouterr().out
    assert 'n/a (no ground truth)' in table and 'input frames dropped' in table
    # the renamed input topic is found: latency from send times, not header stamps
    assert json.loads((tmp_path / 's.json').read_text())['latency']['source'] == 'publish_time'


def test_sigterm_stops_the_node_and_closes_the_output(small_bag, tmp_path, tiny_model,
                                                      domain_id):
    out = tmp_path / 'out'
    env = dds_env(domain_id)
    env['PYTHONPATH'] = os.pathsep.join([str(Path(pose_lifter.__file__).resolve().parents[1]),
                                         env.get('PYTHONPATH', '')])
    proc = subprocess.Popen([sys.executable, '-m', 'pose_lifter.cli.main', 'bag', 'replay',
                             str(small_bag), '--out', str(out), '--model', str(tiny_model),
                             '--domain-id', str(domain_id), '--rate', '0.2'],
                            env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr], daemon=True).start()
    seen, deadline = [], time.monotonic() + 40
    try:
        while not any('node ready' in x for x in seen):
            assert time.monotonic() < deadline, f'replay never got ready: {seen}'
            try:
                seen.append(lines.get(timeout=0.5))
            except queue.Empty:
                assert proc.poll() is None, f'replay ended early: {seen}'
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    node_pid = int(re.search(r'started node \(pid (\d+)', ''.join(seen)).group(1))
    with pytest.raises(ProcessLookupError):
        os.kill(node_pid, 0)
    with io.BagReader(out) as reader:
        meta = reader.custom[io.META_REPLAY]
    assert meta['error'] == 'interrupted' and meta['node_exit_code'] == 0
