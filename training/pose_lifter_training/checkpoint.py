"""Self-describing checkpoints: weights + optimiser states + config + model contract.

A checkpoint rebuilds its networks from the config stored inside it (no 'size mismatch' class of
bug). Everything in it is plain Python/tensors, so ``torch.load(weights_only=True)`` reads it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from pose_lifter.core.contract import ContractError, ModelContract
from pose_lifter.core.normalization import NormalisationSpec

from .config import Config, ConfigError, config_from_dict
from .models import Critic, Generator, build_networks, critic_angles_deg

FORMAT = 'pose_lifter_training/1'
REQUIRED = ('format', 'epoch', 'config', 'contract', 'generator', 'critic')


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, unreadable or not one of ours."""


def ordinal(n: float) -> str:
    """1 -> '1st', 2 -> '2nd', 3 -> '3rd', 11 -> '11th', 2.5 -> '2.5th'."""
    if n != int(n):
        return f'{n:g}th'
    n = int(n)
    suffix = 'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')
    return f'{n}{suffix}'


def realism_rule(percentile: float) -> str:
    return (f'realism_threshold = {ordinal(percentile)} percentile of the realism of real '
            f'validation poses (fixed evaluation cameras): about {100 - percentile:g} % of real '
            'poses pass')


def build_contract(cfg: Config, bone_sum_m: float, threshold: float,
                   training: dict[str, Any] | None = None) -> ModelContract:
    """The model contract of a run (content_hash is filled in by the ONNX export)."""
    return ModelContract(
        latent_dim=cfg.model.latent, bone_sum_m=float(bone_sum_m),
        realism_threshold=float(threshold),
        realism_rule=realism_rule(cfg.train.realism_percentile),
        critic_views_deg=critic_angles_deg(cfg.model.critic_views),
        normalisation=NormalisationSpec(), training=dict(training or {}))


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write atomically (a crash never leaves a half-written last.pt)."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + '.tmp')
    torch.save({'format': FORMAT, **state}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, map_location: str | torch.device = 'cpu'
                    ) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'checkpoint not found: {path}')
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:   # pickle/zip errors of a truncated or foreign file
        raise CheckpointError(f'{path}: not a readable checkpoint ({type(exc).__name__}: '
                              f'{str(exc).splitlines()[0] if str(exc) else ""})') from None
    if not isinstance(ckpt, dict) or ckpt.get('format') != FORMAT:
        raise CheckpointError(f'{path}: not a pose_lifter_training checkpoint '
                              f'(expected format {FORMAT!r})')
    missing = [k for k in REQUIRED if k not in ckpt]
    if missing:
        raise CheckpointError(f'{path}: checkpoint lacks {missing}')
    return ckpt


def restore(ckpt: dict[str, Any]) -> tuple[Config, Generator, Critic, ModelContract]:
    """Networks (eval mode, CPU) rebuilt from the checkpoint's own config, and its contract."""
    try:
        cfg = config_from_dict(ckpt['config'])
        contract = ModelContract.from_json(ckpt['contract'])
    except (ConfigError, ContractError) as exc:
        raise CheckpointError(f'checkpoint config/contract invalid: {exc}') from None
    generator, critic = build_networks(cfg.model)
    try:
        generator.load_state_dict(ckpt['generator'])
        critic.load_state_dict(ckpt['critic'])
    except RuntimeError as exc:
        raise CheckpointError(f'checkpoint weights do not fit its config: {exc}') from None
    return cfg, generator.eval(), critic.eval(), contract
