"""The one backend interface: ``infer(keypoints, noise) -> (pose3d, realism)``
(docs/model-contract.md)."""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ..contract import ModelContract


class BackendError(RuntimeError):
    """A backend that cannot be created or run (missing file, corrupt model, no device)."""


class Backend(ABC):
    """Runs the exported graph: normalised 2D in, body-unit 3D and realism out."""

    name: str = 'abstract'
    precision: str = 'fp32'
    device: str = 'cpu'

    def __init__(self, contract: ModelContract):
        self.contract = contract

    @abstractmethod
    def infer(self, keypoints: np.ndarray, noise: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """keypoints: (N, 2*(J-1)) float32 normalised 2D; noise: (N, latent) or None (zeros,
        i.e. the latent mean). Returns pose3d (N, J-1, 3) root-relative body units and
        realism (N,)."""

    def close(self) -> None:  # noqa: B027 - optional hook; CPU backends hold nothing
        """Release device resources (streams, buffers); the backend is unusable afterwards."""

    def describe(self) -> str:
        return f'{self.name} ({self.device}, {self.precision})'

    def _zeros_noise(self, n: int) -> np.ndarray:
        return np.zeros((n, self.contract.latent_dim), dtype=np.float32)
