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
                with_inputs: bool = True, with_gt: bool = False, with_unknown: bool = False,
                jitter_m: float = 0.0, envelope: bool = False, legacy_ids: bool = False):
    """A replay output: the GT as predictions (joints + ``offset_m`` on every non-root joint's
    x, + ``jitter_m`` on even and - ``jitter_m`` on odd frames), realism 0.9 real / 0.1
    corrupted, every ``drop_every``-th frame unanswered, outputs received LATENCY_NS after the
    input was published; ``envelope``: corrupted persons come back as the node reports a
    person outside the image (status outside_image, NaN joints and realism); ``legacy_ids``:
    corrupted persons carry the ``corrupt:<kind>:<track>`` ids of earlier bag versions."""
    types = io.typestore().types
    writer = io.open_writer(out)
    conns = {t: io.add_topic(writer, t, m) for t, m in (
        (io.KEYPOINTS, io.SKELETON2D_ARRAY), (io.SKELETONS, io.SKELETON3D_ARRAY),
        (io.GT, io.SKELETON3D_ARRAY))}
    with io.BagReader(gt_bag) as reader:
        inputs = [data for _, _, data in reader.messages([io.KEYPOINTS])]
        truth = [m for _, m in reader.decoded(io.GT)]
        writer.set_custom_data(io.META_MAKE, io.custom_json(reader.custom[io.META_MAKE]))
    for i, (data, gt) in enumerate(zip(inputs, truth)):
        published = WALL0 + i * 100_000_000
        if with_inputs:
            writer.write(conns[io.KEYPOINTS], published, data)
        if with_gt:
            writer.write(conns[io.GT], published, io.serialize(gt))
        if i % drop_every == 0:
            continue
        people = []
        shift = offset_m + (jitter_m if i % 2 == 0 else -jitter_m)
        for s in gt.skeletons:
            real = s.status == 'gt'
            outside = envelope and not real
            joints = [types['geometry_msgs/msg/Point'](
                x=np.nan if outside else p.x + (shift if j else 0.0), y=p.y, z=p.z)
                for j, p in enumerate(s.joints)]
            people.append(types['pose_lifter_msgs/msg/Skeleton3D'](
                id=f'{s.status}:{s.id}' if legacy_ids and not real else s.id, joints=joints,
                joint_uncertainty=np.zeros(0, np.float32),
                root_covariance=np.zeros(9), inferred_joints=[],
                realism=0.9 if real else (np.nan if outside else 0.1), plausible=real,
                status='ok' if real else ('outside_image' if outside else 'implausible')))
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


def test_jitter_visible_joints_and_distance_bins(small_bag, tmp_path):
    perfect = score(fake_output(small_bag, tmp_path / 'still'), small_bag)['accuracy']
    assert perfect['temporal']['accel_error_mm'] == pytest.approx(0.0, abs=1e-6)
    assert perfect['temporal']['triplets'] > 5
    r = score(fake_output(small_bag, tmp_path / 'shaky', jitter_m=0.01), small_bag)
    acc = r['accuracy']
    # -j, +j, -j on consecutive frames: a second difference of 4 j on every non-root joint
    assert acc['temporal']['accel_error_mm'] == pytest.approx(40.0, rel=1e-6)
    assert acc['temporal']['root_accel_error_mm'] == pytest.approx(0.0, abs=1e-6)
    assert acc['temporal']['triplets'] == perfect['temporal']['triplets']
    bins = acc['by_visible_joints']
    assert sum(b['count'] for b in bins.values()) == acc['lifted']
    assert all(0 < int(k) <= 17 for k in bins) and len(bins) > 1     # drop_prob 0.02
    dist = acc['root_error_by_distance']
    assert sum(b['count'] for b in dist.values()) == acc['lifted']
    assert all(b['p50'] == pytest.approx(0.0, abs=1e-9) for b in dist.values())


def test_compare_puts_another_replay_beside_and_warnings_go_to_stderr(perfect, small_bag,
                                                                      tmp_path, capsys):
    import yaml

    shaky = fake_output(small_bag, tmp_path / 'shaky', jitter_m=0.01)
    meta = shaky / 'metadata.yaml'          # a damaged replay record: skipped with a warning
    doc = yaml.safe_load(meta.read_text())
    doc['rosbag2_bagfile_information']['custom_data'] = {'pose_lifter_replay': '{not json'}
    meta.write_text(yaml.safe_dump(doc))
    report = tmp_path / 'report'
    assert main(['bag', 'score', str(perfect), '--gt', str(small_bag), '--compare',
                 str(shaky), '--report', str(report)]) == 0
    captured = capsys.readouterr()
    data = json.loads((report / 'score.json').read_text())
    comp = data['comparison']
    assert comp['other_bag'] == str(shaky)
    accel = comp['metrics']['accel_error_mm']
    assert accel['value'] == pytest.approx(0.0, abs=1e-6)
    assert accel['other'] == pytest.approx(40.0) and accel['change_rel'] == pytest.approx(-1)
    assert 'latency_p99_ms' in comp['metrics'] and 'mpjpe' in comp['metrics']
    assert '| acceleration error, root-aligned (mm/frame²) | 0.0 | 40.0 | -100.0 |' in \
        captured.out
    assert (report / 'comparison.png').stat().st_size > 0
    assert '## This replay vs another' in (report / 'report.md').read_text()
    # what could not be read is said in the JSON and on stderr
    assert any('pose_lifter_replay' in w for w in data['warnings'])
    assert all(f'warning: {w}' in captured.err for w in data['warnings'])


def test_persons_outside_the_envelope_count_as_rejected_corrupted(small_bag, tmp_path):
    plain = score(fake_output(small_bag, tmp_path / 'plain'), small_bag)['gating']
    g = score(fake_output(small_bag, tmp_path / 'env', envelope=True), small_bag)['gating']
    assert g['corrupted'] == plain['corrupted'] > 0
    assert g['envelope']['corrupted'] == {'outside_image': g['corrupted']}
    assert g['envelope']['real'] == {}
    assert g['rejected_corrupted'] == 1.0 and g['accepted_real'] == 1.0


def test_without_ground_truth_gating_is_not_scored_and_says_why(small_bag, tmp_path):
    # a corrupted person keeps its track id: only the ground truth labels it
    out = fake_output(small_bag, tmp_path / 'nogt', with_inputs=False)
    r = score(out)
    assert r['accuracy'] is None and r['gating'] is None
    assert any('--gt' in w for w in r['warnings'])
    # No recorded publish times: latency falls back to header stamps (and says so).
    assert r['latency']['source'] == 'header_stamp'


def test_without_ground_truth_an_earlier_bags_id_labels_still_score(small_bag, tmp_path):
    out = fake_output(small_bag, tmp_path / 'legacy', with_inputs=False, legacy_ids=True)
    r = score(out)
    assert r['gating']['auc'] == 1.0 and r['gating']['corrupted'] > 0
    assert r['gating']['rejected_corrupted'] == 1.0


def test_the_gt_copy_inside_the_output_is_used(small_bag, tmp_path):
    r = score(fake_output(small_bag, tmp_path / 'own', with_gt=True))
    assert r['accuracy']['metrics']['mpjpe'] == pytest.approx(0.0, abs=1e-3)


def test_cli_writes_markdown_html_json_and_plots(perfect, small_bag, tmp_path, capsys):
    report, js = tmp_path / 'report', tmp_path / 's.json'
    assert main(['bag', 'score', str(perfect), '--gt', str(small_bag), '--report', str(report),
                 '--json', str(js), '--threshold', '0.5']) == 0
    out = capsys.readouterr().out
    assert '| MPJPE (mm) | 0.0 |' in out and f'report: {report}/report.html' in out
    assert '| metric | model | zero-depth | mean-pose |' in out      # baselines on stdout too
    for name in ('report.md', 'report.html', 'score.json', 'error_per_joint.png',
                 'latency.png', 'realism.png', 'skeletons.png'):
        assert (report / name).stat().st_size > 0, name
    data = json.loads(js.read_text())
    assert data['gating']['threshold'] == 0.5 and data['gating']['threshold_source'] == \
        '--threshold'
    assert 'realism_real' not in data['gating'] and 'samples_ms' not in data['latency']
    assert '<img src="realism.png"' in (report / 'report.html').read_text()


def _leaves(value, path=()):
    """(path, value) of every leaf of a JSON tree."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, path + (k,))
    else:
        yield path, value


@pytest.fixture(scope='module')
def scored(perfect, small_bag, tmp_path_factory):
    """The CLI's report of the perfect fake output, GT and inputs from the made bag."""
    report = tmp_path_factory.mktemp('scored') / 'report'
    assert main(['bag', 'score', str(perfect), '--gt', str(small_bag), '--report',
                 str(report)]) == 0
    return report, json.loads((report / 'score.json').read_text())


def test_every_metric_in_score_json_has_a_glossary_line_in_the_report(scored):
    from pose_lifter.bag import glossary
    report, data = scored
    sections = ('accuracy', 'gating', 'latency', 'baselines', 'outputs', 'matched_persons')
    leaves = [p for p, _ in _leaves({k: data[k] for k in sections})]
    assert len(leaves) > 60
    missing = [p for p in leaves if glossary.entry(p) is None]
    assert not missing, missing
    md = (report / 'report.md').read_text()
    glossary_md = md.split('## Glossary', 1)[1]
    for path in leaves:
        label, meaning, direction = glossary.entry(path)
        assert f'- **{label}**: {meaning} ({direction}).' in glossary_md, path
    # Keys that mean different things in different places get different lines.
    assert glossary.entry(('accuracy', 'metrics', 'auc')) != glossary.entry(('gating', 'auc'))
    assert glossary.entry(('nonsense',)) is None


def test_the_report_says_what_went_in_with_the_model_hash(scored, small_bag):
    from pose_lifter.core.backends.onnx_backend import read_contract
    from pose_lifter.resources import default_model
    report, data = scored
    made = data['inputs']['bag_make']
    assert made['joint_format'] == 'coco17' and made['noise_px'] == 1.0
    assert made['persons'] == 2 and made['corrupt_prob'] == 0.25
    assert made['drop_prob'] == 0.02 and made['low_conf_prob'] == 0.05
    assert made['fps'] == 10.0 and made['max_frames'] == 24 and made['clip_fps'] == [10.0]
    assert made['source'].endswith('demo_poses.npz')
    digest = read_contract(default_model()).content_hash
    assert data['inputs']['model']['content_hash'] == digest and len(digest) == 64
    md = (report / 'report.md').read_text()
    inputs = md.split('## What went in', 1)[1].split('##', 1)[0]
    for row in ('| joint format | coco17 |', '| pixel noise (std, px) | 1.0 |',
                '| persons per frame | 2 |',
                '| corrupted skeletons (per person and frame) | 25.0 % |',
                '| missing joints (drop probability) | 2.0 % |',
                f'| model content hash | {digest} |',
                '| frame rate (fps) | 10 |'):
        assert row in inputs, row
    assert '<h2>What went in</h2>' in (report / 'report.html').read_text()


def test_the_baselines_stand_beside_the_model_on_the_same_persons(scored):
    report, data = scored
    base = data['baselines']
    assert set(base) == {'model', 'zero_depth', 'mean_pose'}
    assert base['model']['mpjpe'] == pytest.approx(0.0, abs=1e-3)     # perfect predictions
    for kind in ('zero_depth', 'mean_pose'):
        # The fake node "lifted" every person; the pipeline leaves out those with too few
        # joints (drop_prob), so a baseline may cover slightly fewer of the same persons.
        assert 0.9 * base['model']['count'] <= base[kind]['count'] <= base['model']['count']
        assert base[kind]['pa_mpjpe'] > 20.0          # a trivial lift is clearly wrong
    md = (report / 'report.md').read_text()
    table = md.split('## Model vs baselines', 1)[1].split('##', 1)[0]
    assert '| metric | model | zero-depth | mean-pose |' in table
    assert '| MPJPE (mm) | 0.0 |' in table and '| persons |' in table


def test_without_camera_info_the_baselines_say_why(small_bag, tmp_path):
    # The fake output holds keypoints and GT but no CameraInfo.
    r = score(fake_output(small_bag, tmp_path / 'nocam', with_gt=True))
    assert r['baselines']['model']['count'] > 0
    assert 'error' in r['baselines']['zero_depth']


def test_the_report_goes_under_out_by_default(perfect, small_bag, tmp_path, monkeypatch,
                                              capsys):
    monkeypatch.chdir(tmp_path)
    assert main(['bag', 'score', str(perfect) + '/', '--gt', str(small_bag)]) == 0
    page = tmp_path / 'out' / perfect.name / 'report' / 'report.html'
    assert page.is_file()
    assert f'report: out/{perfect.name}/report/report.html' in capsys.readouterr().out


def test_latency_plot_marks_p50_and_p99():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from pose_lifter.bag.plots import latency_figure
    ms = np.concatenate([np.full(98, 5.0), [40.0, 50.0]])
    fig = latency_figure(plt, ms, 'publish_time')
    ax = fig.axes[0]
    lines = {ln.get_label(): ln.get_xdata()[0] for ln in ax.get_lines()}
    assert lines == {f'p50 {np.percentile(ms, 50):.1f} ms': np.percentile(ms, 50),
                     f'p99 {np.percentile(ms, 99):.1f} ms': np.percentile(ms, 99)}
    assert {t.get_text() for t in ax.texts} == {'p50', 'p99'}
    plt.close(fig)


def test_skeleton_panels_have_equal_axes_side_colours_and_a_telling_title(small_bag):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from pose_lifter.bag.plots import SIDE_COLOURS, skeleton_figure
    from pose_lifter.core.skeleton import H36M17
    with io.BagReader(small_bag) as reader:
        gt = [m for _, m in reader.decoded(io.GT)][0].skeletons[0]
    pose = np.array([(p.x, p.y, p.z) for p in gt.joints]) * 1000.0
    pose = pose - pose[0]
    ex = {'gt_mm': pose[None], 'pred_mm': (pose * [1.0, 1.0, 3.0])[None],
          'mpjpe': np.array([42.0]), 'clip': ['07_01'], 'frame_id': ['camera_0_optical_frame'],
          'distance_m': np.array([6.25])}
    fig = skeleton_figure(plt, ex)
    ax = fig.axes[0]
    spans = [np.ptp(lim) for lim in (ax.get_xlim(), ax.get_ylim(), ax.get_zlim())]
    assert spans == pytest.approx([spans[0]] * 3)
    colours = {matplotlib.colors.to_hex(ln.get_color()) for ln in ax.get_lines()}
    assert colours == {matplotlib.colors.to_hex(SIDE_COLOURS[s]) for s in (1, -1, 0)}
    assert len(ax.get_lines()) == 2 * len(H36M17.bones)
    title = ax.get_title()
    assert '07_01' in title and 'camera_0_optical_frame' in title and '6.2 m' in title
    plt.close(fig)


def test_uncertainty_calibration_of_published_radii():
    from pose_lifter.bag.score import uncertainty_calibration
    rng = np.random.default_rng(0)
    radii = np.broadcast_to(np.linspace(20.0, 200.0, 16), (4000, 16))
    # half-normal errors whose 90th percentile is the radius: calibrated by construction
    err = np.abs(rng.normal(size=radii.shape)) * radii / 1.6449
    inferred = np.zeros(radii.shape, bool)
    inferred[:, -4:] = True
    out = uncertainty_calibration(radii, err, inferred)
    assert out['coverage'] == pytest.approx(0.9, abs=0.01)
    assert out['coverage_inferred'] == pytest.approx(0.9, abs=0.02)
    assert out['spearman'] > 0.4 and out['inferred_joints'] == 16000
    for c in out['curve']:
        assert c['error_p90_mm'] == pytest.approx(c['radius_mm'], rel=0.1)
    over = uncertainty_calibration(radii * 3, err, inferred)
    assert over['coverage'] > 0.99 and over['coverage_inferred'] > 0.99
