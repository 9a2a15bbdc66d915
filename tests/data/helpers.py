"""Builders for test recordings: decaying noise bursts at known onsets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

RATE_HZ = 16_000


def burst(rng: np.random.Generator, seconds: float = 0.15, peak: float = 0.5, rate_hz: int = RATE_HZ) -> np.ndarray:
    """A heel+toe-like burst: noise with a 25 ms decay and a second strike 60 ms later: (T,)."""
    n = int(seconds * rate_hz)
    t = np.arange(n) / rate_hz
    env = np.exp(-t / 0.025)
    toe = int(0.06 * rate_hz)
    env[toe:] += 0.6 * np.exp(-t[: n - toe] / 0.025)
    x = rng.standard_normal(n) * env
    return (peak * x / np.abs(x).max()).astype(np.float32)


def recording(rng: np.random.Generator, onsets_s: list[float], total_s: float, rate_hz: int = RATE_HZ, peak: float = 0.5) -> np.ndarray:
    """Silence with a burst starting at each onset: (T,)."""
    x = np.zeros(int(total_s * rate_hz), dtype=np.float32)
    for t in onsets_s:
        b = burst(rng, rate_hz=rate_hz, peak=peak)
        start = int(round(t * rate_hz))
        x[start : start + len(b)] += b[: len(x) - start]
    return x


def write(path: Path, wave: np.ndarray, rate_hz: int = RATE_HZ, channels: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.stack([wave] * channels, axis=1) if channels > 1 else wave
    sf.write(str(path), data, rate_hz, subtype="PCM_16" if path.suffix == ".wav" else None)
    return path
