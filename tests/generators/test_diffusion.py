"""The diffusion wrapper against closed forms: schedule endpoints, q(z_t | x_0) moments,
target conversions, the sampler's posterior, inpainting, and a loss that falls on a toy set."""

from __future__ import annotations

import math

import pytest
import torch

from benchbox.generators.diffusion import EMA, Diffusion, DiffusionConfig, alpha_bars, sampling_times, target_of, to_x0_eps


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
@pytest.mark.parametrize("ztsnr", [True, False])
def test_schedule_endpoints_and_monotone(schedule, ztsnr):
    cfg = DiffusionConfig(steps=50, schedule=schedule, zero_terminal_snr=ztsnr, target="v")
    abar = alpha_bars(cfg)
    assert abar.shape == (51,)
    assert abar[0] == 1.0
    assert torch.all(abar[1:] < abar[:-1])
    if ztsnr:
        assert abar[-1] == 0.0  # pure noise at t = T
    elif schedule == "cosine":
        assert 0.0 <= abar[-1] < 1e-3
    else:  # DiffWave's short linear schedule stops well short of pure noise (abar_T = 0.6 here)
        assert 0.0 < abar[-1] < 1.0


def test_zero_terminal_snr_keeps_the_first_step():
    plain = alpha_bars(DiffusionConfig(steps=20, schedule="linear", zero_terminal_snr=False, target="v"))
    rescaled = alpha_bars(DiffusionConfig(steps=20, schedule="linear", zero_terminal_snr=True, target="v"))
    assert rescaled[1] == pytest.approx(float(plain[1]), rel=1e-12)


def test_linear_schedule_is_diffwave_cumprod():
    cfg = DiffusionConfig(steps=50, schedule="linear", beta_start=1e-4, beta_end=0.05, zero_terminal_snr=False, target="eps")
    betas = torch.linspace(1e-4, 0.05, 50, dtype=torch.float64)
    assert torch.allclose(alpha_bars(cfg)[1:], torch.cumprod(1 - betas, 0))


def test_q_sample_moments():
    diff = Diffusion(DiffusionConfig(steps=100))
    x0 = torch.full((20_000, 1), 0.7)
    t = torch.full((20_000,), 30)
    z = diff.q_sample(x0, t, torch.randn(20_000, 1, generator=torch.Generator().manual_seed(0)))
    a, s = float(diff.a[30]), float(diff.s[30])
    assert float(z.mean()) == pytest.approx(a * 0.7, abs=4 * s / math.sqrt(20_000))
    assert float(z.std()) == pytest.approx(s, rel=0.03)
    assert a**2 + s**2 == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("target", ["v", "eps", "x0"])
def test_target_conversions_round_trip(target):
    gen = torch.Generator().manual_seed(1)
    x0, eps = torch.randn(4, 8, generator=gen, dtype=torch.float64), torch.randn(4, 8, generator=gen, dtype=torch.float64)
    a = torch.tensor(0.6, dtype=torch.float64)
    s = (1 - a**2).sqrt()
    z = a * x0 + s * eps
    x0_hat, eps_hat = to_x0_eps(target_of(x0, eps, a, s, target), z, a, s, target)
    assert torch.allclose(x0_hat, x0) and torch.allclose(eps_hat, eps)


def test_v_recovers_x0_at_zero_terminal_snr():
    x0, eps = torch.randn(3, 5, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    a, s = torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64)
    x0_hat, _ = to_x0_eps(target_of(x0, eps, a, s, "v"), a * x0 + s * eps, a, s, "v")
    assert torch.allclose(x0_hat, x0)


def test_eps_target_is_refused_at_zero_terminal_snr():
    with pytest.raises(ValueError, match="zero terminal SNR"):
        DiffusionConfig(target="eps", zero_terminal_snr=True)


def test_sampling_times():
    assert sampling_times(10, 10) == list(range(10, -1, -1))
    times = sampling_times(1000, 20)
    assert times[0] == 1000 and times[-1] == 0 and len(times) == 21


def test_ddpm_step_matches_the_posterior():
    """With eta = 1 and u = t - 1 the step draws from q(z_{t-1} | z_t, x0): the closed-form
    posterior mean and variance beta-tilde of Ho et al. (2020), eq. 7."""
    diff = Diffusion(DiffusionConfig(steps=10, schedule="linear", beta_start=0.01, beta_end=0.2, zero_terminal_snr=False, target="x0"))
    x0, t = 0.5, 6
    z = torch.full((40_000, 1), 0.3)
    out = diff._step(lambda zz, tt: torch.full_like(zz, x0), z, t, t - 1, 1.0, torch.Generator().manual_seed(0), None)
    abar, abar_prev = float(diff.abar[t]), float(diff.abar[t - 1])
    beta = 1 - abar / abar_prev
    mean = math.sqrt(abar_prev) * beta / (1 - abar) * x0 + math.sqrt(1 - beta) * (1 - abar_prev) / (1 - abar) * 0.3
    var = (1 - abar_prev) / (1 - abar) * beta
    assert float(out.mean()) == pytest.approx(mean, abs=4 * math.sqrt(var / 40_000))
    assert float(out.var()) == pytest.approx(var, rel=0.03)


def test_exact_denoiser_samples_the_point_mass():
    """If the data is one point, the ideal denoiser predicts it and every sampler returns it."""
    diff = Diffusion(DiffusionConfig(steps=50))
    point = torch.tensor([0.25, -0.5, 0.75])

    def denoiser(z, t):  # v for x0 = point
        idx = (t * 50).round().long()
        a, s = diff.a[idx][:, None], diff.s[idx][:, None]
        eps = torch.where(s > 0, (z - a * point) / s.clamp_min(1e-12), torch.zeros_like(z))
        return a * eps - s * point

    for steps, eta in ((50, 1.0), (5, 0.0), (7, 0.5)):
        out = diff.sample(denoiser, (4, 3), rng=torch.Generator().manual_seed(2), sampling_steps=steps, eta=eta)
        assert torch.allclose(out, point.expand(4, 3), atol=1e-4)


@pytest.mark.parametrize("jumps", [1, 3])
def test_inpainting_keeps_the_known_part_bit_exact(jumps):
    diff = Diffusion(DiffusionConfig(steps=20, sampling_steps=5, repaint_jumps=jumps))
    known = torch.randn(2, 1, 16, generator=torch.Generator().manual_seed(3))
    mask = (torch.arange(16) < 6).view(1, 1, 16)
    calls = []

    def denoiser(z, t):
        calls.append(1)
        return torch.zeros_like(z)

    out = diff.sample(denoiser, (2, 1, 16), rng=torch.Generator().manual_seed(4), known=known, mask=mask)
    assert torch.equal(out[..., :6], known[..., :6])
    assert len(calls) == 5 * jumps


def test_sampler_is_seeded():
    diff = Diffusion(DiffusionConfig(steps=10, sampling_steps=10))
    draw = lambda seed: diff.sample(lambda z, t: 0.1 * z, (2, 5), rng=torch.Generator().manual_seed(seed))  # noqa: E731
    assert torch.equal(draw(5), draw(5)) and not torch.equal(draw(5), draw(6))


def test_loss_falls_on_a_toy_set():
    torch.manual_seed(0)
    data = torch.stack([torch.linspace(-1, 1, 16), torch.linspace(1, -1, 16)])  # (2, 16): two clips
    net = torch.nn.Sequential(torch.nn.Linear(17, 64), torch.nn.SiLU(), torch.nn.Linear(64, 16))
    diff = Diffusion(DiffusionConfig(steps=50))
    denoiser = lambda z, t: net(torch.cat([z, t[:, None]], dim=1))  # noqa: E731
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(300):
        loss, _ = diff.loss(denoiser, data[torch.randint(0, 2, (16,), generator=gen)], gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert sum(losses[-50:]) / 50 < 0.85 * sum(losses[:50]) / 50  # v-loss keeps an irreducible part at high noise


def test_ema_warms_up_then_tracks():
    net = torch.nn.Linear(2, 2)
    w0 = net.weight.detach().clone()
    ema = EMA(net)
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema.update(net, 0.999)  # first update: d = min(0.999, 1/10)
    assert torch.allclose(ema.shadows()[0], 0.1 * w0 + 0.9)
    for _ in range(5000):
        ema.update(net, 0.999)
    assert torch.allclose(ema.shadows()[0], net.weight, atol=1e-3)
