"""The time-frequency grid of ``specdiff``: log-mel analysis and resynthesis to a waveform.

Legend: B batch, T time in samples, F frames, M mel bands, K = n_fft/2 + 1 linear bins,
P prime samples.

Analysis: ``|STFT|^2`` (Hann window of ``n_fft``, hop ``hop``, centred, zero-padded), normalised by the
window's energy so a full-scale white noise reads about 0 dB, projected onto M mel bands
(librosa's Slaney filterbank), in dB, floored at ``floor_db`` and cut to F frames::

    grid = max(10 log10(mel @ |X|^2 / sum(w^2)), floor_db)     (B, F, M)

Resynthesis (documented, no learned vocoder):

1. mel -> linear power: each band's power is spread evenly over the bins it covers
   (``p_m = mel_m / sum_k W[m, k]``), and each linear bin takes the filter-weighted mean of
   the bands that cover it. This inverts the analysis exactly for a spectrum that is flat
   within each band, and never goes negative (a pseudo-inverse does).
2. phase: white Gaussian noise's STFT phase (seeded), i.e. noise shaped by the generated
   envelope; then ``griffin_lim_iters`` Griffin-Lim iterations (0 keeps the noise phase).
3. priming: when a prime (B, P) is given, every Griffin-Lim iteration replaces the first P
   samples by the prime before re-analysing (time-domain replacement), so the continuation's
   phase is made to agree with the prime; the output's first P samples are the prime itself
   (bit-exact) and the continuation follows from sample P with no crossfade.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from benchbox.generators import clip_rng

DB_PER_DECADE = 10.0  # power dB
POWER_EPS = 1e-20


@dataclass(frozen=True)
class GridConfig:
    sample_rate_hz: int = 16_000
    n_fft: int = 512
    hop: int = 128
    n_mels: int = 64
    frames: int = 64  # F: the grid keeps the first F of the 1 + T / hop centred frames
    fmin_hz: float = 0.0
    floor_db: float = -100.0
    griffin_lim_iters: int = 32

    def __post_init__(self):
        if self.n_fft < 2 or self.hop < 1 or self.n_mels < 1 or self.frames < 1:
            raise ValueError("n_fft >= 2, hop >= 1, n_mels >= 1 and frames >= 1 are required")
        if self.griffin_lim_iters < 0:
            raise ValueError(f"griffin_lim_iters must be >= 0, got {self.griffin_lim_iters}")

    def samples(self) -> int:
        """T: the waveform length whose centred STFT has exactly the grid's frames (+ 1)."""
        return self.frames * self.hop


@functools.lru_cache(maxsize=8)
def _mel_matrix(sample_rate_hz: int, n_fft: int, n_mels: int, fmin_hz: float) -> np.ndarray:
    import librosa  # heavy import, only when a grid is built

    return librosa.filters.mel(sr=sample_rate_hz, n_fft=n_fft, n_mels=n_mels, fmin=fmin_hz, fmax=sample_rate_hz / 2).astype(np.float64)  # (M, K)


class Grid(torch.nn.Module):
    """Analysis ``wave -> grid`` and resynthesis ``grid -> wave`` (see the module docstring)."""

    def __init__(self, cfg: GridConfig):
        super().__init__()
        self.cfg = cfg
        mel = torch.from_numpy(_mel_matrix(cfg.sample_rate_hz, cfg.n_fft, cfg.n_mels, cfg.fmin_hz)).float()  # (M, K)
        window = torch.hann_window(cfg.n_fft, periodic=True)
        band_width = mel.sum(1, keepdim=True).clamp_min(POWER_EPS)  # (M, 1)
        cover = mel.sum(0, keepdim=True).clamp_min(POWER_EPS)  # (1, K)
        self.register_buffer("mel", mel, persistent=False)
        self.register_buffer("window", window, persistent=False)
        self.register_buffer("unmel", (mel / band_width / cover).t().contiguous(), persistent=False)  # (K, M)
        self.window_energy = float((window**2).sum())

    def stft(self, wave: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, K, F + 1) complex
        return torch.stft(wave, self.cfg.n_fft, self.cfg.hop, window=self.window, center=True, pad_mode="constant", return_complex=True)

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:  # (B, K, F') -> (B, T)
        return torch.istft(spec, self.cfg.n_fft, self.cfg.hop, window=self.window, center=True, length=length)

    def analyse(self, wave: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, F, M) dB
        power = self.stft(wave.float()).abs().square() / self.window_energy  # (B, K, F + 1)
        mel = torch.einsum("mk,bkf->bfm", self.mel, power)[:, : self.cfg.frames]  # (B, F, M)
        return (DB_PER_DECADE * torch.log10(mel.clamp_min(POWER_EPS))).clamp_min(self.cfg.floor_db)

    def linear_magnitude(self, grid: torch.Tensor, frames: int) -> torch.Tensor:  # (B, F, M) dB -> (B, K, F') magnitude
        power = 10.0 ** (grid.float() / DB_PER_DECADE)  # (B, F, M)
        power = torch.where(grid <= self.cfg.floor_db, torch.zeros_like(power), power)  # the floor is silence
        lin = torch.einsum("km,bfm->bkf", self.unmel, power) * self.window_energy  # (B, K, F)
        if frames > lin.shape[-1]:  # frames past the grid (the STFT's last centred frame): silent
            lin = torch.nn.functional.pad(lin, (0, frames - lin.shape[-1]))
        return lin.clamp_min(0).sqrt()

    @torch.no_grad()
    def resynthesise(self, grid: torch.Tensor, length: int, *, generator: clip_rng.Rng = None, prime: torch.Tensor | None = None) -> torch.Tensor:
        """(B, F, M) dB grid -> (B, T) waveform; ``prime`` (B, P) lands bit-exact in out[:, :P]. The
        initial phase's noise comes from ``generator``: one, or B (row i from ``generator[i]``)."""
        batch = grid.shape[0]
        noise = clip_rng.randn(generator, (batch, length), device=grid.device)  # (B, T)
        phase = self.stft(noise)  # (B, K, F')
        magnitude = self.linear_magnitude(grid, phase.shape[-1])  # (B, K, F')
        spec = magnitude * torch.exp(1j * phase.angle())
        wave = self.istft(spec, length)  # (B, T)
        iters = self.cfg.griffin_lim_iters if prime is None else max(self.cfg.griffin_lim_iters, 1)
        for _ in range(iters):
            if prime is not None:
                wave[:, : prime.shape[1]] = prime
            spec = magnitude * torch.exp(1j * self.stft(wave).angle())
            wave = self.istft(spec, length)
        if prime is not None:
            wave[:, : prime.shape[1]] = prime
        return wave

    def prime_frames(self, prime_samples: int) -> int:
        """Grid frames fully determined by the first P samples: centred frame f covers
        samples [f hop - n_fft / 2, f hop + n_fft / 2), with zero padding before 0."""
        return max(0, min(self.cfg.frames, (prime_samples - self.cfg.n_fft // 2) // self.cfg.hop + 1))
