"""A small strided 1-D U-Net denoiser over a time-frequency grid (the backbone of ``specdiff``).

Legend: B batch, M mel bands (input channels), F frames, C channels of a level, E time
embedding width, L levels.

The grid's bands are channels and its frames the sequence: each level is ``blocks`` residual
blocks at width C_l, then a stride-2 convolution halves F; the way up mirrors it with the
skips concatenated. The centre has one multi-head self-attention over its F / 2^(L-1) frames.
The noise level enters every block as a scale and shift (FiLM) of its normalised activations,
and the frame position (-1 .. 1) enters as one extra input channel, so the net knows where
the onset belongs. The output convolution starts at zero (the first prediction is 0)::

    h = conv_in([z, pos])                          (B, C_0, F)
    down:  h = blocks_l(h, temb); skip_l = h; h = down_l(h)    (B, C_l, F / 2^l)
    centre: block, attention, block
    up:    h = blocks_l([h, skip_l], temb); h = up_l(h)
    out = conv_out(silu(norm(h)))                  (B, M, F)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

TIME_SCALE = 1000.0  # t in [0, 1] -> sinusoid positions in [0, 1000], as in DDPM's integer steps
MAX_GROUPS = 8


@dataclass(frozen=True)
class UNetConfig:
    channels: tuple[int, ...] = (128, 192, 256)  # C_l per level
    blocks: int = 2  # residual blocks per level
    time_dim: int = 128  # E
    heads: int = 4  # attention heads at the centre (0: no attention)
    dropout: float = 0.1


def groups(channels: int) -> int:
    return math.gcd(channels, MAX_GROUPS)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """(B,) noise level t in [0, 1] -> (B, dim) sinusoids (Transformer positions of 1000 t)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)  # (dim/2,)
    args = TIME_SCALE * t.float()[:, None] * freqs[None]  # (B, dim/2)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    """norm -> SiLU -> conv3 -> FiLM(t) -> SiLU -> dropout -> conv3, plus a (1x1) skip."""

    def __init__(self, c_in: int, c_out: int, time_dim: int, dropout: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups(c_in), c_in)
        self.conv1 = nn.Conv1d(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(time_dim, 2 * c_out)
        self.norm2 = nn.GroupNorm(groups(c_out), c_out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv1d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:  # (B, C_in, F), (B, E) -> (B, C_out, F)
        h = self.conv1(F.silu(self.norm1(x)))  # (B, C_out, F)
        scale, shift = self.film(temb)[:, :, None].chunk(2, dim=1)  # (B, C_out, 1) x 2
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return h + self.skip(x)


class Attention(nn.Module):
    """Pre-norm multi-head self-attention over frames, residual."""

    def __init__(self, channels: int, heads: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups(channels), channels)
        self.attn = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, F) -> (B, C, F)
        h = self.norm(x).transpose(1, 2)  # (B, F, C)
        return x + self.attn(h, h, h, need_weights=False)[0].transpose(1, 2)


class UNet1d(nn.Module):
    """Denoiser ``(z (B, M, F), t (B,)) -> (B, M, F)`` (see the module docstring)."""

    def __init__(self, bands: int, cfg: UNetConfig):
        super().__init__()
        ch, e = cfg.channels, cfg.time_dim
        self.time_dim = e
        self.time_mlp = nn.Sequential(nn.Linear(e, 4 * e), nn.SiLU(), nn.Linear(4 * e, e))
        self.conv_in = nn.Conv1d(bands + 1, ch[0], 3, padding=1)  # + the frame-position channel
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skips = []
        for i, c in enumerate(ch):
            c_prev = ch[max(i - 1, 0)]
            self.down.append(nn.ModuleList(ResBlock(c_prev if j == 0 else c, c, e, cfg.dropout) for j in range(cfg.blocks)))
            skips.append(c)
            last = i == len(ch) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv1d(c, c, 3, stride=2, padding=1))
        self.mid1 = ResBlock(ch[-1], ch[-1], e, cfg.dropout)
        self.attn = Attention(ch[-1], cfg.heads) if cfg.heads else nn.Identity()
        self.mid2 = ResBlock(ch[-1], ch[-1], e, cfg.dropout)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i in reversed(range(len(ch))):  # level i: [h, skip_i] (2 C_i) -> C_i, then up to level i - 1
            self.up.append(nn.ModuleList(ResBlock(2 * ch[i] if j == 0 else ch[i], ch[i], e, cfg.dropout) for j in range(cfg.blocks)))
            self.upsample.append(nn.ConvTranspose1d(ch[i], ch[i - 1], 4, stride=2, padding=1) if i > 0 else nn.Identity())
        self.norm_out = nn.GroupNorm(groups(ch[0]), ch[0])
        self.conv_out = nn.Conv1d(ch[0], bands, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)
        self.stride = 2 ** (len(ch) - 1)

    def forward(self, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # (B, M, F), (B,) -> (B, M, F)
        batch, _, frames = z.shape
        if frames % self.stride:
            raise ValueError(f"frames ({frames}) must be a multiple of {self.stride} for this U-Net")
        temb = self.time_mlp(timestep_embedding(t, self.time_dim))  # (B, E)
        pos = torch.linspace(-1.0, 1.0, frames, device=z.device, dtype=z.dtype).expand(batch, 1, frames)  # (B, 1, F)
        h = self.conv_in(torch.cat([z, pos], dim=1))  # (B, C_0, F)
        skips = []
        for blocks, down in zip(self.down, self.downsample):
            for block in blocks:
                h = block(h, temb)
            skips.append(h)
            h = down(h)  # (B, C_l, F / 2^(l+1)) except at the last level
        h = self.mid2(self.attn(self.mid1(h, temb)), temb)
        for blocks, up in zip(self.up, self.upsample):
            h = torch.cat([h, skips.pop()], dim=1)  # (B, 2 C_l, F / 2^l)
            for block in blocks:
                h = block(h, temb)
            h = up(h)  # (B, C_(l-1), F / 2^(l-1)) except at level 0
        return self.conv_out(F.silu(self.norm_out(h)))  # (B, M, F)
