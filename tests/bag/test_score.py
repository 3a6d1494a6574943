"""``bag score`` on replay outputs written directly with rosbags (known answers, no DDS)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pose_lifter.bag import io
from pose_lifter.bag.score import score
from pose_lifter.cli.main import main

LATENCY_NS = 7_000_000
WALL0 = 1_800_000_000 * 1_000_000_000


def fake_output(gt_bag, out, drop_every: int = 5, offset_m: float = 0.0,
                with_inputs: bool = True, with_gt: bool = False, with_unknown: bool = False):
    """A replay output: the GT as predictions (joints + ``offset_m`` on every non-root joint's
    x), realism 0.9 real / 0.1 corrupted, every ``drop_every``-th frame unanswered, outputs
    received LATENCY_NS after the input was published."""
    types = io.typestore().types
    writer = io.open_writer(out)
    conns = {t: io.add_topic(writer, t, m) for t, m in (
        (io.KEYPOINTS, io.SKELETON2D_ARRAY), (io.SKELETONS, io.SKELETON3D_ARRAY),
        (io.GT, io.SKELETON3D_ARRAY))}
    with io.BagReader(gt_bag) as reader:
        inputs = [data for _, _, data in reader.messages([io.KEYPOINTS])]
        truth = [m for _, m in reader.decoded(io.GT)]
    for i, (data, gt) in enumerate(zip(inputs, truth)):
        published = WALL0 + i * 100_000_000
        if with_inputs:
            writer.write(conns[io.KEYPOINTS], published, data)
        if with_gt:
            writer.write(conns[io.GT], published, io.serialize(gt))
        if i % drop_every == 0:
            continue
        people = []
        for s in gt.skeletons:
            real = s.status == 'gt'
            joints = [types['geometry_msgs/msg/Point'](x=p.x + (offset_m if j else 0.0), y=p.y,
                                                       z=p.z) for j, p in enumerate(s.joints)]
            people.append(types['pose_lifter_msgs/msg/Skeleton3D'](
                id=s.id, joints=joints, joint_uncertainty=np.zeros(0, np.float32),
                realism=0.9 if real else 0.1, plausible=real,
                status='ok' if real else 'implausible'))
        msg = types['pose_lifter_msgs/msg/Skeleton3DArray'](header=gt.header,
                                                             joint_format='h36m17',
                                                             skeletons=people)
        writer.write(conns[io.SKELETONS], published + LATENCY_NS, io.serialize(msg))
    if with_unknown:   # a topic of a type no typestore knows: ignored by the scorer
        conn = writer.add_connection('/acme/blob', 'acme_msgs/msg/Blob', msgdef='int32 v\n',
                                     rihs01='RIHS01_' + '0' * 64)
        writer.write(conn, WALL0, b'\x00\x01\x00\x00\x2a\x00\x00\x00')
    writer.close()
    return out


@pytest.fixture(scope='module')
def perfect(small_bag, tmp_path_factory):
    return fake_output(small_bag, tmp_path_factory.mktemp('score') / 'perfect',
                       with_unknown=True)


def test_perfect_predictions_score_zero_error_full_gating_and_known_latency(perfect, small_bag):
    r = score(perfect, small_bag)
    acc, gate, lat = r['accuracy'], r['gating'], r['latency']
    assert acc['metrics']['mpjpe'] == pytest.approx(0.0, abs=1e-3)
    assert acc['metrics']['pa_mpjpe'] == pytest.approx(0.0, abs=1e-2)
    assert acc['metrics']['pck150'] == 1.0 and acc['metrics']['mirror_rate'] == 0.0
    assert set(acc['per_joint_mpjpe']) >= {'pelvis', 'head', 'r_wrist'}
    assert set(acc['per_clip']) == {'07_01'}                   # clip names from the metadata
    assert acc['root_error_m']['max'] < 1e-6
    assert gate['auc'] == 1.0 and gate['accepted_real'] == 1.0
    assert gate['rejected_corrupted'] == 1.0
    assert gate['corrupted'] > 0 and gate['real'] > gate['corrupted']
    assert lat['source'] == 'publish_time' and lat['inputs'] == 24
    assert lat['dropped'] == 5                                 # frames 0, 5, 10, 15, 20
    assert lat['ms']['p50'] == pytest.approx(LATENCY_NS / 1e6)


def test_a_known_offset_is_measured(small_bag, tmp_path):
    r = score(fake_output(small_bag, tmp_path / 'off', offset_m=0.05), small_bag)
    # 16 of 17 joints off by 50 mm in x, root-aligned: MPJPE = 50 * 16 / 17.
    assert r['accuracy']['metrics']['mpjpe'] == pytest.approx(50 * 16 / 17, rel=1e-4)


def test_without_ground_truth_gating_comes_from_the_id_labels(small_bag, tmp_path):
    out = fake_output(small_bag, tmp_path / 'nogt', with_inputs=False)
    r = score(out)
    assert r['accuracy'] is None
    assert r['gating']['auc'] == 1.0
    # No recorded publish times: latency falls back to header stamps (and says so).
    assert r['latency']['source'] == 'header_stamp'


def test_the_gt_copy_inside_the_output_is_used(small_bag, tmp_path):
    r = score(fake_output(small_bag, tmp_path / 'own', with_gt=True))
    assert r['accuracy']['metrics']['mpjpe'] == pytest.approx(0.0, abs=1e-3)


def test_cli_writes_markdown_html_json_and_plots(perfect, small_bag, tmp_path, capsys):
    report, js = tmp_path / 'report', tmp_path / 's.json'
    assert main(['bag', 'score', str(perfect), '--gt', str(small_bag), '--report', str(report),
                 '--json', str(js), '--threshold', '0.5']) == 0
    out = capsys.readouterr().out
    assert '| MPJPE (mm) | 0.0 |' in out and f'report: {report}/report.html' in out
    for name in ('report.md', 'report.html', 'score.json', 'error_per_joint.png',
                 'latency.png', 'realism.png', 'skeletons.png'):
        assert (report / name).stat().st_size > 0, name
    data = json.loads(js.read_text())
    assert data['gating']['threshold'] == 0.5 and data['gating']['threshold_source'] == \
        '--threshold'
    assert 'realism_real' not in data['gating'] and 'samples_ms' not in data['latency']
    assert '<img src="realism.png"' in (report / 'report.html').read_text()
