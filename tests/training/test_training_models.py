"""Network sizes from the skeleton table; thesis-size parameter counts."""
from __future__ import annotations

import torch

from pose_lifter.core.skeleton import H36M17
from pose_lifter_training.config import ModelConfig, load_config
from pose_lifter_training.models import (
    build_lifting_model,
    build_networks,
    critic_angles_deg,
    input_dim,
    lift_pose,
    mirror_joints,
    output_dim,
)


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_thesis_parameter_counts_match_the_appendix():
    cfg = load_config('thesis').model
    generator, critic = build_networks(cfg)
    j_in, j_out, w, lat = input_dim(), output_dim(), cfg.width, cfg.latent
    assert (j_in, j_out) == (2 * (H36M17.num_joints - 1), 3 * (H36M17.num_joints - 1))
    res_vae = 2 * (w * w + 2 * w)                  # residual pair: Linear(no bias) + BN
    enc = (j_in * w + w) + 2 * w + res_vae + 2 * (w * lat + lat)
    dec = (lat * w + w) + 2 * w + res_vae + (w * j_out + j_out)
    cri = (j_in * w + w) + 2 * 2 * (w * w + w) + (w + 1)
    assert count(generator.encoder) == enc == 2_241_638
    assert count(generator.decoder) == dec == 2_205_744
    # The thesis code's critic had 8,192 more, in BatchNorms it never used.
    assert count(critic) == cri == 4_233_217


def test_shapes_and_sizes_follow_the_config():
    cfg = ModelConfig(width=32, latent=5, blocks=2, critic_width=16, critic_blocks=1,
                      critic_views=3)
    generator, critic = build_networks(cfg)
    x = torch.randn(6, H36M17.num_joints - 1, 2)
    generator.train()
    pose, mu, logvar = generator(x)
    assert pose.shape == (6, H36M17.num_joints - 1, 3) and mu.shape == logvar.shape == (6, 5)
    assert pose.abs().max() <= cfg.output_bound
    assert critic(x.reshape(6, -1)).shape == (6,)
    model = build_lifting_model(generator, critic, cfg, load_config('default').loss).eval()
    p3, realism = model(x.reshape(6, -1), torch.zeros(6, 5))
    assert p3.shape == (6, 16, 3) and realism.shape == (6,)
    assert ((realism >= 0) & (realism < 1)).all()   # exp(-e / tau) may underflow to 0


def test_eval_mode_uses_the_latent_mean():
    generator, _ = build_networks(ModelConfig(width=16, latent=4))
    generator.eval()
    x = torch.randn(3, 16, 2)
    a, _, _ = generator(x)
    b, _, _ = generator(x, torch.zeros(3, 4))
    assert torch.equal(a, b)


def test_critic_angles_are_even_and_exclude_zero():
    angles = critic_angles_deg(8)
    assert len(angles) == 8 and 0.0 not in angles
    assert sorted(angles) == [-160.0, -120.0, -80.0, -40.0, 40.0, 80.0, 120.0, 160.0]


def test_flip_average_is_the_mean_with_the_mirrored_back_pose_and_mirror_equivariant():
    torch.manual_seed(0)
    generator, critic = build_networks(ModelConfig(width=32, latent=4, critic_width=16))
    generator.eval()
    x, z = torch.randn(5, 16, 2) * 0.1, torch.zeros(5, 4)
    assert torch.equal(mirror_joints(mirror_joints(x)), x)
    # the left wrist of the mirrored input is the right wrist of the input, x negated
    lw, rw = H36M17.index('l_wrist') - 1, H36M17.index('r_wrist') - 1
    assert torch.equal(mirror_joints(x)[:, lw], x[:, rw] * torch.tensor([-1.0, 1.0]))
    with torch.no_grad():
        plain = lift_pose(generator, x, z)
        mean = lift_pose(generator, x, z, flip_average=True)
        by_hand = 0.5 * (generator(x, z)[0] + mirror_joints(generator(mirror_joints(x), z)[0]))
        torch.testing.assert_close(mean, by_hand)
        assert (mean - plain).abs().max() > 1e-4          # an untrained net is not symmetric
        # the averaged lifter answers a mirrored input with the mirrored pose
        torch.testing.assert_close(lift_pose(generator, mirror_joints(x), z, True),
                                   mirror_joints(mean), atol=1e-6, rtol=0)
        cfg = ModelConfig(width=32, latent=4, critic_width=16, flip_average=True)
        model = build_lifting_model(generator, critic, cfg, load_config('default').loss).eval()
        torch.testing.assert_close(model(x.reshape(5, -1), z)[0], mean)
