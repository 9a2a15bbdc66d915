"""Find single footsteps in a recording and cut each into a fixed-length clip.

Legend: T time in samples, F envelope frames (one per hop), S steps found.

The detector works on a short-time energy envelope in dB. A step starts where the
envelope rises by at least ``onset_delta_db`` above its minimum over the preceding
``onset_lookback_ms``; starts closer than ``min_step_gap_ms`` to the previous one belong
to the same step (a heel and toe strike are 30-120 ms apart, a running gait is > 250 ms
between steps). Candidates quieter than ``onset_range_db`` below the loudest frame of the
file are ignored, so a loop's background crunch does not count as a step.

The onset is then placed to the sample: the first sample whose 1 ms trailing RMS exceeds
both the absolute trim level (``trim_db`` dBFS) and the local noise floor plus
``ONSET_FLOOR_MARGIN_DB``. The step ends at the last frame above the same floor (plus
``END_FLOOR_MARGIN_DB``) before the next step; a short tail is kept and faded out.
All levels are absolute dBFS, never relative to a file's peak, except ``onset_range_db``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_MS = 10.0  # envelope window
HOP_MS = 2.5  # envelope hop
FINE_MS = 1.0  # trailing RMS window that places the onset to the sample
ONSET_FLOOR_MARGIN_DB = 12.0  # onset: this far above the pre-onset floor
END_FLOOR_MARGIN_DB = 6.0  # step end: last frame this far above the floor
TAIL_MS = 30.0  # kept after the step end, before the fade
FADE_MS = 10.0  # raised-cosine fade-out at the cut
SILENCE_DB = -200.0  # envelope value of digital silence
MS_PER_SECOND = 1000.0


@dataclass(frozen=True)
class StepParams:
    """The detector's knobs, in the units their names say."""

    sample_rate_hz: int
    trim_db: float = -60.0
    onset_delta_db: float = 9.0
    onset_lookback_ms: float = 40.0
    onset_range_db: float = 20.0
    min_step_gap_ms: float = 300.0


@dataclass(frozen=True)
class Step:
    """One detected step, in samples of the source recording."""

    onset: int  # first sample of the step
    end: int  # one past the last sample above the floor
    limit: int  # the cut may not pass this sample (next step or end of file)
    floor_db: float  # local noise floor before the onset, dBFS

    def seconds(self, sample_rate_hz: int) -> float:
        return (self.end - self.onset) / sample_rate_hz


def _ms_to_samples(ms: float, sample_rate_hz: int) -> int:
    return max(1, int(round(ms * sample_rate_hz / MS_PER_SECOND)))


def _to_db(mean_square: np.ndarray) -> np.ndarray:
    return np.maximum(10.0 * np.log10(np.maximum(mean_square, 1e-30)), SILENCE_DB)


def trailing_mean_square(wave: np.ndarray, width: int) -> np.ndarray:
    """Mean of x^2 over samples [i - width + 1, i] for every i (zeros before the start): (T,)."""
    csum = np.concatenate([np.zeros(width), np.cumsum(wave.astype(np.float64) ** 2)])  # (T + width,)
    return (csum[width:] - csum[:-width]) / width  # (T,)


def envelope_db(wave: np.ndarray, sample_rate_hz: int) -> tuple[np.ndarray, int, int]:
    """Short-time energy in dBFS: ((F,), hop, window). Frame f covers [f*hop, f*hop + window)."""
    hop, width = _ms_to_samples(HOP_MS, sample_rate_hz), _ms_to_samples(FRAME_MS, sample_rate_hz)
    ms = trailing_mean_square(np.concatenate([wave, np.zeros(width)]), width)  # (T + width,)
    n_frames = max(1, -(-len(wave) // hop))
    return _to_db(ms[np.arange(n_frames) * hop + width - 1]), hop, width  # (F,)


def onset_frames(env_db: np.ndarray, params: StepParams, hop: int) -> list[tuple[int, float]]:
    """Frames where a step starts, each with its pre-onset floor in dBFS, in time order.

    Candidates are frames whose rise above the lookback minimum reaches
    ``onset_delta_db``; the strongest rise wins and suppresses every other candidate
    within ``min_step_gap_ms`` (non-maximum suppression), so a late crunch inside a
    step never displaces the step's own onset. The onset is then the first frame of the
    winner's run of rising frames (the heel, when the toe is louder).
    """
    lookback = max(1, _ms_to_samples(params.onset_lookback_ms, params.sample_rate_hz) // hop)
    gap = max(1, _ms_to_samples(params.min_step_gap_ms, params.sample_rate_hz) // hop)
    padded = np.concatenate([np.full(lookback, params.trim_db), env_db])  # (lookback + F,)
    floor = np.lib.stride_tricks.sliding_window_view(padded[:-1], lookback).min(axis=1)  # (F,)
    rise = np.where(env_db >= params.trim_db, env_db - floor, -np.inf)  # (F,) frames below trim never start a step
    loud_enough = max(params.trim_db, float(env_db.max()) - params.onset_range_db)
    candidates = [int(f) for f in np.flatnonzero(rise >= params.onset_delta_db) if env_db[f : f + gap].max() >= loud_enough]
    kept: list[int] = []
    for f in sorted(candidates, key=lambda f: (-rise[f], f)):
        if all(abs(f - k) >= gap for k in kept):
            kept.append(f)
    starts = []
    for f in sorted(kept):  # move back to the first frame of the winner's rising run
        while f > 0 and rise[f - 1] >= params.onset_delta_db:
            f -= 1
        starts.append(f)
    return [(f, float(floor[f])) for f in sorted(set(starts))]


def _place_onset(fine_db: np.ndarray, start: int, stop: int, threshold_db: float) -> int:
    above = np.flatnonzero(fine_db[start:stop] >= threshold_db)
    return start + int(above[0]) if len(above) else start


def find_steps(wave: np.ndarray, params: StepParams) -> list[Step]:
    """Every step in a mono recording (T,), in time order."""
    wave = np.asarray(wave, dtype=np.float32)
    env_db, hop, width = envelope_db(wave, params.sample_rate_hz)
    fine_db = _to_db(trailing_mean_square(wave, _ms_to_samples(FINE_MS, params.sample_rate_hz)))  # (T,)
    lookback = _ms_to_samples(params.onset_lookback_ms, params.sample_rate_hz)
    starts = []
    for frame, floor_db in onset_frames(env_db, params, hop):
        threshold_db = max(params.trim_db, floor_db + ONSET_FLOOR_MARGIN_DB)
        lo = max(0, frame * hop - lookback)
        hi = min(len(wave), frame * hop + width + hop)
        starts.append((_place_onset(fine_db, lo, hi, threshold_db), floor_db))
    steps = []
    for k, (onset, floor_db) in enumerate(starts):
        limit = starts[k + 1][0] if k + 1 < len(starts) else len(wave)
        end_db = max(params.trim_db, floor_db + END_FLOOR_MARGIN_DB)
        first, last = onset // hop, max(onset // hop + 1, (limit - width) // hop + 1)  # windows inside the step
        above = np.flatnonzero(env_db[first:last] >= end_db)
        end = (first + int(above[-1])) * hop + width if len(above) else onset + width
        steps.append(Step(onset=onset, end=int(min(max(end, onset + 1), limit)), limit=int(limit), floor_db=floor_db))
    return steps


def cut_clip(wave: np.ndarray, step: Step, *, clip_samples: int, onset_samples: int, sample_rate_hz: int) -> np.ndarray:
    """The step as a clip: zeros, then the onset at ``onset_samples``, a faded tail: (clip_samples,)."""
    tail = _ms_to_samples(TAIL_MS, sample_rate_hz)
    stop = min(step.limit, step.end + tail, step.onset + clip_samples - onset_samples)
    piece = np.asarray(wave[step.onset : stop], dtype=np.float32).copy()  # (L,)
    fade = min(_ms_to_samples(FADE_MS, sample_rate_hz), len(piece) // 2)
    if fade > 0:
        piece[-fade:] *= (0.5 * (1.0 + np.cos(np.linspace(0.0, np.pi, fade)))).astype(np.float32)
    clip = np.zeros(clip_samples, dtype=np.float32)  # (clip_samples,)
    clip[onset_samples : onset_samples + len(piece)] = piece
    return clip


def rms_db(wave: np.ndarray) -> float:
    """RMS level in dBFS (SILENCE_DB for an all-zero or empty signal)."""
    if len(wave) == 0:
        return SILENCE_DB
    return float(_to_db(np.array([np.mean(np.asarray(wave, dtype=np.float64) ** 2)]))[0])
