"""Synthetic failure modes of generated footsteps, for calibrating and training the verdict.

Legend: T samples per clip, N clips.

:func:`negatives` draws ``NEGATIVES_PER_KIND`` clips of each kind at the loudness of real
clips (16 kHz, the real clips' length): stationary coloured noise, noise bursts (a step's
envelope with noise inside and digital silence around), noise with periodic clicks, silence
with isolated clicks, hum, a real step plus DC, a real step clipped. Seeded by the caller's
``numpy.random.Generator``; the category model trains on one seed's draw of the first five
kinds (``benchmarks/fit_category.py``), the calibration judges other seeds' draws
(``benchmarks/calibrate_verdict.py``).
"""

from __future__ import annotations

import math

import numpy as np

from benchbox.audio import PROJECT_SAMPLE_RATE_HZ

NEGATIVES_PER_KIND = 40
KINDS = ("noise", "noise bursts", "noise+periodic clicks", "silence+isolated clicks", "hum", "dc", "clipped")


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _coloured_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """White, pink or brown noise (random), unit RMS: (T,)."""
    white = rng.normal(size=n)
    slope = rng.choice([0.0, 0.5, 1.0])  # power ~ 1 / f^(2 slope)
    spec = np.fft.rfft(white)
    f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    x = np.fft.irfft(spec / f**slope, n=n)
    x -= x.mean()
    return x / _rms(x)


def _clicks(n: int, positions: np.ndarray, amp: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros(n)
    for p, a in zip(positions, amp):
        out[p : p + width] += a * np.exp(-np.arange(min(width, n - p)) / max(1.0, width / 4))
    return out


def _bursts(rng: np.random.Generator, n: int) -> np.ndarray:
    """1-3 coloured-noise bursts (1-5 ms attack, 20-150 ms exponential decay) in digital silence, unit RMS: (T,).

    The shape the 300-step WaveNet-tiny clips have: a step's envelope with no step's texture.
    """
    env = np.zeros(n)
    for start in rng.integers(0, n // 2, size=int(rng.integers(1, 4))):
        attack = int(rng.uniform(0.001, 0.005) * PROJECT_SAMPLE_RATE_HZ)
        tau = rng.uniform(0.02, 0.15) * PROJECT_SAMPLE_RATE_HZ
        k = np.arange(n - start)
        env[start:] = np.maximum(env[start:], np.minimum(k / max(attack, 1), 1.0) * np.exp(-np.maximum(k - attack, 0) / tau))
    x = env * _coloured_noise(rng, n)
    return x / max(_rms(x), 1e-12)


def negatives(real: np.ndarray, rng: np.random.Generator, n: int = NEGATIVES_PER_KIND) -> dict[str, np.ndarray]:
    """Synthetic failure modes, (n, T) each, from real clips (Nr, T); loudness drawn from the real clips."""
    t = real.shape[1]
    loud = np.array([_rms(x) for x in real])
    out: dict[str, list] = {k: [] for k in KINDS}
    for _ in range(n):
        level = rng.choice(loud)
        out["noise"].append(level * _coloured_noise(rng, t))
        out["noise bursts"].append(level * _bursts(rng, t))
        period = int(rng.uniform(0.01, 0.1) * PROJECT_SAMPLE_RATE_HZ)
        pos = np.arange(int(rng.integers(period)), t, period)
        noise = level * _coloured_noise(rng, t)
        out["noise+periodic clicks"].append(np.clip(noise + _clicks(t, pos, rng.uniform(3, 8, len(pos)) * level, 16), -1, 1))
        pos = np.sort(rng.choice(t - 64, size=int(rng.integers(1, 4)), replace=False))
        out["silence+isolated clicks"].append(_clicks(t, pos, rng.uniform(0.1, 0.9, len(pos)) * rng.choice([-1, 1], len(pos)), int(rng.integers(1, 48))))
        ts = np.arange(t) / PROJECT_SAMPLE_RATE_HZ
        f0 = rng.uniform(40, 400)
        hum = sum(np.sin(2 * np.pi * f0 * h * ts + rng.uniform(0, 6.3)) / h for h in (1, 2, 3))
        out["hum"].append(level * math.sqrt(2) * hum / max(_rms(hum) * math.sqrt(2), 1e-9))
        step = real[rng.integers(len(real))].astype(np.float64)
        out["dc"].append(step + rng.choice([-1, 1]) * math.exp(rng.uniform(math.log(0.004), math.log(0.05))))
        out["clipped"].append(np.clip(step * rng.uniform(2, 8) / max(np.abs(step).max(), 1e-9), -1, 1))
    return {k: np.stack(v).astype(np.float32) for k, v in out.items()}
