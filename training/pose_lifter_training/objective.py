"""The training objective (thesis-code-notes §6.4) and its switchable fixes.

One iteration on a batch x (B, J-1, 2) of normalised 2D:

1. Lift: (mu, logvar) = E(x * visible), z = mu + eps * exp(logvar / 2), Y = G(z) (B, J-1, 3).
2. Novel view: theta ~ U(-r, r), x_nov = pi(R_y(theta) Y + (0, 0, c)) [re-normalised per pose].
3. Critic step: BCE(C(x), y_real) + BCE(C(sg[x_nov]), 0), y_real ~ U(low, high); clip, Adam.
4. Generator step: scale * (rec * L1(pi(Y + t), x | visible) + beta_e * KL / (3 (J-1))
   + adv * BCE(C(x_nov), y_real) + consistency + face_forward); clip per module, Adam.

``supervised`` mode replaces the reprojection/adversarial terms by L1 to the body-unit 3D target
and still trains the critic on novel views of the predictions (so realism is meaningful).
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from .config import LossConfig, TrainConfig
from .geometry import (
    bone_asymmetry,
    face_forward_violation,
    knee_backward,
    novel_views,
    project,
    rotate,
)

TINY = 1e-30


def beta_schedule(epoch: int, cfg: LossConfig) -> float:
    """KL weight used during 0-based ``epoch``.

    'cyclic' (thesis text): 0 for ``kl_warmup`` epochs, then cycles of ``kl_period`` epochs:
    a linear ramp 0 -> kl_peak over period - hold epochs, then kl_peak for ``kl_hold`` epochs.
    'hpe3d_code': the thesis code's schedule with its precedence bug (notes §2.8): with
    beta_max = 10 * kl_peak, beta = beta_max * min(r, 19) / 80 for r = epoch mod 40 > 0 and 0
    at r = 0, times the code's 0.1 -> a peak of 0.2375 * kl_peak.
    Either is raised to ``kl_floor``.
    """
    if cfg.kl_schedule == 'hpe3d_code':
        r = epoch % 40
        beta = 0.1 * (10.0 * cfg.kl_peak) * min(r, 19) / 80.0 if r else 0.0
    elif epoch < cfg.kl_warmup:
        beta = 0.0
    else:
        r = (epoch - cfg.kl_warmup) % cfg.kl_period
        beta = cfg.kl_peak * min(r / (cfg.kl_period - cfg.kl_hold), 1.0)
    return max(beta, cfg.kl_floor)


def lr_factor(epoch: int, epochs: int, schedule: str, min_ratio: float) -> float:
    """Learning-rate multiplier for 0-based ``epoch`` of ``epochs``: 'constant' -> 1, 'cosine'
    -> half a cosine from 1 down to ``min_ratio`` at the last epoch."""
    if schedule == 'constant' or epochs <= 1:
        return 1.0
    t = min(epoch / (epochs - 1), 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


def kl_per_sample(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) per row: (B, L), (B, L) -> (B,)."""
    return -0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp()).sum(dim=-1)


def masked_l1(pred: torch.Tensor, target: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """Mean |pred - target| over visible joints: (B, J-1, D), (B, J-1, D), (B, J-1) -> ()."""
    w = visible.to(pred.dtype)[..., None].expand_as(pred)
    return ((pred - target).abs() * w).sum() / torch.clamp(w.sum(), min=1.0)


def bce(prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of probabilities, safe where the sigmoid saturates.

    Written out because the thesis' soft labels reach 1.2, which current PyTorch's
    ``F.binary_cross_entropy`` rejects (PyTorch 1.3, the thesis' version, accepted them).
    Probabilities are clamped to [1e-30, 1] before the log, so a saturated critic gives a
    finite loss (log >= -69) and zero, not NaN, gradients.
    """
    log_p = torch.log(torch.clamp(prob, min=TINY))
    log_q = torch.log(torch.clamp(1.0 - prob, min=TINY))
    return -(target * log_p + (1.0 - target) * log_q).mean()


def soft_labels(n: int, cfg: LossConfig, like: torch.Tensor) -> torch.Tensor:
    """(n,) real-label targets ~ U(real_label_low, real_label_high)."""
    u = torch.rand(n, device=like.device, dtype=like.dtype)
    return cfg.real_label_high - (cfg.real_label_high - cfg.real_label_low) * u


def sample_angles(n: int, cfg: LossConfig, like: torch.Tensor) -> torch.Tensor:
    r = math.radians(cfg.rotation_deg)
    return (2.0 * torch.rand(n, device=like.device, dtype=like.dtype) - 1.0) * r


@dataclass
class Batch:
    inputs: torch.Tensor    # (B, J-1, 2)
    visible: torch.Tensor   # (B, J-1) bool
    targets: torch.Tensor   # (B, J-1, 3) body units (supervised mode; NaN rows are skipped)


@contextmanager
def frozen_bn_stats(module: nn.Module, frozen: bool = True):
    """Batch statistics for the forward pass, but no update of the running statistics (the
    consistency re-lift sees novel views, not the real inputs that evaluation normalises)."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    if frozen:
        for m in norms:
            m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum in zip(norms, saved):
            m.momentum = momentum


def clip_gradients(modules: list[nn.Module], max_norm: float, max_value: float | None) -> None:
    """Clip the grad-norm of each module separately, then (optionally) every grad value."""
    for m in modules:
        nn.utils.clip_grad_norm_(m.parameters(), max_norm)
    if max_value is not None:
        for m in modules:
            nn.utils.clip_grad_value_(m.parameters(), max_value)


def critic_step(critic: nn.Module, opt: torch.optim.Optimizer, real: torch.Tensor,
                fake: torch.Tensor, loss_cfg: LossConfig, train_cfg: TrainConfig
                ) -> dict[str, float]:
    """One critic update on real (B, J-1, 2) and detached fake (B, J-1, 2) 2D poses."""
    critic.train()
    b = real.shape[0]
    scores = critic(torch.cat([real, fake.detach()]).reshape(2 * b, -1))   # one pass (DDP)
    target = torch.cat([soft_labels(b, loss_cfg, real), torch.zeros_like(scores[b:])])
    loss = bce(scores, target)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(critic.parameters(), train_cfg.clip_critic)
    opt.step()
    return {'critic': loss.item(), 'd_real': scores[:b].mean().item(),
            'd_fake': scores[b:].mean().item()}


def adversarial_score(critic: nn.Module, views: torch.Tensor, eval_mode: bool) -> torch.Tensor:
    """Critic scores (B,) of views (B, J-1, 2) for the generator, with frozen critic weights."""
    module = getattr(critic, 'module', critic)   # unwrap DDP: no critic all-reduce here
    was_training = module.training
    module.train(not eval_mode)
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        return module(views.reshape(views.shape[0], -1))
    finally:
        for p in module.parameters():
            p.requires_grad_(True)
        module.train(was_training)


def generator_losses(generator: nn.Module, critic: nn.Module, batch: Batch, pose: torch.Tensor,
                     mu: torch.Tensor, logvar: torch.Tensor, views: torch.Tensor,
                     rot: torch.Tensor, factor: torch.Tensor, beta: float, cfg: LossConfig,
                     judged: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted generator loss and its terms (floats) for one batch. ``judged``: the views as
    the critic sees them (default ``views``)."""
    x, vis = batch.inputs, batch.visible
    terms: dict[str, torch.Tensor] = {}
    if cfg.mode == 'supervised':
        rows = torch.isfinite(batch.targets).all(dim=-1).all(dim=-1)
        terms['sup'] = masked_l1(pose[rows], batch.targets[rows],
                                 torch.ones_like(vis[rows]))
    else:
        terms['rec'] = masked_l1(project(pose), x, vis)
    terms['kl'] = kl_per_sample(mu, logvar).mean() / pose[0].numel()
    total = (terms['sup'] if cfg.mode == 'supervised' else cfg.rec * terms['rec']) + \
        beta * terms['kl']
    if cfg.adv > 0:
        score = adversarial_score(critic, views if judged is None else judged,
                                  cfg.critic_eval_for_generator)
        terms['adv'] = bce(score, soft_labels(len(score), cfg, score))
        total = total + cfg.adv * terms['adv']
    if cfg.consistency_3d > 0 or cfg.consistency_2d > 0:
        with frozen_bn_stats(generator, not cfg.relift_updates_bn):
            relift, _, _ = generator(views, torch.zeros_like(mu))     # lift the novel view
        back = rotate(relift / factor[:, None, None], rot.transpose(-1, -2))
        terms['cons3d'] = (back - pose).abs().mean()
        # rescaled re-lifts of early, saturated outputs can reach the camera: clamp depth at 1
        terms['cons2d'] = masked_l1(project(back, min_z=1.0), x, vis)
        total = total + cfg.consistency_3d * terms['cons3d'] + \
            cfg.consistency_2d * terms['cons2d']
    if cfg.face_forward > 0:
        terms['face'] = face_forward_violation(pose, cfg.face_margin).mean()
        total = total + cfg.face_forward * terms['face']
    if cfg.knee_forward > 0:
        terms['knee'] = knee_backward(pose).mean()
        total = total + cfg.knee_forward * terms['knee']
    if cfg.bone_symmetry > 0:
        terms['symmetry'] = bone_asymmetry(pose).mean()
        total = total + cfg.bone_symmetry * terms['symmetry']
    total = cfg.scale * total
    return total, {k: v.item() for k, v in terms.items()}


def like_the_input(views: torch.Tensor, pose: torch.Tensor, inputs: torch.Tensor
                   ) -> torch.Tensor:
    """Novel views (B, J-1, 2) as the critic should see them: with the input's own residual
    (inputs - pi(pose), treated as a noise sample, no gradient) added and the input's
    undetected joints (0 in ``inputs``) zeroed.

    Real 2D from detectors is noisy and has holes; projections of a lifted pose are smooth
    and complete. Without this the critic can tell real from fake by the noise alone, and its
    gradient pushes the lifter to chase that signature instead of plausible 3D.
    """
    seen = (inputs != 0).any(dim=-1, keepdim=True).to(views.dtype)
    residual = (inputs - project(pose)).detach() * seen
    return (views + residual) * seen


def train_step(generator: nn.Module, critic: nn.Module, opt_g: torch.optim.Optimizer,
               opt_c: torch.optim.Optimizer, batch: Batch, beta: float, loss_cfg: LossConfig,
               train_cfg: TrainConfig) -> dict[str, float]:
    """One iteration: lift, critic update, generator update. Returns logged scalars."""
    generator.train()
    x = batch.inputs * batch.visible[..., None].to(batch.inputs.dtype)
    pose, mu, logvar = generator(x)
    theta = sample_angles(pose.shape[0], loss_cfg, pose)
    views, rot, factor = novel_views(pose, theta, loss_cfg.renormalise_views,
                                     axis=loss_cfg.view_axis)
    judged = like_the_input(views, pose, batch.inputs) if loss_cfg.view_residual else views
    logs = critic_step(critic, opt_c, batch.inputs, judged, loss_cfg, train_cfg)
    total, terms = generator_losses(generator, critic, batch, pose, mu, logvar, views, rot,
                                    factor, beta, loss_cfg, judged)
    opt_g.zero_grad(set_to_none=True)
    total.backward()
    gen = getattr(generator, 'module', generator)
    clip_gradients([gen.encoder, gen.decoder], train_cfg.clip_generator, train_cfg.clip_value)
    opt_g.step()
    logs.update(terms)
    logs['loss'] = total.item()
    return logs
