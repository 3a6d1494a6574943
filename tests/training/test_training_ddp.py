"""DistributedDataParallel smoke test: 2 CPU processes, gloo, one tiny epoch."""
from __future__ import annotations

import os
import socket

import torch
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, pose_file: str, out: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    import torch.distributed as dist
    from training_synthetic import tiny_config

    from pose_lifter_training.train import Run, fit

    cfg = tiny_config(pose_file, extra=['train.device=cpu'])
    captured = {}
    original = Run.epoch

    def epoch(self, e):                           # record this rank's weights after training
        logs = original(self, e)
        captured['w'] = self.generator.decoder.out.weight.detach().clone()
        captured['steps'] = logs
        return logs

    Run.epoch = epoch
    try:
        fit(cfg, out)
    finally:
        Run.epoch = original
    torch.save(captured['w'], os.path.join(out, f'w{rank}.pt'))
    assert not dist.is_initialized()


def test_two_process_gloo_epoch(tmp_path, pose_file):
    out = str(tmp_path / 'run')
    os.makedirs(out)
    mp.spawn(_worker, args=(2, _free_port(), str(pose_file), out), nprocs=2, join=True)
    w0, w1 = (torch.load(os.path.join(out, f'w{r}.pt')) for r in (0, 1))
    assert torch.equal(w0, w1)                   # gradients were all-reduced
    assert os.path.isfile(os.path.join(out, 'last.pt'))   # rank 0 wrote the checkpoint
