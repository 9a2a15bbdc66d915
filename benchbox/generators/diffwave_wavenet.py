"""DiffWave's denoiser: a non-causal dilated-convolution WaveNet (Kong et al. 2021, Fig. 2).

Legend: B batch, T time in samples, C residual channels, S skip channels, E step-embedding
width (``embed_out``), L residual layers.

::

    h = relu(conv1x1(z))                                    (B, C, T)
    for layer l (dilation 2^(l mod cycle)):
        y = dilated_conv3(h + fc_l(temb))                   (B, 2C, T), centred (non-causal)
        y = tanh(y[:C]) * sigmoid(y[C:])                    (B, C, T)
        h = (h + res_l(y)) / sqrt 2;  skip += skip_l(y)     (B, S, T)
    out = conv1x1_zero(relu(conv1x1(skip / sqrt L)))        (B, 1, T)

The receptive field is ``1 + 2 sum_l 2^(l mod cycle)`` samples. The step embedding ``temb``
(B, E) comes from :func:`benchbox.generators.diffwave.StepEmbedding`.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class ResidualLayer(nn.Module):
    def __init__(self, channels: int, skip_channels: int, dilation: int, embed_dim: int):
        super().__init__()
        self.step = nn.Linear(embed_dim, channels)
        self.dilated = nn.Conv1d(channels, 2 * channels, 3, dilation=dilation, padding=dilation)
        self.res = nn.Conv1d(channels, channels, 1)
        self.skip = nn.Conv1d(channels, skip_channels, 1)
        for conv in (self.dilated, self.res, self.skip):
            nn.init.kaiming_normal_(conv.weight)

    def forward(self, h: torch.Tensor, temb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # (B, C, T), (B, E)
        y = self.dilated(h + self.step(temb)[:, :, None])  # (B, 2C, T)
        gate, filt = y.chunk(2, dim=1)
        y = torch.tanh(gate) * torch.sigmoid(filt)  # (B, C, T)
        return (h + self.res(y)) * math.sqrt(0.5), self.skip(y)  # (B, C, T), (B, S, T)


class WaveNetDenoiser(nn.Module):
    """``(z (B, 1, T), temb (B, E)) -> (B, 1, T)``."""

    def __init__(self, channels: int, skip_channels: int, layers: int, dilation_cycle: int, embed_dim: int):
        super().__init__()
        self.inp = nn.Conv1d(1, channels, 1)
        self.layers = nn.ModuleList(ResidualLayer(channels, skip_channels, 2 ** (i % dilation_cycle), embed_dim) for i in range(layers))
        self.out = nn.Conv1d(skip_channels, skip_channels, 1)
        self.final = nn.Conv1d(skip_channels, 1, 1)
        nn.init.zeros_(self.final.weight)
        nn.init.zeros_(self.final.bias)
        self.receptive_field = 1 + 2 * sum(2 ** (i % dilation_cycle) for i in range(layers))

    def forward(self, z: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:  # (B, 1, T), (B, E) -> (B, 1, T)
        h = torch.relu(self.inp(z))  # (B, C, T)
        skip = 0.0
        for layer in self.layers:
            h, s = layer(h, temb)
            skip = skip + s  # (B, S, T)
        skip = skip * math.sqrt(1.0 / len(self.layers))
        return self.final(torch.relu(self.out(skip)))
