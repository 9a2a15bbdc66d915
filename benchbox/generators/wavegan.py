"""WaveGAN generator (Donahue et al. 2019) trained against HiFi-GAN discriminators (Kong et al.
2020): "HiFi-WaveGAN", the footstep GAN of Comunità, Phan and Reiss 2022.

Legend: B batch, Z latent size, C channels, L length at a generator layer, T = 8192 samples
(0.512 s at 16 kHz), K classes (surface labels; 0 = unconditional, the default).

Generator: z (B, Z) -> linear -> (B, C0, L0 = T / 4^5 = 8) -> 5 x [upsample x4 (transposed
conv, kernel 25 (or 24), stride 4; or nearest, linear or sinc x4 + conv) -> (BN) -> ReLU] ->
tanh -> (B, T); with ``post_channels`` = P > 0 the last layer makes P channels at the output
rate, then BN, (+ ``post_noise`` x learned per-channel scales x Gaussian noise (B, P, T)), ReLU
and a conv to 1 channel before the tanh.

Upsampling (``upsample``, :class:`Upsample`), from rate r to 4 r: nearest x4 (zero-stuffing and a
4-sample box filter, only ~-16 dB at 0.875 r/2) leaves images of the layer's content mirrored
about r, 2 r, ..., which a GAN turns into lines and combs (Pons et al. 2021). ``"linear"`` (the
box squared) puts them about twice as far down in dB. ``"sinc"`` applies a FIXED Kaiser-windowed
sinc low-pass at r/2 (:func:`kaiser_lowpass`, >= ``SINC_ATTEN_DB`` down; StyleGAN3, Karras et al.
2021) before the learned conv, so the top two octaves must come from a nonlinearity at the
output rate (``post_channels``, with ``post_noise`` gated by the ReLU; StyleGAN's noise inputs,
Karras et al. 2019); ``last_upsample = "nearest"`` after ``"sinc"`` keeps only the last layer's
images as the 2-8 kHz content.

Training (:meth:`WaveGAN.train_step`, two optimisers from :meth:`WaveGAN.make_optimizers`):

* ``loss = "lsgan"`` (default, HiFi-WaveGAN): multi-period (p = 2, 3, 5, 7, 11) and
  multi-scale discriminators (+ spectrogram discriminators at ``mrd_ffts``, after UnivNet;
  Jang et al. 2021), least-squares losses, generator + ``fm_weight`` x feature matching (L1
  between discriminator activations on real and generated clips; the spectrogram maps add
  terms to it, as in UnivNet);
* ``loss = "wgan-gp"`` with ``discriminator = "wavegan"``: plain WaveGAN (phase shuffle,
  gradient penalty 10, ``d_steps`` critic steps per generator step), the paper's ablation.

Optionally (``stats_weight`` > 0) the generator also matches the batch's mean log-power spectrum
and envelope in dB (:func:`spec_db`): feature matching (Salimans et al. 2016) on fixed log-domain
features, so a -60 dB tail over digital silence costs as much as a 40 dB level error.

For a training set of 165 clips the preset adds what helps GANs on tiny data: DiffAugment-
style differentiable augmentation (random gain, polarity and shift, applied alike to real and
generated clips before every discriminator call; Zhao et al. 2020), an optional R1 penalty,
and an exponential moving average of the generator's weights, which is what :meth:`generate`
samples from.

A GAN has no likelihood and cannot continue a prime: its capabilities are empty, so NLL and
primed cells read "n/a". ``generate(prime=...)`` with a non-empty prime is an error.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from benchbox.audio import PROJECT_SAMPLE_RATE_HZ
from benchbox.errors import GeneratorError
from benchbox.generators import clip_rng
from benchbox.generators import wavegan_disc as D
from benchbox.generators.wavegan_augment import ada_update, diff_augment
from benchbox.generators.wavegan_gen import UPSAMPLE, WaveGANGenerator
from benchbox.generators.base import Generator

GP_WEIGHT = 10.0  # WGAN-GP's lambda
SPEC_FFT = 512  # the eval objective's STFT size (32 ms at 16 kHz), hop a quarter of it
SPEC_FLOOR = 1e-10  # power floor: digital silence reads -100 dB
MS_PER_SECOND = 1000.0


@dataclass(frozen=True)
class WaveGANConfig:
    length: int = 8192  # T, samples per clip (L0 * 4^len(channels))
    latent_dim: int = 100  # Z
    channels: tuple[int, ...] = (1024, 512, 256, 128, 64)  # generator widths C0..C4 (then 1); WaveGAN d = 64
    upsample: Literal["transposed", "nearest", "linear", "sinc"] = "transposed"
    last_upsample: Literal["", "transposed", "nearest", "linear", "sinc"] = ""  # the last layer's ("" = upsample): "nearest" after "sinc" keeps its images as the top octaves' source
    kernel: int = 25  # WaveGAN; an even kernel (24) overlaps every output sample alike under stride 4 (no fs/4 checkerboard)
    batchnorm: bool = True  # after each generator conv but the last (Comunità et al.)
    post_channels: int = 0  # P > 0: the last layer makes P channels, BN + ReLU at the output rate, then a conv to 1 (for "sinc")
    post_noise: float = 0.0  # > 0: per-sample Gaussian noise n (B, P, T) on those P channels, learned per-channel scales s starting here
    relu_slope: float = 0.0  # generator activations: ReLU (0, WaveGAN) or leaky ReLU; > 0 keeps a layer from going all-off (the dropouts)
    last_relu_slope: float = 0.0  # > 0: this slope for the last hidden layer (the one the output conv reads) instead of relu_slope; 0: as the others
    post_noise_mode: Literal["add", "mul"] = "add"  # "add": ReLU(x + s n); "mul": ReLU(x) (1 + s n), silent where the content is
    icnr: bool = False  # checkerboard-free initialisation of the transposed convs (needs kernel % 4 == 0)
    n_classes: int = 0  # K > 0: class-conditional on the surface label
    discriminator: Literal["hifigan", "wavegan"] = "hifigan"
    loss: Literal["lsgan", "wgan-gp"] = "lsgan"
    periods: tuple[int, ...] = (2, 3, 5, 7, 11)  # MPD
    mpd_channels: tuple[int, ...] = (32, 128, 512, 1024, 1024)  # HiFi-GAN
    n_scales: int = 3  # MSD
    msd_channels: tuple[int, ...] = (128, 128, 256, 512, 1024, 1024)  # HiFi-GAN
    msd_kernel: int = 41  # HiFi-GAN
    msd_groups: int = 16  # HiFi-GAN (grouped convs are slow on CPUs: the CPU preset uses 1)
    mrd_ffts: tuple[int, ...] = ()  # UnivNet's multi-resolution spectrogram discriminator: FFT sizes (empty = off), hop n_fft / 4
    mrd_channels: int = 32  # UnivNet
    wavegan_channels: tuple[int, ...] = (64, 128, 256, 512, 1024)  # WaveGAN d = 64
    phase_shuffle: int = 2  # WaveGAN's radius (wavegan discriminator only)
    d_norm: Literal["weight", "spectral", "none"] = "weight"
    minibatch_std: bool = False  # ProGAN's batch-std channel before each sub-discriminator's last conv (against mode collapse)
    fm_weight: float = 2.0  # HiFi-GAN's feature-matching weight (lsgan only)
    fm_paired: bool = False  # per-clip L1 as Comunità et al.'s code (invites collapse); default: batch means
    fm_paired_steps: int = 0  # > 0 (with fm_paired): paired for the first this many steps (the envelope, fast), batch means after
    stats_weight: float = 0.0  # generator loss + this x spec_db of the batch (dB; 0 = off): see :meth:`WaveGAN.train_step`
    d_steps: int = 1  # discriminator steps per generator step (WaveGAN: 5)
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    betas: tuple[float, float] = (0.8, 0.99)  # HiFi-GAN / Comunità; WaveGAN: (0.5, 0.9)
    r1_gamma: float = 0.0  # R1 weight on real clips (0 = off); applied every r1_every steps
    r1_every: int = 4
    augment_p: float = 0.0  # probability of each augmentation per clip (0 = DiffAugment off)
    augment_gain_db: float = 6.0
    augment_shift_ms: float = 4.0
    augment_target: float = 0.0  # > 0: ADA adapts augment_p (its start) towards this r_t (Karras et al. 2020: 0.6); 0 = fixed
    augment_kimg: float = 5.0  # ADA's speed: thousands of training clips for p to move by 1
    ema_decay: float = 0.999  # generator EMA (0 = sample from the raw generator)

    def __post_init__(self):
        base = self.length // UPSAMPLE ** len(self.channels)
        checks = [
            (len(self.channels) >= 1 and base * UPSAMPLE ** len(self.channels) == self.length and base >= 1,
             f"length {self.length} must be a multiple of 4^{len(self.channels)}"),
            (self.latent_dim >= 1 and min(self.channels) >= 1, "latent_dim and channels must be >= 1"),
            (UPSAMPLE <= self.kernel and ({self.upsample, self.last_upsample} <= {"transposed", ""} or self.kernel % 2), "kernel must be >= 4 (and odd unless upsample = 'transposed')"),
            (not self.icnr or (self.upsample == "transposed" and self.last_upsample in ("", "transposed") and self.kernel % UPSAMPLE == 0), "icnr needs upsample = 'transposed' and kernel % 4 == 0"),
            (self.n_classes >= 0 and self.post_channels >= 0, "n_classes and post_channels must be >= 0"),
            (self.post_noise >= 0 and (self.post_noise == 0 or self.post_channels > 0), "post_noise must be >= 0 and needs post_channels > 0"),
            (not self.mrd_ffts or (self.discriminator == "hifigan" and self.n_classes == 0 and min(self.mrd_ffts) >= 16 and max(self.mrd_ffts) // 2 < self.length and self.mrd_channels >= 1),
             "mrd_ffts needs discriminator = 'hifigan', n_classes = 0 (the spectrogram discriminators read no label), FFT sizes >= 16 and under 2 x length, and mrd_channels >= 1"),
            (len(self.msd_channels) == 6, "msd_channels needs 6 widths (HiFi-GAN's DiscriminatorS)"),
            (self.discriminator == "wavegan" or self.loss == "lsgan", "wgan-gp is for discriminator = 'wavegan'"),
            (self.d_steps >= 1 and self.r1_every >= 1, "d_steps and r1_every must be >= 1"),
            (0.0 <= self.augment_p <= 1.0, "augment_p must be in [0, 1]"),
            (0.0 <= self.augment_target < 1.0 and self.augment_kimg > 0 and (self.augment_target == 0 or self.loss == "lsgan"),
             "augment_target must be in [0, 1) (ADA reads LSGAN scores: loss = 'lsgan') and augment_kimg > 0"),
            (0.0 <= self.ema_decay < 1.0, "ema_decay must be in [0, 1)"),
            (self.lr_g > 0 and self.lr_d > 0, "lr_g and lr_d must be > 0"),
            (self.stats_weight >= 0 and self.fm_paired_steps >= 0 and (self.fm_paired or not self.fm_paired_steps), "stats_weight and fm_paired_steps must be >= 0; fm_paired_steps needs fm_paired"),
            (0.0 <= self.relu_slope < 1.0 and 0.0 <= self.last_relu_slope < 1.0 and (self.last_relu_slope == 0 or (self.post_noise == 0 and (self.post_channels or len(self.channels) > 1))),
             "relu_slope and last_relu_slope must be in [0, 1); last_relu_slope needs a batch-normed last hidden layer without post_noise"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def base_length(self) -> int:  # L0
        return self.length // UPSAMPLE ** len(self.channels)


def build_discriminator(cfg: WaveGANConfig) -> nn.Module:
    if cfg.discriminator == "wavegan":
        return D.WaveGANDiscriminator(cfg.wavegan_channels, cfg.length, cfg.n_classes, cfg.phase_shuffle)
    return D.HiFiGANDiscriminator(cfg.periods, cfg.mpd_channels, cfg.n_scales, cfg.msd_channels, cfg.length, cfg.n_classes, cfg.d_norm, cfg.msd_kernel, cfg.msd_groups, cfg.minibatch_std, cfg.mrd_ffts, cfg.mrd_channels)


def _parts(batch: Any, length: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(waves (B, T) float, labels (B,) or None) of a batch (a ``Batch``, a mapping or a tensor).

    Clips are cut or zero-padded at the end to the generator's T: the GAN learns whole clips
    (zeros are the silence real clips end in); ``data.crop_samples`` would give it fragments."""
    if isinstance(batch, torch.Tensor):
        waves, labels = batch, None
    else:
        get = batch.get if isinstance(batch, dict) else lambda k: getattr(batch, k, None)
        waves, labels = get("waves"), get("labels")
    if waves is None:
        raise GeneratorError("wavegan trains on float waves: the batch has none", hint="pass a batch with 'waves' (B, T) in [-1, 1]")
    waves = F.pad(waves[:, :length], (0, max(0, length - waves.shape[1])))  # (B, T)
    return waves, labels


def spec_db(fake: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(spectrum, envelope) mean absolute dB differences between two batches (B, T) of clips'
    :func:`spectral_stats`; differentiable in ``fake``."""
    (shape_g, env_g), (shape_r, env_r) = spectral_stats(fake), spectral_stats(real)
    return (shape_g - shape_r).abs().mean(), (env_g - env_r).abs().mean()


def spectral_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) clips -> their mean log-power spectrum (F,) and mean log-power envelope (N frames,), in dB."""
    n_fft = min(SPEC_FFT, 2 ** int(math.log2(x.shape[-1])))
    window = torch.hann_window(n_fft, device=x.device)
    spec = torch.stft(x.float(), n_fft, n_fft // 4, window=window, return_complex=True).abs().pow(2)  # (B, F, N)
    db = 10 * torch.log10(spec + SPEC_FLOOR)  # (B, F, N)
    return db.mean(dim=(0, 2)), db.mean(dim=(0, 1))


def _default_augment_state(module: nn.Module, state: dict, prefix: str, *args: Any) -> None:
    """A fixed-p checkpoint saved before ADA's buffers existed loads (an ADA one without them fails the strict load)."""
    for name in ("augment_p", "augment_acc") if module.config.augment_target == 0 else ():
        state.setdefault(prefix + name, getattr(module, name).clone())


class WaveGAN(Generator):
    name: ClassVar[str] = "wavegan"
    config_class: ClassVar[type] = WaveGANConfig
    capabilities: ClassVar[frozenset[str]] = frozenset()  # no likelihood, no step, no prime

    def __init__(self, config: WaveGANConfig):
        super().__init__(config)
        self.generator = WaveGANGenerator(config)
        self.discriminator = build_discriminator(config)
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False).eval()
        self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))
        self.register_buffer("augment_p", torch.tensor(float(config.augment_p)))  # ADA moves it; fixed otherwise
        self.register_buffer("augment_acc", torch.zeros(3, dtype=torch.float64))  # ADA's (sum of signs, count, last r_t)
        self.register_load_state_dict_pre_hook(_default_augment_state)  # checkpoints from before ADA load

    def make_optimizers(self, *, lr: float | None = None, weight_decay: float = 0.0) -> dict[str, torch.optim.Optimizer]:
        """{"generator", "discriminator"}: Adam at the model's own ``lr_g`` / ``lr_d`` and betas.
        GANs train at rates far below the trainer's default, so ``lr`` and ``weight_decay`` are
        not used; the trainer's schedule (warmup, cosine) scales these rates as it would its own."""
        cfg = self.config
        return {
            "generator": torch.optim.Adam(self.generator.parameters(), lr=cfg.lr_g, betas=cfg.betas),
            "discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=cfg.lr_d, betas=cfg.betas),
        }

    def _latents(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.config.latent_dim, generator=generator, device=self.device)  # (B, Z)

    def _labels(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        if not self.config.n_classes:
            return None  # unconditional: labels, if any, are ignored
        if labels is None or (labels < 0).any():
            raise GeneratorError("this wavegan is class-conditional and a clip has no label", hint="label every training clip, or set model.n_classes = 0")
        return labels.to(self.device)

    def _augment(self, x: torch.Tensor) -> torch.Tensor:  # (B, 1, T) -> (B, 1, T)
        cfg = self.config
        p = float(self.augment_p) if cfg.augment_target > 0 else cfg.augment_p  # ADA's buffer, or the config's fixed p
        return diff_augment(x, p, cfg.augment_gain_db, int(cfg.augment_shift_ms * PROJECT_SAMPLE_RATE_HZ / MS_PER_SECOND))

    def _d_loss(self, real: torch.Tensor, fake: torch.Tensor, labels, step: int) -> tuple[torch.Tensor, dict, list, list]:
        cfg, disc = self.config, self.discriminator
        real_scores, real_maps = disc(self._augment(real), labels)
        fake_scores, _ = disc(self._augment(fake), labels)
        metrics = {}
        if cfg.loss == "wgan-gp":
            gp = D.gradient_penalty(disc, real, fake, labels)
            d_loss = D.wgan_d_loss(real_scores, fake_scores) + GP_WEIGHT * gp
            metrics["gan/gp"] = gp.detach()
        else:
            d_loss = D.lsgan_d_loss(real_scores, fake_scores)
        if cfg.r1_gamma > 0 and step % cfg.r1_every == 0:  # lazy R1 (StyleGAN2): gamma/2 * every
            r1 = D.r1_penalty(disc, self._augment(real), labels)
            d_loss = d_loss + cfg.r1_gamma / 2 * cfg.r1_every * r1
            metrics["gan/r1"] = r1.detach()
        return d_loss, metrics, real_maps, real_scores

    def train_step(self, batch: Any, optimizers: dict[str, torch.optim.Optimizer], ctx: Any = None) -> dict[str, torch.Tensor]:
        """``d_steps`` discriminator steps, then one generator step, on a batch of real clips.
        Returns ``loss`` (the generator's) and ``gan/d_loss``, ``gan/g_loss``, ``gan/adv``, ``gan/fm``.
        ``ctx.finish_grads`` (process sync, clipping) is applied to each network's gradients."""
        cfg = self.config
        opt_g, opt_d = optimizers["generator"], optimizers["discriminator"]
        waves, labels = _parts(batch, cfg.length)
        labels = self._labels(labels)
        real = waves.to(self.device, torch.float32).unsqueeze(1)  # (B, 1, T)
        b, step = real.shape[0], int(self.ema_updates)
        finish = ctx.finish_grads if ctx is not None else lambda params: None
        self.discriminator.requires_grad_(True)
        for _ in range(cfg.d_steps):
            with torch.no_grad():
                fake = self.generator(self._latents(b), labels).unsqueeze(1)  # (B, 1, T)
            d_loss, metrics, real_maps, real_scores = self._d_loss(real, fake, labels, step)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            finish(self.discriminator.parameters())
            opt_d.step()
        # Generator step: the discriminator's weights get no gradient (a cheaper backward).
        self.discriminator.requires_grad_(False)
        fake = self.generator(self._latents(b), labels).unsqueeze(1)  # (B, 1, T)
        fake_scores, fake_maps = self.discriminator(self._augment(fake), labels)
        if cfg.loss == "wgan-gp":
            adv, fm = D.wgan_g_loss(fake_scores), torch.zeros(())
        else:
            # The real activations come from this step's (last) discriminator pass, before its
            # update: one step stale, and one forward pass cheaper per step.
            adv, fm = D.lsgan_g_loss(fake_scores), D.feature_matching_loss(real_maps, fake_maps, b, cfg.fm_paired and not 0 < cfg.fm_paired_steps <= step)
        g_loss = adv + cfg.fm_weight * fm
        if cfg.stats_weight > 0:
            shape_db, env_db = spec_db(fake.squeeze(1), real.squeeze(1))
            g_loss = g_loss + cfg.stats_weight * (shape_db + env_db)
            metrics["gan/stats_db"] = (shape_db + env_db).detach()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        finish(self.generator.parameters())
        opt_g.step()
        self.discriminator.requires_grad_(True)
        self.update_ema()
        if cfg.augment_target > 0:  # once per step, after every network used this step's p (the last D step's real scores)
            ada_update(self.augment_p, self.augment_acc, real_scores, target=cfg.augment_target, kimg=cfg.augment_kimg, batch=b, step=step)
        metrics.update({"gan/d_loss": d_loss.detach(), "gan/g_loss": g_loss.detach(), "gan/adv": adv.detach(), "gan/fm": fm.detach()})
        return {"loss": g_loss.detach(), **metrics}

    @torch.no_grad()
    def update_ema(self) -> None:
        """generator_ema <- decay * generator_ema + (1 - decay) * generator, with the decay ramped
        up as min(decay, (1 + n) / (10 + n)) over the first updates; buffers (BN stats) copied."""
        n = int(self.ema_updates)
        decay = min(self.config.ema_decay, (1 + n) / (10 + n))
        for e, p in zip(self.generator_ema.parameters(), self.generator.parameters()):
            e.lerp_(p, 1 - decay)
        for e, b in zip(self.generator_ema.buffers(), self.generator.buffers()):
            e.copy_(b)
        self.ema_updates += 1

    @torch.no_grad()
    def loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The eval objective (no update): how far the sampled clips' spectra are from the batch's.

        A GAN's adversarial losses do not rank checkpoints (each is measured against a moving
        discriminator), so the scalar is ``spec_db``: the mean absolute difference in dB
        between generated and real clips of the mean log-power spectrum plus that of the mean
        log-power envelope over time, clips drawn from the sampling generator (EMA) with the
        global RNG, as many as the batch holds. The trainer keeps the checkpoint with the
        lowest ``spec_db`` on val. ``gan/d_real`` is the discriminators' mean score on the
        real clips (LSGAN: 1 = judged real); it drifting from the train value to val signals
        a discriminator that memorises its training clips."""
        cfg = self.config
        waves, labels = _parts(batch, cfg.length)
        labels = self._labels(labels)
        real = waves.to(self.device, torch.float32)  # (B, T)
        fake = self.sampling_generator(self._latents(real.shape[0]), labels)  # (B, T)
        shape_db, env_db = spec_db(fake, real)
        real_scores, _ = self.discriminator(real.unsqueeze(1), labels)
        d_real = torch.stack([s.mean() for s in real_scores]).mean()
        ada = {"gan/augment_p": self.augment_p.float(), "gan/ada_r_t": self.augment_acc[2].float()} if cfg.augment_target > 0 else {}
        return shape_db + env_db, {"gan/spectrum_db": shape_db, "gan/envelope_db": env_db, "gan/d_real": d_real, **ada}

    @property
    def sampling_generator(self) -> WaveGANGenerator:
        """The generator clips come from: the EMA copy, or the raw one when ema_decay = 0."""
        return self.generator_ema if self.config.ema_decay > 0 else self.generator

    @torch.no_grad()
    def generate(
        self,
        n: int,
        length: int,
        *,
        prime: torch.Tensor | None = None,
        rng: clip_rng.Rng = None,
        labels: torch.Tensor | None = None,
        temperature: float = 1.0,
        top_p: float = 1.0,
        batch: int = 16,
    ) -> torch.Tensor:
        """n clips (n, length) in [-1, 1] from the EMA generator (the raw one when ema_decay = 0),
        latents z ~ N(0, I) drawn from ``rng``, one generator or n (one per clip: :mod:`benchbox.generators.clip_rng`) (and, for a
        class-conditional model given no ``labels``, labels uniform over the K classes). ``length`` up to T (clips are cropped to it).
        ``temperature`` and ``top_p`` (token sampling) do not apply to a GAN and are ignored."""
        if prime is not None and prime.shape[-1] > 0:
            raise GeneratorError("wavegan cannot continue a prime (a GAN maps a latent to a whole clip)", hint="generate with --prime-ms 0; primed cells read n/a")
        if not 1 <= length <= self.config.length:
            raise GeneratorError(f"wavegan makes clips of up to {self.config.length} samples, asked for {length}", hint=f"use length <= {self.config.length}")
        net = self.sampling_generator
        was_training = net.training
        net.eval()
        z_all = clip_rng.randn(rng, (n, self.config.latent_dim))  # (n, Z): all drawn first, on the rng's device, so batching never changes a clip
        if self.config.n_classes and labels is None:  # conditional, no labels asked for: uniform over the classes
            labels = clip_rng.randint(rng, self.config.n_classes, (n,))
        noise_all = None  # (n, P, T): the output-rate noise input, also from rng and drawn first
        if self.config.post_noise:
            noise_all = clip_rng.randn(rng, (n, self.config.post_channels, self.config.length))
        out = []
        for start in range(0, n, batch):
            z = z_all[start : start + batch].to(self.device)  # (b, Z)
            lab = None if labels is None else labels[start : start + batch].to(self.device)
            noise = None if noise_all is None else noise_all[start : start + batch].to(self.device)  # (b, P, T)
            out.append(net(z, lab, noise)[:, :length].float().cpu())  # (b, length)
        net.train(was_training)
        return torch.cat(out) if out else torch.zeros(0, length)

    def num_generator_parameters(self) -> int:
        return sum(p.numel() for p in self.generator.parameters())

