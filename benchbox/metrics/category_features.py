"""Per-clip features of the footstep category model: envelope, mel shape, aisfx direction.

Legend: N clips, T samples, K frames, M mel bands, E envelope features, D feature dimension.

All features are **level-free**: a clip scaled by any gain (that neither clips nor
drops into the noise floor) gets the same features, because generated clips and other
games' recordings come at any loudness. Waves are mono float (T,) at
``FEATURE_RATE_HZ`` (16 kHz, the project rate); the scorer resamples before calling.

* ``envelope`` (E = 16, :func:`envelope_features`): shape of the 8 ms RMS envelope and
  coarse spectrum: peak-to-median and peak-to-tail level (dB), attack and decay times,
  share of frames within 10 / 20 dB of the peak, onset count, temporal centroid, spectral
  centroid / bandwidth / flatness / 85% roll-off, four band-energy shares and the
  strongest normalised autocorrelation at 2-20 ms lags (pitch: voices, beeps, hum).
* ``mel`` (D = 128): the ``mel`` embedder's per-band log-mel mean and standard deviation
  (:class:`benchbox.metrics.embedders.MelEmbedder`), with the mean over bands subtracted
  from the 64 means (level removed).
* ``aisfx`` (D = 512): the aisfx embedding, L2-normalised (its direction; its length
  tracks level).
* ``aisfx_norm`` (D = 512): the aisfx embedding of the clip **level-normalised first**
  (:func:`level_normalise`: loudest 8 ms frame at ``NORM_RMS``, -20 dBFS), L2-normalised.
  aisfx's log-mel front end (``log10(1e4 mel + 1)``) is not level-free, so the plain
  direction still moves with gain; normalising the input removes that (and with it the
  three games' different loudness habits as a cue).
"""

from __future__ import annotations

import numpy as np

FEATURE_RATE_HZ = 16_000
FRAME_SAMPLES = 128  # 8 ms at 16 kHz
RANGE_DB = 80.0  # frames more than this below the loudest frame are clamped there (level-free floor)
ONSET_RISE_DB = 9.0
ONSET_LOOKBACK_FRAMES = 5  # 40 ms
BAND_EDGES_HZ = (250.0, 1000.0, 4000.0)
PITCH_LAGS_MS = (2.0, 20.0)
MS_PER_SECOND = 1000.0
ENVELOPE_NAMES = (
    "peak_to_median_db", "peak_to_tail_db", "attack_ms", "decay_20db_ms", "share_within_10db", "share_within_20db",
    "onsets", "temporal_centroid_ms", "centroid_log_hz", "bandwidth_log_hz", "flatness", "rolloff_log_hz",
    "band_low", "band_mid", "band_high", "pitch_strength",
)  # fmt: skip
MEL_BANDS = 64
NORM_RMS = 0.1  # level_normalise's target: RMS of the loudest 8 ms frame (-20 dBFS)


def _frame_db(wave: np.ndarray) -> np.ndarray:
    k = max(1, len(wave) // FRAME_SAMPLES)
    frames = wave[: k * FRAME_SAMPLES].reshape(k, -1) if len(wave) >= FRAME_SAMPLES else wave[None, :]  # (K, 128)
    db = 10.0 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-30)  # (K,)
    return np.maximum(db, db.max() - RANGE_DB)


def _spectral(wave: np.ndarray) -> tuple[float, float, float, float, np.ndarray]:
    """Centroid, bandwidth, roll-off (log10 Hz), flatness and 4 band shares of the power spectrum."""
    power = np.abs(np.fft.rfft(wave.astype(np.float64) * np.hanning(len(wave)))) ** 2 + 1e-20  # (T/2+1,)
    freqs = np.fft.rfftfreq(len(wave), 1.0 / FEATURE_RATE_HZ)
    total = power.sum()
    centroid = float((freqs * power).sum() / total)
    bandwidth = float(np.sqrt(((freqs - centroid) ** 2 * power).sum() / total))
    rolloff = float(freqs[min(len(freqs) - 1, np.searchsorted(np.cumsum(power), 0.85 * total))])
    flatness = float(np.exp(np.mean(np.log(power))) / np.mean(power))
    edges = np.searchsorted(freqs, BAND_EDGES_HZ)
    bands = np.array([s.sum() for s in np.split(power, edges)]) / total  # (4,)
    return np.log10(centroid + 1.0), np.log10(bandwidth + 1.0), np.log10(rolloff + 1.0), flatness, bands


def _pitch_strength(wave: np.ndarray) -> float:
    """Largest normalised autocorrelation at lags of 2-20 ms, over the loudest 64 ms."""
    n = int(0.064 * FEATURE_RATE_HZ)
    if len(wave) < 2 * n:
        return 0.0
    energy = np.convolve(wave.astype(np.float64) ** 2, np.ones(n), mode="valid")
    start = int(np.argmax(energy))
    seg = wave[start : start + n].astype(np.float64)
    seg = seg - seg.mean()
    lo, hi = (int(ms * FEATURE_RATE_HZ / MS_PER_SECOND) for ms in PITCH_LAGS_MS)
    full = np.correlate(np.concatenate([seg, np.zeros(hi)]), seg, mode="valid")[: hi + 1]  # (hi+1,) lags 0..hi
    if full[0] <= 0:
        return 0.0
    return float(np.clip(full[lo : hi + 1].max() / full[0], 0.0, 1.0))


def envelope_features(wave: np.ndarray) -> np.ndarray:
    """(E,) level-free envelope and spectrum features of one (T,) wave at 16 kHz (see module docstring)."""
    db = _frame_db(wave)  # (K,) dB, floored RANGE_DB below the peak
    k = len(db)
    peak_i = int(np.argmax(db))
    peak = db[peak_i]
    ms = FRAME_SAMPLES * MS_PER_SECOND / FEATURE_RATE_HZ
    after = db[peak_i:]
    below = np.flatnonzero(after < peak - 20.0)
    decay = (below[0] if len(below) else len(after)) * ms
    tail = db[-max(1, k // 8) :].mean()
    rise = db[ONSET_LOOKBACK_FRAMES:] - np.minimum.reduce([db[i : k - ONSET_LOOKBACK_FRAMES + i] for i in range(ONSET_LOOKBACK_FRAMES)]) if k > ONSET_LOOKBACK_FRAMES else np.zeros(1)
    above = (rise > ONSET_RISE_DB) & (db[ONSET_LOOKBACK_FRAMES:] > peak - 30.0) if k > ONSET_LOOKBACK_FRAMES else np.zeros(1, bool)
    onsets = int(np.sum(above[1:] & ~above[:-1]) + int(above[0])) if len(above) else 0
    lin = 10.0 ** (db / 10.0)
    t_centroid = float((np.arange(k) * lin).sum() / lin.sum()) * ms
    centroid, bandwidth, rolloff, flatness, bands = _spectral(wave)
    return np.array([
        peak - np.median(db), peak - tail, peak_i * ms, decay, np.mean(db > peak - 10.0), np.mean(db > peak - 20.0),
        onsets, t_centroid, centroid, bandwidth, flatness, rolloff, bands[0], bands[1], bands[2], _pitch_strength(wave),
    ])  # fmt: skip


def envelope_matrix(waves: list[np.ndarray]) -> np.ndarray:
    """(N, E) :func:`envelope_features` of N waves at 16 kHz."""
    return np.stack([envelope_features(np.asarray(w, dtype=np.float64)) for w in waves]) if waves else np.zeros((0, len(ENVELOPE_NAMES)))


def mel_shape(mel: np.ndarray) -> np.ndarray:
    """(N, 2M) mel-embedder statistics -> (N, 2M) with each clip's mean level removed from the band means."""
    means, stds = mel[:, :MEL_BANDS], mel[:, MEL_BANDS:]
    return np.concatenate([means - means.mean(axis=1, keepdims=True), stds], axis=1)


def aisfx_direction(aisfx: np.ndarray) -> np.ndarray:
    """(N, 512) aisfx embeddings -> unit length (a zero row stays zero)."""
    norm = np.linalg.norm(aisfx, axis=1, keepdims=True)
    return aisfx / np.maximum(norm, 1e-12)


def level_normalise(wave: np.ndarray) -> np.ndarray:
    """(T,) float32 wave scaled so its loudest 8 ms frame has RMS ``NORM_RMS``; a silent wave stays silent."""
    wave = np.asarray(wave, dtype=np.float32)
    k = len(wave) // FRAME_SAMPLES
    frames = wave[: k * FRAME_SAMPLES].reshape(k, FRAME_SAMPLES) if k else wave[None, :]  # (K, 128)
    peak_rms = float(np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)).max()) if wave.size else 0.0
    if peak_rms <= 0.0:
        return wave.copy()
    return (wave * (NORM_RMS / peak_rms)).astype(np.float32)
