"""Synthetic failure modes of generated footsteps, for calibrating and training the verdict.

Legend: T samples per clip, N clips.

:func:`negatives` draws ``NEGATIVES_PER_KIND`` clips of each kind at the loudness of real
clips (16 kHz, the real clips' length): stationary coloured noise, noise bursts (a step's
envelope with noise inside and digital silence around), noise with periodic clicks, silence
with isolated clicks, hum, a real step plus DC, a real step clipped; and (issue 22, failure
modes of our own generators the version-5 verdict accepted) a noise wall with faint
low-frequency blips (an under-trained DiffWave), a real step with dropouts and a real step
under a steady spectral line or comb of lines (a GAN's gaps and striation). Seeded by the
caller's ``numpy.random.Generator``; the category model trains on one seed's draw of the
first five kinds (``benchmarks/fit_category.py``), the calibration judges other seeds'
draws (``benchmarks/calibrate_verdict.py``). The issue-22 kinds are drawn after the others,
so adding them left every earlier kind's draw (and the category model's training data)
unchanged.
"""

from __future__ import annotations

import math

import numpy as np

from benchbox.audio import PROJECT_SAMPLE_RATE_HZ

NEGATIVES_PER_KIND = 40
KINDS = ("noise", "noise bursts", "noise+periodic clicks", "silence+isolated clicks", "hum", "dc", "clipped",
         "noise wall+faint blips", "step+dropouts", "step+steady line")
FRAME_MS = 10.0  # level of a clip's loudest frame (the unit of the blip and line levels below)


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
    for _ in range(n):  # issue 22's kinds, after the loop above so its draws stay as they were
        out["noise wall+faint blips"].append(_wall_with_blips(rng, t, rng.choice(loud)))
        out["step+dropouts"].append(_dropouts(rng, real[rng.integers(len(real))].astype(np.float64)))
        out["step+steady line"].append(_steady_line(rng, real[rng.integers(len(real))].astype(np.float64)))
    return {k: np.stack(v).astype(np.float32) for k, v in out.items()}


def _peak_frame_rms(x: np.ndarray) -> float:
    """RMS of the loudest ``FRAME_MS`` frame of (T,)."""
    n = int(FRAME_MS * PROJECT_SAMPLE_RATE_HZ / 1000)
    frames = x[: len(x) // n * n].reshape(-1, n)
    return float(np.sqrt(np.mean(np.square(frames), axis=1)).max())


def _wall_with_blips(rng: np.random.Generator, n: int, level: float) -> np.ndarray:
    """(T,): white or pink noise for the whole clip (drifting by up to 3 dB), 10-25 dB under a real clip's RMS ``level``,
    with 1-4 decaying 40-250 Hz blips (tau 10-60 ms) whose peak frame is 12-30 dB above the wall.

    What an under-trained DiffWave makes: the sampler's residual noise everywhere and faint
    thumps that level normalisation lifts to a step's loudness.
    """
    white = rng.normal(size=n)
    slope = rng.choice([0.0, 0.5])
    f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    wall = np.fft.irfft(np.fft.rfft(white) / f**slope, n=n)
    drift = np.interp(np.arange(n), np.linspace(0, n, 5), rng.uniform(-3, 3, 5))  # the floor drifts by up to +-3 dB
    wall *= 10.0 ** (drift / 20)
    wall *= level * 10.0 ** (-rng.uniform(10, 25) / 20) / _rms(wall)
    blips = np.zeros(n)
    for start in rng.integers(0, n - n // 8, size=int(rng.integers(1, 5))):
        k = np.arange(n - start) / PROJECT_SAMPLE_RATE_HZ
        one = np.exp(-k / rng.uniform(0.01, 0.06)) * np.sin(2 * np.pi * rng.uniform(40, 250) * k)
        one *= _rms(wall) * 10.0 ** (rng.uniform(12, 30) / 20) / max(_peak_frame_rms(one), 1e-12)
        blips[start:] += one
    return wall + blips


def _dropouts(rng: np.random.Generator, step: np.ndarray) -> np.ndarray:
    """(T,): a real step with 1-3 gaps of 10-60 ms, 40-80 dB down or digital zero, in its loud part
    (starting 0-60 ms after its loudest frame): a GAN's vertical dropouts."""
    n = int(FRAME_MS * PROJECT_SAMPLE_RATE_HZ / 1000)
    frames = step[: len(step) // n * n].reshape(-1, n)
    peak = int(np.argmax(np.mean(np.square(frames), axis=1))) * n
    out = step.copy()
    for _ in range(int(rng.integers(1, 4))):
        start = peak + int(rng.uniform(0.0, 0.06) * PROJECT_SAMPLE_RATE_HZ)
        width = int(rng.uniform(0.01, 0.06) * PROJECT_SAMPLE_RATE_HZ)
        gain = 0.0 if rng.random() < 0.5 else 10.0 ** (-rng.uniform(40, 80) / 20)
        out[start : start + width] *= gain
    return out


def _steady_line(rng: np.random.Generator, step: np.ndarray) -> np.ndarray:
    """(T,): a real step under a constant sine (1-7.5 kHz) or, half the time, a comb of 3-8
    lines 200-1000 Hz apart above 1 kHz (striation), held for the whole clip: a GAN's steady
    whistle. Its RMS is 0-10 dB above the step's median frame (of those within 60 dB of its loudest; audible in the step's tail) and at
    least 15 dB under its loudest frame (the step stays the loudest thing in the clip)."""
    ts = np.arange(len(step)) / PROJECT_SAMPLE_RATE_HZ
    if rng.random() < 0.5:
        freqs = np.array([rng.uniform(1000, 7500)])
    else:
        freqs = rng.uniform(1000, 2000) + rng.uniform(200, 1000) * np.arange(int(rng.integers(3, 9)))
        freqs = freqs[freqs < 7500]
    tone = sum(np.sin(2 * np.pi * f * ts + rng.uniform(0, 2 * np.pi)) for f in freqs)
    n = int(FRAME_MS * PROJECT_SAMPLE_RATE_HZ / 1000)
    frames = np.sqrt(np.mean(np.square(step[: len(step) // n * n].reshape(-1, n)), axis=1))
    median = float(np.median(frames[frames >= frames.max() * 1e-3]))  # of the frames within 60 dB of the loudest
    target = min(median * 10.0 ** (rng.uniform(0, 10) / 20), _peak_frame_rms(step) * 10.0 ** (-15 / 20))
    tone *= target / max(_rms(tone), 1e-12)
    return step + tone
