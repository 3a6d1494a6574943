"""KL schedules, loss pieces, and that the objective actually decreases."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from training_synthetic import synthetic_set

from pose_lifter_training.config import LossConfig, TrainConfig, load_config
from pose_lifter_training.data import TrainData
from pose_lifter_training.models import build_networks
from pose_lifter_training.objective import (
    Batch,
    bce,
    beta_schedule,
    kl_per_sample,
    masked_l1,
    train_step,
)


def test_thesis_text_schedule():
    cfg = load_config('thesis').loss
    betas = [beta_schedule(e, cfg) for e in range(100)]
    assert betas[:11] == [0.0] * 11                       # 10 warm-up epochs, cycle starts at 0
    assert betas[11] == pytest.approx(1e-3 / 30)           # 30-epoch ramp ...
    assert betas[39] == pytest.approx(1e-3 * 29 / 30)
    assert betas[40:50] == [pytest.approx(1e-3)] * 10      # ... then a 10-epoch hold
    assert betas[50] == 0.0 and betas[90] == 0.0           # every 40 epochs
    assert betas[51] == pytest.approx(1e-3 / 30)


def test_hpe3d_code_schedule_reproduces_the_precedence_bug():
    cfg = LossConfig(kl_schedule='hpe3d_code', kl_floor=0.0, kl_peak=1e-3)   # thesis peak
    betas = [beta_schedule(e, cfg) for e in range(81)]
    assert betas[0] == 0.0 and betas[40] == 0.0 and betas[80] == 0.0
    assert betas[1] == pytest.approx(0.1 * 0.01 / 80)             # 0.1 * beta_max / 80
    assert max(betas) == pytest.approx(0.2375e-3)          # never the intended 1e-3
    assert betas[19] == betas[39] == pytest.approx(0.2375e-3)


def test_default_schedule_has_a_floor():
    cfg = load_config('default').loss
    assert beta_schedule(0, cfg) == cfg.kl_floor == 1e-5
    assert beta_schedule(45, cfg) == pytest.approx(cfg.kl_peak) == 1e-3


def test_kl_and_masked_l1():
    assert torch.allclose(kl_per_sample(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))
    pred, target = torch.zeros(1, 3, 2), torch.ones(1, 3, 2)
    target[0, 2] = 100.0
    visible = torch.tensor([[True, True, False]])
    assert masked_l1(pred, target, visible).item() == pytest.approx(1.0)


def test_bce_accepts_the_thesis_labels_above_one():
    p = torch.tensor([0.9])
    assert bce(p, torch.tensor([1.0])).item() == pytest.approx(-np.log(0.9))
    assert torch.isfinite(bce(p, torch.tensor([1.2])))


@pytest.mark.parametrize('preset', ['thesis', 'default', 'supervised'])
def test_loss_decreases_on_a_tiny_problem(preset):
    torch.manual_seed(0)
    cfg = load_config(preset, overrides=['model.width=64', 'model.critic_width=32',
                                         'model.latent=8', 'train.lr=1e-3'])
    data = TrainData(synthetic_set(subjects=('s1',), clips=2, frames=64), cfg.data)
    ep = data.sample_epoch(np.random.default_rng(0))
    batch = Batch(torch.tensor(ep.inputs), torch.tensor(ep.visible), torch.tensor(ep.targets))
    generator, critic = build_networks(cfg.model)
    opt_g = torch.optim.Adam(generator.parameters(), cfg.train.lr)
    opt_c = torch.optim.Adam(critic.parameters(), cfg.train.lr)
    key = 'sup' if preset == 'supervised' else 'rec'
    logs = [train_step(generator, critic, opt_g, opt_c, batch, 0.0, cfg.loss, cfg.train)[key]
            for _ in range(60)]
    assert np.mean(logs[-5:]) < 0.6 * np.mean(logs[:5])
    assert all(np.isfinite(logs))


def test_train_step_reports_every_enabled_term():
    cfg = load_config('default', overrides=['model.width=16', 'model.critic_width=16',
                                            'model.latent=4'])
    generator, critic = build_networks(cfg.model)
    x = torch.randn(8, 16, 2) * 0.03
    batch = Batch(x, torch.ones(8, 16, dtype=torch.bool), torch.zeros(8, 16, 3))
    logs = train_step(generator, critic, torch.optim.Adam(generator.parameters()),
                      torch.optim.Adam(critic.parameters()), batch, 1e-3, cfg.loss, TrainConfig())
    assert {'critic', 'rec', 'kl', 'adv', 'cons3d', 'cons2d', 'face', 'loss'} <= set(logs)
    assert all(p.requires_grad for p in critic.parameters())   # frozen only temporarily


def test_bce_gradients_stay_finite_when_the_critic_saturates():
    p = torch.tensor([0.0, 1.0, 0.5], requires_grad=True)
    loss = bce(p, torch.tensor([1.0, 0.0, 1.2]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(p.grad).all()
