"""The one backend interface: ``infer(keypoints, noise) -> (pose3d, realism)``
(docs/model-contract.md).

The contract is enforced here, once, for every backend: ``infer`` checks the input (shape
(N, input_dim), finite; noise (N, latent_dim), finite), answers the empty batch itself and
checks the output shapes; subclasses implement only ``_infer`` on valid, non-empty float32
arrays.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ..contract import ModelContract
from ..errors import InputContractError, PoseLifterInputError


class BackendError(RuntimeError):
    """A backend that cannot be created or run (missing file, corrupt model, no device)."""


class ModelFileError(BackendError, PoseLifterInputError):
    """A model file the user gave that is missing or not a usable model."""


def check_array(x: np.ndarray, width: int, what: str, n: int | None = None) -> np.ndarray:
    """``x`` as a C-contiguous float32 (N, width) array; raises InputContractError for another
    shape, a row count other than ``n`` (when given) or non-finite values."""
    try:
        arr = np.ascontiguousarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InputContractError(f'{what} must be a float array: {exc}') from None
    if arr.ndim != 2 or arr.shape[1] != width:
        raise InputContractError(f'{what} must have shape (N, {width}), got {arr.shape}')
    if n is not None and len(arr) != n:
        raise InputContractError(f'{what} has {len(arr)} rows for {n} persons')
    if not np.isfinite(arr).all():
        raise InputContractError(f'{what} has non-finite values')
    return arr


class Backend(ABC):
    """Runs the exported graph: normalised 2D in, body-unit 3D and realism out."""

    name: str = 'abstract'
    precision: str = 'fp32'
    device: str = 'cpu'

    def __init__(self, contract: ModelContract):
        self.contract = contract

    def infer(self, keypoints: np.ndarray, noise: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """keypoints: (N, 2*(J-1)) normalised 2D; noise: (N, latent) or None (zeros, i.e. the
        latent mean). Returns pose3d (N, J-1, 3) float32 root-relative body units and realism
        (N,) float32. Raises InputContractError for a wrong shape or non-finite input,
        BackendError when the backend answers outside the contract."""
        c = self.contract
        kp = check_array(keypoints, c.input_dim, 'keypoints')
        n = len(kp)
        z = (np.zeros((n, c.latent_dim), np.float32) if noise is None
             else check_array(noise, c.latent_dim, 'noise', n))
        if n == 0:
            return (np.zeros((0, c.num_joints - 1, 3), np.float32), np.zeros(0, np.float32))
        pose, realism = self._infer(kp, z)
        pose = np.asarray(pose, dtype=np.float32)
        realism = np.asarray(realism, dtype=np.float32)
        if pose.shape != (n, c.num_joints - 1, 3) or realism.size != n:
            raise BackendError(f'{self.name} answered pose3d {pose.shape} and realism '
                               f'{realism.shape} for {n} persons (expected '
                               f'{(n, c.num_joints - 1, 3)} and ({n},))')
        return pose, realism.reshape(n)

    @abstractmethod
    def _infer(self, keypoints: np.ndarray, noise: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """The backend's own run on checked input: keypoints (N, 2*(J-1)) and noise
        (N, latent) float32, C-contiguous, finite, N >= 1 -> pose3d (N, J-1, 3), realism
        (N,)."""

    def close(self) -> None:  # noqa: B027 - optional hook; CPU backends hold nothing
        """Release device resources (streams, buffers); the backend is unusable afterwards."""

    def describe(self) -> str:
        return f'{self.name} ({self.device}, {self.precision})'
