"""``benchbox data synth``: the embedded procedural footstep corpus (no download).

Legend: T samples per clip, K modes of a resonator.

A physically informed model of one step, after the usual decomposition of footstep
sounds into a heel strike, a toe (ball) strike and the surface's response:

* two impacts 30-120 ms apart with random gait timing, force and toe/heel balance;
* each impact excites band-limited noise (Butterworth band-pass per surface) with a
  fast attack and an exponential decay (the contact and the surface's damping);
* gravel and snow add granular crunch: many 1-6 ms decaying grains whose rate falls
  off after each impact (stones or snow crystals breaking under the shifting load);
* wood and metal add damped modes (exponentially decaying sines at surface-specific,
  slightly jittered frequencies), struck by both impacts;
* grass adds a slow, high-passed swish; concrete a short low thump plus a hard click.

Every clip is drawn from its own generator ``default_rng([seed, index])``, so the
corpus is byte-identical for a seed and the first n clips do not depend on N.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from benchbox.audio import PROJECT_SAMPLE_RATE_HZ
from benchbox.data.dataset import DATASET_FORMAT
from benchbox.data.importer import DEFAULT_CLIP_SAMPLES, pcm16_hash, prepare_out, write_clips
from benchbox.data.segment import trailing_mean_square
from benchbox.data.splits import assign_splits
from benchbox.errors import DataError
from benchbox.progress import Progress, no_progress
from benchbox.runs import atomic_write_json, staged_dir, write_run_info

MS_PER_SECOND = 1000.0
FILTER_ORDER = 2
END_LEVEL_DB = -60.0  # a step "ends" when its 1 ms RMS stays below this
FADE_MS = 10.0


@dataclass(frozen=True)
class Surface:
    """The physical knobs of one surface; times in ms, levels in dBFS."""

    band_hz: tuple[float, float]  # excitation noise band
    decay_ms: tuple[float, float]  # impact decay time constant (range)
    attack_ms: float = 1.0
    peak_dbfs: tuple[float, float] = (-12.0, -4.0)
    grain_rate_hz: float = 0.0  # crunch grains per second at the impact
    grain_band_hz: tuple[float, float] = (1500.0, 7000.0)
    grain_spread_ms: float = 0.0  # time constant of the fall-off of grain rate
    grain_gain: float = 0.0
    modes_hz: tuple[float, ...] = ()  # resonances
    mode_decay_ms: tuple[float, float] = (40.0, 120.0)
    mode_gain: float = 0.0
    thump_gain: float = 0.0  # low (< 200 Hz) body thump
    swish_gain: float = 0.0  # slow high-passed noise (grass blades)


SURFACES: dict[str, Surface] = {
    "gravel": Surface(band_hz=(300.0, 6000.0), decay_ms=(12.0, 30.0), peak_dbfs=(-16.0, -4.0), grain_rate_hz=1400.0, grain_band_hz=(1200.0, 7500.0), grain_spread_ms=45.0, grain_gain=0.9, thump_gain=0.3),
    "snow": Surface(band_hz=(150.0, 3000.0), decay_ms=(20.0, 40.0), attack_ms=4.0, peak_dbfs=(-22.0, -8.0), grain_rate_hz=2400.0, grain_band_hz=(400.0, 3500.0), grain_spread_ms=50.0, grain_gain=0.7, thump_gain=0.4),
    "wood": Surface(band_hz=(150.0, 4000.0), decay_ms=(6.0, 15.0), peak_dbfs=(-16.0, -4.0), modes_hz=(180.0, 410.0, 730.0, 1150.0, 1720.0), mode_decay_ms=(12.0, 30.0), mode_gain=0.45, thump_gain=0.6),
    "metal": Surface(band_hz=(600.0, 7500.0), decay_ms=(6.0, 14.0), peak_dbfs=(-14.0, -3.0), modes_hz=(520.0, 1340.0, 2210.0, 2930.0, 3470.0, 4890.0, 6120.0), mode_decay_ms=(20.0, 45.0), mode_gain=0.3, thump_gain=0.2, grain_rate_hz=200.0, grain_band_hz=(2000.0, 7500.0), grain_spread_ms=25.0, grain_gain=0.2),
    "grass": Surface(band_hz=(1500.0, 7500.0), decay_ms=(20.0, 45.0), attack_ms=8.0, peak_dbfs=(-24.0, -10.0), grain_rate_hz=600.0, grain_band_hz=(2500.0, 7500.0), grain_spread_ms=45.0, grain_gain=0.35, swish_gain=0.6, thump_gain=0.3),
    "concrete": Surface(band_hz=(400.0, 7000.0), decay_ms=(4.0, 10.0), peak_dbfs=(-16.0, -4.0), thump_gain=0.9, grain_rate_hz=150.0, grain_band_hz=(2000.0, 7000.0), grain_spread_ms=25.0, grain_gain=0.15),
}


@dataclass(frozen=True)
class SynthConfig:
    sample_rate_hz: int = PROJECT_SAMPLE_RATE_HZ
    clip_samples: int = DEFAULT_CLIP_SAMPLES
    onset_offset_ms: float = 10.0
    heel_toe_ms: tuple[float, float] = (30.0, 120.0)
    surfaces: tuple[str, ...] = tuple(SURFACES)
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)

    def __post_init__(self) -> None:
        unknown = [s for s in self.surfaces if s not in SURFACES]
        if unknown or not self.surfaces:
            raise ValueError(f"unknown surfaces {unknown}; known: {', '.join(SURFACES)}")
        if self.clip_samples <= int(self.onset_offset_ms * self.sample_rate_hz / MS_PER_SECOND):
            raise ValueError("clip_samples must exceed the onset offset")


@dataclass
class _SynthClip:
    wave: np.ndarray  # (T,)
    source: str
    label: str
    offset_seconds: float
    seconds: float


# ------------------------------------------------------------------ sound parts


def _band_noise(rng: np.random.Generator, n: int, band_hz: tuple[float, float], rate_hz: int) -> np.ndarray:
    nyquist = rate_hz / 2
    low, high = max(band_hz[0], 20.0), min(band_hz[1], 0.95 * nyquist)
    sos = signal.butter(FILTER_ORDER, (low, high), btype="bandpass", fs=rate_hz, output="sos")
    out = signal.sosfilt(sos, rng.standard_normal(n))  # (n,)
    return out / (np.abs(out).max() + 1e-12)


def _decay(n: int, rate_hz: int, attack_ms: float, decay_ms: float) -> np.ndarray:
    t_ms = np.arange(n) * MS_PER_SECOND / rate_hz  # (n,)
    return (1.0 - np.exp(-t_ms / max(attack_ms / 3.0, 1e-3))) * np.exp(-t_ms / decay_ms)


def _grains(rng: np.random.Generator, n: int, s: Surface, rate_hz: int) -> np.ndarray:
    """Crunch: decaying noise grains, Poisson in time, rate falling after the impact."""
    out = np.zeros(n)
    span_ms = 3.0 * s.grain_spread_ms
    count = rng.poisson(s.grain_rate_hz * s.grain_spread_ms / MS_PER_SECOND)
    times_ms = np.minimum(rng.exponential(s.grain_spread_ms, count), span_ms)
    source = _band_noise(rng, n, s.grain_band_hz, rate_hz)
    for t_ms in times_ms:
        start = int(t_ms * rate_hz / MS_PER_SECOND)
        length = int(rng.uniform(1.0, 6.0) * rate_hz / MS_PER_SECOND)
        stop = min(n, start + length)
        amp = rng.uniform(0.2, 1.0) * np.exp(-t_ms / s.grain_spread_ms)
        out[start:stop] += amp * source[start:stop] * np.exp(-np.arange(stop - start) / (0.3 * length))
    return out


def mode_frequencies(rng: np.random.Generator, s: Surface) -> np.ndarray:
    """The resonances of one board or plate: the surface's modes, scaled and jittered: (K,)."""
    scale = rng.uniform(0.9, 1.1)  # board or plate size
    return np.asarray(s.modes_hz) * scale * rng.uniform(0.97, 1.03, len(s.modes_hz))


def _modes(rng: np.random.Generator, n: int, s: Surface, modes_hz: np.ndarray, rate_hz: int) -> np.ndarray:
    t = np.arange(n) / rate_hz  # (n,)
    out = np.zeros(n)
    for k, f_hz in enumerate(modes_hz):
        tau = rng.uniform(*s.mode_decay_ms) / MS_PER_SECOND / (1.0 + 0.3 * k)
        out += rng.uniform(0.4, 1.0) / (1.0 + k) * np.sin(2 * np.pi * f_hz * t + rng.uniform(0, 2 * np.pi)) * np.exp(-t / tau)
    return out


def impact(rng: np.random.Generator, n: int, s: Surface, modes_hz: np.ndarray, rate_hz: int) -> np.ndarray:
    """One strike (heel or toe) on surface ``s``, starting at sample 0: (n,).

    Heel and toe strike the same board, so both ring the same ``modes_hz`` (K,);
    different frequencies for the two would beat audibly.
    """
    decay_ms = rng.uniform(*s.decay_ms)
    out = _band_noise(rng, n, s.band_hz, rate_hz) * _decay(n, rate_hz, s.attack_ms, decay_ms)
    if s.thump_gain:
        out += s.thump_gain * _band_noise(rng, n, (40.0, 200.0), rate_hz) * _decay(n, rate_hz, 2.0, 2.0 * decay_ms)
    if s.grain_gain:
        out += s.grain_gain * _grains(rng, n, s, rate_hz)
    if s.mode_gain:
        out += s.mode_gain * _modes(rng, n, s, modes_hz, rate_hz)
    if s.swish_gain:
        out += s.swish_gain * _band_noise(rng, n, (3000.0, 7500.0), rate_hz) * _decay(n, rate_hz, 20.0, 1.5 * decay_ms)
    return out


def synth_step(rng: np.random.Generator, surface: str, config: SynthConfig) -> tuple[np.ndarray, float]:
    """One footstep clip (T,) with its onset at ``onset_offset_ms``, and its duration in s."""
    s, rate = SURFACES[surface], config.sample_rate_hz
    onset = int(round(config.onset_offset_ms * rate / MS_PER_SECOND))
    n = config.clip_samples - onset
    heel_toe = int(rng.uniform(*config.heel_toe_ms) * rate / MS_PER_SECOND)
    modes_hz = mode_frequencies(rng, s)  # (K,)
    body = rng.uniform(0.6, 1.0) * impact(rng, n, s, modes_hz, rate)  # (n,)
    toe = rng.uniform(0.35, 0.9) * impact(rng, n - heel_toe, s, modes_hz, rate)
    body[heel_toe:] += toe
    fade = int(FADE_MS * rate / MS_PER_SECOND)
    body[-fade:] *= 0.5 * (1.0 + np.cos(np.linspace(0.0, np.pi, fade)))
    body *= 10 ** (rng.uniform(*s.peak_dbfs) / 20) / (np.abs(body).max() + 1e-12)
    clip = np.zeros(config.clip_samples, dtype=np.float32)  # (T,)
    clip[onset:] = body
    above = np.flatnonzero(trailing_mean_square(body, max(1, rate // int(MS_PER_SECOND))) >= 10 ** (END_LEVEL_DB / 10))
    seconds = (int(above[-1]) + 1 if len(above) else 1) / rate
    return clip, seconds


# ---------------------------------------------------------------------- corpus


def synth_corpus(out: str | Path, *, n: int = 256, seed: int = 0, config: SynthConfig | None = None, overwrite: bool = False, progress: Progress | None = None) -> Path:
    """Write ``n`` synthetic single-step clips to the dataset folder ``out``."""
    config = config or SynthConfig()
    progress = progress or no_progress
    out = Path(out)
    if n < 1:
        raise DataError(f"synth: n={n} clips asked for", hint="pass --n 1 or more")
    prepare_out(out, overwrite=overwrite)
    clips, hashes = [], []
    for i in range(n):
        surface = config.surfaces[i % len(config.surfaces)]
        wave, seconds = synth_step(np.random.default_rng([seed, i]), surface, config)
        clips.append(_SynthClip(wave, f"synth/{surface}_{i:05d}", surface, 0.0, seconds))
        hashes.append(pcm16_hash(wave, config.sample_rate_hz))
        progress("synth", i + 1, n)
    split_of = assign_splits([c.source for c in clips], [1] * n, config.split, seed)
    ids = [c.source.split("/")[-1] for c in clips]  # "gravel_00000": the label survives a re-import
    with staged_dir(out) as stage:  # replaced whole, or left as it was
        write_clips(stage, clips, hashes, [split_of[c.source] for c in clips], config.sample_rate_hz, ids=ids)
        info = {"format": DATASET_FORMAT, "kind": "synth", "sample_rate_hz": config.sample_rate_hz, "clip_samples": config.clip_samples, "normalise": "none", "source": "benchbox.data.synth", "synth": {**asdict(config), "n": n, "seed": seed}}
        atomic_write_json(stage / "dataset.json", info)
        write_run_info(stage, {"synth": {**asdict(config), "n": n, "seed": seed}})
    return out
