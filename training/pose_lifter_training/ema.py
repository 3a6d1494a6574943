"""Exponential moving average of a network's weights (Polyak averaging).

Adversarial training makes the lifter's weights wander from step to step; evaluating and
exporting their running average instead of the last iterate removes most of that
epoch-to-epoch swing. The average is a full copy of the module (BatchNorm running statistics
are copied from the live network, not averaged).
"""
from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    """``avg <- decay * avg + (1 - decay) * live`` after every optimiser step."""

    def __init__(self, module: nn.Module, decay: float):
        self.decay = float(decay)
        self.module = copy.deepcopy(module).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, live: nn.Module) -> None:
        live = getattr(live, 'module', live)   # unwrap DDP
        for avg, cur in zip(self.module.parameters(), live.parameters()):
            avg.lerp_(cur.detach(), 1.0 - self.decay)
        for avg, cur in zip(self.module.buffers(), live.buffers()):
            avg.copy_(cur)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state)
