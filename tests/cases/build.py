"""Build the corpus of small hostile inputs that bug reports replayed on benchbox.

Run at test time (``build(folder)``) or by hand (``python -m tests.cases.build OUT``).
Each case is a file plus what benchbox must do with it; nothing is checked in, every
byte is written here, so the corpus documents itself.

Legend: T samples. Every case is at most a few hundred kB.
"""

from __future__ import annotations

import io
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

RATE_HZ = 16_000
PCM16_FULL_SCALE = 32767
STEP_SECONDS = 1.0


@dataclass(frozen=True)
class Case:
    name: str  # file name inside the corpus folder
    expect: str  # "reject: <words the reason must hold>" or "import" / "scale"
    why: str


def footstep(seconds: float = STEP_SECONDS, peak: float = 0.5, rate_hz: int = RATE_HZ, seed: int = 0) -> np.ndarray:
    """One step 50 ms in: noise under a 25 ms decay, then silence: (T,) float32."""
    n = int(seconds * rate_hz)
    t = np.arange(n) / rate_hz
    env = np.where(t >= 0.05, np.exp(-(t - 0.05) / 0.025), 0.0)
    x = np.random.default_rng(seed).standard_normal(n) * env
    return (peak * x / np.abs(x).max()).astype(np.float32)


def riff_wav(samples: bytes, *, rate: int = RATE_HZ, channels: int = 1, bits: int = 16, fmt_tag: int = 1,
             block_align: int | None = None, data_len: int | None = None) -> bytes:
    """A RIFF/WAVE file whose header fields are whatever the caller says."""
    align = block_align if block_align is not None else channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate & 0xFFFFFFFF, (rate * align) & 0xFFFFFFFF, align, bits)
    length = len(samples) if data_len is None else data_len
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", length) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _pcm16(wave: np.ndarray) -> bytes:
    return (np.clip(wave, -1, 1) * PCM16_FULL_SCALE).astype("<i2").tobytes()


def _flac_with_total_samples(wave: np.ndarray, total: int) -> bytes:
    """A valid FLAC whose STREAMINFO total-samples field (36 bits) says ``total``."""
    buf = io.BytesIO()
    sf.write(buf, wave, RATE_HZ, format="FLAC")
    data = bytearray(buf.getvalue())
    start = 8 + 10  # "fLaC", block header, then 10 bytes before rate/channels/bps/total
    packed = int.from_bytes(data[start : start + 8], "big")
    packed = (packed & ~((1 << 36) - 1)) | (total & ((1 << 36) - 1))
    data[start : start + 8] = packed.to_bytes(8, "big")
    return bytes(data)


def _float_wav(wave: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, wave, RATE_HZ, subtype="FLOAT", format="WAV")
    return buf.getvalue()


CASES = (
    Case("good_step.wav", "import", "a plain 16-bit footstep: the control"),
    Case("rate_3hz.wav", "reject: sample rate field says 3 Hz", "fmt chunk says 3 Hz: resampled to 16 kHz it was 10,667 s and 5.2 GB"),
    Case("rate_1hz.wav", "reject: sample rate field says 1 Hz", "1 Hz: the high-pass filter raised ArrayMemoryError and stopped the import"),
    Case("rate_huge.wav", "reject: sample rate field says 2147483647 Hz", "a rate no converter can hold"),
    Case("channels_1000.wav", "reject: channel count field says 1000", "1000 channels of 16 frames each"),
    Case("data_len_beyond_file.wav", "reject: data chunk size field", "the data chunk claims 2 GB in a 32 kB file"),
    Case("flac_frames_lie.flac", "reject: frames field lies", "STREAMINFO claims 2^36 - 1 samples: decoding allocated 256 GiB"),
    Case("empty.wav", "reject: empty file", "0 bytes"),
    Case("not_audio.wav", "reject: cannot decode", "text with a .wav name"),
    Case("nan.wav", "reject: NaN or inf", "a float wav holding NaN"),
    Case("header_only.wav", "reject: no audio frames", "a valid header and no samples"),
    Case("float_loud.wav", "scale", "32-bit float samples reaching 2.4: hard-clipped to 1 while the manifest said 2.4"),
    Case("short_30ms.wav", "reject: no step", "a 30 ms clip: shorter than any step, and than the mel FFT"),
)


def build(folder: str | Path) -> dict[str, Case]:
    """Write every case into ``folder``; return {file name: case}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    step = footstep()
    loud = footstep(seed=1) * np.float32(2.4 / 0.5)  # (T,) peaks at 2.4
    nan = footstep(seed=2)
    nan[100] = np.nan
    files = {
        "good_step.wav": riff_wav(_pcm16(step)),
        "rate_3hz.wav": riff_wav(_pcm16(step), rate=3),
        "rate_1hz.wav": riff_wav(_pcm16(step), rate=1),
        "rate_huge.wav": riff_wav(_pcm16(step), rate=0x7FFFFFFF),
        "channels_1000.wav": riff_wav(_pcm16(step[:16000]), channels=1000),
        "data_len_beyond_file.wav": riff_wav(_pcm16(step), data_len=0x7FFFFF00),
        "flac_frames_lie.flac": _flac_with_total_samples(step, (1 << 36) - 1),
        "empty.wav": b"",
        "not_audio.wav": b"this is a text file with a .wav name\n" * 10,
        "nan.wav": _float_wav(nan),
        "header_only.wav": riff_wav(b""),
        "float_loud.wav": _float_wav(loud),
        "short_30ms.wav": riff_wav(_pcm16(step[720:1200])),  # (480,) onset 5 ms in
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {c.name: c for c in CASES}


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "cases")
    for case in build(out).values():
        print(f"{case.name:28s} {case.expect:45s} {case.why}")
