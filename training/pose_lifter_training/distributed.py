"""Device choice and DistributedDataParallel plumbing (torchrun or spawned processes).

Launch on N GPUs with ``torchrun --nproc_per_node=N -m pose_lifter_training.cli fit ...``;
the environment variables torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT) switch
this on. The in-memory epoch tensors are sharded like DistributedSampler does: one permutation
shared by all ranks (same seed), each rank takes every world-th row, equal lengths everywhere.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device('cpu')

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """'auto' -> cuda:local_rank when CUDA is available, else cpu."""
    if name == 'auto':
        return torch.device(f'cuda:{local_rank}' if torch.cuda.is_available() else 'cpu')
    if name.startswith('cuda') and not torch.cuda.is_available():
        raise RuntimeError(f'device {name!r} requested but CUDA is not available')
    if name == 'cuda':
        return torch.device(f'cuda:{local_rank}')
    return torch.device(name)


def setup(device: str = 'auto') -> DistInfo:
    """Join the process group when launched with WORLD_SIZE > 1; pick this rank's device."""
    world = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    local = int(os.environ.get('LOCAL_RANK', str(rank)))
    dev = pick_device(device, local)
    if world > 1 and not dist.is_initialized():
        if dev.type == 'cuda':
            torch.cuda.set_device(dev)
        dist.init_process_group('nccl' if dev.type == 'cuda' else 'gloo', rank=rank,
                                world_size=world)
    return DistInfo(rank, world, local, dev)


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shard(n: int, rng: np.random.Generator, info: DistInfo) -> np.ndarray:
    """This rank's row indices of a shuffled epoch of ``n`` rows (equal count on all ranks)."""
    perm = rng.permutation(n)
    per_rank = n // info.world
    return perm[info.rank:per_rank * info.world:info.world]


def batches(indices: np.ndarray, batch: int) -> list[np.ndarray]:
    """Split into full batches (drop the remainder); one batch if fewer rows than ``batch``."""
    if len(indices) < batch:
        return [indices] if len(indices) > 1 else []
    k = len(indices) // batch
    return [indices[i * batch:(i + 1) * batch] for i in range(k)]


def broadcast_flag(value: bool, info: DistInfo) -> bool:
    """Rank 0's boolean on every rank."""
    if not info.enabled:
        return value
    t = torch.tensor([int(value)], device=info.device)
    dist.broadcast(t, 0)
    return bool(t.item())
