"""``TorchBackend``: the runtime ``Backend`` interface served straight from a checkpoint.

Same graph as the ONNX export (``models.LiftingModel``), rebuilt from the config stored in the
checkpoint, so it is the reference the ONNX/TensorRT parity tests compare against.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pose_lifter.core.backends.base import Backend, BackendError

from .checkpoint import CheckpointError, load_checkpoint, restore
from .distributed import pick_device
from .models import LiftingModel, build_lifting_model


class TorchBackend(Backend):
    name = 'torch'

    def __init__(self, checkpoint: str | Path, device: str = 'cpu'):
        try:
            cfg, generator, critic, contract = restore(load_checkpoint(checkpoint))
        except CheckpointError as exc:
            raise BackendError(str(exc)) from None
        super().__init__(contract)
        self.torch_device = pick_device(device)
        self.device = str(self.torch_device)
        self.model: LiftingModel = build_lifting_model(generator, critic, cfg.model, cfg.loss)
        self.model.to(self.torch_device).eval()

    @torch.no_grad()
    def infer(self, keypoints: np.ndarray, noise: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """keypoints (N, 2*(J-1)); noise (N, latent) or None -> pose3d (N, J-1, 3),
        realism (N,)."""
        kp = np.asarray(keypoints, dtype=np.float32)
        if kp.ndim != 2 or kp.shape[1] != self.contract.input_dim:
            raise ValueError(f'keypoints must be (N, {self.contract.input_dim}), got {kp.shape}')
        if len(kp) == 0:
            return np.zeros((0, self.contract.num_joints - 1, 3), np.float32), \
                np.zeros((0,), np.float32)
        if noise is None:
            noise = self._zeros_noise(len(kp))
        x = torch.as_tensor(kp, device=self.torch_device)
        z = torch.as_tensor(np.asarray(noise, dtype=np.float32), device=self.torch_device)
        pose, realism = self.model(x, z)
        return pose.cpu().numpy(), realism.cpu().numpy()
