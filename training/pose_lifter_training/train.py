"""The training loop: epochs of fresh virtual-camera 2D, validation, checkpoints, logs, plots.

Model selection uses the validation subjects only (``train.select_metric``, N-MPJPE by default:
scale-aligned error in the camera frame, so it counts orientation errors and depth flips that a
Procrustes alignment would hide); the test subjects are never looked at during training.
Outputs in ``out_dir``: ``config.yaml``, ``last.pt`` (every epoch), ``best.pt``, ``tb/``
(TensorBoard scalars), ``history.json``, ``metrics.json`` and the PNG plots.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm import tqdm

from . import distributed as D
from .adapt import attach
from .checkpoint import CheckpointError, build_contract, load_checkpoint, save_checkpoint
from .config import Config, ConfigError, config_from_dict
from .data import EvalSet, Splits, TrainData, bone_sum_m, build_eval_set, load_splits
from .ema import WeightAverage
from .models import build_lifting_model, build_networks
from .objective import Batch, beta_schedule, lr_factor, train_step
from .selection import validate_run


def data_info(cfg: Config, splits: Splits) -> dict[str, Any]:
    path = Path(cfg.data.path)
    return {'path': str(cfg.data.path), 'file': path.name,
            'bytes': path.stat().st_size if path.is_file() else None,
            'extra_2d': cfg.data.extra_2d, 'train_subjects': cfg.data.train_subjects,
            'val_subjects': cfg.data.val_subjects, 'test_subjects': cfg.data.test_subjects,
            'train_poses': len(splits.train), 'val_poses': len(splits.val),
            'extra_2d_rows': 0 if splits.extra_2d is None else len(splits.extra_2d)}


class Run:
    """State of one training run (networks, optimisers, data, bookkeeping)."""

    def __init__(self, cfg: Config, out_dir: Path, info: D.DistInfo):
        self.cfg, self.out, self.info = cfg, out_dir, info
        torch.manual_seed(cfg.train.seed)   # identical initial weights on every rank
        self.generator, self.critic = build_networks(cfg.model)
        self.generator.to(info.device)
        self.critic.to(info.device)
        betas = tuple(cfg.train.adam_betas)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), cfg.train.lr, betas=betas)
        self.opt_c = torch.optim.Adam(self.critic.parameters(), cfg.train.critic_lr,
                                      betas=betas)
        self.ema = WeightAverage(self.generator, cfg.train.ema) if cfg.train.ema > 0 else None
        self.start_epoch, self.best = 0, float('inf')
        self.history: list[dict[str, Any]] = []
        splits = load_splits(cfg.data)
        self.train_data = TrainData(splits.train, cfg.data, splits.extra_2d)
        self.bone_sum = bone_sum_m(splits.train)
        self.mean_pose = self.train_data.mean_pose(np.random.default_rng(cfg.train.seed))
        self.val: EvalSet | None = build_eval_set(splits.val) \
            if info.main and len(splits.val) else None
        self.data_info = data_info(cfg, splits)
        attach(self, splits)   # init_from weights, unlabelled 2D rows, no-3D fallbacks
        heldout = getattr(self, 'heldout_2d', None)
        if info.main and self.val is None and (heldout is None or len(heldout) == 0):
            # the realism threshold of the model contract is calibrated on validation data:
            # without any, there is nothing honest to write into it
            raise ConfigError(f'no validation set: data.val_subjects {cfg.data.val_subjects} '
                              'gave no 3D poses and data.unlabelled no held-out 2D rows, so '
                              'the realism threshold cannot be calibrated')
        torch.manual_seed(cfg.train.seed + 1000 * info.rank)   # per-rank dropout/noise

    @property
    def eval_generator(self) -> torch.nn.Module:
        """The generator that validation, checkpoints' ``generator`` and export use."""
        return self.ema.module if self.ema is not None else self.generator

    @property
    def wrapped(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        if not self.info.enabled:
            return self.generator, self.critic
        ids = [self.info.device.index] if self.info.device.type == 'cuda' else None
        if not hasattr(self, '_ddp'):
            self._ddp = (DDP(self.generator, device_ids=ids), DDP(self.critic, device_ids=ids))
        return self._ddp

    def state(self, epoch: int, metrics: dict[str, Any]) -> dict[str, Any]:
        # NaN until the first validation (train.eval_every > 1): never a made-up threshold
        threshold = metrics.get('realism_threshold', float('nan'))
        summary = {k: v for k, v in metrics.items() if k != 'pjpe_hist'}
        contract = build_contract(self.cfg, self.bone_sum, threshold, {
            'config': self.cfg.to_dict(), 'data': self.data_info, 'epoch': epoch,
            'select_metric': self.cfg.train.select_metric, 'val_metrics': summary})
        return {'epoch': epoch, 'config': self.cfg.to_dict(), 'contract': contract.to_json(),
                'generator': self.eval_generator.state_dict(),
                'generator_raw': self.generator.state_dict() if self.ema else None,
                'critic': self.critic.state_dict(),
                'opt_g': self.opt_g.state_dict(), 'opt_c': self.opt_c.state_dict(),
                'best': self.best, 'history': self.history, 'bone_sum_m': self.bone_sum,
                'mean_pose': self.mean_pose.tolist(), 'torch_rng': torch.get_rng_state()}

    def resume(self, ckpt: dict[str, Any]) -> None:
        self.generator.load_state_dict(ckpt.get('generator_raw') or ckpt['generator'])
        if self.ema is not None:
            self.ema.load_state_dict(ckpt['generator'])
        self.critic.load_state_dict(ckpt['critic'])
        self.opt_g.load_state_dict(ckpt['opt_g'])
        self.opt_c.load_state_dict(ckpt['opt_c'])
        self.start_epoch = int(ckpt['epoch']) + 1
        self.best = float(ckpt['best'])
        self.history = list(ckpt['history'])
        if 'torch_rng' in ckpt and not self.info.enabled:
            torch.set_rng_state(ckpt['torch_rng'].cpu())

    def epoch(self, epoch: int) -> dict[str, float]:
        cfg, info = self.cfg, self.info
        rng = np.random.default_rng([cfg.train.seed, epoch])
        data = self.train_data.sample_epoch(rng)
        dev = info.device
        inputs = torch.as_tensor(data.inputs, device=dev)
        visible = torch.as_tensor(data.visible, device=dev)
        targets = torch.as_tensor(data.targets, device=dev)
        idx = D.shard(len(data.inputs), rng, info)
        beta = beta_schedule(epoch, cfg.loss)
        factor = lr_factor(epoch, cfg.train.epochs, cfg.train.lr_schedule,
                           cfg.train.lr_min_ratio)
        for opt, lr in ((self.opt_g, cfg.train.lr), (self.opt_c, cfg.train.critic_lr)):
            for group in opt.param_groups:
                group['lr'] = lr * factor
        generator, critic = self.wrapped
        sums: dict[str, float] = {}
        steps = D.batches(idx, max(2, cfg.train.batch // info.world))
        bar = tqdm(steps, desc=f'epoch {epoch}', leave=False,
                   disable=not (cfg.train.progress and info.main))
        for step, rows in enumerate(bar):
            rows_t = torch.as_tensor(rows, device=dev)
            batch = Batch(inputs[rows_t], visible[rows_t], targets[rows_t])
            logs = train_step(generator, critic, self.opt_g, self.opt_c, batch, beta, cfg.loss,
                              cfg.train)
            if self.ema is not None:
                self.ema.update(generator)
            if not all(np.isfinite(v) for v in logs.values()):
                raise FloatingPointError(f'non-finite loss at epoch {epoch} step {step}: '
                                         f'{logs}; last good weights are in last.pt')
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + v
            bar.set_postfix(loss=f'{logs["loss"]:.4f}', critic=f'{logs["critic"]:.3f}')
        out = {k: v / max(len(steps), 1) for k, v in sums.items()}
        out['beta'] = beta
        out['lr'] = cfg.train.lr * factor
        return out


def fit(cfg: Config, out_dir: str | Path, resume: bool = False) -> dict[str, Any]:
    """Train (DDP when launched by torchrun); returns the summary written to metrics.json."""
    info = D.setup(cfg.train.device)
    try:
        return _fit(cfg, Path(out_dir), resume, info)
    finally:
        D.cleanup(info)


def _fit(cfg: Config, out: Path, resume: bool, info: D.DistInfo) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    ckpt = None
    if resume and (out / 'last.pt').is_file():
        ckpt = load_checkpoint(out / 'last.pt')
        epochs = cfg.train.epochs
        cfg = config_from_dict(ckpt['config'])   # the run's own config; epochs may be extended
        cfg.train.epochs = epochs
    elif resume and info.main:
        print(f'no {out / "last.pt"} to resume from; starting a new run')
    elif (out / 'last.pt').is_file():
        raise FileExistsError(f'{out} already holds a run (last.pt); pass --resume to continue '
                              'it or choose another --out')
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    run = Run(cfg, out, info)
    if ckpt is not None:
        run.resume(ckpt)
    writer = None
    if info.main:
        cfg.save(out / 'config.yaml')
        from torch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(str(out / 'tb'))
    model = build_lifting_model(run.eval_generator, run.critic, cfg.model, cfg.loss)
    for epoch in range(run.start_epoch, cfg.train.epochs):
        t0 = time.perf_counter()
        logs = run.epoch(epoch)
        seconds = time.perf_counter() - t0
        if info.main:
            do_eval = (epoch + 1) % cfg.train.eval_every == 0 or epoch + 1 == cfg.train.epochs
            metrics = validate_run(model, run, info.device) if do_eval else {}
            run.history.append({'epoch': epoch, 'seconds': seconds, 'train': logs,
                                'val': metrics})
            _log(writer, epoch, logs, metrics, seconds)
            improved = bool(metrics) and metrics[cfg.train.select_metric] < run.best
            if improved:
                run.best = metrics[cfg.train.select_metric]
            # the newest validation, however many epochs back (eval_every > 1)
            last = next((h['val'] for h in reversed(run.history) if h['val']), {})
            state = run.state(epoch, last)
            save_checkpoint(out / 'last.pt', state)
            if improved:
                save_checkpoint(out / 'best.pt', state)
            if cfg.train.progress:
                _print_epoch(epoch, logs, metrics, seconds)
        D.barrier(info)
    if not info.main:
        return {}
    writer.close()
    return _finish(run, out)


def _log(writer, epoch: int, logs: dict, metrics: dict, seconds: float) -> None:
    for k, v in logs.items():
        writer.add_scalar(f'train/{k}', v, epoch)
    for k, v in metrics.items():
        if isinstance(v, (int, float)):
            writer.add_scalar(f'val/{k}', v, epoch)
    writer.add_scalar('time/epoch_seconds', seconds, epoch)
    writer.flush()


def _print_epoch(epoch: int, logs: dict, metrics: dict, seconds: float) -> None:
    text = f'epoch {epoch:4d} {seconds:6.1f}s loss {logs.get("loss", float("nan")):.4f}'
    if 'crit_2d' in metrics:
        text += f' | held-out 2D crit {metrics["crit_2d"]:.5f}'
    if 'n_mpjpe' in metrics:
        text += (f' | val N-MPJPE {metrics["n_mpjpe"]:.1f} PA-MPJPE {metrics["pa_mpjpe"]:.1f} '
                 f'MPJPE {metrics["mpjpe"]:.1f} mirror {metrics["mirror_rate"]:.3f}')
    tqdm.write(text)


def _finish(run: Run, out: Path) -> dict[str, Any]:
    (out / 'history.json').write_text(json.dumps(run.history))
    best_path = out / 'best.pt' if (out / 'best.pt').is_file() else out / 'last.pt'
    try:
        best = load_checkpoint(best_path)
    except CheckpointError:
        best = None
    summary = {'best_epoch': best['epoch'] if best else None,
               'select_metric': run.cfg.train.select_metric, 'best': run.best,
               'best_val': json.loads(best['contract'])['training']['val_metrics']
               if best else {},
               'seconds_per_epoch': float(np.mean([h['seconds'] for h in run.history]))
               if run.history else None}
    (out / 'metrics.json').write_text(json.dumps(summary, indent=2))
    if run.cfg.train.plots and best is not None and run.history and run.val is not None:
        from .plots import run_plots
        gen, critic = build_networks(run.cfg.model)
        gen.load_state_dict(best['generator'])
        critic.load_state_dict(best['critic'])
        model = build_lifting_model(gen, critic, run.cfg.model, run.cfg.loss)
        run_plots(out, run.history, model, run.val, run.bone_sum, run.cfg.train.umap)
    return summary

