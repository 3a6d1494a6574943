"""pose-lifter-train distill: one lifter that answers as the ensemble does."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from training_synthetic import tiny_config

from pose_lifter.core.backends import create_backend
from pose_lifter_training.adapt import lifting_model
from pose_lifter_training.checkpoint import load_checkpoint, restore, save_checkpoint
from pose_lifter_training.cli import main
from pose_lifter_training.data import build_eval_set, load_splits
from pose_lifter_training.distill import Teacher, epoch_targets, occlusion_mask, paired_rows
from pose_lifter_training.train import fit


@pytest.fixture(scope='module')
def members(tmp_path_factory, pose_file):
    out = []
    for seed in (1, 2):
        run = tmp_path_factory.mktemp(f'teacher{seed}')
        fit(tiny_config(pose_file, extra=['train.epochs=2', f'train.seed={seed}']), run)
        out.append(run / 'best.pt')
    return out


def _gap(generator, teacher, x: torch.Tensor) -> float:
    with torch.no_grad():
        pose = generator.eval()(x.reshape(len(x), -1, 2), torch.zeros(len(x), teacher.latent))
        return float((pose[0] - teacher(x)).abs().mean())


def test_student_moves_to_the_teacher(tmp_path, members, pose_file, capsys):
    # a student that starts far from the teacher: member 0 with its output shifted
    ckpt = load_checkpoint(members[0])
    ckpt['generator'] = dict(ckpt['generator'])
    ckpt['generator']['decoder.out.bias'] = ckpt['generator']['decoder.out.bias'] + 0.1
    save_checkpoint(tmp_path / 'init.pt', {k: v for k, v in ckpt.items() if k != 'format'})
    out = tmp_path / 'student'
    assert main(['distill', '--init', str(tmp_path / 'init.pt'), '--member', *map(str, members),
                 '--out', str(out), '--epochs', '12', '--lr', '3e-3', '--batch', '16',
                 '--data', str(pose_file)]) == 0
    assert 'validation N-MPJPE' in capsys.readouterr().out
    history = json.loads((out / 'history.json').read_text())
    assert [h['epoch'] for h in history] == list(range(1, 13))
    cfg, student, _, contract = restore(load_checkpoint(out / 'last.pt'))
    assert contract.training['distill']['noise_prob'] == 0.5
    assert len(contract.training['distilled_from']) == 2
    val = build_eval_set(load_splits(cfg.data, str(pose_file)).val)
    x = torch.as_tensor(val.inputs.reshape(len(val.inputs), -1), dtype=torch.float32)
    teacher = Teacher(members)
    init = lifting_model(tmp_path / 'init.pt').generator
    assert _gap(student, teacher, x) < 0.7 * _gap(init, teacher, x)
    # the student exports like any fit run
    assert main(['export', '--checkpoint', str(out / 'best.pt'), '--out',
                 str(tmp_path / 's.onnx')]) == 0
    assert create_backend(tmp_path / 's.onnx').infer(np.zeros((2, 32), np.float32))[0].shape \
        == (2, 16, 3)


def test_pairs_carry_the_teacher_pose_into_the_student_frame(pose_file):
    from dataclasses import replace

    from pose_lifter_training.data import TrainData
    cfg = tiny_config(pose_file)
    data = TrainData(load_splits(cfg.data).train, cfg.data)
    exact = replace(cfg.data, noise_prob=0.0, coco_prob=0.0, missing_prob=0.0)
    clean, student, carry = paired_rows(TrainData(load_splits(cfg.data).train, exact),
                                        np.random.default_rng(0), exact, 0.0)
    # without noise, drops or occlusion the student sees what the teacher sees
    assert clean.shape == (1,) + student.shape and carry.shape == (1, len(student), 10)
    np.testing.assert_allclose(student, clean[0], atol=1e-6)
    np.testing.assert_allclose(carry[0, :, 9], 1.0, atol=1e-9)
    noisy = replace(cfg.data, noise_prob=1.0, coco_prob=1.0, noise_px_max=8.0)
    clean, student, carry = paired_rows(data, np.random.default_rng(1), noisy, 0.5)
    assert np.abs(student - clean[0])[student != 0].mean() > 1e-4
    rot = carry[0, :, :9].reshape(-1, 3, 3)
    np.testing.assert_allclose(rot @ np.swapaxes(rot, 1, 2), np.broadcast_to(
        np.eye(3), rot.shape), atol=1e-6)


def test_views_of_their_own_carry_the_exact_pose(pose_file):
    """Teacher views and a student camera mounted high: the carry takes the exact 3D of
    each teacher view's virtual frame onto the student's, units included."""
    from dataclasses import replace

    from pose_lifter.core.cameras import to_camera
    from pose_lifter.core.normalization import normalise_camera_points
    from pose_lifter_training.data import TrainData
    from pose_lifter_training.distill import Envelope
    cfg = tiny_config(pose_file)
    exact = replace(cfg.data, noise_prob=0.0, coco_prob=0.0, missing_prob=0.0, flip_prob=0.0)
    data = TrainData(load_splits(cfg.data).train, exact)
    high = Envelope((4.0, 5.0), (3.5, 4.5), (800.0, 1200.0))
    clean, student, carry = paired_rows(data, np.random.default_rng(3), exact, 0.0,
                                        student=high, teacher_views=3)
    assert clean.shape == (3,) + student.shape and carry.shape == (3, len(student), 10)
    # the same draws, in paired_rows' order: 3 teacher cameras, then the student's
    rng, roots = np.random.default_rng(3), data.joints[:, 0] / 1000.0
    views = [Envelope.of(exact).cameras(roots, rng) for _ in range(3)] + \
        [high.cameras(roots, rng)]
    frames = [normalise_camera_points(to_camera(data.joints, c, r)) for c, r, _ in views]
    dist = [np.linalg.norm(to_camera(data.joints, c, r)[:, 0], axis=-1) for c, r, _ in views]
    assert all(n.ok.all() for n, _ in frames) and len(student) == len(data.joints)
    (seen, rel_s), d_s = frames[-1], dist[-1]
    np.testing.assert_allclose(student, seen.inputs, atol=1e-6)
    for v in range(3):
        (norm, rel_t), d_t = frames[v], dist[v]
        np.testing.assert_allclose(clean[v], norm.inputs, atol=1e-6)
        rot = carry[v, :, :9].reshape(-1, 3, 3).astype(np.float64)
        np.testing.assert_allclose(rel_t @ rot, rel_s, atol=1e-5)   # metres, exact
        units_t = rel_t / (norm.scale * d_t)[:, None, None]
        units_s = rel_s / (seen.scale * d_s)[:, None, None]
        np.testing.assert_allclose(units_t @ rot * carry[v, :, 9:, None], units_s,
                                   rtol=1e-4, atol=1e-6)
    # a camera 4 m up sees the person from above: its views differ from the level teacher's
    assert np.abs(student - clean[0]).mean() > 1e-3


def test_occlusion_masks_hide_legs_or_one_side():
    mask = occlusion_mask(3000, 1.0, np.random.default_rng(0))
    hidden = (~mask).sum(axis=1)
    assert (hidden == 4).all()
    assert occlusion_mask(100, 0.0, np.random.default_rng(0)).all()


@pytest.mark.parametrize('extra, message', [(['--noise-prob', '2'], 'noise-prob'),
                                            (['--epochs', '0'], 'epochs')])
def test_distill_bad_options_are_one_line(tmp_path, members, extra, message, capsys):
    assert main(['distill', '--init', str(members[0]), '--member', str(members[1]),
                 '--out', str(tmp_path / 'x'), *extra]) == 2
    assert message in capsys.readouterr().err


def test_an_exported_ensemble_is_a_whole_teacher(tmp_path, members):
    from pose_lifter_training.distill import members_of
    from pose_lifter_training.ensemble import export_ensemble
    export_ensemble(members, tmp_path / 'ens.onnx')
    assert members_of(tmp_path / 'ens.onnx') == 2 and members_of(members[0]) == 1
    x = torch.as_tensor(np.random.default_rng(0).normal(0, 0.05, (9, 32)), dtype=torch.float32)
    np.testing.assert_allclose(Teacher([tmp_path / 'ens.onnx'])(x).numpy(),
                               Teacher(members)(x).numpy(), atol=1e-5)


def test_distill_from_an_exported_model(tmp_path, members, pose_file):
    assert main(['export', '--checkpoint', str(members[0]), '--out',
                 str(tmp_path / 'init.onnx')]) == 0
    assert main(['distill', '--init', str(tmp_path / 'init.onnx'), '--member', str(members[1]),
                 '--out', str(tmp_path / 'st'), '--epochs', '1', '--data', str(pose_file)]) == 0
    assert (tmp_path / 'st' / 'best.pt').is_file()
    assert main(['export', '--checkpoint', str(tmp_path / 'st' / 'best.pt'), '--out',
                 str(tmp_path / 'st.onnx')]) == 0


def test_an_anchored_teacher_answer_keeps_its_depths_on_its_input_rays(pose_file):
    """--anchor-teacher: the target reprojects exactly onto the teacher's (here also the
    student's) input and keeps the teacher's depths; without it, the teacher's x/y stay."""
    from dataclasses import replace

    from pose_lifter.core.normalization import NormalisationSpec
    from pose_lifter_training.data import TrainData
    cfg = tiny_config(pose_file)
    exact = replace(cfg.data, noise_prob=0.0, coco_prob=0.0, missing_prob=0.0, flip_prob=0.0)
    data = TrainData(load_splits(cfg.data).train, exact)

    def teacher(x: torch.Tensor) -> torch.Tensor:       # a wrong answer: x/y off, depths known
        x2 = x.reshape(len(x), -1, 2)
        return torch.cat([x2 * 7.0 + 0.05, x2[..., :1] * 3.0], dim=-1)
    depth = NormalisationSpec().depth
    for anchor in (False, True):
        student, target = epoch_targets(teacher, data, np.random.default_rng(0), exact, 0.0,
                                        anchor_teacher=anchor)
        x = student.reshape(len(student), -1, 2)
        answer = teacher(student)
        torch.testing.assert_close(target[..., 2], answer[..., 2], atol=1e-5, rtol=1e-5)
        reprojected = target[..., :2] / (target[..., 2:] + depth)
        err = (reprojected - x).abs().max().item()
        assert (err < 1e-5) if anchor else (err > 1e-3)
