"""The WaveGAN generator network (Donahue et al. 2019) with the upsampling options of
:mod:`benchbox.generators.wavegan`, whose docstring describes the model and its training.

Legend: B batch, Z latent size, C channels, L length at a generator layer, P ``post_channels``,
T = 8192 samples (0.512 s at 16 kHz), N filter taps.

z (B, Z) -> linear -> (B, C0, L0 = T / 4^5 = 8) -> 5 x [:class:`Upsample` x4 -> (BN) -> ReLU]
-> tanh -> (B, T); with ``post_channels`` = P > 0 the last layer makes P channels at the output
rate, then BN, (+ ``post_noise``), ReLU and a conv to 1 channel before the tanh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from benchbox.errors import GeneratorError

if TYPE_CHECKING:
    from benchbox.generators.wavegan import WaveGANConfig

UPSAMPLE = 4  # per generator layer; 5 layers: 8 -> 8192
SINC_HALF_TAPS = 24  # the anti-imaging filter has 2 x 24 + 1 = 49 taps at the higher rate
SINC_ATTEN_DB = 60.0  # its Kaiser window's design stopband attenuation


def kaiser_lowpass(factor: int = UPSAMPLE, half_taps: int = SINC_HALF_TAPS, atten_db: float = SINC_ATTEN_DB) -> torch.Tensor:
    """(2 half_taps + 1,) the anti-imaging filter of x``factor`` upsampling: a sinc low-pass at
    the lower rate's Nyquist (1 / (2 factor) cycles per output sample), Kaiser-windowed
    (Kaiser 1974: beta from the attenuation), with DC gain ``factor`` so that zero-stuffing then
    filtering keeps a slow signal's level (StyleGAN3, Karras et al. 2021, Sec. 3.2 and App. C;
    Pons et al. 2021). With 49 taps at x4 the passband is flat to about 0.35 of the lower
    rate and the stopband starts at about 0.65 of it."""
    if atten_db <= 50:
        raise ValueError("kaiser_lowpass is designed for attenuations above 50 dB")
    n = torch.arange(-half_taps, half_taps + 1, dtype=torch.float64)  # (N,)
    cutoff = 0.5 / factor  # cycles per output sample
    beta = 0.1102 * (atten_db - 8.7)  # Kaiser's rule for attenuations above 50 dB
    window = torch.special.i0(beta * torch.sqrt(1 - (n / half_taps) ** 2)) / torch.special.i0(torch.tensor(beta, dtype=torch.float64))
    h = 2 * cutoff * torch.sinc(2 * cutoff * n) * window  # (N,)
    return (factor * h / h.sum()).float()


def sinc_upsample(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """(B, C, L) -> (B, C, 4 L): zero-stuffing then the fixed low-pass ``kernel`` (N,) centred
    on each input sample, out[n] = sum_m x[m] kernel[n - 4 m + N // 2], as one grouped
    transposed conv (stride 4) instead of a conv over the 3/4 zeros."""
    c, taps = x.shape[1], kernel.numel()
    half = taps // 2  # length (L - 1) 4 - 2 half + N + out_pad = 4 L  ->  out_pad = 3 for N = 2 half + 1
    weight = kernel.to(x.dtype).view(1, 1, taps).expand(c, 1, taps)  # (C, 1, N): one filter per channel
    return F.conv_transpose1d(x, weight, stride=UPSAMPLE, padding=half, output_padding=UPSAMPLE - 1, groups=c)


class Upsample(nn.Module):
    """(B, C_in, L) -> (B, C_out, 4 L): a transposed conv (WaveGAN), or x4 upsampling (nearest,
    linear, or zero-stuffing + the fixed Kaiser sinc of :func:`kaiser_lowpass`) then a conv."""

    def __init__(self, c_in: int, c_out: int, mode: str, kernel: int):
        super().__init__()
        self.mode = mode
        if mode == "transposed":  # (L - 1) 4 - 2 pad + k + out_pad = 4 L: k 25 -> pad 11, out_pad 1; k 24 -> pad 10, 0
            pad = (kernel - UPSAMPLE + 1) // 2
            self.conv = nn.ConvTranspose1d(c_in, c_out, kernel, UPSAMPLE, padding=pad, output_padding=2 * pad + UPSAMPLE - kernel)
        else:  # "same" conv after the x4 upsampling (odd kernels)
            self.conv = nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2)
        if mode == "sinc":  # fixed, not learned: a buffer (saved, moved with the model, never optimised)
            self.register_buffer("lowpass", kaiser_lowpass(), persistent=False)  # (49,)

    def resample(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, L) -> (B, C, 4 L), no learned weights
        if self.mode == "sinc":
            return sinc_upsample(x, self.lowpass)
        if self.mode == "linear":  # align_corners=False: every output phase a fixed blend of two inputs
            return F.interpolate(x, scale_factor=UPSAMPLE, mode="linear", align_corners=False)
        return F.interpolate(x, scale_factor=UPSAMPLE, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode != "transposed":
            x = self.resample(x)  # (B, C_in, 4 L)
        return self.conv(x)  # (B, C_out, 4 L)


class WaveGANGenerator(nn.Module):
    def __init__(self, cfg: WaveGANConfig):
        super().__init__()
        self.cfg = cfg
        c0, l0 = cfg.channels[0], cfg.base_length
        self.fc = nn.Linear(cfg.latent_dim, c0 * l0)
        self.bn0 = nn.BatchNorm1d(c0) if cfg.batchnorm else nn.Identity()
        self.label = nn.Embedding(cfg.n_classes, l0) if cfg.n_classes else None
        widths = [c0 + (1 if self.label is not None else 0), *cfg.channels[1:], cfg.post_channels or 1]
        modes = [cfg.upsample] * (len(widths) - 2) + [cfg.last_upsample or cfg.upsample]
        self.ups = nn.ModuleList([Upsample(a, b, mode, cfg.kernel) for a, b, mode in zip(widths[:-1], widths[1:], modes)])
        n_bn = len(widths) - (1 if cfg.post_channels else 2)  # every layer but a last 1-channel one
        self.bns = nn.ModuleList([nn.BatchNorm1d(b) if cfg.batchnorm else nn.Identity() for b in widths[1:][:n_bn]])
        self.post = nn.Conv1d(cfg.post_channels, 1, cfg.kernel, padding=cfg.kernel // 2) if cfg.post_channels else None
        self.noise_scale = nn.Parameter(torch.full((cfg.post_channels, 1), cfg.post_noise)) if cfg.post_noise else None  # (P, 1)
        for m in self.modules():  # TensorFlow's defaults, as the original WaveGAN
            if isinstance(m, (nn.Linear, nn.Conv1d, nn.ConvTranspose1d)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        if cfg.icnr:
            for up in self.ups:
                icnr_(up.conv.weight)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, noise: torch.Tensor | None = None) -> torch.Tensor:
        """(B, Z) latents -> (B, T) clips; ``noise`` (B, P, T) is the output-rate noise input
        (with ``post_noise``; drawn from the global RNG when not given)."""
        x = self.fc(z).view(z.shape[0], self.cfg.channels[0], self.cfg.base_length)  # (B, C0, L0)
        x = self._act(self.bn0(x))
        if self.label is not None:
            if labels is None:
                raise GeneratorError("this wavegan is class-conditional: pass labels", hint="or train with model.n_classes = 0")
            x = torch.cat([x, self.label(labels).unsqueeze(1)], dim=1)  # (B, C0 + 1, L0)
        for i, up in enumerate(self.ups):
            x = up(x)  # (B, C_{i+1}, L0 4^(i+1))
            if i < len(self.bns):
                x = self.bns[i](x)
                if self.noise_scale is not None and i == len(self.ups) - 1:  # output rate: broadband detail as noise (StyleGAN, Karras et al. 2019)
                    x = self._noisy_relu(x, noise)  # (B, P, T)
                else:
                    last = self.cfg.last_relu_slope > 0 and i == len(self.bns) - 1  # the layer the output conv reads
                    x = F.leaky_relu(x, self.cfg.last_relu_slope) if last else self._act(x)  # (B, C, L)
        if self.post is not None:
            x = self.post(x)  # (B, 1, T)
        return torch.tanh(x).squeeze(1)  # (B, T)

    def _act(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, L) -> (B, C, L)
        return F.leaky_relu(x, self.cfg.relu_slope) if self.cfg.relu_slope > 0 else F.relu(x)

    def _noisy_relu(self, x: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:  # (B, P, T) -> (B, P, T)
        noise = torch.randn_like(x) if noise is None else noise.to(x)  # (B, P, T)
        if self.cfg.post_noise_mode == "mul":  # noise modulated by the content: exact silence stays silent
            return F.relu(x) * (1 + self.noise_scale * noise)
        return F.relu(x + self.noise_scale * noise)


@torch.no_grad()
def icnr_(weight: torch.Tensor) -> None:
    """ICNR initialisation (Aitken et al. 2017) of a stride-4 transposed conv, (C_in, C_out, k)
    with k a multiple of 4: every output phase gets the same k/4 taps, so at initialisation the
    layer is nearest-neighbour upsampling then a conv, and a constant input gives a constant
    output instead of an fs/4 checkerboard tone."""
    c_in, c_out, k = weight.shape
    base = torch.empty(c_in, c_out, k // UPSAMPLE)
    nn.init.xavier_uniform_(base)
    weight.copy_(base.repeat_interleave(UPSAMPLE, dim=-1))  # w[..., 4 i + j] = base[..., i]
