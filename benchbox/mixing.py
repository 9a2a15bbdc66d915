"""Channel downmix and resampling of decoded audio (shared by :mod:`benchbox.audio` and :mod:`benchbox.decoding`).

Legend: T time in samples, C channels. Waveforms are float32.
"""

from __future__ import annotations

import numpy as np

DOWNMIX_MAX_LOSS_DB = 6.0  # a channel mean this far below the uncorrelated level means the channels cancel


def downmix(data: np.ndarray) -> np.ndarray:
    """(T, C) -> (T,): the mean of the channels, or the loudest channel when the channels cancel.

    They cancel when the mean comes out more than ``DOWNMIX_MAX_LOSS_DB`` below what the
    mean of C uncorrelated channels would give, ``sqrt(sum_c rms_c^2) / C``: for two
    channels of equal level that is a correlation of -0.75 or lower (anti-phase wiring, a
    mid/side pair). Averaging such a file silently turns a footstep into near-silence; one
    of its channels is the step. A silent or unrelated second channel does not trigger it
    (the mean then sits at the uncorrelated level), so ordinary files keep their mean.
    """
    mono = data.mean(axis=1)  # (T,)
    channels = data.shape[1]
    if channels < 2:
        return mono
    rms = np.sqrt(np.mean(np.square(data, dtype=np.float64), axis=0))  # (C,)
    uncorrelated = float(np.sqrt(np.sum(rms**2))) / channels
    mono_rms = float(np.sqrt(np.mean(np.square(mono, dtype=np.float64))))
    if uncorrelated > 0.0 and mono_rms < uncorrelated * 10.0 ** (-DOWNMIX_MAX_LOSS_DB / 20.0):
        return np.ascontiguousarray(data[:, int(np.argmax(rms))])
    return mono


def resample(wave: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Resample with soxr (librosa's ``soxr_hq``); a no-op when the rates match."""
    wave = np.asarray(wave, dtype=np.float32)
    if int(from_hz) == int(to_hz):
        return wave
    import librosa

    out = librosa.resample(wave, orig_sr=int(from_hz), target_sr=int(to_hz), res_type="soxr_hq", axis=-1)
    return np.asarray(out, dtype=np.float32)
