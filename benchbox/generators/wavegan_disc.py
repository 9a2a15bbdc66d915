"""Discriminators for the WaveGAN generator, and the adversarial losses they are trained with.

Legend: B batch, T time in samples, C channels, p period, K classes (surface labels).

* :class:`MultiPeriodDiscriminator` (HiFi-GAN, Kong et al. 2020): one 2-D conv stack per
  period p, each reading the clip folded to (T / p, p), so it sees every p-th sample.
* :class:`MultiScaleDiscriminator` (HiFi-GAN, after MelGAN): 1-D grouped-conv stacks on the
  clip at 1x, 1/2x and 1/4x rate (average pooling between scales).
* :class:`MultiResolutionSpectrogramDiscriminator` (UnivNet, Jang et al. 2021): one 2-D conv
  stack per STFT resolution, reading the clip's log-compressed magnitude spectrogram, so it
  sees a fixed spectral ripple or line that the waveform discriminators let through.
* :class:`WaveGANDiscriminator` (Donahue et al. 2019): five strided 1-D convs with phase
  shuffle, then one linear score; trained with WGAN-GP (the plain-WaveGAN ablation).

Every discriminator returns ``(scores, feature_maps)``: a list with one score tensor per
sub-discriminator and a list of their intermediate activations (for feature matching).
Widths are set by ``channels`` so the same code runs at the paper's sizes (GPU) and at a
width that trains on one CPU core. With ``n_classes > 0`` each sub-discriminator also
reads a learned per-class waveform-length embedding as a second input channel (as in
Comunità et al. 2022); labels are then required.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrizations

LRELU_SLOPE = 0.1  # HiFi-GAN
WAVEGAN_LRELU_SLOPE = 0.2  # WaveGAN
MRD_GAIN = 100.0  # spectrogram discriminator input: log(1 + 100 |X|), |X| of a clip in [-1, 1]
Scores = list[torch.Tensor]
FeatureMaps = list[torch.Tensor]


def _norm(module: nn.Module, kind: str) -> nn.Module:
    if kind == "spectral":
        return parametrizations.spectral_norm(module)
    if kind == "weight":
        return parametrizations.weight_norm(module)
    return module


def minibatch_std(x: torch.Tensor, batch: int) -> torch.Tensor:
    """ProGAN's minibatch standard deviation (Karras et al. 2018): append one channel holding the
    std over the batch, averaged over channels and time, so a discriminator can see a batch
    of generated clips that are too alike. x (B m, C, L) with m rows per clip -> (B m, C + 1, L)."""
    rows = x.view(batch, -1, *x.shape[1:])  # (B, m, C, L)
    std = (rows.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()  # scalar
    return torch.cat([x, std.expand(x.shape[0], 1, x.shape[2])], dim=1)  # (B m, C + 1, L)


class LabelChannel(nn.Module):
    """Labels (B,) -> a learned (B, 1, T) channel to concatenate with the clip (no-op when K = 0)."""

    def __init__(self, n_classes: int, length: int):
        super().__init__()
        self.embed = nn.Embedding(n_classes, length) if n_classes > 0 else None

    @property
    def extra(self) -> int:
        return 0 if self.embed is None else 1

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:  # (B, 1, T) -> (B, 1 or 2, T)
        if self.embed is None:
            return x
        if labels is None:
            raise ValueError("a class-conditional discriminator needs labels")
        emb = self.embed(labels).unsqueeze(1)[..., : x.shape[-1]]  # (B, 1, T)
        return torch.cat([x, emb], dim=1)


class PeriodDiscriminator(nn.Module):
    """Every p-th sample: (B, C, T) -> folded (B, C, T/p, p) -> convs along T/p only.

    HiFi-GAN writes these as 2-D convs with (k, 1) kernels; the same maps are computed here
    as 1-D convs over the p phases stacked into the batch, (B p, C, T/p), which is about
    twice as fast on a CPU."""

    def __init__(self, period: int, channels: Sequence[int], in_channels: int, norm: str, kernel: int = 5, stride: int = 3, mbstd: bool = False):
        super().__init__()
        self.period, self.mbstd = period, mbstd
        widths = [in_channels, *channels]
        layers = []
        for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:])):
            s = 1 if i == len(channels) - 1 else stride  # the last conv keeps the length (HiFi-GAN)
            layers.append(_norm(nn.Conv1d(c_in, c_out, kernel, s, padding=kernel // 2), norm))
        self.convs = nn.ModuleList(layers)
        self.post = _norm(nn.Conv1d(widths[-1] + mbstd, 1, 3, 1, padding=1), norm)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, FeatureMaps]:  # (B, C, T) -> (B, p T''), maps
        b, c, t = x.shape
        p = self.period
        if t % p:
            x = F.pad(x, (0, p - t % p), mode="reflect")
            t += p - t % p
        x = x.view(b, c, t // p, p).permute(0, 3, 1, 2).reshape(b * p, c, t // p)  # (B p, C, T/p)
        maps = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)  # (B p, C_i, T/p/3^i)
            maps.append(x)
        if self.mbstd:
            x = minibatch_std(x, b)  # (B p, C + 1, T'')
        x = self.post(x)  # (B p, 1, T'')
        maps.append(x)
        return x.reshape(b, -1), maps


class ScaleDiscriminator(nn.Module):
    """MelGAN/HiFi-GAN scale discriminator: (B, C, T) -> grouped strided 1-D convs -> (B, T')."""

    def __init__(self, channels: Sequence[int], in_channels: int, norm: str, kernel: int = 41, groups: int = 16, mbstd: bool = False):
        super().__init__()
        self.mbstd = mbstd
        # (out width, kernel, stride, groups) per layer, as HiFi-GAN's DiscriminatorS with its
        # 128..1024 widths replaced by ``channels`` (6 widths: c0 .. c5).
        c = list(channels)
        k = kernel
        spec = [(c[0], 15, 1, 1), (c[1], k, 2, 4), (c[2], k, 2, groups), (c[3], k, 4, groups), (c[4], k, 4, groups), (c[5], k, 1, groups), (c[5], 5, 1, 1)]
        layers, c_in = [], in_channels
        for c_out, k, s, g in spec:
            g = max(1, min(g, c_in, c_out))
            while c_in % g or c_out % g:
                g -= 1
            layers.append(_norm(nn.Conv1d(c_in, c_out, k, s, groups=g, padding=k // 2), norm))
            c_in = c_out
        self.convs = nn.ModuleList(layers)
        self.post = _norm(nn.Conv1d(c_in + mbstd, 1, 3, 1, padding=1), norm)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, FeatureMaps]:  # (B, C, T) -> (B, T'), maps
        maps = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)  # (B, C_i, T_i)
            maps.append(x)
        if self.mbstd:
            x = minibatch_std(x, x.shape[0])  # (B, C + 1, T')
        x = self.post(x)  # (B, 1, T')
        maps.append(x)
        return x.flatten(1), maps


class MultiPeriodDiscriminator(nn.Module):
    def __init__(self, periods: Sequence[int], channels: Sequence[int], length: int, n_classes: int = 0, norm: str = "weight", mbstd: bool = False):
        super().__init__()
        self.labels = nn.ModuleList([LabelChannel(n_classes, length) for _ in periods])
        self.discs = nn.ModuleList([PeriodDiscriminator(p, channels, 1 + lab.extra, norm, mbstd=mbstd) for p, lab in zip(periods, self.labels)])

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[Scores, FeatureMaps]:  # x (B, 1, T)
        scores, maps = [], []
        for lab, disc in zip(self.labels, self.discs):
            s, m = disc(lab(x, labels))
            scores.append(s)
            maps.extend(m)
        return scores, maps


class MultiScaleDiscriminator(nn.Module):
    """``n_scales`` scale discriminators on x, avgpool(x), avgpool(avgpool(x)); the first uses
    spectral norm (HiFi-GAN), the others ``norm``."""

    def __init__(self, n_scales: int, channels: Sequence[int], length: int, n_classes: int = 0, norm: str = "weight", kernel: int = 41, groups: int = 16, mbstd: bool = False):
        super().__init__()
        lengths = [length // 2**i for i in range(n_scales)]
        self.labels = nn.ModuleList([LabelChannel(n_classes, n) for n in lengths])
        self.discs = nn.ModuleList(
            [ScaleDiscriminator(channels, 1 + lab.extra, "spectral" if i == 0 else norm, kernel, groups, mbstd) for i, lab in enumerate(self.labels)]
        )
        self.pool = nn.AvgPool1d(4, 2, padding=2)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[Scores, FeatureMaps]:  # x (B, 1, T)
        scores, maps = [], []
        for i, (lab, disc) in enumerate(zip(self.labels, self.discs)):
            if i:
                x = self.pool(x)[..., : x.shape[-1] // 2]  # (B, 1, T / 2^i)
            s, m = disc(lab(x, labels))
            scores.append(s)
            maps.extend(m)
        return scores, maps


class SpectrogramDiscriminator(nn.Module):
    """After UnivNet's resolution discriminator (Jang et al. 2021): (B, 1, T) -> |STFT|
    (B, 1, F, N) -> 2-D convs -> (B, F' N'), F = n_fft / 2 + 1.

    Departures from the paper, for a CPU budget and for what this benchmark measures: the
    magnitude is compressed as log(1 + ``MRD_GAIN`` |X|) (UnivNet reads |X|; aisfx and most
    embedders read log-mel power, where a ripple 30 dB down still shows); hop n_fft / 4 with a
    Hann window of n_fft and ``center=True`` (UnivNet: its own hops, shorter windows, reflect
    padding); the three middle convs stride (2, 2), halving frequency as well as frames
    (UnivNet: (1, 2)), which cut its cost by about half. Kernels (3, 9) over (frequency,
    frames), leaky ReLU 0.1. Its feature maps join feature matching beside MPD's and MSD's."""

    def __init__(self, n_fft: int, channels: int, norm: str, mbstd: bool = False):
        super().__init__()
        self.n_fft, self.hop, self.mbstd = n_fft, n_fft // 4, mbstd
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        c = channels
        spec = [(1, c, (3, 9), (1, 1)), (c, c, (3, 9), (2, 2)), (c, c, (3, 9), (2, 2)), (c, c, (3, 9), (2, 2)), (c, c, (3, 3), (1, 1))]
        self.convs = nn.ModuleList([_norm(nn.Conv2d(i, o, k, s, padding=(k[0] // 2, k[1] // 2)), norm) for i, o, k, s in spec])
        self.post = _norm(nn.Conv2d(c + mbstd, 1, (3, 3), padding=(1, 1)), norm)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, FeatureMaps]:  # (B, 1, T) -> (B, F' N'), maps
        b = x.shape[0]
        spec = torch.stft(x.squeeze(1), self.n_fft, self.hop, window=self.window, center=True, return_complex=True)  # (B, F, N)
        x = torch.log1p(MRD_GAIN * spec.abs()).unsqueeze(1)  # (B, 1, F, N), F = n_fft / 2 + 1, N = T / hop + 1
        maps = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)  # (B, C, F_i, N_i): F and N halve at each strided conv
            maps.append(x)
        if self.mbstd:
            c, f, n = x.shape[1:]
            x = minibatch_std(x.reshape(b, c, f * n), b).reshape(b, c + 1, f, n)  # (B, C + 1, F', N')
        x = self.post(x)  # (B, 1, F', N')
        maps.append(x)
        return x.flatten(1), maps


class MultiResolutionSpectrogramDiscriminator(nn.Module):
    """One :class:`SpectrogramDiscriminator` per FFT size in ``ffts`` (hop = n_fft / 4)."""

    def __init__(self, ffts: Sequence[int], channels: int, norm: str = "weight", mbstd: bool = False):
        super().__init__()
        self.discs = nn.ModuleList([SpectrogramDiscriminator(n, channels, norm, mbstd) for n in ffts])

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[Scores, FeatureMaps]:  # x (B, 1, T)
        scores, maps = [], []
        for disc in self.discs:
            s, m = disc(x)
            scores.append(s)
            maps.extend(m)
        return scores, maps


class HiFiGANDiscriminator(nn.Module):
    """MPD + MSD (+ MRD when ``mrd_ffts`` is not empty), as one discriminator whose score list
    is the concatenation of all of them."""

    def __init__(self, periods, mpd_channels, n_scales, msd_channels, length, n_classes=0, norm="weight", msd_kernel=41, msd_groups=16, mbstd=False, mrd_ffts=(), mrd_channels=32):
        super().__init__()
        self.mpd = MultiPeriodDiscriminator(periods, mpd_channels, length, n_classes, norm, mbstd)
        self.msd = MultiScaleDiscriminator(n_scales, msd_channels, length, n_classes, norm, msd_kernel, msd_groups, mbstd)
        self.mrd = MultiResolutionSpectrogramDiscriminator(mrd_ffts, mrd_channels, norm, mbstd) if mrd_ffts else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[Scores, FeatureMaps]:  # x (B, 1, T)
        s1, m1 = self.mpd(x, labels)
        s2, m2 = self.msd(x, labels)
        if self.mrd is None:
            return s1 + s2, m1 + m2
        s3, m3 = self.mrd(x, labels)
        return s1 + s2 + s3, m1 + m2 + m3


def phase_shuffle(x: torch.Tensor, radius: int) -> torch.Tensor:
    """WaveGAN's phase shuffle: shift each clip's activations by a random n in [-radius, radius],
    reflect-padding the gap, so the discriminator cannot key on the generator's sample phase."""
    if radius <= 0:
        return x
    b, _, t = x.shape
    shifts = torch.randint(-radius, radius + 1, (b,), device=x.device)
    padded = F.pad(x, (radius, radius), mode="reflect")  # (B, C, T + 2r)
    starts = radius - shifts  # a shift n moves the content n samples later
    idx = starts[:, None] + torch.arange(t, device=x.device)[None, :]  # (B, T)
    return padded.gather(2, idx[:, None, :].expand(-1, x.shape[1], -1))  # (B, C, T)


class WaveGANDiscriminator(nn.Module):
    """Five 1-D convs (kernel 25, stride 4, widths ``channels``), LReLU 0.2, phase shuffle after
    each but the last, then a linear layer to one score: (B, 1, T) -> [(B, 1)]."""

    def __init__(self, channels: Sequence[int], length: int, n_classes: int = 0, shuffle_radius: int = 2, kernel: int = 25, stride: int = 4):
        super().__init__()
        self.label = LabelChannel(n_classes, length)
        widths = [1 + self.label.extra, *channels]
        self.convs = nn.ModuleList([nn.Conv1d(a, b, kernel, stride, padding=kernel // 2 - 1) for a, b in zip(widths[:-1], widths[1:])])
        self.radius = shuffle_radius
        with torch.no_grad():
            out = self._features(torch.zeros(1, widths[0], length))[0]
        self.fc = nn.Linear(out.numel(), 1)

    def _features(self, x: torch.Tensor) -> tuple[torch.Tensor, FeatureMaps]:
        maps = []
        for i, conv in enumerate(self.convs):
            x = F.leaky_relu(conv(x), WAVEGAN_LRELU_SLOPE)  # (B, C_i, T / 4^(i+1))
            maps.append(x)
            if i < len(self.convs) - 1:
                x = phase_shuffle(x, self.radius)
        return x, maps

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[Scores, FeatureMaps]:
        h, maps = self._features(self.label(x, labels))
        return [self.fc(h.flatten(1))], maps  # [(B, 1)]


# --- losses: lists of per-sub-discriminator scores in, scalar tensors out ---------------------


def lsgan_d_loss(real: Scores, fake: Scores) -> torch.Tensor:
    """Least squares (Mao et al. 2017), as HiFi-GAN: sum over sub-discriminators of E[(1-D(x))^2] + E[D(G(z))^2]."""
    return sum(torch.mean((1 - r) ** 2) + torch.mean(f**2) for r, f in zip(real, fake))


def lsgan_g_loss(fake: Scores) -> torch.Tensor:
    return sum(torch.mean((1 - f) ** 2) for f in fake)


def feature_matching_loss(real_maps: FeatureMaps, fake_maps: FeatureMaps, batch: int, paired: bool = False) -> torch.Tensor:
    """L1 between the discriminator's activations on real and on generated clips, summed over layers.

    Real and generated clips are not pairs here (no clip is the target of a latent), so by
    default the batch **means** of the activations are matched (Salimans et al. 2016).
    ``paired = True`` is the per-clip L1 of Comunità et al.'s code (HiFi-GAN's loss, whose
    clips are pairs): against a random real batch it is smallest for a generator that makes
    one central clip for every latent, which invites mode collapse."""
    if paired:
        return sum(torch.mean(torch.abs(r.detach() - f)) for r, f in zip(real_maps, fake_maps))
    means = lambda m: m.reshape(batch, -1).mean(dim=0)  # noqa: E731  (B m, C, L) -> (m C L,)
    return sum(torch.mean(torch.abs(means(r.detach()) - means(f))) for r, f in zip(real_maps, fake_maps))


def wgan_d_loss(real: Scores, fake: Scores) -> torch.Tensor:
    return sum(f.mean() - r.mean() for r, f in zip(real, fake))


def wgan_g_loss(fake: Scores) -> torch.Tensor:
    return sum(-f.mean() for f in fake)


def gradient_penalty(disc: nn.Module, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad D(x_hat)|| - 1)^2] on random interpolates."""
    alpha = torch.rand(real.shape[0], 1, 1, device=real.device)
    mix = (alpha * real + (1 - alpha) * fake).requires_grad_(True)  # (B, 1, T)
    score = sum(s.sum() for s in disc(mix, labels)[0])
    (grad,) = torch.autograd.grad(score, mix, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def r1_penalty(disc: nn.Module, real: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): E[||grad D(x)||^2] on real clips."""
    real = real.detach().requires_grad_(True)
    score = sum(s.sum() for s in disc(real, labels)[0])
    (grad,) = torch.autograd.grad(score, real, create_graph=True)
    return grad.flatten(1).pow(2).sum(dim=1).mean()
