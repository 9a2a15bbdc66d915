"""Per-clip artefact detectors: DC offset, silence, clipping, clicks, tonal hum, no transient,
noise wall, dropouts, spectral line, crackle, wall with late bursts, NaN.

Legend: T time in samples, F analysis frames, K frequency bins.

Each detector takes one mono waveform (T,) float32 at its own sample rate and returns
a dict of namespaced values plus a ``<name>/flag`` in {0, 1}. :func:`detect` runs them
all and adds ``useful/auto`` = 1 when no detector flagged the clip. Thresholds live in
:class:`DetectorConfig`; every duration is in ms and every frequency in Hz, so the
detectors behave the same at any sample rate. The defaults were calibrated on the dev
footsteps (see ``docs/detectors.md`` and ``benchmarks/calibrate_detectors.py``); the
wall, dropout, line, crackle and burstwall detectors (:mod:`benchbox.metrics.steadiness`) on the real
corpora and the synthetic failures of ``benchmarks/calibrate_verdict.py`` (``docs/verdict.md``).

A footstep is impulsive and noisy: a short, loud onset that decays into quiet
broadband noise. The failure modes of a stuck generator are the opposite: silence,
a constant offset, a steady tone, or a wall of stationary noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import detrend

from benchbox.audio import dbfs
from benchbox.metrics.steadiness import burstwall, crackle, dropout, line, wall

DETECTORS = ("dc", "silence", "clip", "click", "periodicity", "transient", "wall", "dropout", "line", "crackle", "burstwall", "nan")
FLAG_KEYS = tuple(f"{name}/flag" for name in DETECTORS)
USEFUL_KEY = "useful/auto"
VALUE_KEYS = (
    "dc/offset",
    "dc/offset_rel",
    "silence/fraction",
    "silence/rms_dbfs",
    "clip/max_run",
    "clip/fraction",
    "click/count",
    "click/max_ratio",
    "periodicity/f0_hz",
    "periodicity/strength",
    "transient/crest_db",
    "transient/env_ratio_db",
    "wall/high_contrast_db",
    "wall/high_iqr_db",
    "wall/low_share",
    "dropout/count",
    "dropout/max_ms",
    "line/hz",
    "line/contrast_db",
    "line/level_spread_db",
    "crackle/onsets",
    "crackle/rate_hz",
    "burstwall/sounding_share",
    "burstwall/floor_share",
    "burstwall/floor_depth_db",
    "burstwall/count",
    "burstwall/max_db",
)
ALL_KEYS = VALUE_KEYS + FLAG_KEYS + (USEFUL_KEY,)
MS_PER_SECOND = 1000.0
EPS = 1e-12
ZERO_PAD_FACTOR = 4  # periodicity FFT length = frame * 4, for sub-bin f0 resolution
TONAL_HALF_WIDTH_BINS = ZERO_PAD_FACTOR  # one unpadded bin either side of the peak

# Ranges of DetectorConfig fields (checked when it is built). Only the meaningless side is
# closed: a threshold that alone flags a clip at 0 or below would flag every clip, a dBFS
# level above full scale is out of range; a threshold set past every value (dc_offset_flag_above=1,
# periodicity_strength_flag_above=2) turns its detector off and stays allowed.
POSITIVE_FIELDS = (
    "dc_offset_flag_above", "dc_offset_rel_flag_above", "silence_fraction_flag_above", "periodicity_strength_flag_above",
    "crackle_rate_hz_flag_above", "wall_high_band_hz", "wall_low_band_hz", "dropout_fall_db", "dropout_max_ms",
    "line_neighbour_hz", "crackle_rise_db", "crackle_window_db", "burstwall_rise_db",
)  # fmt: skip
NON_NEGATIVE_FIELDS = (
    "dc_offset_rel_floor", "transient_env_ratio_db_flag_below", "transient_crest_db_flag_below", "wall_high_contrast_db_flag_below",
    "wall_high_iqr_db_flag_below", "wall_low_share_flag_above", "dropout_active_db", "dropout_return_db", "line_active_db",
    "line_level_spread_db_flag_below", "crackle_quiet_db", "burstwall_floor_band_db", "burstwall_floor_depth_db_flag_below", "burstwall_after_ms",
)  # fmt: skip
COUNT_FIELDS = ("clip_run_flag_above", "click_count_flag_above", "burstwall_count_flag_above")  # >= 1: every count is >= 0
DBFS_FIELDS = (
    "silence_floor_dbfs", "silence_rms_dbfs_flag_below", "click_floor_dbfs", "click_context_floor_dbfs", "transient_env_floor_dbfs",
    "crackle_floor_dbfs", "burstwall_floor_dbfs",
)  # fmt: skip  <= 0: levels of waveforms in [-1, 1]


@dataclass(frozen=True)
class DetectorConfig:
    """Thresholds of every detector. Override with ``--set detectors.<key>=value``.

    ``*_flag_above`` flags a clip whose value is at or above the threshold,
    ``*_flag_below`` one whose value is below it.
    """

    # DC: a large |mean|, or a mean that is a large share of the RMS.
    dc_offset_flag_above: float = 0.0035  # ~ -49 dBFS: just under half an 8-bit linear code step
    dc_offset_rel_flag_above: float = 0.25
    dc_offset_rel_floor: float = 0.001  # the relative test ignores offsets below -60 dBFS
    # Silence: frames quieter than the floor count as silent.
    silence_floor_dbfs: float = -60.0
    silence_frame_ms: float = 10.0
    silence_fraction_flag_above: float = 0.95
    silence_rms_dbfs_flag_below: float = -60.0
    # Clipping: a flat top, i.e. a run of consecutive samples held at one value (neighbours
    # within clip_tolerance) at or above the clip level in magnitude.
    clip_level: float = 0.95  # 8-bit mu-law's top code decodes to 0.957, so 0.999 would miss it
    clip_tolerance: float = 1e-6  # "held": decoded codes, PCM and np.clip repeat one value exactly
    clip_run_flag_above: int = 3
    # Clicks: isolated impulses, samples far above every sample around them.
    click_context_ms: float = 1.0  # context on each side of the sample
    click_guard_samples: int = 1  # neighbours left out of the context: a click is <= 3 samples wide
    click_ratio_flag_above: float = 4.0  # |x| over the context's max |x|; every real dev clip stays <= 3.2
    click_floor_dbfs: float = -30.0  # quieter impulses are not counted
    click_context_floor_dbfs: float = -60.0  # a quieter context counts as this level (impulses in digital silence)
    click_count_flag_above: int = 1
    # Periodicity: a steady tone in [fmin, fmax] (see :func:`periodicity`).
    periodicity_fmin_hz: float = 20.0
    periodicity_fmax_hz: float = 500.0
    periodicity_frame_ms: float = 128.0
    periodicity_quantile: float = 0.25  # over frames: the "steady" part of the spectrum
    periodicity_strength_flag_above: float = 0.12
    # Transient: envelope peak over envelope median (10 ms frames), and crest factor.
    transient_frame_ms: float = 10.0
    transient_env_ratio_db_flag_below: float = 4.0
    transient_crest_db_flag_below: float = 8.0
    transient_env_floor_dbfs: float = -120.0  # envelope floor, so digital silence is not -inf
    # Noise wall: a steady floor above wall_high_band_hz whose only events are low (see steadiness.wall).
    wall_frame_ms: float = 20.0
    wall_high_band_hz: float = 2000.0
    wall_low_band_hz: float = 300.0
    wall_floor_quantile: float = 0.1
    wall_high_contrast_db_flag_below: float = 20.0
    wall_high_iqr_db_flag_below: float = 5.0
    wall_low_share_flag_above: float = 0.5
    # Dropouts: an abrupt fall of the envelope that comes back (see steadiness.dropout).
    dropout_frame_ms: float = 5.0
    dropout_fall_db: float = 30.0
    dropout_active_db: float = 40.0
    dropout_return_db: float = 20.0
    dropout_max_ms: float = 200.0
    dropout_floor_margin_db: float = 10.0  # a fall starts this far over one code (the smallest non-zero |sample|) or more
    # Spectral line: a narrow line held through the active frames (see steadiness.line).
    line_frame_ms: float = 32.0
    line_fmin_hz: float = 500.0
    line_fmax_hz: float = 7800.0
    line_active_db: float = 40.0
    line_neighbour_hz: float = 250.0
    line_quantile: float = 0.25
    line_contrast_db_flag_above: float = 8.0
    line_level_spread_db_flag_below: float = 6.0
    # Crackle: many small onsets in the quiet part of the clip (see steadiness.crackle; scorer version 7).
    crackle_frame_ms: float = 10.0
    crackle_rise_db: float = 6.0  # one frame over the one before it by this much is an onset
    crackle_quiet_db: float = 10.0  # ... when the louder of the two is at least this far under the loudest frame
    crackle_window_db: float = 80.0  # ... and both are within this of the loudest frame
    crackle_floor_dbfs: float = -100.0  # ... and above this (digital silence is not a frame of sound)
    crackle_rate_hz_flag_above: float = 15.0  # onsets per second of clip; real dev footsteps <= 11.7 (6 in 0.512 s)
    # Wall with late bursts: a steady floor through the clip, short bursts above it (see steadiness.burstwall).
    burstwall_floor_frame_ms: float = 20.0
    burstwall_floor_band_db: float = 3.0  # a floor frame is within this of the median sounding frame
    burstwall_floor_share_flag_above: float = 0.6
    burstwall_sounding_share_flag_above: float = 0.6  # share of floor frames above burstwall_floor_dbfs
    burstwall_floor_dbfs: float = -100.0
    burstwall_floor_depth_db_flag_below: float = 40.0  # the floor's median under the loudest floor frame
    burstwall_frame_ms: float = 5.0
    burstwall_context_ms: float = 125.0  # a burst stands over the median of this much envelope around it
    burstwall_rise_db: float = 10.0
    burstwall_after_ms: float = 100.0  # bursts in the first 100 ms (a step's own onset) do not count
    burstwall_count_flag_above: int = 1

    def __post_init__(self) -> None:
        for names, valid, ok in ((POSITIVE_FIELDS, "> 0", lambda v: v > 0), (NON_NEGATIVE_FIELDS, ">= 0", lambda v: v >= 0),
                                 (COUNT_FIELDS, ">= 1", lambda v: v >= 1), (DBFS_FIELDS, "<= 0 dBFS", lambda v: v <= 0)):
            for name in names:
                if not ok(getattr(self, name)):  # NaN fails every test
                    raise ValueError(f"{name} must be {valid}, got {getattr(self, name):g}")
        if not 0.0 < self.clip_level <= 1.0:
            raise ValueError(f"clip_level must be in (0, 1], got {self.clip_level}")
        if self.clip_tolerance < 0.0:
            raise ValueError(f"clip_tolerance must be >= 0, got {self.clip_tolerance}")
        if self.click_guard_samples < 0 or self.click_ratio_flag_above <= 1.0:
            raise ValueError("need click_guard_samples >= 0 and click_ratio_flag_above > 1")
        if not 0.0 < self.periodicity_fmin_hz < self.periodicity_fmax_hz:
            raise ValueError("need 0 < periodicity_fmin_hz < periodicity_fmax_hz")
        if not 0.0 <= self.periodicity_quantile <= 1.0:
            raise ValueError(f"periodicity_quantile must be in [0, 1], got {self.periodicity_quantile}")
        if not 0.0 <= self.wall_floor_quantile <= 1.0 or not 0.0 <= self.line_quantile <= 1.0:
            raise ValueError("wall_floor_quantile and line_quantile must be in [0, 1]")
        if not 0.0 < self.line_fmin_hz < self.line_fmax_hz:
            raise ValueError("need 0 < line_fmin_hz < line_fmax_hz")
        if not 0.0 <= self.burstwall_floor_share_flag_above <= 1.0 or not 0.0 <= self.burstwall_sounding_share_flag_above <= 1.0:
            raise ValueError("burstwall_floor_share_flag_above and burstwall_sounding_share_flag_above must be in [0, 1]")
        for name in ("silence_frame_ms", "periodicity_frame_ms", "transient_frame_ms", "click_context_ms", "wall_frame_ms", "dropout_frame_ms", "line_frame_ms",
                     "crackle_frame_ms", "burstwall_floor_frame_ms", "burstwall_frame_ms", "burstwall_context_ms"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")


# ----------------------------------------------------------------------- helpers


def _frames(wave: np.ndarray, frame: int, hop: int) -> np.ndarray:
    """(T,) -> (F, frame), zero-padding the end so every sample lands in a frame."""
    frame = max(1, min(frame, len(wave)))
    n = 1 + max(0, math.ceil((len(wave) - frame) / hop))
    padded = np.zeros((n - 1) * hop + frame, dtype=np.float64)
    padded[: len(wave)] = wave
    return np.lib.stride_tricks.sliding_window_view(padded, frame)[::hop]  # (F, frame)


def _frame_rms(wave: np.ndarray, frame: int) -> np.ndarray:
    """RMS of non-overlapping frames: (F,)."""
    return np.sqrt(np.mean(np.square(_frames(wave, frame, frame)), axis=1))  # (F,)


def _ms_to_samples(ms: float, sample_rate_hz: int) -> int:
    return max(1, int(round(ms * sample_rate_hz / MS_PER_SECOND)))


def _longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of True in a boolean (T,) array."""
    if not mask.any():
        return 0
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max())


# --------------------------------------------------------------------- detectors


def dc_offset(wave: np.ndarray, config: DetectorConfig) -> dict[str, float]:
    mean = float(np.mean(wave, dtype=np.float64))
    rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))
    rel = mean / rms if rms > EPS else 0.0
    big = abs(mean) >= config.dc_offset_flag_above
    lopsided = abs(rel) >= config.dc_offset_rel_flag_above and abs(mean) >= config.dc_offset_rel_floor
    flag = big or lopsided
    return {"dc/offset": mean, "dc/offset_rel": rel, "dc/flag": int(flag)}


def silence(wave: np.ndarray, sample_rate_hz: int, config: DetectorConfig) -> dict[str, float]:
    frame_rms = _frame_rms(wave, _ms_to_samples(config.silence_frame_ms, sample_rate_hz))  # (F,)
    floor = 10.0 ** (config.silence_floor_dbfs / 20.0)
    fraction = float(np.mean(frame_rms < floor))
    rms_dbfs = dbfs(float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))))
    flag = fraction >= config.silence_fraction_flag_above or rms_dbfs < config.silence_rms_dbfs_flag_below
    return {"silence/fraction": fraction, "silence/rms_dbfs": rms_dbfs, "silence/flag": int(flag)}


def clipping(wave: np.ndarray, config: DetectorConfig) -> dict[str, float]:
    """Hard clipping: the longest run of consecutive samples held at one value at or above
    ``clip_level`` in magnitude (neighbours equal within ``clip_tolerance``).

    Hard clipping and a generator stuck on its top code both leave runs of equal samples,
    whatever the clip's peak elsewhere. A loud low-frequency peak that merely passes 0.95
    for a few samples does not: its samples all differ. (The first version counted any run
    above ``clip_level`` and flagged real thuds from the dev corpus; the second measured
    runs at the clip's own peak, so one sample overshooting a clipped plateau hid it.)
    """
    at_rail = np.abs(wave) >= config.clip_level  # (T,)
    held = at_rail[1:] & at_rail[:-1] & (np.abs(np.diff(wave)) <= config.clip_tolerance)  # (T-1,) same value, same rail
    max_run = _longest_run(held) + 1 if held.any() else int(at_rail.any())
    return {
        "clip/max_run": max_run,
        "clip/fraction": float(np.mean(at_rail)),
        "clip/flag": int(max_run >= config.clip_run_flag_above),
    }


def _forward_max(a: np.ndarray, width: int) -> np.ndarray:
    """(T,) -> (T,): out[j] = max(a[j : j + width]), with zeros past the end."""
    padded = np.concatenate([a, np.zeros(width - 1)])
    return maximum_filter1d(padded, size=width, origin=-(width // 2), mode="constant")[: len(a)]


def click_ratio(wave: np.ndarray, sample_rate_hz: int, config: DetectorConfig) -> np.ndarray:
    """(T,) how far each sample stands above its surroundings: |x[t]| / max |x| over the
    context ``[t - W, t - g - 1]`` and ``[t + g + 1, t + W]`` (W = ``click_context_ms``,
    g = ``click_guard_samples``; zeros outside the clip). A context quieter than
    ``click_context_floor_dbfs`` counts as that level, so an impulse in digital silence gets
    a finite ratio (500 for a -6 dBFS impulse at the -60 dBFS default) instead of one set by
    an arbitrary epsilon. Any impulse above ``click_floor_dbfs`` in such a context still
    counts as a click while the two floors are more than 20 log10(``click_ratio_flag_above``)
    dB apart (12 dB at the defaults, which are 30 dB apart).

    A sampled sound is band-limited and rings for at least a few ms, so some sample within
    1 ms of a real onset is nearly as large as the onset itself (<= 3.2x on the dev
    footsteps). A generator that draws one extreme code from its distribution's tail
    makes a one-sample impulse far above its neighbours: a click.
    """
    a = np.abs(wave)  # (T,)
    w = max(config.click_guard_samples + 1, _ms_to_samples(config.click_context_ms, sample_rate_hz))
    g = config.click_guard_samples
    width = w - g  # samples on each side of the guard band
    fwd = _forward_max(np.concatenate([np.zeros(w), a, np.zeros(w)]), width)  # index shifted by w
    t = np.arange(len(a)) + w
    context = np.maximum(fwd[t - w], fwd[t + g + 1])  # left [t-w, t-g-1], right [t+g+1, t+w]
    return a / np.maximum(context, 10.0 ** (config.click_context_floor_dbfs / 20.0))


def clicks(wave: np.ndarray, sample_rate_hz: int, config: DetectorConfig) -> dict[str, float]:
    """Isolated impulses: events of samples above ``click_floor_dbfs`` whose :func:`click_ratio`
    is at least ``click_ratio_flag_above`` (adjacent samples count as one event)."""
    ratio = click_ratio(wave, sample_rate_hz, config)  # (T,)
    loud = np.abs(wave) >= 10.0 ** (config.click_floor_dbfs / 20.0)
    hit = loud & (ratio >= config.click_ratio_flag_above)
    count = int(np.count_nonzero(np.diff(np.concatenate(([0], hit.astype(np.int8)))) == 1))
    max_ratio = float(ratio[loud].max()) if loud.any() else 0.0
    return {"click/count": count, "click/max_ratio": max_ratio, "click/flag": int(count >= config.click_count_flag_above)}


def periodicity(wave: np.ndarray, sample_rate_hz: int, config: DetectorConfig) -> dict[str, float]:
    """A steady low tone: the line that survives in the quiet frames, and its power share.

    The steady spectrum is a low quantile over frames of the frame power spectra, so a
    thud that rings for one or two frames drops out while a hum that lasts the whole clip
    stays. ``strength`` = that quantile of the tone's main-lobe power over the clip's mean
    frame power: ~0.95 for a pure sine, ~0 for a decaying footstep.
    """
    frame = _ms_to_samples(config.periodicity_frame_ms, sample_rate_hz)
    frames = detrend(_frames(wave, frame, max(1, frame // 2)), axis=1, type="linear")  # (F, frame) DC/drift removed
    n_fft = frames.shape[1] * ZERO_PAD_FACTOR
    power = np.abs(np.fft.rfft(frames * np.hanning(frames.shape[1]), n=n_fft, axis=1)) ** 2  # (F, K)
    mean_total = float(power.sum(axis=1).mean())
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate_hz)  # (K,)
    band = np.flatnonzero((freqs >= config.periodicity_fmin_hz) & (freqs <= config.periodicity_fmax_hz))
    steady = np.quantile(power, config.periodicity_quantile, axis=0)  # (K,)
    peak = _largest_local_max(steady, band) if mean_total > 0 else None
    if peak is None:  # silence, or a spectrum that only falls (or rises) through the band
        return {"periodicity/f0_hz": math.nan, "periodicity/strength": 0.0, "periodicity/flag": 0}
    f0_hz = _refine_peak(steady, peak) * sample_rate_hz / n_fft
    lobe = power[:, max(0, peak - TONAL_HALF_WIDTH_BINS) : peak + TONAL_HALF_WIDTH_BINS + 1].sum(axis=1)  # (F,)
    strength = float(np.quantile(lobe, config.periodicity_quantile)) / mean_total
    return {
        "periodicity/f0_hz": float(f0_hz),
        "periodicity/strength": strength,
        "periodicity/flag": int(strength >= config.periodicity_strength_flag_above),
    }


def _largest_local_max(spectrum: np.ndarray, band: np.ndarray) -> int | None:
    """Index of the highest local maximum of ``spectrum`` (K,) inside ``band``, or None."""
    inner = band[(band > 0) & (band < len(spectrum) - 1)]
    is_peak = (spectrum[inner] > spectrum[inner - 1]) & (spectrum[inner] >= spectrum[inner + 1])
    peaks = inner[is_peak]
    return None if peaks.size == 0 else int(peaks[np.argmax(spectrum[peaks])])


def _refine_peak(spectrum: np.ndarray, k: int) -> float:
    """Parabolic interpolation of a log-power peak: fractional bin index."""
    if k <= 0 or k >= len(spectrum) - 1:
        return float(k)
    a, b, c = np.log(spectrum[k - 1 : k + 2] + EPS)
    denom = a - 2 * b + c
    if denom >= 0:  # not a local maximum (a band edge): keep the bin
        return float(k)
    return float(k + float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5)))


def transient(wave: np.ndarray, sample_rate_hz: int, config: DetectorConfig) -> dict[str, float]:
    """A footstep has a loud onset over a quiet tail: peak/median envelope and crest."""
    env = _frame_rms(wave, _ms_to_samples(config.transient_frame_ms, sample_rate_hz))  # (F,)
    rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))
    peak = float(np.max(np.abs(wave)))
    if rms <= EPS:
        return {"transient/crest_db": 0.0, "transient/env_ratio_db": 0.0, "transient/flag": 1}
    crest_db = 20.0 * math.log10(peak / rms)
    floor = 10.0 ** (config.transient_env_floor_dbfs / 20.0)
    env_ratio_db = 20.0 * math.log10(max(float(env.max()), floor) / max(float(np.median(env)), floor))
    flag = env_ratio_db < config.transient_env_ratio_db_flag_below or crest_db < config.transient_crest_db_flag_below
    return {"transient/crest_db": crest_db, "transient/env_ratio_db": env_ratio_db, "transient/flag": int(flag)}


def detect(wave: np.ndarray, sample_rate_hz: int, config: DetectorConfig | None = None) -> dict[str, float]:
    """Run every detector on one clip (T,): values, flags and ``useful/auto``.

    Non-finite samples set ``nan/flag`` and are zeroed before the other detectors run,
    so one bad sample does not turn every value into NaN.
    """
    config = config or DetectorConfig()
    wave = np.asarray(wave, dtype=np.float64).reshape(-1)  # (T,)
    finite = np.isfinite(wave)
    out: dict[str, float] = {}
    if wave.size == 0:
        wave, finite = np.zeros(1), np.ones(1, dtype=bool)
    clean = np.where(finite, wave, 0.0)  # (T,)
    out.update(dc_offset(clean, config))
    out.update(silence(clean, sample_rate_hz, config))
    out.update(clipping(clean, config))
    out.update(clicks(clean, sample_rate_hz, config))
    out.update(periodicity(clean, sample_rate_hz, config))
    out.update(transient(clean, sample_rate_hz, config))
    out.update(wall(clean, sample_rate_hz, config))
    out.update(dropout(clean, sample_rate_hz, config))
    out.update(line(clean, sample_rate_hz, config))
    out.update(crackle(clean, sample_rate_hz, config))
    out.update(burstwall(clean, sample_rate_hz, config))
    out["nan/flag"] = int(not finite.all())
    out[USEFUL_KEY] = int(not any(out[k] for k in FLAG_KEYS))
    return out
