"""Distil an ensemble of lifters into one lifter.

The shipped ensemble is more accurate than any of its members (the seeds' errors differ), but
it costs one encoder + decoder per member at every frame. A student -- initialised from a
checkpoint or an exported model (any width), critic kept -- learns to give the ensemble's mean
pose (latent mean) on fresh training poses and cameras each epoch (the members' own training
input distribution, augmentation included): an L1 loss in body units between the student's
pose and the teacher's, the teacher seeing each pose through a camera of its own envelope and
the student through another (``paired_rows``). No 3D ground truth is used; validation (3D) or
a 2D-only criterion on the user's own 2D selects the epoch.

    pose-lifter-train distill --init runs/w512init/best.pt \\
        --member models/ensemble.onnx --out runs/distill

An exported ensemble (``pose-lifter-train ensemble``) is a whole teacher: every member of it
teaches; checkpoints and single exported models teach as one member each.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from pose_lifter.core.cameras import random_cameras, to_camera
from pose_lifter.core.normalization import NormalisationSpec, normalise_camera_points
from pose_lifter.core.skeleton import H36M17, Skeleton

from .adapt import lifting_model, onnx_state
from .checkpoint import (
    CheckpointError,
    build_contract,
    load_checkpoint,
    restore,
    save_checkpoint,
)
from .config import Config, ConfigError, DataConfig, config_from_dict
from .data import (
    TrainData,
    bone_sum_m,
    build_eval_set,
    detector_view,
    flip_rows,
    load_splits,
    missing_mask,
)
from .evaluate import validate
from .models import build_lifting_model, on_input_rays
from .selection import METRICS_2D, PosePrior, criterion_2d
from .sources2d import load_2d
from .train import data_info

LEGS = ('r_knee', 'r_ankle', 'l_knee', 'l_ankle')
SIDES = {'r': ('r_elbow', 'r_wrist', 'r_knee', 'r_ankle'),
         'l': ('l_elbow', 'l_wrist', 'l_knee', 'l_ankle')}
DISTILL_SELECT = ('n_mpjpe', 'pa_mpjpe') + METRICS_2D   # what may pick best.pt


@dataclass(frozen=True)
class Envelope:
    """Where virtual cameras stand: ranges of horizontal distance (m), height above the
    ground (m) and focal length (px), as in ``DataConfig``."""

    distance: tuple[float, float]
    height: tuple[float, float]
    focal: tuple[float, float]

    @classmethod
    def of(cls, cfg: DataConfig) -> 'Envelope':
        return cls(tuple(cfg.distance_m), tuple(cfg.height_m), tuple(cfg.focal_px))

    def cameras(self, roots_m: np.ndarray, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return random_cameras(roots_m, rng, self.distance, self.height, self.focal)


def members_of(path: str | Path) -> int:
    """How many lifters a file holds: the members of an exported ensemble, else 1."""
    if Path(path).suffix != '.onnx':
        return 1
    return max(1, len(onnx_state(path)[1].training.get('ensemble') or []))


def teacher_envelope(members: list[str | Path]) -> Envelope | None:
    """The camera envelope the first teacher member was trained in (its training config),
    or None when the file does not record it."""
    path = members[0]
    try:
        if Path(path).suffix == '.onnx':
            config = (onnx_state(path)[1].training or {}).get('config')
            return Envelope.of(config_from_dict(config).data) if config else None
        return Envelope.of(restore(load_checkpoint(path))[0].data)
    except CheckpointError:
        return None


class Teacher(torch.nn.Module):
    """Mean pose of the members at the latent mean: (N, 2(J-1)) -> (N, J-1, 3)."""

    def __init__(self, paths: list[str | Path]):
        super().__init__()
        self.members = torch.nn.ModuleList(
            lifting_model(p, k).generator.eval() for p in paths for k in range(members_of(p)))
        self.latent = self.members[0].encoder.mu.out_features

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x2 = x.reshape(x.shape[0], -1, 2)
        z = torch.zeros(x.shape[0], self.latent)
        return torch.stack([m(x2, z)[0] for m in self.members]).mean(dim=0)


def occlusion_mask(n: int, prob: float, rng: np.random.Generator,
                   skeleton: Skeleton = H36M17) -> np.ndarray:
    """(N, J-1) bool visibility: a share ``prob`` of rows loses its legs (knees, ankles: the
    upper body behind a car) or, as often, one side's elbow, wrist, knee and ankle."""
    mask = np.ones((n, skeleton.num_joints - 1), dtype=bool)
    col = {name: k for k, name in enumerate(np.asarray(skeleton.joint_names)[skeleton.non_root])}
    rows = np.flatnonzero(rng.random(n) < prob)
    kinds = rng.integers(0, 3, len(rows))   # 0: legs, 1: right side, 2: left side
    for kind, names in enumerate((LEGS, SIDES['r'], SIDES['l'])):
        mask[np.ix_(rows[kinds == kind], [col[j] for j in names])] = False
    return mask


def paired_rows(data: TrainData, rng: np.random.Generator, noisy: DataConfig,
                occlusion: float, spec: NormalisationSpec = NormalisationSpec(),
                skeleton: Skeleton = H36M17, student: Envelope | None = None,
                teacher_views: int = 1, teacher: Envelope | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One epoch of (teacher inputs, student input) of the same poses.

    The teacher sees the exact projection of every pose through ``teacher_views`` cameras of
    its envelope (``teacher``, default the training data's); the student the same pose as a
    detector reports it (``noisy``: detector noise, COCO-17 through the adapter) with
    augmentation and ``occlusion`` masks -- through the teacher's first camera, or with
    ``student`` through a camera of its own from that envelope: the teacher answers views it
    knows (also of poses seen from cameras mounted high, which it never learnt to read) and
    its poses are carried into the student's view, so the student learns the mean answer of
    the teacher's views of each pose. A share ``flip_prob`` of the rows is mirrored (all
    inputs: the teacher answers the mirrored pose itself -- it is far from
    mirror-equivariant, and mirroring its answer instead cost 4 mm N-MPJPE). Returns teacher
    inputs (V, N, J-1, 2), student inputs (N, J-1, 2) (0 = missing) and (V, N, 10): the
    rotation (3 x 3, row-major) and the scale ratio that carry a pose from each teacher
    view's virtual frame and units into the student's.
    """
    cfg = data.cfg
    roots = data.joints[:, 0] / 1000.0
    teacher = teacher or Envelope.of(cfg)
    views = [teacher.cameras(roots, rng) for _ in range(teacher_views)]
    c_s, r_s, k_s = views[0] if student is None else student.cameras(roots, rng)
    cam_s = to_camera(data.joints, c_s, r_s)
    seen, _ = detector_view(cam_s, k_s, noisy, rng, spec, skeleton)
    root = skeleton.index(spec.root)
    dist_s = np.linalg.norm(cam_s[:, root], axis=-1)
    ok, clean_inputs, carries = seen.ok.copy(), [], []
    for c_t, r_t, _ in views:
        cam_t = to_camera(data.joints, c_t, r_t)
        clean, _ = normalise_camera_points(cam_t, spec, skeleton)
        ok &= clean.ok
        # rel_cam_s = rel_cam_t @ r_t r_s^T and rel_virtual = rel_cam @ R^T, so
        # rel_seen_virtual = rel_clean_virtual @ R_clean r_t r_s^T R_seen^T; a pose in units
        # is metres / (scale x root distance), up to a constant
        carry = clean.rotation @ r_t @ np.swapaxes(r_s, -1, -2) @ \
            np.swapaxes(seen.rotation, -1, -2)
        ratio = clean.scale * np.linalg.norm(cam_t[:, root], axis=-1) / \
            np.where(seen.ok, seen.scale * dist_s, 1.0)
        clean_inputs.append(clean.inputs)
        carries.append(np.concatenate([carry.reshape(len(carry), 9), ratio[:, None]], 1))
    student_in = seen.inputs[ok]
    n = len(student_in)
    visible = missing_mask(n, cfg.missing_prob, cfg.missing_max, rng, skeleton) & \
        occlusion_mask(n, occlusion, rng, skeleton) & (student_in != 0).any(-1)
    flip = rng.random(n) < cfg.flip_prob
    mirror = np.outer([-1.0, 1.0, 1.0], [-1.0, 1.0, 1.0]).reshape(9)
    teacher_in = np.stack([flip_rows(x[ok], flip, skeleton) for x in clean_inputs])
    carry = np.stack([c[ok] for c in carries])
    carry[:, flip, :9] *= mirror   # the same rotation seen in the mirror
    return (teacher_in.astype(np.float32),
            flip_rows(student_in * visible[..., None], flip, skeleton).astype(np.float32),
            carry.astype(np.float32))


def student_init(path: str | Path) -> tuple[dict, Config, torch.nn.Module, torch.nn.Module]:
    """(checkpoint fields to keep, config, generator, critic) of a checkpoint or of an exported
    model with its training config in the contract (e.g. ``models/default.onnx``; of an
    ensemble, its first member). Raises CheckpointError."""
    if Path(path).suffix != '.onnx':
        ckpt = load_checkpoint(path)
        cfg, generator, critic, _ = restore(ckpt)
        return ckpt, cfg, generator, critic
    training = onnx_state(path)[1].training or {}
    config = training.get('config')
    if not config:
        raise CheckpointError(f'{path}: its contract has no training config; start from a '
                              'checkpoint (.pt) instead')
    cfg = config_from_dict(config)
    model = lifting_model(path)
    keep = {} if training.get('mean_pose_units') is None else \
        {'mean_pose': training['mean_pose_units']}
    return keep, cfg, model.generator, model.critic


def epoch_targets(teacher: Teacher, data: TrainData, rng: np.random.Generator,
                  noisy: DataConfig, occlusion: float, student_envelope: Envelope | None = None,
                  teacher_views: int = 1, teacher_envelope: Envelope | None = None,
                  anchor_teacher: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Student inputs (N, 2(J-1)) and the teacher's poses for them (N, J-1, 3), in the
    student's frame and units: the mean over ``teacher_views`` views of each pose. With
    ``anchor_teacher`` the teacher's answer is first put on the rays of its own input (its
    depths kept, as the runtime places every answer: ``on_input_rays``), so what its exact 2D
    says about the pose reaches the student's view -- a side view's stride becomes a frontal
    student's depth -- and only its depths are the teacher's guess."""
    clean, student, carry = paired_rows(data, rng, noisy, occlusion, student=student_envelope,
                                        teacher_views=teacher_views,
                                        teacher=teacher_envelope)
    target = np.zeros(student.shape[:-1] + (3,), np.float32)
    for view, c in zip(clean, carry):
        x = torch.from_numpy(view).reshape(len(view), -1)
        pose = torch.cat([teacher(x[s:s + 8192]) for s in range(0, len(x), 8192)])
        if anchor_teacher:
            pose = on_input_rays(pose, torch.from_numpy(view))
        pose = pose.numpy()
        target += (pose @ c[:, :9].reshape(-1, 3, 3)) * c[:, 9:, None] / len(clean)
    return (torch.from_numpy(student).reshape(len(student), -1), torch.from_numpy(target))


def distill(init: str, members: list[str], out: str | Path, epochs: int = 10,
            lr: float = 3e-4, batch: int = 512, seed: int = 0, data_path: str | None = None,
            threads: int | None = None, noise_prob: float = 0.0, coco_prob: float = 0.0,
            occlusion: float = 0.0, student_envelope: Envelope | None = None,
            teacher_views: int = 1, data_2d: str | None = None,
            select: str = 'n_mpjpe',
            data_2d_topics: tuple[str | None, str | None] = (None, None),
            anchor_teacher: bool = False) -> dict[str, Any]:
    """Train the student; writes ``out``/best.pt (the epoch with the lowest ``select``),
    last.pt and history.json. Returns that epoch's metrics.

    ``noise_prob``/``coco_prob``: share of the student's inputs with detector noise / as
    COCO-17 keypoints (the teacher always sees the exact projection: the student learns to
    answer noisy detections as the ensemble answers clean ones); ``occlusion``: share with legs
    or one side's limbs missing (``occlusion_mask``); ``student_envelope``: the student's
    cameras of their own (None: the teacher's camera), ``teacher_views``: the teacher's answer
    is its mean over that many views (``paired_rows``); ``anchor_teacher``: the teacher's
    answer put on its input's rays first (``epoch_targets``). ``data_2d``: unlabelled 2D of the
    cameras the student is meant for (``sources2d.load_2d``; not trained on): its 2D-only
    criteria (``selection``, ``prior_3d`` against the training poses) are logged every epoch
    and ``select`` may be one of them instead of the validation N-MPJPE; ``data_2d_topics``:
    its (keypoints, camera info) topics when a bag has several."""
    if select not in DISTILL_SELECT:
        raise ConfigError(f'select: one of {", ".join(DISTILL_SELECT)}, not {select!r}')
    if select in METRICS_2D and not data_2d:
        raise ConfigError(f'selecting by {select} needs unlabelled 2D (data_2d)')
    if threads:
        torch.set_num_threads(threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt, cfg, generator, critic = student_init(init)
    if data_path:
        cfg.data.path = data_path
    splits = load_splits(cfg.data)
    data = TrainData(splits.train, cfg.data)
    val = build_eval_set(splits.val)
    bone = bone_sum_m(splits.train)
    rows_2d, prior = None, None
    if data_2d:
        src = load_2d(data_2d, *data_2d_topics)   # not trained on: every row is held out
        print(src.summary(), flush=True)
        every = src.all_rows()
        rows_2d = (every.inputs, every.visible)
        prior = PosePrior(splits.train.joints)
    teacher = Teacher(members).eval()
    teacher_env = teacher_envelope(members) or Envelope.of(cfg.data)
    noisy = replace(cfg.data, noise_prob=noise_prob, coco_prob=coco_prob)
    if student_envelope is not None:   # the student's config says where it can look from
        cfg.data.distance_m, cfg.data.height_m, cfg.data.focal_px = (
            list(student_envelope.distance), list(student_envelope.height),
            list(student_envelope.focal))
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(generator.parameters(), lr)
    history, best = [], math.inf
    key = f'target_{select}' if select in METRICS_2D else select
    for epoch in range(1, epochs + 1):
        t0 = time.time()
        inputs, targets = epoch_targets(teacher, data, rng, noisy, occlusion,
                                        student_envelope, teacher_views, teacher_env,
                                        anchor_teacher)
        order = torch.randperm(len(inputs))
        generator.train()
        total, steps = 0.0, 0
        for start in tqdm(range(0, len(inputs), batch), desc=f'distill {epoch}/{epochs}',
                          leave=False):
            for group in opt.param_groups:   # cosine over the whole run
                step = (epoch - 1) * len(inputs) + start
                group['lr'] = lr * 0.5 * (1 + math.cos(math.pi * step / (epochs * len(inputs))))
            rows = order[start:start + batch]
            x, target = inputs[rows], targets[rows]
            pose, _, _ = generator(x.reshape(len(x), -1, 2),
                                   torch.zeros(len(x), cfg.model.latent))
            loss = (pose - target).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, steps = total + loss.item(), steps + 1
        generator.eval()
        model = build_lifting_model(generator, critic, cfg.model, cfg.loss).eval()
        metrics = validate(model, val, bone, cfg.train.realism_percentile)
        metrics.pop('pjpe_hist', None)
        if rows_2d is not None:
            metrics.update({f'target_{k}': v for k, v in criterion_2d(
                model, *rows_2d, cfg.train.realism_percentile, prior=prior).items()})
        metrics.update(epoch=epoch, loss=total / max(steps, 1), seconds=time.time() - t0)
        history.append(metrics)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                          for k, v in metrics.items()}), flush=True)
        contract = build_contract(cfg, bone, metrics['realism_threshold'], {
            'config': cfg.to_dict(), 'data': data_info(cfg, splits), 'epoch': epoch,
            'select_metric': select,
            'val_metrics': metrics, 'distilled_from': [str(m) for m in members],
            'distill': {'init': str(init), 'noise_prob': noise_prob, 'coco_prob': coco_prob,
                        'occlusion': occlusion, 'epochs': epochs, 'lr': lr, 'seed': seed,
                        'teacher_views': teacher_views, 'anchor_teacher': anchor_teacher,
                        'teacher_envelope': asdict(teacher_env),
                        'student_envelope': None if student_envelope is None else
                        asdict(student_envelope)}})
        state = {**{k: v for k, v in ckpt.items() if k not in ('opt_g', 'opt_c')},
                 'epoch': epoch, 'config': cfg.to_dict(), 'contract': contract.to_json(),
                 'generator': generator.state_dict(), 'generator_raw': None,
                 'critic': critic.state_dict(), 'opt_g': opt.state_dict(), 'opt_c': {},
                 'history': history, 'bone_sum_m': bone}
        save_checkpoint(out / 'last.pt', state)
        if metrics[key] < best:
            best = metrics[key]
            save_checkpoint(out / 'best.pt', state)
        (out / 'history.json').write_text(json.dumps(history, indent=1))
    return min(history, key=lambda m: m[key])
