"""Detectors of a generator's steady artefacts: a noise wall, dropouts, a spectral line, crackle,
a wall with late bursts.

Legend: T time in samples, F analysis frames, K frequency bins.

Each takes one mono waveform (T,) float64 at its own sample rate, **as generated**
(never level-normalised), and the thresholds of :class:`benchbox.metrics.artifacts.DetectorConfig`;
it returns namespaced values and a ``<name>/flag`` in {0, 1}. Durations are in ms and
frequencies in Hz, so they behave the same at any sample rate.

They were written for failure modes seen in spectrograms of our own generators
(issue 22) that the version-5 verdict accepted:

- ``wall``: a low-level noise wall across the whole clip with faint low-frequency
  blips (an under-trained DiffWave). Above ``wall_high_band_hz`` the clip is a steady
  floor (its loudest frame is little above its quiet frames), and what rises above the
  floor is low-frequency only. A real step is broadband at its onset; a dense real
  texture (running on sand) is steady too, but broadband, so its loud frames are not
  low-frequency.
- ``dropout``: the level falls by ``dropout_fall_db`` within one frame and comes back
  within ``dropout_max_ms`` (a GAN's vertical gaps). A real sound decays gradually; the
  importer's tail cut falls abruptly but never comes back.
- ``line``: a narrow spectral line that stays in the clip's active frames (a GAN's
  steady whistle or striation): the per-frame level of a bin over the median of its
  neighbours, taken at a low quantile over the active frames, so a tone that rings and
  decays with a step drops out while a line held for the whole clip stays.

Two more (scorer version 7, issue 22) for failures the version-6 verdict still accepted in the
families study (issue 28):

- ``crackle``: the quiet part of the clip keeps starting again: many small onsets (one 10 ms
  frame ``crackle_rise_db`` over the one before) 10-80 dB under the loudest frame, all
  through the clip (the lpc baseline's gritty floor of a few mu-law codes with broadband
  stripes). A real step's quiet part is a smooth decay, a steady texture or digital silence;
  gravel and wood steps re-start a few times as they settle (6 onsets at most in 0.512 s on the
  dev corpus), a crackle dozens of times.
- ``burstwall``: a steady floor that holds through the clip, with short bursts standing over it
  after the first 100 ms (the AR models' hiss wall with one or two stripes). A real step has
  its loudest moment at its onset; a steady real texture (a grass rustle) swells and fades with
  no late burst over it (one grass-walking clip of the 206, a second step over a rustle, excepted).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import median_filter

if TYPE_CHECKING:
    from benchbox.metrics.artifacts import DetectorConfig

MS_PER_SECOND = 1000.0
POWER_FLOOR = 1e-20  # power added before a log, far under 16-bit quantisation noise


def _samples(ms: float, sample_rate_hz: int) -> int:
    return max(1, int(round(ms * sample_rate_hz / MS_PER_SECOND)))


def _power_frames(wave: np.ndarray, frame: int, hop: int) -> np.ndarray:
    """(T,) -> (F, K) Hann-windowed power spectra (zero-padded so a short clip has one frame)."""
    if len(wave) < frame:
        wave = np.pad(wave, (0, frame - len(wave)))
    frames = np.lib.stride_tricks.sliding_window_view(wave, frame)[::hop]  # (F, frame)
    return np.abs(np.fft.rfft(frames * np.hanning(frame), axis=1)) ** 2  # (F, K)


def _db(power: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(power + POWER_FLOOR)


def wall(wave: np.ndarray, sample_rate_hz: int, config: DetectorConfig) -> dict[str, float]:
    """A steady broadband floor whose only events are low-frequency.

    Over ``wall_frame_ms`` frames (half overlap), the power above ``wall_high_band_hz``
    per frame in dB: ``wall/high_contrast_db`` is its maximum over its
    ``wall_floor_quantile`` and ``wall/high_iqr_db`` its interquartile range (how much
    the floor moves). ``wall/low_share``: the share of power below ``wall_low_band_hz`` in
    the frames within 6 dB of the loudest (full band); all three are 0 for digital silence. Flagged when the contrast is under
    ``wall_high_contrast_db_flag_below``, the range under ``wall_high_iqr_db_flag_below``
    **and** the share at least ``wall_low_share_flag_above``; silence is never a wall.
    The range keeps the real grass steps of 0ad (a rustle that swells, over a thud) apart
    from a generator's flat noise floor, which they otherwise resemble.
    """
    frame = _samples(config.wall_frame_ms, sample_rate_hz)
    power = _power_frames(wave, frame, max(1, frame // 2))  # (F, K)
    freqs = np.fft.rfftfreq(frame, 1.0 / sample_rate_hz)  # (K,)
    total = power.sum(axis=1)  # (F,)
    if total.max() <= POWER_FLOOR:
        return {"wall/high_contrast_db": 0.0, "wall/high_iqr_db": 0.0, "wall/low_share": 0.0, "wall/flag": 0}
    high = _db(power[:, freqs >= config.wall_high_band_hz].sum(axis=1))  # (F,)
    contrast = float(high.max() - np.quantile(high, config.wall_floor_quantile))
    iqr = float(np.subtract(*np.quantile(high, [0.75, 0.25])))
    loud = total >= total.max() * 10.0 ** (-6.0 / 10.0)  # (F,) frames within 6 dB of the loudest
    low_share = float(power[loud][:, freqs < config.wall_low_band_hz].sum() / power[loud].sum())
    steady = contrast < config.wall_high_contrast_db_flag_below and iqr < config.wall_high_iqr_db_flag_below
    flag = steady and low_share >= config.wall_low_share_flag_above
    return {"wall/high_contrast_db": contrast, "wall/high_iqr_db": iqr, "wall/low_share": low_share, "wall/flag": int(flag)}


def _quantisation_floor_db(wave: np.ndarray) -> float:
    """The level in dBFS of the clip's smallest non-zero ``|sample|`` (one code of its quantiser); -inf for digital silence."""
    magnitude = np.abs(wave[wave != 0.0])  # (T',)
    return 20.0 * math.log10(float(magnitude.min())) if magnitude.size else -math.inf


def dropout(wave: np.ndarray, sample_rate_hz: int, config: DetectorConfig) -> dict[str, float]:
    """Gaps: abrupt falls of the ``dropout_frame_ms`` envelope that come back.

    A fall is a frame at least ``dropout_fall_db`` under the louder of the two frames
    before it, where that frame is within ``dropout_active_db`` of the clip's loudest;
    it is a dropout when a later frame within ``dropout_max_ms`` is back within
    ``dropout_return_db`` of that level. ``dropout/count`` counts them and
    ``dropout/max_ms`` is the longest gap (0 without one).

    The frame before a fall must also stand at least ``dropout_floor_margin_db`` over the
    clip's quantisation floor, the level of its smallest non-zero ``|sample|`` (one code: 1/128,
    -42 dBFS, for 8-bit linear; -75 dBFS for 8-bit mu-law, -90 dBFS for 16-bit, lower for
    float). A quiet tail one or two codes high toggles between digital zero and one code, so a
    frame falls to zero and comes back: that is the quantiser, not a gap. Without the margin 37
    of the 206 real dev footsteps fired after an 8-bit linear round trip (95% of those falls
    from frames under 2.4 dB over one code); with it, one does. A real gap from a frame that
    quiet cannot be told from toggling in an 8-bit linear clip and is not counted either.
    """
    env = _envelope_db(wave, _samples(config.dropout_frame_ms, sample_rate_hz))  # (F,)
    reach = max(1, int(config.dropout_max_ms / config.dropout_frame_ms))
    # a fall starts within dropout_active_db of the loudest frame and dropout_floor_margin_db over one code
    lowest_db = max(float(env.max()) - config.dropout_active_db, _quantisation_floor_db(wave) + config.dropout_floor_margin_db)
    count, longest, i = 0, 0, 1
    while i < len(env):
        before = float(env[max(0, i - 2) : i].max())
        back = np.flatnonzero(env[i + 1 : i + 1 + reach] >= before - config.dropout_return_db)
        if before >= lowest_db and before - env[i] >= config.dropout_fall_db and back.size:
            count += 1
            longest = max(longest, int(back[0]) + 1)
            i += int(back[0]) + 1  # on past the gap, so one gap counts once
        i += 1
    return {"dropout/count": count, "dropout/max_ms": longest * config.dropout_frame_ms, "dropout/flag": int(count >= 1)}


def line(wave: np.ndarray, sample_rate_hz: int, config: DetectorConfig) -> dict[str, float]:
    """A narrow spectral line held through the active frames, in [``line_fmin_hz``, ``line_fmax_hz``].

    Frames of ``line_frame_ms`` (half overlap) within ``line_active_db`` of the loudest
    are active. Per frame and bin, the contrast is its level over the median level of
    the bins within ``line_neighbour_hz`` (dB); ``line/contrast_db`` is the largest, over
    the band, of its ``line_quantile`` over the active frames, and ``line/hz`` where.
    ``line/level_spread_db``: that bin's median level over the active frames minus their
    10th percentile. Flagged when the contrast is at least ``line_contrast_db_flag_above``
    and the spread under ``line_level_spread_db_flag_below``: a line held at one level. Real
    glass and metal steps ring (contrast up to 44 dB on the dev corpus) but decay, so
    their spread is large.
    """
    frame = _samples(config.line_frame_ms, sample_rate_hz)
    power = _power_frames(wave, frame, max(1, frame // 2))  # (F, K)
    level = _db(power.sum(axis=1))  # (F,)
    if power.sum() <= POWER_FLOOR:
        return {"line/hz": math.nan, "line/contrast_db": 0.0, "line/level_spread_db": 0.0, "line/flag": 0}
    active = _db(power[level >= level.max() - config.line_active_db])  # (Fa, K)
    bin_hz = sample_rate_hz / frame
    width = 2 * max(1, int(round(config.line_neighbour_hz / bin_hz))) + 1
    contrast = active - median_filter(active, size=(1, width), mode="nearest")  # (Fa, K)
    steady = np.quantile(contrast, config.line_quantile, axis=0)  # (K,)
    freqs = np.fft.rfftfreq(frame, 1.0 / sample_rate_hz)
    band = np.flatnonzero((freqs >= config.line_fmin_hz) & (freqs <= min(config.line_fmax_hz, sample_rate_hz / 2 - 2 * bin_hz)))
    if band.size == 0:
        return {"line/hz": math.nan, "line/contrast_db": 0.0, "line/level_spread_db": 0.0, "line/flag": 0}
    k = int(band[np.argmax(steady[band])])
    value = float(steady[k])
    lo, mid = np.quantile(active[:, k], [0.1, 0.5])
    held = float(mid - lo)  # a ring that decays with the step spreads; a held line does not
    flag = value >= config.line_contrast_db_flag_above and held < config.line_level_spread_db_flag_below
    return {"line/hz": float(freqs[k]), "line/contrast_db": value, "line/level_spread_db": held, "line/flag": int(flag)}


def _envelope_db(wave: np.ndarray, n: int) -> np.ndarray:
    """(T,) -> (F,) level in dB of non-overlapping n-sample frames (mean square; the tail that fills no frame is left out)."""
    frames = wave[: len(wave) // n * n].reshape(-1, n)  # (F, n)
    return _db(np.mean(np.square(frames), axis=1)) if len(frames) else np.full(1, _db(np.zeros(1))[0])


def crackle(wave: np.ndarray, sample_rate_hz: int, config: DetectorConfig) -> dict[str, float]:
    """Crackle: small onsets all through the quiet part of the clip.

    On ``crackle_frame_ms`` frames (level in dB), an onset is a frame at least ``crackle_rise_db``
    over the frame before it, where the louder of the two is at least ``crackle_quiet_db`` under
    the clip's loudest frame and both are within ``crackle_window_db`` of it and above
    ``crackle_floor_dbfs``: the step's own attack and decay are left out (a decay only falls), and
    so are the edges of digital silence. ``crackle/onsets`` counts them, ``crackle/rate_hz`` per
    second of clip; flagged at ``crackle_rate_hz_flag_above`` or more.

    Measured on the clip as generated (the levels are relative to its own loudest frame).
    Calibration (``docs/detectors.md``): the 206 dev footsteps reach 6 onsets in 0.512 s
    (11.7 per second; gravel, wood and snow steps settling), the 1,426 real non-footsteps 8
    (ufoai's breaking wood); the lpc baseline's accepted clips in the families study 5-15.
    """
    env = _envelope_db(wave, _samples(config.crackle_frame_ms, sample_rate_hz))  # (F,)
    top = float(env.max())
    before, after = env[:-1], env[1:]  # (F-1,) each
    inside = np.minimum(before, after) > max(top - config.crackle_window_db, config.crackle_floor_dbfs)
    quiet = np.maximum(before, after) < top - config.crackle_quiet_db
    onsets = int(np.count_nonzero(inside & quiet & (after - before >= config.crackle_rise_db)))
    rate_hz = onsets / max(len(wave) / sample_rate_hz, 1e-9)
    return {"crackle/onsets": onsets, "crackle/rate_hz": rate_hz, "crackle/flag": int(rate_hz >= config.crackle_rate_hz_flag_above)}


def burstwall(wave: np.ndarray, sample_rate_hz: int, config: DetectorConfig) -> dict[str, float]:
    """A steady floor through the clip with short bursts over it after its first moments.

    Floor: ``burstwall_floor_frame_ms`` frames; ``burstwall/sounding_share`` is the share above
    ``burstwall_floor_dbfs`` (not digital silence), ``burstwall/floor_share`` the share of those
    within ``burstwall_floor_band_db`` of their median level, and ``burstwall/floor_depth_db`` how
    far that median sits under the loudest of them. Bursts: on ``burstwall_frame_ms``
    frames after the first ``burstwall_after_ms``, runs of sounding frames at least
    ``burstwall_rise_db`` over the median of the ``burstwall_context_ms`` around them;
    ``burstwall/count`` counts the runs and ``burstwall/max_db`` is the largest excess (0 without
    sound). Flagged when both shares reach their ``*_flag_above``, the depth is under
    ``burstwall_floor_depth_db_flag_below`` (a floor far under the clip's sound, such as a
    diffusion model's dither 85 dB down after a clean step, is inaudible whatever pops out of
    it) and the count reaches ``burstwall_count_flag_above``.

    A real step's loudest moment is its onset, in the first 100 ms of an imported clip (onset at
    10 ms); what follows decays, or is a texture that swells and fades (a rustle). The AR
    models' failure is a hiss of constant level from start to end with one or two stripes
    popping out of it anywhere, which the no-transient detector misses (the stripes make a peak)
    and the wall detector too (the stripes are broadband, and the digital silence after the
    generator stops lowers the floor quantile it measures).
    """
    floor = _envelope_db(wave, _samples(config.burstwall_floor_frame_ms, sample_rate_hz))  # (Ff,)
    sounding = floor > config.burstwall_floor_dbfs
    if np.count_nonzero(sounding) < 2:
        return {"burstwall/sounding_share": float(np.mean(sounding)), "burstwall/floor_share": 0.0, "burstwall/floor_depth_db": 0.0,
                "burstwall/count": 0, "burstwall/max_db": 0.0, "burstwall/flag": 0}
    level = floor[sounding]
    floor_share = float(np.mean(np.abs(level - np.median(level)) <= config.burstwall_floor_band_db))
    depth_db = float(level.max() - np.median(level))  # how far the floor sits under the loudest frame
    env = _envelope_db(wave, _samples(config.burstwall_frame_ms, sample_rate_hz))  # (Fb,)
    width = max(1, int(round(config.burstwall_context_ms / config.burstwall_frame_ms)))
    excess = env - median_filter(env, size=width, mode="nearest")  # (Fb,) dB over the local median
    excess[env <= config.burstwall_floor_dbfs] = -math.inf
    excess[: int(config.burstwall_after_ms / config.burstwall_frame_ms)] = -math.inf
    hit = (excess >= config.burstwall_rise_db).astype(np.int8)
    count = int(np.count_nonzero(np.diff(np.concatenate(([0], hit))) == 1))
    max_db = float(max(0.0, excess.max()))
    flag = (float(np.mean(sounding)) >= config.burstwall_sounding_share_flag_above and floor_share >= config.burstwall_floor_share_flag_above
            and depth_db < config.burstwall_floor_depth_db_flag_below and count >= config.burstwall_count_flag_above)
    return {"burstwall/sounding_share": float(np.mean(sounding)), "burstwall/floor_share": floor_share, "burstwall/floor_depth_db": depth_db,
            "burstwall/count": count, "burstwall/max_db": max_db, "burstwall/flag": int(flag)}
