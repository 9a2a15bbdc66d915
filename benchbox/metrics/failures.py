"""Synthetic failure modes of generated footsteps, for calibrating and training the verdict.

Legend: T samples per clip, N clips.

:func:`negatives` draws ``NEGATIVES_PER_KIND`` clips of each kind at the loudness of real
clips (16 kHz, the real clips' length): stationary coloured noise, noise bursts (a step's
envelope with noise inside and digital silence around), noise with periodic clicks, silence
with isolated clicks, hum, a real step plus DC, a real step clipped; and (issue 22, failure
modes of our own generators the version-5 verdict accepted) a noise wall with faint
low-frequency blips (an under-trained DiffWave), a real step with dropouts and a real step
under a steady spectral line or comb of lines (a GAN's gaps and striation); and (scorer version
7, failures the version-6 verdict still accepted in the families study) a real step over a
crackle (the lpc baseline) and a steady noise wall with late broadband bursts (the AR models).
Seeded by the
caller's ``numpy.random.Generator``; the category model trains on one seed's draw of the
first five kinds (``benchmarks/fit_category.py``), the calibration judges other seeds'
draws (``benchmarks/calibrate_verdict.py``). The issue-22 kinds are drawn after the others,
and the version-7 kinds after those, so adding them left every earlier kind's draw (and the
category model's training data) unchanged.
"""

from __future__ import annotations

import math

import numpy as np

from benchbox.audio import PROJECT_SAMPLE_RATE_HZ

NEGATIVES_PER_KIND = 40
KINDS = ("noise", "noise bursts", "noise+periodic clicks", "silence+isolated clicks", "hum", "dc", "clipped",
         "noise wall+faint blips", "step+dropouts", "step+steady line", "step+crackle", "noise wall+late bursts")
FRAME_MS = 10.0  # level of a clip's loudest frame (the unit of the blip and line levels below)
CRACKLE_FLOOR_RMS = 1e-4  # -80 dBFS: the crackle's floor is at least the smallest 8-bit mu-law code (1.7e-4)


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
    for _ in range(n):  # scorer version 7's kinds, after both loops above so their draws stay as they were
        out["step+crackle"].append(_crackle(rng, real[rng.integers(len(real))].astype(np.float64)))
        out["noise wall+late bursts"].append(_wall_with_bursts(rng, t, rng.choice(loud)))
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


def _noise_burst(rng: np.random.Generator, ms: tuple[float, float]) -> np.ndarray:
    """(L,): white noise with an exponential decay (tau half its length), its length drawn from ``ms``."""
    length = max(1, int(rng.uniform(*ms) * PROJECT_SAMPLE_RATE_HZ / 1000))
    return rng.normal(size=length) * np.exp(-np.arange(length) / max(1.0, length / 2))


def _add(x: np.ndarray, start: int, burst: np.ndarray) -> None:
    end = min(len(x), start + len(burst))
    x[start:end] += burst[: end - start]


def _crackle(rng: np.random.Generator, step: np.ndarray) -> np.ndarray:
    """(T,): the first 20-60 ms of a real step (faded out over 10 ms), then a crackle to the end: white
    noise 45-60 dB under the loudest 10 ms frame of what is kept of the step (and no quieter than
    -80 dBFS, about an 8-bit mu-law code), with 3-12 ms decaying noise bursts at
    Poisson times (40-70 per second), each 18-30 dB over that floor.

    What the lpc baseline makes from a prime: the prime's onset, then a gritty floor of a few
    mu-law codes with broadband stripes that never decays.
    """
    n = len(step)
    keep = int(rng.uniform(0.02, 0.06) * PROJECT_SAMPLE_RATE_HZ)
    fade = int(FRAME_MS * PROJECT_SAMPLE_RATE_HZ / 1000)
    gain = np.concatenate([np.ones(keep), np.linspace(1.0, 0.0, fade), np.zeros(max(0, n - keep - fade))])[:n]
    floor = max(_peak_frame_rms(step * gain) * 10.0 ** (-rng.uniform(45, 60) / 20), CRACKLE_FLOOR_RMS)
    x = floor * rng.normal(size=n)
    for start in rng.integers(0, n, size=rng.poisson(rng.uniform(40, 70) * n / PROJECT_SAMPLE_RATE_HZ)):
        _add(x, int(start), floor * 10.0 ** (rng.uniform(18, 30) / 20) * _noise_burst(rng, (3.0, 12.0)))
    return step * gain + x


def _wall_with_bursts(rng: np.random.Generator, n: int, level: float) -> np.ndarray:
    """(T,): white or slightly pink noise for the whole clip (drifting by up to 1.5 dB), 10-25 dB under a real
    clip's RMS ``level``, with a faint onset at 10 ms (6-15 dB over the wall) and 1-3 broadband
    bursts (5-20 ms of decaying noise) after 120 ms whose loudest 10 ms frame is 12-25 dB over it.

    What the AR models make when they do not find a step: a hiss of constant level from start to
    end with one or two stripes anywhere in it.
    """
    white = rng.normal(size=n)
    slope = rng.choice([0.0, 0.25])  # power ~ 1 / f^(2 slope)
    f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    wall = np.fft.irfft(np.fft.rfft(white) / f**slope, n=n)
    wall *= 10.0 ** (np.interp(np.arange(n), np.linspace(0, n, 5), rng.uniform(-1.5, 1.5, 5)) / 20)
    wall *= level * 10.0 ** (-rng.uniform(10, 25) / 20) / _rms(wall)
    onset = int(FRAME_MS * PROJECT_SAMPLE_RATE_HZ / 1000)
    starts = [(onset, rng.uniform(6, 15))] + [(int(s), rng.uniform(12, 25)) for s in rng.integers(int(0.12 * PROJECT_SAMPLE_RATE_HZ), n - n // 16, size=int(rng.integers(1, 4)))]
    for start, over_db in starts:
        burst = _noise_burst(rng, (5.0, 20.0))
        loudest = _peak_frame_rms(np.pad(burst, (0, onset)))  # padded: a burst under 10 ms still fills a frame
        _add(wall, start, burst * _rms(wall) * 10.0 ** (over_db / 20) / max(loudest, 1e-12))
    return wall
