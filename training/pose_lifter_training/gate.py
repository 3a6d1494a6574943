"""A learned realism gate on top of a trained lifter: is this 2D skeleton a real person?

The realism a lifter exports (critic x exp(-mean reprojection residual / tau)) ranks detector
failures poorly under detector noise: a mean residual cannot tell two displaced joints from
4 px of noise on every joint, and a left/right swap of one limb reprojects fine. The gate is a
small MLP that sees what the lifter already computes -- the normalised 2D input, the residual
of every joint between the input and the lifted pose reprojected and which joints are present
(``--features realism`` adds the lifter's own realism; by default the critic is not run) --
and is trained to tell real detections from corrupted ones:

    keypoints (N, 2(J-1)), noise (N, latent) -> pose3d (N, J-1, 3), realism (N,) = P(real)

Real examples are the training subjects' poses seen by random cameras as a detector reports
them (``core.detector_noise``: pixel noise 1-6 px, 5 % dropped joints, COCO-17 through the
adapter on half); corrupted ones are the same views after ``training_corruptions`` -- a
generator written for training, different from ``core.corruptions`` (the evaluation's): moved
joints (1-4, 0.3-1.2 x the body radius), left/right swaps of a limb or of its lower part,
permuted joints, scattered joints. No 3D label reaches the lifter; the lifter is frozen.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from pose_lifter.core.cameras import eval_views, random_views
from pose_lifter.core.detector_noise import DetectorNoise
from pose_lifter.core.metrics import roc_auc
from pose_lifter.core.normalization import NormalisationSpec
from pose_lifter.core.skeleton import H36M17

from .adapt import lifting_model, onnx_state
from .checkpoint import realism_rule
from .config import DataConfig, config_from_dict
from .data import load_splits
from .export import detections_to_inputs, write_model
from .geometry import bone_lengths
from .models import lift_pose

RESIDUAL_SCALE = 10.0    # residuals of normalised inputs are ~0.01: bring them near 1
SWAPS = (('l_shoulder', 'l_elbow', 'l_wrist'), ('l_elbow', 'l_wrist'), ('l_wrist',),
         ('l_hip', 'l_knee', 'l_ankle'), ('l_knee', 'l_ankle'), ('l_ankle',))
KINDS = ('move', 'swap', 'permute', 'scatter')


def training_corruptions(cam: np.ndarray, rng: np.random.Generator
                         ) -> tuple[np.ndarray, np.ndarray]:
    """(N, 17, 3) camera-frame poses -> corrupted copies (N, 17, 3) and their kinds (N,)."""
    out = cam.copy()
    n = len(cam)
    kinds = rng.choice(KINDS, size=n, p=(0.4, 0.3, 0.15, 0.15))
    centre = cam.mean(axis=1, keepdims=True)
    radius = np.sqrt(((cam - centre) ** 2).sum(-1).mean(-1))              # (N,)
    idx = H36M17.index
    for i in np.flatnonzero(kinds == 'move'):
        joints = rng.choice(H36M17.non_root, size=rng.integers(1, 5), replace=False)
        d = rng.normal(size=(len(joints), 3))
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        out[i, joints] += d * rng.uniform(0.3, 1.2, (len(joints), 1)) * radius[i]
    for i in np.flatnonzero(kinds == 'swap'):
        left = [idx(j) for j in SWAPS[rng.integers(len(SWAPS))]]
        right = [idx('r_' + H36M17.joint_names[j][2:]) for j in left]
        out[i, left], out[i, right] = cam[i, right], cam[i, left]
    for i in np.flatnonzero(kinds == 'permute'):
        joints = rng.choice(H36M17.non_root, size=rng.integers(4, 9), replace=False)
        order = rng.permutation(len(joints))
        if (order == np.arange(len(joints))).all():     # never the identity: label noise
            order = np.roll(order, 1)
        out[i, joints] = cam[i, joints[order]]
    for i in np.flatnonzero(kinds == 'scatter'):
        lo, hi = cam[i].min(0), cam[i].max(0)
        joints = rng.choice(H36M17.non_root, size=rng.integers(6, 17), replace=False)
        out[i, joints] = rng.uniform(lo, hi, (len(joints), 3))
    return out, kinds


# What the gate can see (``--features``); each adds these many values per person (J-1 = 16):
# input 2(J-1), residual 2(J-1) (reprojection of the lifted pose minus the input, x 10),
# presence (J-1), realism 1 (log of the lifter's critic realism / 10), pose 3(J-1) (the lifted
# root-relative pose, body units), bones (J-1) (bone lengths over their sum, x (J-1)).
FEATURES = {'input': 2, 'residual': 2, 'presence': 1, 'realism': 0, 'pose': 3, 'bones': 1}
# The critic's realism added nothing over three seeds at 60 epochs (training/README.md), so
# the default gate leaves it out: the exported graph is the lifter, the residual and the head.
DEFAULT_FEATURES = ('input', 'residual', 'presence')


def feature_width(features: tuple[str, ...]) -> int:
    """Values per person of a feature set (ValueError for an unknown name)."""
    unknown = sorted(set(features) - set(FEATURES))
    if unknown or not features:
        raise ValueError(f'gate features {unknown or "(none)"}: choose from {list(FEATURES)}')
    j = H36M17.num_joints - 1
    return sum(FEATURES[f] * j or 1 for f in features)


class GatedLiftingModel(nn.Module):
    """A lifter (pose3d, realism) with its realism replaced by the gate's P(real).

    Without 'realism' in ``features`` the critic is never run (the exported graph has no
    critic node; ``fit_gate`` stores its weights beside the graph for the training tools)."""

    def __init__(self, base: nn.Module, width: int = 256, depth: float =
                 NormalisationSpec().depth, features: tuple[str, ...] = DEFAULT_FEATURES):
        super().__init__()
        self.base, self.depth, self.feature_set = base, depth, tuple(features)
        self.head = nn.Sequential(nn.Linear(feature_width(self.feature_set), width),
                                  nn.LeakyReLU(0.1),
                                  nn.Linear(width, width), nn.LeakyReLU(0.1),
                                  nn.Linear(width, width), nn.LeakyReLU(0.1),
                                  nn.Linear(width, 1))

    def lift(self, keypoints: torch.Tensor, noise: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """pose3d (N, J-1, 3) and the lifter's realism (N,), None when the gate ignores it."""
        if 'realism' in self.feature_set:
            return self.base(keypoints, noise)
        x = keypoints.reshape(-1, H36M17.num_joints - 1, 2)
        return lift_pose(self.base.generator, x, noise,
                         getattr(self.base, 'flip_average', False)), None

    def features(self, keypoints: torch.Tensor, pose: torch.Tensor,
                 realism: torch.Tensor | None) -> torch.Tensor:
        """(N, 2(J-1)), (N, J-1, 3), (N,) or None -> (N, feature_width) in FEATURES order."""
        x = keypoints.reshape(-1, H36M17.num_joints - 1, 2)   # constant shapes: one ONNX node
        seen = (x != 0).any(dim=-1, keepdim=True)
        parts = []
        for name in self.feature_set:
            if name == 'input':
                parts.append(keypoints)
            elif name == 'residual':
                proj = pose[..., :2] / torch.clamp(pose[..., 2:3] + self.depth, min=1e-3)
                res = (proj - x) * (seen.to(x.dtype) * RESIDUAL_SCALE)   # 0 where unseen
                parts.append(res.flatten(1))
            elif name == 'presence':
                parts.append(seen[..., 0].to(x.dtype))
            elif name == 'realism':
                parts.append(torch.log(realism[:, None] + 1e-9) / 10.0)
            elif name == 'pose':
                parts.append(pose.flatten(1))
            elif name == 'bones':
                length = bone_lengths(pose)
                parts.append(length * length.shape[1] /
                             torch.clamp(length.sum(dim=1, keepdim=True), min=1e-6))
        return torch.cat(parts, dim=1)

    def forward(self, keypoints: torch.Tensor, noise: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        pose, realism = self.lift(keypoints, noise)
        logit = self.head(self.features(keypoints, pose, realism))[:, 0]
        return pose, torch.sigmoid(logit)


def _rows(cam: np.ndarray, K: np.ndarray, noise: DetectorNoise, coco: np.ndarray,
          rng: np.random.Generator) -> torch.Tensor:
    """Detections of (N, 17, 3) camera-frame poses (COCO-17 where ``coco``) -> network
    inputs (M, 2(J-1)) of the liftable persons."""
    inputs = []
    for fmt, rows in (('coco17', coco), ('h36m17', ~coco)):
        if not rows.any():
            continue
        x = detections_to_inputs(cam[rows], K[rows], noise, fmt, rng)
        inputs.append(x.reshape(len(x), -1))
    return torch.as_tensor(np.concatenate(inputs), dtype=torch.float32)


def _features(model: GatedLiftingModel, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        z = torch.zeros(len(x), model.base.generator.encoder.mu.out_features)
        return model.features(x, *model.lift(x, z))


def _labelled(model: GatedLiftingModel, poses: np.ndarray, rng: np.random.Generator,
              views: tuple[np.ndarray, np.ndarray] | None = None,
              noise_px: float | None = None, envelope: DataConfig = DataConfig()
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Features and labels (1 real, 0 corrupted) of ``poses`` (N, 17, 3) world poses, seen
    through ``views`` or random cameras of the lifter's training ``envelope``."""
    if views is None:
        cam, K = random_views(poses, rng, distance=tuple(envelope.distance_m),
                              height=tuple(envelope.height_m), focal=tuple(envelope.focal_px))
    else:
        cam, K = views
    noise = DetectorNoise(noise_px=float(rng.uniform(1.0, 6.0)) if noise_px is None
                          else noise_px, drop_prob=0.05)
    coco = rng.random(len(cam)) < 0.5
    bad, _ = training_corruptions(cam, rng)
    real = _features(model, _rows(cam, K, noise, coco, rng))
    fake = _features(model, _rows(bad, K, noise, coco, rng))
    return (torch.cat([real, fake]),
            torch.cat([torch.ones(len(real)), torch.zeros(len(fake))]))


def fit_gate(model_path: str | Path, out: str | Path, data_path: str | None = None,
             epochs: int = 60, lr: float = 1e-3, batch: int = 512, seed: int = 0,
             threads: int | None = None, features: tuple[str, ...] = DEFAULT_FEATURES
             ) -> dict[str, Any]:
    """Train the gate over the frozen lifter of ``model_path`` (.onnx with its training config,
    or a checkpoint) and export the gated model to ``out`` (.onnx; calibrate it afterwards).
    Model selection: validation ROC-AUC against the training corruptions. Returns the
    history (one dict per epoch)."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    contract = onnx_state(model_path)[1] if str(model_path).endswith('.onnx') else None
    if contract is None:
        from .checkpoint import load_checkpoint, restore
        cfg, _, _, contract = restore(load_checkpoint(model_path))
    else:
        cfg = config_from_dict((contract.training or {}).get('config') or {})
    if data_path:
        cfg.data.path = data_path
    splits = load_splits(cfg.data)
    base = lifting_model(model_path).eval()
    model = GatedLiftingModel(base, features=features)
    for p in model.base.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(model.head.parameters(), lr)
    val_views = eval_views(splits.val.joints.astype(np.float64))
    vx, vy = _labelled(model, splits.val.joints.astype(np.float64), np.random.default_rng(1),
                       views=(val_views[0], val_views[2]), noise_px=4.0)
    history, best, state = [], -math.inf, None
    for epoch in range(1, epochs + 1):
        x, y = _labelled(model, splits.train.joints.astype(np.float64), rng,
                         envelope=cfg.data)
        order = torch.randperm(len(x))
        model.head.train()
        for start in tqdm(range(0, len(x), batch), desc=f'gate {epoch}/{epochs}', leave=False):
            rows = order[start:start + batch]
            loss = nn.functional.binary_cross_entropy_with_logits(model.head(x[rows])[:, 0],
                                                                  y[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.head.eval()
        with torch.no_grad():
            score = model.head(vx)[:, 0].numpy()
        auc = roc_auc(score[vy.numpy() == 1], score[vy.numpy() == 0])
        history.append({'epoch': epoch, 'loss': float(loss.item()), 'val_auc': auc})
        print(json.dumps(history[-1]), flush=True)
        if auc > best:
            best = auc
            state = {k: v.clone() for k, v in model.head.state_dict().items()}
    model.head.load_state_dict(state)
    with torch.no_grad():
        real = torch.sigmoid(model.head(vx[vy == 1])[:, 0]).numpy()
    pct = cfg.train.realism_percentile
    contract.realism_threshold = float(np.percentile(real, pct))
    contract.realism_rule = realism_rule(pct) + ' (the gate: validation persons as detections ' \
        'with 4 px noise; recalibrate with pose-lifter-train calibrate)'
    contract.realism_calibration = {}
    contract.training = dict(contract.training or {})
    contract.training['gate'] = {
        'base_content_hash': contract.content_hash, 'epochs': epochs, 'seed': seed,
        'best_val_auc_training_corruptions': best, 'features': list(model.feature_set),
        'corruptions': list(KINDS)}
    # a gate that does not run the critic still carries its weights (outside the graph, in
    # training_info), so distill --init, check and gate read the file as a whole lifter again
    carry = None if 'realism' in model.feature_set else \
        {f'base.critic.{k}': v for k, v in model.base.critic.state_dict().items()}
    write_model(model.eval(), contract, out, carry=carry)
    Path(out).with_suffix('.gate.json').write_text(json.dumps(history, indent=1))
    return {'history': history, 'best_val_auc': best}
