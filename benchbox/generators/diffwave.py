"""diffwave: unconditional waveform diffusion (Kong et al. 2021) with two backbones.

Legend: B batch, T time in samples, P prime samples, E step-embedding width.

``backbone = "wavenet"``: the paper's non-causal dilated convolutions
(:mod:`diffwave_wavenet`); ``backbone = "sashimi"``: SaShiMi's bidirectional S4 U-Net
(:mod:`diffwave_sashimi`, Goel et al. 2022). Both take the noisy clip (B, 1, T) and the step
embedding (B, E) and predict the diffusion target; the shared wrapper
(:mod:`benchbox.generators.diffusion`) owns the schedule, the loss, the samplers and the
inpainting, so the backbone is a config choice and nothing else.

The step embedding is DiffWave's: sinusoids of the integer step ``t`` (``t_frac * steps``),
128 wide, then two swish layers to 512. The clip is multiplied by ``data_scale`` before
diffusion (1 in the paper; footsteps sit far below full scale, so the CPU presets raise it).
Priming inpaints the first P samples (replacement, or RePaint with ``repaint_jumps``), and the
output's first P samples are then set to the prime itself, bit-exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from benchbox.generators import clip_rng
from benchbox.generators.diffusion_generator import DiffusionGenerator
from benchbox.generators.diffusion import EMA, Diffusion, DiffusionConfig
from benchbox.generators.diffwave_sashimi import SashimiDenoiser
from benchbox.generators.diffwave_wavenet import WaveNetDenoiser


@dataclass(frozen=True)
class DiffWaveConfig(DiffusionConfig):
    # the paper's diffusion: T = 200, linear betas 1e-4 .. 0.02, eps prediction, DDPM sampling
    steps: int = 200
    schedule: Literal["cosine", "linear"] = "linear"
    zero_terminal_snr: bool = False
    target: Literal["eps", "x0", "v"] = "eps"
    sampling_steps: int = 200
    backbone: Literal["wavenet", "sashimi"] = "wavenet"
    data_scale: float = 1.0
    embed_in: int = 128
    embed_mid: int = 512
    embed_out: int = 512
    # wavenet backbone
    channels: int = 64
    skip_channels: int = 64
    layers: int = 12
    dilation_cycle: int = 12
    # sashimi backbone
    d_model: int = 64
    n_layers: int = 2
    pool: tuple[int, ...] = (4, 4)
    expand: int = 2
    ff: int = 2
    unet: bool = True
    d_state: int = 64
    kernel: Literal["s4d", "dplr"] = "s4d"
    init: Literal["lin", "inv", "legs"] = "legs"
    dt_min: float = 1e-3
    dt_max: float = 1e-1
    lr_ssm: float = 1e-3

    def __post_init__(self):
        super().__post_init__()
        if self.data_scale <= 0:
            raise ValueError(f"data_scale must be > 0, got {self.data_scale}")


class StepEmbedding(nn.Module):
    """(B,) t in [0, 1] -> (B, E): sinusoids of the integer step, then two swish layers."""

    def __init__(self, steps: int, dim_in: int, dim_mid: int, dim_out: int):
        super().__init__()
        self.steps, self.dim_in = steps, dim_in
        self.fc1, self.fc2 = nn.Linear(dim_in, dim_mid), nn.Linear(dim_mid, dim_out)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim_in // 2
        freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device) / max(half - 1, 1))  # (E_in/2,)
        args = (t.float() * self.steps)[:, None] * freqs[None]  # (B, E_in/2)
        emb = torch.cat([torch.sin(args), torch.cos(args)], dim=-1)  # (B, E_in)
        return F.silu(self.fc2(F.silu(self.fc1(emb))))


class DiffWaveNet(nn.Module):
    """The trained part: step embedding + backbone, ``(z (B, 1, T), t (B,)) -> (B, 1, T)``."""

    def __init__(self, c: DiffWaveConfig):
        super().__init__()
        self.embed = StepEmbedding(c.steps, c.embed_in, c.embed_mid, c.embed_out)
        if c.backbone == "wavenet":
            self.backbone = WaveNetDenoiser(c.channels, c.skip_channels, c.layers, c.dilation_cycle, c.embed_out)
        else:
            s4 = {"d_state": c.d_state, "kernel": c.kernel, "init": c.init, "dt_min": c.dt_min, "dt_max": c.dt_max}
            self.backbone = SashimiDenoiser(c.d_model, c.n_layers, c.pool, c.expand, c.ff, c.unet, c.embed_out, s4)

    def forward(self, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.backbone(z, self.embed(t))


class DiffWave(DiffusionGenerator):
    name = "diffwave"
    config_class = DiffWaveConfig
    capabilities = frozenset({"prime"})

    def __init__(self, config: DiffWaveConfig):
        super().__init__(config)
        self.net = DiffWaveNet(config)
        self.diffusion = Diffusion(config)
        self.ema = EMA(self.net)

    @property
    def multiple(self) -> int:
        """Clip lengths are padded to a multiple of this (the SaShiMi pools)."""
        return math.prod(self.config.pool) if self.config.backbone == "sashimi" else 1

    def _pad(self, waves: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, 1, T')
        length = waves.shape[1]
        padded = -(-length // self.multiple) * self.multiple
        return F.pad(waves, (0, padded - length))[:, None, :]

    def loss(self, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Diffusion loss on ``batch.waves`` (B, T) x data_scale; randomness from the global RNG."""
        return self.diffusion.loss(self.denoiser(), self._pad(batch.waves.float()) * self.config.data_scale)

    def _generate(self, n: int, length: int, prime: torch.Tensor | None, rng: clip_rng.Rng, sampling_steps: int | None = None) -> torch.Tensor:
        scale = self.config.data_scale
        padded = -(-length // self.multiple) * self.multiple
        device = self.diffusion.abar.device
        known = mask = None
        if prime is not None and prime.shape[1] == 0:
            prime = None
        if prime is not None:
            prime = prime.to(device=device, dtype=torch.float32)
            known = self._pad(F.pad(prime, (0, length - prime.shape[1]))) * scale  # (n, 1, T')
            mask = (torch.arange(padded, device=device) < prime.shape[1]).view(1, 1, -1)
        x = self.diffusion.sample(self.denoiser(), (n, 1, padded), rng=rng, device=device, known=known, mask=mask, x0_range=(-scale, scale),
                                  sampling_steps=sampling_steps)  # (n, 1, T')
        out = (x[:, 0, :length] / scale).clamp(-1.0, 1.0)
        if prime is not None:
            out[:, : prime.shape[1]] = prime
        return out

    def param_groups(self, lr: float, weight_decay: float) -> list[dict]:
        """SSM A, B, dt (sashimi backbone): lr_ssm and no weight decay; the rest as in the base class."""
        ssm = self.net.backbone.ssm_parameters() if self.config.backbone == "sashimi" else []
        ids = {id(p) for p in ssm}
        decay, no_decay = [], []
        for p in self.parameters():
            if p.requires_grad and id(p) not in ids:
                (decay if p.dim() >= 2 else no_decay).append(p)
        groups = [{"params": decay, "lr": lr, "weight_decay": weight_decay}, {"params": no_decay, "lr": lr, "weight_decay": 0.0}]
        return groups + ([{"params": ssm, "lr": self.config.lr_ssm, "weight_decay": 0.0}] if ssm else [])

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())
