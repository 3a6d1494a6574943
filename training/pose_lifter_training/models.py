"""Encoder, decoder and critic of the thesis appendix, and the exported lifting graph.

Sizes come from the skeleton table and the config: the input is the 2 * (J-1) normalised 2D of
the non-root joints, the output 3 * (J-1). At the thesis size (width 1024, latent 51, one
residual block in the VAE, two in the critic) the parameter counts are encoder 2,241,638,
decoder 2,205,744 and critic 4,233,217 (the thesis code's unused critic BatchNorms excluded).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from pose_lifter.core.normalization import NormalisationSpec
from pose_lifter.core.skeleton import H36M17, Skeleton

from .config import LossConfig, ModelConfig
from .geometry import novel_views, project


def input_dim(skeleton: Skeleton = H36M17) -> int:
    return 2 * (skeleton.num_joints - 1)


def output_dim(skeleton: Skeleton = H36M17) -> int:
    return 3 * (skeleton.num_joints - 1)


def critic_angles_deg(count: int) -> list[float]:
    """``count`` rotations evenly spaced on the circle, excluding 0 (the input's own view)."""
    return [360.0 * k / (count + 1) - (360.0 if 360.0 * k / (count + 1) > 180.0 else 0.0)
            for k in range(1, count + 1)]


def vae_layer(n_in: int, n_out: int, dropout: float, bias: bool) -> nn.Sequential:
    """[Linear, BatchNorm, Mish, Dropout]."""
    return nn.Sequential(nn.Linear(n_in, n_out, bias=bias), nn.BatchNorm1d(n_out), nn.Mish(),
                         nn.Dropout(dropout))


def critic_layer(n_in: int, n_out: int, dropout: float, slope: float) -> nn.Sequential:
    """[Linear, LeakyReLU, Dropout]."""
    return nn.Sequential(nn.Linear(n_in, n_out), nn.LeakyReLU(slope), nn.Dropout(dropout))


class Residual(nn.Module):
    """h + f(h) with f two layers from ``make``: (N, W) -> (N, W)."""

    def __init__(self, make):
        super().__init__()
        self.body = nn.Sequential(make(), make())

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.body(h)


def kaiming_init(module: nn.Module) -> None:
    """Kaiming-normal (fan-in, gain sqrt 2) on every Linear weight; biases and BN as PyTorch."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight)


class Encoder(nn.Module):
    """(N, 2*(J-1)) normalised 2D -> mu, logvar (N, latent); logvar clamped to logvar_max."""

    def __init__(self, cfg: ModelConfig, skeleton: Skeleton = H36M17):
        super().__init__()
        w, p = cfg.width, cfg.dropout
        self.stem = vae_layer(input_dim(skeleton), w, p, bias=True)
        self.blocks = nn.Sequential(*[Residual(lambda: vae_layer(w, w, p, bias=False))
                                      for _ in range(cfg.blocks)])
        self.mu = nn.Linear(w, cfg.latent)
        self.logvar = nn.Linear(w, cfg.latent)
        self.logvar_max = cfg.logvar_max
        kaiming_init(self)
        if cfg.logvar_init == 'zero':
            nn.init.zeros_(self.logvar.weight)
            nn.init.zeros_(self.logvar.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.blocks(self.stem(x))
        return self.mu(h), torch.clamp(self.logvar(h), max=self.logvar_max)


class Decoder(nn.Module):
    """(N, latent) -> (N, J-1, 3) root-relative pose, body units, bounded by output_bound."""

    def __init__(self, cfg: ModelConfig, skeleton: Skeleton = H36M17):
        super().__init__()
        w, p = cfg.width, cfg.dropout
        self.stem = vae_layer(cfg.latent, w, p, bias=True)
        self.blocks = nn.Sequential(*[Residual(lambda: vae_layer(w, w, p, bias=False))
                                      for _ in range(cfg.blocks)])
        self.out = nn.Linear(w, output_dim(skeleton))
        self.bound = cfg.output_bound
        kaiming_init(self)
        if cfg.output_init == 'small':   # start in tanh's linear range, not saturated
            nn.init.normal_(self.out.weight, std=1e-3)
            nn.init.zeros_(self.out.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = self.bound * torch.tanh(self.out(self.blocks(self.stem(z))))
        return y.reshape(-1, self.out.out_features // 3, 3)   # constant shape: one ONNX node


class Critic(nn.Module):
    """(N, 2*(J-1)) normalised 2D -> (N,) probability that the pose is real."""

    def __init__(self, cfg: ModelConfig, skeleton: Skeleton = H36M17):
        super().__init__()
        w, p, a = cfg.critic_width, cfg.critic_dropout, cfg.leaky_slope
        self.stem = nn.Sequential(nn.Linear(input_dim(skeleton), w), nn.LeakyReLU(a))
        self.blocks = nn.Sequential(*[Residual(lambda: critic_layer(w, w, p, a))
                                      for _ in range(cfg.critic_blocks)])
        self.out = nn.Linear(w, 1)
        kaiming_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.out(self.blocks(self.stem(x))))[:, 0]


class Generator(nn.Module):
    """Encoder + decoder: (N, J-1, 2) -> pose (N, J-1, 3), mu, logvar (N, latent).

    ``noise`` None samples z ~ N(mu, sigma^2) in training mode and uses the mean in eval mode.
    """

    def __init__(self, cfg: ModelConfig, skeleton: Skeleton = H36M17):
        super().__init__()
        self.encoder = Encoder(cfg, skeleton)
        self.decoder = Decoder(cfg, skeleton)
        self.depth_only = cfg.depth_only

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x.flatten(1))
        if noise is None:
            noise = torch.randn_like(mu) if self.training else torch.zeros_like(mu)
        z = mu + noise * torch.exp(0.5 * logvar)
        pose = self.decoder(z)
        if self.depth_only:
            pose = on_input_rays(pose, x.reshape(-1, self.decoder.out.out_features // 3, 2))
        return pose, mu, logvar


def on_input_rays(pose: torch.Tensor, x: torch.Tensor,
                  depth: float = NormalisationSpec().depth) -> torch.Tensor:
    """Keep the predicted depth of every seen joint and put it on the ray of its input
    (Chen et al. 2019: the lifter predicts depth only), so it reprojects exactly onto ``x``;
    unseen joints (0 in ``x``) keep the full prediction. (N, J-1, 3), (N, J-1, 2) -> (N, J-1, 3)
    """
    seen = (x != 0).any(dim=-1, keepdim=True)
    z = pose[..., 2:3]
    on_ray = torch.cat([x * (z + depth), z], dim=-1)
    return torch.where(seen, on_ray, pose)


def mirror_joints(points: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """The non-root joints of a pose seen in a mirror: x negated, left and right swapped.

    (N, J-1, D) in the (virtual) camera frame, D = 2 or 3 -> (N, J-1, D). Mirroring the image
    about the root's vertical line mirrors the body about the plane through the optical axis,
    so a lifter's answer to the mirrored input, mirrored back, is a second estimate of the same
    pose."""
    keep = list(skeleton.non_root)
    perm = [keep.index(int(skeleton.flip_permutation[j])) for j in keep]
    sign = torch.ones(points.shape[-1], dtype=points.dtype)
    sign[0] = -1.0
    return points[:, perm] * sign


def lift_pose(generator: nn.Module, x: torch.Tensor, noise: torch.Tensor,
              flip_average: bool = False, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """The generator's pose (N, J-1, 3) of ``x`` (N, J-1, 2); with ``flip_average`` the mean
    of it and the mirrored-back pose of the mirrored input (one batch of 2N through the
    network: at small N the same weight reads as one)."""
    if not flip_average:
        return generator(x, noise)[0]
    pose, _, _ = generator(torch.cat([x, mirror_joints(x, skeleton)]),
                           torch.cat([noise, noise]))
    pose = pose.reshape(2, -1, skeleton.num_joints - 1, 3)
    return 0.5 * (pose[0] + mirror_joints(pose[1], skeleton))


class LiftingModel(nn.Module):
    """The exported graph: keypoints (N, 2*(J-1)), noise (N, latent) -> pose3d (N, J-1, 3),
    realism (N,) = mean critic score (critic in eval mode) over the fixed novel views."""

    def __init__(self, generator: Generator, critic: Critic, views_deg: list[float],
                 renorm: bool, reproj_tau: float = 0.0,
                 spec: NormalisationSpec = NormalisationSpec(), skeleton: Skeleton = H36M17,
                 view_axis: str = 'camera_y', flip_average: bool = False):
        super().__init__()
        self.generator, self.critic = generator, critic
        self.flip_average = flip_average
        self.register_buffer('views', torch.tensor([math.radians(a) for a in views_deg]))
        self.renorm, self.reproj_tau, self.spec, self.skeleton = renorm, reproj_tau, spec, skeleton
        self.view_axis = view_axis

    def realism(self, pose: torch.Tensor) -> torch.Tensor:
        """(N, J-1, 3) -> (N,)."""
        theta = torch.zeros_like(pose[:, :1, 0]) + self.views   # (N, K) without a Shape op
        views, _, _ = novel_views(pose, theta, self.renorm, self.spec, self.skeleton,
                                  self.view_axis)
        scores = self.critic(views.reshape(-1, input_dim(self.skeleton)))
        return scores.reshape(-1, len(self.views)).mean(dim=-1)

    def forward(self, keypoints: torch.Tensor, noise: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        x = keypoints.reshape(-1, self.skeleton.num_joints - 1, 2)
        pose = lift_pose(self.generator, x, noise, self.flip_average, self.skeleton)
        realism = self.realism(pose)
        if self.reproj_tau > 0:
            realism = realism * torch.exp(-reprojection_error(pose, x, self.spec) /
                                          self.reproj_tau)
        return pose, realism


def reprojection_error(pose: torch.Tensor, x: torch.Tensor,
                       spec: NormalisationSpec = NormalisationSpec()) -> torch.Tensor:
    """Mean |pi(Y + t) - x| over the input's present joints (missing joints are 0 in x).

    pose (N, J-1, 3), x (N, J-1, 2) -> (N,).
    """
    present = (x != 0).any(dim=-1).to(x.dtype)
    err = (project(pose, spec.depth) - x).abs().sum(dim=-1) * present
    return err.sum(dim=-1) / (2.0 * torch.clamp(present.sum(dim=-1), min=1.0))


def build_networks(cfg: ModelConfig, skeleton: Skeleton = H36M17) -> tuple[Generator, Critic]:
    return Generator(cfg, skeleton), Critic(cfg, skeleton)


def build_lifting_model(generator: Generator, critic: Critic, cfg: ModelConfig,
                        loss: LossConfig) -> LiftingModel:
    """The export/inference graph with the config's critic views and view normalisation."""
    return LiftingModel(generator, critic, critic_angles_deg(cfg.critic_views),
                        loss.renormalise_views, cfg.realism_reproj_tau,
                        view_axis=loss.view_axis, flip_average=cfg.flip_average)
