"""specdiff: the grid's analysis and resynthesis against closed forms, and the generator's
priming, seeding and data scaling at a tiny size."""

from __future__ import annotations

import pytest
import torch

from benchbox.audio import encode
from benchbox.generators.base import Batch
from benchbox.generators.specdiff import SpecDiff, SpecDiffConfig
from benchbox.generators.specdiff_grid import Grid, GridConfig

TINY = {"channels": (8, 8), "blocks": 1, "time_dim": 16, "heads": 2, "n_mels": 16, "steps": 20, "sampling_steps": 4, "griffin_lim_iters": 2}


def test_white_noise_reads_about_zero_db_per_band():
    """Analysis is normalised by the window energy: unit-variance white noise has a flat
    power of 1 per bin, so every band of a Slaney (area-normalised) filterbank reads
    10 log10(sum_k W[m, k]) dB on average (averaged as power: the mean of dB is biased low)."""
    grid = Grid(GridConfig(frames=32, n_mels=32))
    noise = torch.randn(8, 32 * 128, generator=torch.Generator().manual_seed(0))
    db = grid.analyse(noise)  # (B, F, M)
    expected = 10 * torch.log10(grid.mel.sum(1))  # (M,)
    assert db.shape == (8, 32, 32)
    mean_power_db = 10 * torch.log10((10 ** (db[:, 2:-2] / 10)).mean((0, 1)))  # (M,)
    assert torch.allclose(mean_power_db, expected, atol=1.0)


def test_silence_is_the_floor_and_resynthesises_to_silence():
    cfg = GridConfig(frames=16, n_mels=16, griffin_lim_iters=2)
    grid = Grid(cfg)
    db = grid.analyse(torch.zeros(2, 16 * 128))
    assert torch.all(db == cfg.floor_db)
    assert torch.all(grid.resynthesise(db, 16 * 128, generator=torch.Generator().manual_seed(0)) == 0)


def test_mel_to_linear_is_exact_for_a_band_flat_spectrum():
    """A linear power that is constant inside each band's support maps back to itself."""
    grid = Grid(GridConfig(frames=4, n_mels=8))
    power = torch.full((1, grid.mel.shape[1], 4), 0.01)  # (B, K, F): flat everywhere
    mel = torch.einsum("mk,bkf->bfm", grid.mel, power)
    db = 10 * torch.log10(mel)
    lin = grid.linear_magnitude(db, 4).square() / grid.window_energy  # (B, K, F)
    covered = grid.mel.sum(0) > 0
    assert torch.allclose(lin[0, covered], power[0, covered], rtol=1e-4)


def test_resynthesis_is_close_to_the_grid_and_keeps_the_prime():
    cfg = GridConfig(frames=32, n_mels=32, griffin_lim_iters=16)
    grid = Grid(cfg)
    gen = torch.Generator().manual_seed(1)
    t = torch.arange(32 * 128)
    wave = (torch.randn(2, 32 * 128, generator=gen) * torch.exp(-t / 800.0)).clamp(-1, 1) * 0.5  # decaying noise burst
    db = grid.analyse(wave)
    prime = wave[:, :300]
    out = grid.resynthesise(db, wave.shape[1], generator=gen, prime=prime)
    assert torch.equal(out[:, :300], prime)
    loud = db > -60
    assert (grid.analyse(out) - db)[loud].abs().mean() < 3.0  # dB, where the clip is audible


def test_prime_frames_need_the_whole_window():
    grid = Grid(GridConfig(n_fft=512, hop=128, frames=64))
    assert grid.prime_frames(255) == 0
    assert grid.prime_frames(256) == 1  # frame 0 covers [-256, 256)
    assert grid.prime_frames(256 + 128) == 2
    assert grid.prime_frames(10**6) == 64


@pytest.fixture()
def model():
    torch.manual_seed(0)
    return SpecDiff(SpecDiffConfig(**TINY))


def test_fit_sets_the_data_scaling(model):
    waves = torch.randn(3, 2048, generator=torch.Generator().manual_seed(2)) * 0.1
    model.fit_waves(waves)
    x = model.to_data(waves)
    assert x.shape == (3, 16, 16)
    assert float(x.mean()) == pytest.approx(0.0, abs=1e-4) and float(x.std()) == pytest.approx(1.0, abs=1e-3)
    assert torch.allclose(model.to_db(x), model.grid_for(2048).analyse(waves), atol=1e-3)


def test_generate_shape_range_seed_and_prime(model):
    rng = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    out = model.generate(2, 2048, rng=rng())
    assert out.shape == (2, 2048) and torch.isfinite(out).all() and out.abs().max() <= 1.0
    assert torch.equal(out, model.generate(2, 2048, rng=rng()))
    prime = (torch.randn(2, 700, generator=torch.Generator().manual_seed(4)) * 0.2).clamp(-1, 1)
    primed = model.generate(2, 2048, prime=prime, rng=rng())
    assert torch.equal(primed[:, :700], prime)


def test_loss_is_finite_and_has_gradients(model):
    waves = torch.randn(2, 2048, generator=torch.Generator().manual_seed(5)) * 0.1
    torch.manual_seed(0)
    loss, metrics = model.loss(Batch(waves, encode(waves, "linear")))
    loss.backward()
    assert torch.isfinite(loss) and metrics["mse_x0"] > 0
    assert all(p.grad is not None for p in model.net.parameters() if p.requires_grad)


def test_ema_is_saved_with_the_model(model):
    model.ema.update(model.net, 0.5)
    state = model.state_dict()
    assert any(k.startswith("ema.") for k in state)
    clone = SpecDiff(SpecDiffConfig(**TINY))
    clone.load_state_dict(state)
    rng = lambda: torch.Generator().manual_seed(6)  # noqa: E731
    assert torch.equal(clone.generate(1, 2048, rng=rng()), model.generate(1, 2048, rng=rng()))
