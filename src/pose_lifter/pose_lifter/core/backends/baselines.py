"""Trivial lifting baselines behind the backend interface, so they run through the very same
pipeline (normalise -> lift -> place -> metrics) as a model; used by ``pose-lifter eval
--baseline`` for the model card's reference rows.

- ``zero_depth``: every joint at the root's depth: pose3d = (depth * x, depth * y, 0), which
  reprojects exactly onto the input at the contract's virtual depth.
- ``mean_pose``: the mean training pose (body units, virtual camera frame) for every input,
  taken from the model contract (``training['mean_pose_units']``).
"""
from __future__ import annotations

import numpy as np

from ..contract import ModelContract
from .base import Backend, BackendError

BASELINES = ('zero_depth', 'mean_pose')


class BaselineBackend(Backend):
    """A trivial lift with the contract (normalisation, body-size prior) of a real model."""

    name = 'baseline'

    def __init__(self, contract: ModelContract, kind: str):
        super().__init__(contract)
        if kind not in BASELINES:
            raise BackendError(f'unknown baseline {kind!r}; choose one of {list(BASELINES)}')
        self.kind = kind
        self.name = f'baseline:{kind}'
        if kind == 'mean_pose':
            mean = contract.training.get('mean_pose_units')
            if mean is None:
                raise BackendError('the model contract has no mean_pose_units (export it with '
                                   'a current pose-lifter-train)')
            self.mean = np.asarray(mean, dtype=np.float32).reshape(contract.num_joints - 1, 3)

    def _infer(self, keypoints: np.ndarray, noise: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        x = keypoints.reshape(len(keypoints), -1, 2)
        if self.kind == 'zero_depth':
            pose = np.concatenate([x * self.contract.normalisation.depth,
                                   np.zeros_like(x[..., :1])], axis=-1)
        else:
            pose = np.broadcast_to(self.mean, x.shape[:-1] + (3,)).copy()
        return pose, np.ones(len(x), np.float32)
