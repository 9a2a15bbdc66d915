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

from benchbox.errors import AudioError
from benchbox.runs import atomic_path

PROJECT_SAMPLE_RATE_HZ = 16_000
QUANT_CLASSES = 256
QUANT_BITS = 8
SILENCE_CODE = QUANT_CLASSES // 2  # 128: decodes to exactly 0.0
MU = QUANT_CLASSES - 1  # 255, the mu of 8-bit mu-law
SCHEMES = ("linear", "mulaw")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff")


# --------------------------------------------------------------------------- I/O


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode any file soundfile reads; return ((T, C) float32, native rate)."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: file not found", hint="check the path")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)", hint="re-export or delete the file")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises LibsndfileError, RuntimeError, TypeError, ...
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise AudioError(f"{path}: cannot decode audio ({reason})", hint="re-export it as wav/flac/ogg or delete it") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: no audio frames", hint="re-export or delete the file")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: contains NaN or inf samples", hint="re-export the file from its source")
    return data, int(rate)


def load_audio(path: str | Path, sample_rate_hz: int = PROJECT_SAMPLE_RATE_HZ) -> np.ndarray:
    """Decode, downmix to mono and resample (soxr) to ``sample_rate_hz``: (T,) float32."""
    data, rate = read_audio(path)
    mono = data.mean(axis=1)  # (T,)
    return resample(mono, rate, sample_rate_hz)


def resample(wave: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Resample with soxr (librosa's ``soxr_hq``); a no-op when the rates match."""
    wave = np.asarray(wave, dtype=np.float32)
    if int(from_hz) == int(to_hz):
        return wave
    import librosa

    out = librosa.resample(wave, orig_sr=int(from_hz), target_sr=int(to_hz), res_type="soxr_hq", axis=-1)
    return np.asarray(out, dtype=np.float32)


def write_wav(path: str | Path, wave: np.ndarray, sample_rate_hz: int = PROJECT_SAMPLE_RATE_HZ) -> Path:
    """Write 16-bit PCM wav, atomically. Values outside [-1, 1] are clipped."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise AudioError(f"{path}: expected a mono (T,) waveform, got shape {wave.shape}", hint="downmix before writing")
    if not np.isfinite(wave).all():
        raise AudioError(f"{path}: refusing to write NaN/inf samples", hint="check the generator output")
    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.clip(wave, -1.0, 1.0), int(sample_rate_hz), subtype="PCM_16", format="WAV")
    return Path(path)


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
