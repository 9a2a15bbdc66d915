"""The diffusion wrapper shared by every diffusion backbone: schedule, loss, samplers, inpainting.

Legend: B batch, X the data shape of one example (e.g. (T,) for a waveform, (M, F) for a
grid), S sampling steps, T_d diffusion steps (``steps``).

Discrete-time Gaussian diffusion (Ho et al. 2020) with ``abar_0 = 1`` and, for t = 1..T_d,
``q(z_t | x_0) = N(a_t x_0, s_t^2 I)`` where ``a_t = sqrt(abar_t)`` and ``s_t = sqrt(1 - abar_t)``.

* Schedules: ``cosine`` (Nichol & Dhariwal 2021, ``abar(t) = cos^2(pi/2 (t/T_d + o)/(1 + o))``
  normalised to abar_0 = 1) or ``linear`` betas (DiffWave: ``beta_t`` from ``beta_start`` to
  ``beta_end``). ``zero_terminal_snr`` rescales ``a_t`` so that ``a_T = 0`` and ``a_1`` keeps
  its value (Lin et al. 2024, Algorithm 1): the last step is pure noise, as the sampler
  assumes when it starts from N(0, I).
* Targets: ``eps`` (the noise), ``x0`` (the data) or ``v = a eps - s x0`` (Salimans & Ho
  2022); :func:`to_x0_eps` converts any of them to the pair (x0, eps). ``v`` stays well
  defined at zero terminal SNR, where ``eps`` prediction cannot recover x0.
* Loss: the mean squared error on the target, ``t`` uniform in 1..T_d.
* Sampler (one formula, DDIM of Song et al. 2021): from t to u < t,
  ``z_u = a_u x0 + sqrt(s_u^2 - c^2) eps + c n`` with
  ``c = eta (s_u / s_t) sqrt(1 - abar_t / abar_u)``. With every step and ``eta = 1`` it is
  DDPM's ancestral sampler (posterior variance beta-tilde); with fewer steps (``sampling_steps``)
  it is the fast sampler; ``eta = 0`` makes it deterministic given z_T.
* Inpainting: a known part (``known`` where ``mask``) is imposed at every step by
  replacement, ``z_u <- a_u known + s_u n`` (Song et al. 2021), and exactly at u = 0, so the
  output equals ``known`` bit for bit where ``mask``. ``repaint_jumps = r > 1`` resamples
  each step r times, re-noising ``z_u -> z_t`` in between (RePaint, Lugmayr et al. 2022), so
  the unknown part harmonises with the known one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from benchbox.generators import clip_rng

Target = Literal["eps", "x0", "v"]
Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (z (B, *X), t/T_d (B,)) -> target (B, *X)
COSINE_OFFSET = 0.008  # Nichol & Dhariwal's s


@dataclass(frozen=True)
class DiffusionConfig:
    """Diffusion settings that every diffusion generator's config inherits (flat keys)."""

    steps: int = 1000  # T_d, diffusion steps in training
    schedule: Literal["cosine", "linear"] = "cosine"
    beta_start: float = 1e-4  # linear schedule only
    beta_end: float = 0.02  # linear schedule only
    zero_terminal_snr: bool = True
    target: Target = "v"
    sampling_steps: int = 100  # S steps of the sampler (at most steps); S = steps and eta = 1 is DDPM
    eta: float = 1.0  # 1: ancestral (DDPM-like) noise, 0: deterministic DDIM
    repaint_jumps: int = 1  # RePaint resampling per step when inpainting (1: plain replacement)
    ema_decay: float = 0.999  # weights used for sampling: an exponential moving average

    def __post_init__(self):
        checks = [
            (self.steps >= 1, f"steps must be >= 1, got {self.steps}"),
            (self.sampling_steps >= 1, f"sampling_steps must be >= 1, got {self.sampling_steps}"),
            (0 < self.beta_start <= self.beta_end < 1, f"need 0 < beta_start <= beta_end < 1, got {self.beta_start}, {self.beta_end}"),
            (self.eta >= 0, f"eta must be >= 0, got {self.eta}"),
            (self.repaint_jumps >= 1, f"repaint_jumps must be >= 1, got {self.repaint_jumps}"),
            (0 <= self.ema_decay < 1, f"ema_decay must be in [0, 1), got {self.ema_decay}"),
            (not (self.zero_terminal_snr and self.target == "eps"), "target 'eps' cannot recover x0 at zero terminal SNR: use target 'v' or zero_terminal_snr = false"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


def alpha_bars(cfg: DiffusionConfig) -> torch.Tensor:
    """(T_d + 1,) float64 abar_t for t = 0..T_d, abar_0 = 1, decreasing."""
    t = torch.arange(cfg.steps + 1, dtype=torch.float64)
    if cfg.schedule == "cosine":
        f = torch.cos((t / cfg.steps + COSINE_OFFSET) / (1 + COSINE_OFFSET) * math.pi / 2) ** 2
        abar = f / f[0]
    else:
        betas = torch.linspace(cfg.beta_start, cfg.beta_end, cfg.steps, dtype=torch.float64)
        abar = torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 - betas, 0)])
    abar = abar.clamp(0.0, 1.0)
    if cfg.zero_terminal_snr:
        a = abar.sqrt()
        a1, a_last = a[1].clone(), a[-1].clone()
        a[1:] = (a[1:] - a_last) * a1 / (a1 - a_last)  # a_1 kept, a_T = 0
        abar = a.square()
    return abar


def to_x0_eps(pred: torch.Tensor, z: torch.Tensor, a: torch.Tensor, s: torch.Tensor, target: Target) -> tuple[torch.Tensor, torch.Tensor]:
    """A prediction of ``target`` at z_t = a x0 + s eps -> (x0, eps); a, s broadcast against z."""
    if target == "v":
        return a * z - s * pred, s * z + a * pred
    if target == "eps":
        return (z - s * pred) / a, pred
    return pred, (z - a * pred) / s


def target_of(x0: torch.Tensor, eps: torch.Tensor, a: torch.Tensor, s: torch.Tensor, target: Target) -> torch.Tensor:
    """What the denoiser learns to predict from (x0, eps)."""
    return {"v": a * eps - s * x0, "eps": eps, "x0": x0}[target]


def sampling_times(steps: int, sampling_steps: int) -> list[int]:
    """S + 1 decreasing integer times from T_d to 0, evenly spaced (S is capped at T_d)."""
    sampling_steps = min(sampling_steps, steps)
    ts = torch.linspace(steps, 0, sampling_steps + 1).round().long().tolist()
    return sorted(set(ts), reverse=True)


def _randn(shape, rng: clip_rng.Rng, like: torch.Tensor) -> torch.Tensor:
    """Normal draws shaped ``shape`` (B, *X) like ``like``; row i from ``rng[i]`` when per clip."""
    return clip_rng.randn(rng, shape, device=like.device, dtype=like.dtype)


class Diffusion(nn.Module):
    """Schedule buffers and the loss / sampler of :mod:`this module <benchbox.generators.diffusion>`.
    It holds no weights: the denoiser is passed in, so any backbone plugs in unchanged."""

    def __init__(self, cfg: DiffusionConfig):
        super().__init__()
        self.cfg = cfg
        abar = alpha_bars(cfg)
        self.register_buffer("abar", abar.float(), persistent=False)  # (T_d + 1,)
        self.register_buffer("a", abar.sqrt().float(), persistent=False)
        self.register_buffer("s", (1 - abar).clamp_min(0).sqrt().float(), persistent=False)

    def _coef(self, t: torch.Tensor, ndim: int) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (-1,) + (1,) * (ndim - 1)
        return self.a[t].view(shape), self.s[t].view(shape)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """z_t = a_t x0 + s_t eps, t (B,) int."""
        a, s = self._coef(t, x0.ndim)
        return a * x0 + s * eps

    def loss(self, denoiser: Denoiser, x0: torch.Tensor, rng: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """MSE on the target at t ~ U{1..T_d} (``rng`` None: the global RNG); metric ``mse_x0``, the
        implied x0 error."""
        batch = x0.shape[0]
        device = rng.device if rng is not None else x0.device
        t = torch.randint(1, self.cfg.steps + 1, (batch,), generator=rng, device=device).to(x0.device)  # (B,)
        eps = _randn(x0.shape, rng, x0)
        a, s = self._coef(t, x0.ndim)
        z = a * x0 + s * eps
        pred = denoiser(z, t.float() / self.cfg.steps)
        loss = (pred - target_of(x0, eps, a, s, self.cfg.target)).square().mean()
        with torch.no_grad():
            x0_hat, _ = to_x0_eps(pred.detach(), z, a, s, self.cfg.target)
            mse_x0 = float((x0_hat - x0).square().mean())
        return loss, {"mse_x0": mse_x0}

    @torch.no_grad()
    def sample(
        self,
        denoiser: Denoiser,
        shape: tuple[int, ...],
        *,
        rng: clip_rng.Rng,
        device: torch.device | str = "cpu",
        known: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        x0_range: tuple[float, float] | None = None,
        sampling_steps: int | None = None,
        eta: float | None = None,
    ) -> torch.Tensor:
        """Draw (B, *X) samples; where ``mask`` (broadcastable bool) the output is ``known`` exactly.
        ``rng``: one generator, or B (one per sample: row i's noise from ``rng[i]`` alone)."""
        cfg = self.cfg
        eta = cfg.eta if eta is None else eta
        times = sampling_times(cfg.steps, sampling_steps or cfg.sampling_steps)
        like = torch.empty(0, device=device)
        z = _randn(shape, rng, like)  # z_T
        for t, u in zip(times[:-1], times[1:]):
            for jump in range(cfg.repaint_jumps if known is not None else 1):
                z_u = self._step(denoiser, z, t, u, eta, rng, x0_range)
                if known is not None:
                    z_u = torch.where(mask, known if u == 0 else self.a[u] * known + self.s[u] * _randn(shape, rng, like), z_u)
                if jump < cfg.repaint_jumps - 1 and known is not None:  # RePaint: back from u to t
                    ratio = self.abar[t] / self.abar[u]
                    z = ratio.sqrt() * z_u + (1 - ratio).clamp_min(0).sqrt() * _randn(shape, rng, like)
            z = z_u
        return z

    def _step(self, denoiser: Denoiser, z: torch.Tensor, t: int, u: int, eta: float, rng, x0_range) -> torch.Tensor:
        """One reverse step z_t -> z_u (the DDIM formula of the module docstring)."""
        batch = z.shape[0]
        pred = denoiser(z, torch.full((batch,), t / self.cfg.steps, device=z.device))
        x0, eps = to_x0_eps(pred, z, self.a[t], self.s[t], self.cfg.target)
        if x0_range is not None:
            x0 = x0.clamp(*x0_range)
            eps = (z - self.a[t] * x0) / self.s[t]
        if u == 0:
            return x0
        c = eta * (self.s[u] / self.s[t]) * (1 - self.abar[t] / self.abar[u]).clamp_min(0).sqrt()
        c = torch.minimum(c, self.s[u])
        return self.a[u] * x0 + (self.s[u] ** 2 - c**2).clamp_min(0).sqrt() * eps + c * _randn(z.shape, rng, z)


class EMA(nn.Module):
    """An exponential moving average of a module's parameters, kept as buffers (so it is saved
    and loaded with the generator's state dict, and no optimiser sees it)."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.names = [n for n, _ in module.named_parameters()]
        for i, p in enumerate(module.parameters()):
            self.register_buffer(f"p{i}", p.detach().clone())
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    def shadows(self) -> list[torch.Tensor]:
        return [getattr(self, f"p{i}") for i in range(len(self.names))]

    @torch.no_grad()
    def update(self, module: nn.Module, decay: float) -> None:
        """shadow <- d shadow + (1 - d) p, with the warm-up d = min(decay, (1 + n) / (10 + n))."""
        n = int(self.updates)
        d = min(decay, (1 + n) / (10 + n))
        for shadow, p in zip(self.shadows(), module.parameters()):
            shadow.lerp_(p.detach(), 1 - d)
        self.updates += 1

    @torch.no_grad()
    def copy_to(self, module: nn.Module) -> None:
        for shadow, p in zip(self.shadows(), module.parameters()):
            p.copy_(shadow)
