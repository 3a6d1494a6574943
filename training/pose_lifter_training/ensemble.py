"""Several trained lifters as one exported model (a deep ensemble).

Unsupervised training lands in a different place for every seed (validation N-MPJPE 74-94 mm
across seeds of the same recipe, see the model card), and the seeds' errors are far from
identical: the mean of their poses is more accurate than any one of them. The ensemble is one
ONNX graph with the usual contract and interface -- ``pose3d`` = mean of the members' poses
(body units), ``realism`` = mean of the members' realism -- so the node, the CLI and every
backend use it like a single model.

Members are training checkpoints or exported ONNX models (``adapt.lifting_model``) of the same
architecture family: same latent size, normalisation, critic views and body-size prior.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pose_lifter.core.contract import ModelContract

from .adapt import lifting_model, onnx_state
from .checkpoint import CheckpointError, load_checkpoint, restore
from .export import OPSET, write_model


class EnsembleLiftingModel(nn.Module):
    """keypoints (N, 2(J-1)), noise (N, latent) -> mean pose (N, J-1, 3), mean realism (N,).

    ``judges``: indices of the members whose realism is averaged (default: all). A depth-only
    lifter (``model.depth_only``) reprojects exactly by construction, so its realism is the
    critic alone, which does not separate corrupted input; such members contribute their pose
    only.
    """

    def __init__(self, members: list[nn.Module], judges: list[int] | None = None):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.judges = list(range(len(members))) if not judges else list(judges)

    def forward(self, keypoints: torch.Tensor, noise: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        outs = [m(keypoints, noise) for m in self.members]
        pose = torch.stack([o[0] for o in outs]).mean(dim=0)
        realism = torch.stack([outs[k][1] for k in self.judges]).mean(dim=0)
        return pose, realism


def member_contract(path: str | Path) -> ModelContract:
    """The contract of a checkpoint or exported model (with its mean pose when it has one)."""
    path = Path(path)
    if path.suffix == '.onnx':
        return onnx_state(path)[1]
    ckpt = load_checkpoint(path)
    contract = restore(ckpt)[3]
    if 'mean_pose' in ckpt:
        contract.training['mean_pose_units'] = \
            np.asarray(ckpt['mean_pose']).round(5).tolist()
    return contract


def check_compatible(contracts: list[ModelContract], paths: list[str]) -> None:
    """Members must agree on everything the runtime reads from the contract."""
    first = contracts[0]
    for c, p in zip(contracts[1:], paths[1:]):
        for what in ('latent_dim', 'normalisation', 'critic_views_deg', 'joint_names'):
            if getattr(c, what) != getattr(first, what):
                raise CheckpointError(f'{p}: {what} differs from {paths[0]}; an ensemble needs '
                                      'members of the same contract')
        if not math.isclose(c.bone_sum_m, first.bone_sum_m, rel_tol=1e-3):
            raise CheckpointError(f'{p}: body-size prior {c.bone_sum_m:.4f} m differs from '
                                  f'{first.bone_sum_m:.4f} m (trained on other data?)')


def export_ensemble(paths: list[str | Path], out: str | Path, opset: int = OPSET
                    ) -> ModelContract:
    """Members -> one ONNX model at ``out``. The contract is the first member's (its
    threshold, config and mean pose) plus ``training.ensemble``, the members' sources, content
    hashes and validation metrics; calibrate the threshold afterwards (``calibrate``)."""
    if len(paths) < 2:
        raise CheckpointError('an ensemble needs at least two members')
    paths = [str(p) for p in paths]
    contracts = [member_contract(p) for p in paths]
    check_compatible(contracts, paths)
    members = [lifting_model(p) for p in paths]
    judges = [k for k, m in enumerate(members) if not m.generator.depth_only]
    model = EnsembleLiftingModel(members, judges).eval()
    contract = contracts[0]
    contract.training = dict(contract.training)
    contract.training['ensemble'] = [
        {'source': '/'.join(Path(p).parts[-2:]), 'content_hash': c.content_hash,
         'judges_realism': k in model.judges,
         'epoch': c.training.get('epoch'), 'val_metrics': {
             k: v for k, v in (c.training.get('val_metrics') or {}).items()
             if k in ('n_mpjpe', 'pa_mpjpe', 'mpjpe', 'mirror_rate')}}
        for k, (p, c) in enumerate(zip(paths, contracts))]
    write_model(model, contract, out, opset)
    return contract
