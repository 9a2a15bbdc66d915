"""DiffAugment transforms and ADA's controller (benchbox/generators/wavegan_augment.py)."""

from __future__ import annotations

import pytest
import torch

from benchbox.generators.base import Batch
from benchbox.generators.wavegan import WaveGAN, WaveGANConfig
from benchbox.generators.wavegan_augment import P_MAX, ada_update, diff_augment

T = 1024
TOY = dict(length=T, latent_dim=8, channels=(16, 8, 8, 4, 4), mpd_channels=(4, 4, 8, 8, 8), msd_channels=(4, 4, 4, 8, 8, 8), msd_kernel=15, msd_groups=1)


def _clips(n: int = 4) -> torch.Tensor:  # (n, 1, T): decaying noise bursts
    g = torch.Generator().manual_seed(0)
    return (0.5 * torch.randn(n, 1, T, generator=g) * torch.exp(-torch.arange(T) / 100.0)).clamp(-1, 1)


def test_diff_augment_is_identity_when_off_and_differentiable_when_on():
    x = _clips().requires_grad_(True)
    assert diff_augment(x, 0.0, 6.0, 8) is x
    y = diff_augment(x, 1.0, 6.0, 8)
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_diff_augment_gain_polarity_and_shift_stay_in_bounds():
    x = torch.zeros(64, 1, 200)
    x[:, 0, 100] = 1.0  # one impulse per clip
    torch.manual_seed(0)
    y = diff_augment(x, 0.5, 6.0, 5)  # p 1 would flip every clip
    peak = y.abs().amax(dim=-1).squeeze(1)  # (B,)
    where = y.abs().argmax(dim=-1).squeeze(1)  # (B,)
    assert ((peak >= 10 ** (-6 / 20) - 1e-6) & (peak <= 10 ** (6 / 20) + 1e-6)).all()
    assert ((where >= 95) & (where <= 105)).all() and len(set(where.tolist())) > 3  # moved, by at most 5
    assert (y.sum(dim=-1) < 0).any() and (y.sum(dim=-1) > 0).any()  # both polarities occur


def test_ada_moves_p_up_for_a_confident_discriminator_and_down_otherwise():
    p, acc = torch.tensor(0.3), torch.zeros(3, dtype=torch.float64)
    sure = [torch.full((8, 5), 0.9), torch.full((8, 3), 0.7)]  # every real score above 0.5: r_t = 1
    for step in range(3):  # no move before the 4th step
        ada_update(p, acc, sure, target=0.6, kimg=1.0, batch=8, step=step)
        assert float(p) == pytest.approx(0.3)
    ada_update(p, acc, sure, target=0.6, kimg=1.0, batch=8, step=3)
    assert float(p) == pytest.approx(0.3 + 8 * 4 / 1000.0)  # batch x interval / (kimg x 1000)
    assert float(acc[2]) == pytest.approx(1.0) and float(acc[1]) == 0.0
    unsure = [torch.cat([torch.full((8, 3), 0.9), torch.full((8, 7), 0.1)], dim=1)]  # r_t = (3 - 7) / 10 = -0.4
    for step in range(4, 8):
        ada_update(p, acc, unsure, target=0.6, kimg=1.0, batch=8, step=step)
    assert float(acc[2]) == pytest.approx(-0.4)
    assert float(p) == pytest.approx(0.3)
    for step in range(8, 8 + 4 * 100):  # clamped at both ends
        ada_update(p, acc, sure, target=0.6, kimg=0.01, batch=8, step=step)
    assert float(p) == pytest.approx(P_MAX)
    for step in range(408, 408 + 4 * 100):
        ada_update(p, acc, unsure, target=0.6, kimg=0.01, batch=8, step=step)
    assert float(p) == 0.0


def test_ada_state_survives_a_checkpoint_and_old_checkpoints_load():
    torch.manual_seed(0)
    model = WaveGAN(WaveGANConfig(**TOY, augment_p=0.2, augment_target=0.01, augment_kimg=0.01))
    opts = model.make_optimizers()
    for _ in range(4):
        model.train_step(Batch(waves=_clips().squeeze(1), codes=torch.zeros(4, T, dtype=torch.long)), opts)
    assert float(model.augment_p) != pytest.approx(0.2)  # ADA moved it
    state = model.state_dict()
    fresh = WaveGAN(WaveGANConfig(**TOY, augment_p=0.2, augment_target=0.01, augment_kimg=0.01))
    fresh.load_state_dict(state)
    assert float(fresh.augment_p) == float(model.augment_p)
    old = {k: v for k, v in state.items() if not k.startswith("augment_")}  # saved before ADA existed
    fresh = WaveGAN(WaveGANConfig(**TOY, augment_p=0.2))
    fresh.load_state_dict(old)
    assert float(fresh.augment_p) == pytest.approx(0.2)


def test_fixed_p_never_moves():
    torch.manual_seed(0)
    model = WaveGAN(WaveGANConfig(**TOY, augment_p=0.3))
    opts = model.make_optimizers()
    for _ in range(4):
        model.train_step(Batch(waves=_clips().squeeze(1), codes=torch.zeros(4, T, dtype=torch.long)), opts)
    assert float(model.augment_p) == pytest.approx(0.3)


def test_ada_moves_p_once_per_step_and_the_augmentation_reads_the_buffer(monkeypatch):
    import benchbox.generators.wavegan as wg

    seen = []
    real_aug = wg.diff_augment
    monkeypatch.setattr(wg, "diff_augment", lambda x, p, g, s: seen.append(p) or real_aug(x, p, g, s))
    torch.manual_seed(0)
    model = WaveGAN(WaveGANConfig(**TOY, augment_p=0.5, augment_target=0.01, augment_kimg=1.0, d_steps=3))
    opts = model.make_optimizers()
    for _ in range(4):
        model.train_step(Batch(waves=_clips().squeeze(1), codes=torch.zeros(4, T, dtype=torch.long)), opts)
    assert abs(float(model.augment_p) - 0.5) == pytest.approx(4 * 4 / 1000.0, abs=1e-6)  # one move in 4 steps, not one per D step
    model.train_step(Batch(waves=_clips().squeeze(1), codes=torch.zeros(4, T, dtype=torch.long)), opts)
    assert seen[-1] == pytest.approx(float(model.augment_p))  # the buffer's p, not the config's 0.5


def test_ada_and_fm_paired_steps_refuse_what_they_cannot_read():
    with pytest.raises(ValueError, match="lsgan"):
        WaveGANConfig(**TOY, discriminator="wavegan", loss="wgan-gp", augment_target=0.6)
    with pytest.raises(ValueError, match="fm_paired"):
        WaveGANConfig(**TOY, fm_paired_steps=10)
