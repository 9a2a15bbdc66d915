"""Audio I/O and 8-bit quantisation.

Legend: T time in samples, B batch. Waveforms are float32 in [-1, 1], shape (T,) or
(B, T); tokens are int64 in [0, QUANT_CLASSES).

Both quantisers are *mid-tread*: silence (0.0) maps to ``SILENCE_CODE`` = 128, and
code 128 decodes to exactly 0.0. A mid-rise quantiser (the common ``round((x+1)/2*255)``)
has no zero code, so a model that emits "silence" emits a small constant instead, which
itself is a non-zero mean. Codes cover [-1, 127/128] in equal steps (linear) or equal
steps of the mu-law companded value (mu-law); +1.0 clips to code 255.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from benchbox.decoding import MAX_CHANNELS, MAX_RATE_HZ, MIN_RATE_HZ, Decoded, check_header, check_wav_complete, decode_audio  # noqa: F401 (re-exported)
from benchbox.errors import AudioError
from benchbox.mixing import DOWNMIX_MAX_LOSS_DB, downmix, resample  # noqa: F401 (re-exported)
from benchbox.runs import atomic_write_bytes, sha256_audio

PROJECT_SAMPLE_RATE_HZ = 16_000
QUANT_CLASSES = 256
QUANT_BITS = 8
SILENCE_CODE = QUANT_CLASSES // 2  # 128: decodes to exactly 0.0
MU = QUANT_CLASSES - 1  # 255, the mu of 8-bit mu-law
SCHEMES = ("linear", "mulaw")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".aif", ".aiff")
FULL_SCALE = 1.0  # |sample| of a full-scale waveform; 16-bit PCM cannot hold more


# --------------------------------------------------------------------------- I/O


def read_audio(path: str | Path, *, finite: bool = True) -> tuple[np.ndarray, int]:
    """Decode a file (soundfile, PyAV where libsndfile cannot be trusted; see
    :mod:`benchbox.decoding`); return ((T, C) float32, native rate).

    The header is checked before decoding and samples are decoded in blocks, so memory
    follows the data the file really holds whatever its header claims. Float files keep
    samples beyond +-1 (callers decide what to do). Raises AudioError naming the file
    and, for a lying header, the field. With ``finite=False`` NaN/inf samples are
    returned instead of refused.
    """
    decoded = decode_audio(path)
    if finite and not np.isfinite(decoded.data).all():
        raise AudioError(f"{path}: contains NaN or inf samples", hint="re-export the file from its source")
    return decoded.data, decoded.rate_hz


def mono_sha256(path: str | Path, *, finite: bool = True) -> str:
    """The content hash of a clip: :func:`benchbox.runs.sha256_audio` of its decoded (T,) mono read-back
    (the channels' float32 mean) at its native rate, the key of tags, ``scores/clips.csv`` and dataset
    manifests. AudioError when it cannot be decoded or, with ``finite`` (the default), holds NaN/inf."""
    data, rate = read_audio(path, finite=finite)  # (T, C)
    return sha256_audio(data.mean(axis=1) if data.shape[1] > 1 else data[:, 0], rate)


def load_audio(path: str | Path, sample_rate_hz: int = PROJECT_SAMPLE_RATE_HZ) -> np.ndarray:
    """Decode, downmix to mono (:func:`downmix`) and resample (soxr) to ``sample_rate_hz``: (T,) float32."""
    return load_audio_noted(path, sample_rate_hz)[0]


def load_audio_noted(path: str | Path, sample_rate_hz: int = PROJECT_SAMPLE_RATE_HZ) -> tuple[np.ndarray, tuple[str, ...]]:
    """:func:`load_audio`, plus the decoder's notes (a PyAV fallback, chained Ogg streams)."""
    decoded = decode_audio(path)
    if not np.isfinite(decoded.data).all():
        raise AudioError(f"{path}: contains NaN or inf samples", hint="re-export the file from its source")
    return resample(downmix(decoded.data), decoded.rate_hz, sample_rate_hz), decoded.notes


def write_wav(path: str | Path, wave: np.ndarray, sample_rate_hz: int = PROJECT_SAMPLE_RATE_HZ) -> Path:
    """Write a (T,) float waveform in [-1, 1] as 16-bit PCM wav, atomically.

    Never alters audio silently: samples beyond +-1 (which 16-bit PCM would clip) and
    NaN/inf raise AudioError; scale the wave first if that is what is wanted.
    """
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise AudioError(f"{path}: expected a mono (T,) waveform, got shape {wave.shape}", hint="downmix before writing")
    if not np.isfinite(wave).all():
        raise AudioError(f"{path}: refusing to write NaN/inf samples", hint="check the generator output")
    peak = float(np.abs(wave).max(initial=0.0))
    if peak > FULL_SCALE:
        raise AudioError(f"{path}: refusing to clip: samples reach {peak:.3g}, beyond full scale +-1", hint="scale the waveform into [-1, 1] before writing")
    import io

    buf = io.BytesIO()  # encoded in memory: a full disk is then an OSError of the write (StorageError), not a LibsndfileError
    sf.write(buf, wave, int(sample_rate_hz), subtype="PCM_16", format="WAV")
    return atomic_write_bytes(path, buf.getvalue())


def as_written(wave: np.ndarray) -> np.ndarray:
    """(T,) float32 exactly as :func:`write_wav` stores it and reads back (16-bit PCM)."""
    import io

    buf = io.BytesIO()
    sf.write(buf, np.asarray(wave, dtype=np.float32), PROJECT_SAMPLE_RATE_HZ, subtype="PCM_16", format="WAV")
    buf.seek(0)
    decoded, _ = sf.read(buf, dtype="float32", always_2d=True)  # (T, 1)
    return decoded[:, 0]


def header_length(path: str | Path) -> tuple[int, int] | None:
    """``(samples, Hz)`` of an audio file from its header alone (soundfile), or None when the header
    cannot be read or gives no rate (the decoders name such a file where it is used)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (RuntimeError, OSError):
        return None
    return (int(info.frames), int(info.samplerate)) if info.samplerate > 0 else None


def list_audio_files(folder: str | Path) -> list[Path]:
    """Every file under ``folder`` with an audio suffix, sorted for determinism."""
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def dbfs(value: float, floor_db: float = -200.0) -> float:
    """Amplitude -> dBFS, with a floor for 0."""
    return float(max(20.0 * math.log10(max(float(value), 1e-12)), floor_db))


# -------------------------------------------------------------------- quantisation


def check_scheme(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise AudioError(f"unknown quantisation '{scheme}'", hint=f"use one of: {', '.join(SCHEMES)}")
    return scheme


def mulaw_compress(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(MU * x.abs()) / math.log1p(MU)


def mulaw_expand(y: torch.Tensor) -> torch.Tensor:
    return torch.sign(y) * torch.expm1(y.abs() * math.log1p(MU)) / MU


def encode(wave: torch.Tensor | np.ndarray, scheme: str) -> torch.Tensor:
    """Float waveform (any shape) -> int64 codes of the same shape, in [0, 256)."""
    check_scheme(scheme)
    x = torch.as_tensor(wave, dtype=torch.float32).clamp(-1.0, 1.0)
    if scheme == "mulaw":
        x = mulaw_compress(x)
    half = QUANT_CLASSES // 2
    return (torch.round(x * half) + half).clamp(0, QUANT_CLASSES - 1).to(torch.int64)


def decode(codes: torch.Tensor | np.ndarray, scheme: str) -> torch.Tensor:
    """int64 codes -> float32 waveform of the same shape; code 128 -> 0.0 exactly."""
    check_scheme(scheme)
    half = QUANT_CLASSES // 2
    y = (torch.as_tensor(codes).to(torch.float32) - half) / half
    return mulaw_expand(y) if scheme == "mulaw" else y


def quantise(wave: np.ndarray, scheme: str) -> np.ndarray:
    """Round-trip a waveform through the 8-bit scheme (numpy in, numpy out)."""
    return decode(encode(wave, scheme), scheme).numpy()
