"""SaShiMi as DiffWave's denoiser (Goel et al. 2022, Sec. 4.3; albertfgu/diffwave-sashimi).

Legend: B batch, T time in samples, H width of a tier, p pool factor, E step-embedding
width, n layers per stack.

A non-causal U-Net of bidirectional S4 blocks::

    x = relu(conv1x1(z))                                          (B, H0, T)
    down, per tier: [unet: n blocks]; skip; x = down_pool(x)      (B, H*expand, T/p)
    centre: n blocks; x = x + (its input)
    up, per tier:   x = up_pool(x) + skip; n blocks, each + its own down-path twin (unet)
    out = conv1x1_zero(relu(conv1x1(norm(x))))                    (B, 1, T)

A block is ``x + S4bi(norm(x) + fc(temb))`` then ``x + FF(norm(x))``. The bidirectional S4
convolves the sequence with one kernel forwards and a second kernel backwards in time
(``y = K_f * u + flip(K_b * flip(u)) + D u``), then GELU and a GLU output mix, as in the
official code. Pooling folds p steps into the channels (non-causal: no shift). Departure:
the official ``TransposedLN`` (one scalar gain and bias) is a per-channel ``LayerNorm`` here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from benchbox.generators import ops
from benchbox.generators.s4 import DPLRKernel, S4DKernel, fft_conv


class BiS4(nn.Module):
    """``(B, T, H) -> (B, T, H)``: forward + backward SSM convolutions, skip D, GELU, GLU mix."""

    def __init__(self, width: int, d_state: int, kernel: str, init: str, dt_min: float, dt_max: float):
        super().__init__()
        kernel_class = S4DKernel if kernel == "s4d" else DPLRKernel
        self.forward_kernel = kernel_class(width, d_state, init, dt_min, dt_max)
        self.backward_kernel = kernel_class(width, d_state, init, dt_min, dt_max)
        self.D = nn.Parameter(torch.randn(width))  # (H,)
        self.out = nn.Linear(width, 2 * width)

    def forward(self, u: torch.Tensor) -> torch.Tensor:  # (B, T, H)
        length = u.shape[1]
        y = fft_conv(u, self.forward_kernel(length)) + fft_conv(u.flip(1), self.backward_kernel(length)).flip(1)  # (B, T, H)
        return F.glu(self.out(ops.gelu(y + u * self.D)), dim=-1)

    def ssm_parameters(self) -> list[nn.Parameter]:
        return self.forward_kernel.ssm_parameters() + self.backward_kernel.ssm_parameters()


class Block(nn.Module):
    """One residual S4 layer and one residual feed-forward layer, with the step embedding."""

    def __init__(self, width: int, embed_dim: int, ff: int, s4: dict):
        super().__init__()
        self.step = nn.Linear(embed_dim, width)
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.s4 = BiS4(width, **s4)
        self.ff = nn.Sequential(nn.Linear(width, ff * width), nn.GELU(), nn.Linear(ff * width, width)) if ff else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:  # (B, T, H), (B, E) -> (B, T, H)
        x = x + self.s4(self.norm1(x) + self.step(temb)[:, None, :])
        return x + self.ff(self.norm2(x)) if self.ff is not None else x


class SashimiDenoiser(nn.Module):
    """``(z (B, 1, T), temb (B, E)) -> (B, 1, T)``; T must be a multiple of prod(pool)."""

    def __init__(self, d_model: int, n_layers: int, pool: tuple[int, ...], expand: int, ff: int, unet: bool, embed_dim: int, s4: dict):
        super().__init__()
        self.pool, self.unet = tuple(pool), unet
        widths = [d_model * expand**i for i in range(len(pool) + 1)]
        stack = lambda w: nn.ModuleList(Block(w, embed_dim, ff, s4) for _ in range(n_layers))  # noqa: E731
        self.inp = nn.Linear(1, d_model)
        self.down_stacks = nn.ModuleList(stack(w) for w in widths[:-1]) if unet else None
        self.down_pools = nn.ModuleList(nn.Linear(w * p, w2) for w, w2, p in zip(widths, widths[1:], pool))
        self.center = stack(widths[-1])
        self.up_pools = nn.ModuleList(nn.Linear(w2, w * p) for w, w2, p in zip(widths, widths[1:], pool))
        self.up_stacks = nn.ModuleList(stack(w) for w in widths[:-1])
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, d_model)
        self.final = nn.Linear(d_model, 1)
        nn.init.zeros_(self.final.weight)
        nn.init.zeros_(self.final.bias)

    def forward(self, z: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:  # (B, 1, T), (B, E) -> (B, 1, T)
        batch = z.shape[0]
        x = torch.relu(self.inp(z.transpose(1, 2)))  # (B, T, H0)
        skips, twins = [], []
        for i, p in enumerate(self.pool):
            if self.down_stacks is not None:
                for block in self.down_stacks[i]:
                    twins.append(x)
                    x = block(x, temb)
            skips.append(x)
            x = self.down_pools[i](x.reshape(batch, x.shape[1] // p, p * x.shape[2]))  # (B, T/p, H*expand)
        centre_in = x
        for block in self.center:
            x = block(x, temb)
        x = x + centre_in
        for i in reversed(range(len(self.pool))):
            x = self.up_pools[i](x).reshape(batch, skips[i].shape[1], -1) + skips[i]  # (B, T, H)
            for block in self.up_stacks[i]:
                x = block(x, temb)
                if self.unet:
                    x = x + twins.pop()
        return self.final(torch.relu(self.out(self.norm(x)))).transpose(1, 2)  # (B, 1, T)

    def ssm_parameters(self) -> list[nn.Parameter]:
        return [p for m in self.modules() if isinstance(m, BiS4) for p in m.ssm_parameters()]
