"""``TorchBackend``: the runtime ``Backend`` interface served straight from a checkpoint.

Same graph as the ONNX export (``models.LiftingModel``), rebuilt from the config stored in the
checkpoint, so it is the reference the ONNX/TensorRT parity tests compare against. The runtime
finds it as ``create_backend(checkpoint, 'torch')`` through the ``pose_lifter.backends`` entry
point (training/pyproject.toml); importing this module registers it as well.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pose_lifter.core.backends import register_backend
from pose_lifter.core.backends.base import Backend, ModelFileError

from .checkpoint import CheckpointError, load_checkpoint, restore
from .distributed import pick_device
from .models import LiftingModel, build_lifting_model


class TorchBackend(Backend):
    name = 'torch'

    def __init__(self, checkpoint: str | Path, device: str = 'cpu'):
        try:
            cfg, generator, critic, contract = restore(load_checkpoint(checkpoint))
        except CheckpointError as exc:
            raise ModelFileError(str(exc)) from None   # the user's checkpoint file
        super().__init__(contract)
        self.torch_device = pick_device(device)
        self.device = str(self.torch_device)
        self.model: LiftingModel = build_lifting_model(generator, critic, cfg.model, cfg.loss)
        self.model.to(self.torch_device).eval()

    @torch.no_grad()
    def _infer(self, keypoints: np.ndarray, noise: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """keypoints (N, 2*(J-1)), noise (N, latent), checked by ``Backend.infer`` ->
        pose3d (N, J-1, 3), realism (N,)."""
        x = torch.as_tensor(keypoints, device=self.torch_device)
        z = torch.as_tensor(noise, device=self.torch_device)
        pose, realism = self.model(x, z)
        return pose.cpu().numpy(), realism.cpu().numpy()


def torch_backend(checkpoint: str | Path, **options) -> TorchBackend:
    """Factory for ``create_backend``: the runtime options (threads, fp16, ...) do not apply."""
    return TorchBackend(checkpoint, device=options.get('device', 'cpu'))


register_backend('torch', torch_backend)
