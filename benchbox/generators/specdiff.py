"""specdiff: diffusion over a log-mel grid, resynthesised to a waveform.

Legend: B batch, T time in samples, F frames, M mel bands, P prime samples.

A clip (B, T) becomes a dB grid (B, F, M) (:mod:`specdiff_grid`), normalised to about unit
variance with the training set's mean and standard deviation (``fit``), and transposed to
(B, M, F) for the 1-D U-Net (:mod:`unet`), whose channels are the bands. The shared
:class:`~benchbox.generators.diffusion.Diffusion` wrapper trains it (v-prediction, cosine
schedule with zero terminal SNR by default) and samples it; EMA weights sample.

Generation: a grid is sampled, de-normalised and resynthesised (Griffin-Lim from noise phase,
see :mod:`specdiff_grid`). Priming: the frames that the prime alone determines are imposed on
the grid by inpainting, and the waveform's first P samples are the prime itself; the
continuation's phase is fitted to it inside Griffin-Lim (the splice, :meth:`Grid.resynthesise`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from benchbox.generators import clip_rng
from benchbox.audio import PROJECT_SAMPLE_RATE_HZ, decode
from benchbox.generators.diffusion_generator import DiffusionGenerator
from benchbox.generators.diffusion import EMA, Diffusion, DiffusionConfig
from benchbox.generators.specdiff_grid import Grid, GridConfig
from benchbox.generators.unet import UNet1d, UNetConfig

HEADROOM_DB = 10.0  # sampled grids may exceed the loudest training cell by this much


@dataclass(frozen=True)
class SpecDiffConfig(DiffusionConfig):
    # grid (see specdiff_grid.GridConfig)
    n_fft: int = 512
    hop: int = 128
    n_mels: int = 128
    floor_db: float = -100.0
    griffin_lim_iters: int = 32
    # U-Net (see unet.UNetConfig)
    channels: tuple[int, ...] = (96, 128, 192)
    blocks: int = 2
    time_dim: int = 128
    heads: int = 4
    dropout: float = 0.1
    # training-data augmentation: a uniform gain in [-gain_db, gain_db] per clip, on the grid
    augment_gain_db: float = 0.0

    def grid(self, frames: int) -> GridConfig:
        return GridConfig(PROJECT_SAMPLE_RATE_HZ, self.n_fft, self.hop, self.n_mels, frames, 0.0, self.floor_db, self.griffin_lim_iters)

    def unet(self) -> UNetConfig:
        return UNetConfig(tuple(self.channels), self.blocks, self.time_dim, self.heads, self.dropout)


class SpecDiff(DiffusionGenerator):
    name = "specdiff"
    config_class = SpecDiffConfig
    capabilities = frozenset({"prime", "fit"})

    def __init__(self, config: SpecDiffConfig):
        super().__init__(config)
        self.net = UNet1d(config.n_mels, config.unet())
        self.diffusion = Diffusion(config)
        self.ema = EMA(self.net)
        self.register_buffer("mean_db", torch.tensor(-60.0))  # fit() sets both from the train split
        self.register_buffer("std_db", torch.tensor(24.0))
        self._grids: dict[int, Grid] = {}

    # -------------------------------------------------------------- grid <-> data
    def grid_for(self, length: int) -> Grid:
        """The analysis of a clip of ``length`` samples: F = length / hop rounded up to the U-Net's stride."""
        stride = self.net.stride
        frames = -(-math.ceil(length / self.config.hop) // stride) * stride
        if frames not in self._grids:
            self._grids[frames] = Grid(self.config.grid(frames))
        return self._grids[frames].to(self.mean_db.device)

    def analyse(self, waves: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, F, M) dB
        grid = self.grid_for(waves.shape[1])
        return grid.analyse(F.pad(waves.float(), (0, grid.cfg.samples() - waves.shape[1])))  # silence up to F hops

    def to_data(self, waves: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, M, F) normalised
        return ((self.analyse(waves) - self.mean_db) / self.std_db).transpose(1, 2)

    def to_db(self, x: torch.Tensor) -> torch.Tensor:  # (B, M, F) normalised -> (B, F, M) dB
        return (x.transpose(1, 2) * self.std_db + self.mean_db).clamp_min(self.config.floor_db)

    def data_range(self) -> tuple[float, float]:
        low = (self.config.floor_db - float(self.mean_db)) / float(self.std_db)
        high = (HEADROOM_DB - float(self.mean_db)) / float(self.std_db)
        return low, high

    @torch.no_grad()
    def fit_waves(self, waves: torch.Tensor) -> None:
        """Mean and standard deviation of the training grids (dB): the data scaling."""
        grid = self.analyse(waves.to(self.mean_db.device))  # (B, F, M) dB
        self.mean_db.fill_(float(grid.mean()))
        self.std_db.fill_(float(grid.std()))

    def fit(self, codes: torch.Tensor, quantisation: str) -> None:
        """Data scaling from the training split (capability "fit"; the trainer calls it before step 0)."""
        self.fit_waves(decode(codes, quantisation).float())

    # -------------------------------------------------------------- training
    def loss(self, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Diffusion loss on the normalised grids of ``batch.waves`` (B, T); randomness from the global RNG."""
        x0 = self.to_data(batch.waves)  # (B, M, F)
        gain = self.config.augment_gain_db
        if gain > 0 and self.training:
            db = (torch.rand(x0.shape[0], 1, 1, device=x0.device) * 2 - 1) * gain  # (B, 1, 1)
            floor = (self.config.floor_db - self.mean_db) / self.std_db
            x0 = torch.where(x0 > floor, (x0 + db / self.std_db).clamp_min(floor), x0)
        return self.diffusion.loss(self.denoiser(), x0)

    # -------------------------------------------------------------- sampling
    def _generate(self, n: int, length: int, prime: torch.Tensor | None, rng: clip_rng.Rng, sampling_steps: int | None = None) -> torch.Tensor:
        grid = self.grid_for(length)
        frames, bands, padded = grid.cfg.frames, self.config.n_mels, grid.cfg.samples()
        device = self.mean_db.device
        known = mask = None
        if prime is not None and prime.shape[1] == 0:
            prime = None
        if prime is not None:
            prime = prime.to(device=device, dtype=torch.float32)
            known = self.to_data(F.pad(prime, (0, padded - prime.shape[1])))  # (n, M, F)
            mask = (torch.arange(frames, device=device) < grid.prime_frames(prime.shape[1])).expand(1, bands, frames)
        x = self.diffusion.sample(self.denoiser(), (n, bands, frames), rng=rng, device=device, known=known, mask=mask, x0_range=self.data_range(),
                                  sampling_steps=sampling_steps)  # (n, M, F)
        out = grid.resynthesise(self.to_db(x), padded, generator=rng, prime=prime)[:, :length].clamp(-1.0, 1.0)  # (n, T)
        if prime is not None:
            out[:, : prime.shape[1]] = prime
        return out

    @torch.no_grad()
    def reconstruct(self, waves: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """(B, T) -> (B, T): analysis then resynthesis, no diffusion: what the representation
        alone costs (real clips through it form the benchmark's reference row)."""
        grid = self.grid_for(waves.shape[1])
        return grid.resynthesise(self.analyse(waves), grid.cfg.samples(), generator=rng)[:, : waves.shape[1]].clamp(-1.0, 1.0)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())
