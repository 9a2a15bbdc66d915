"""``benchbox data import``: a folder of footstep recordings -> a dataset folder.

Legend: T samples of a decoded recording, L samples per clip (``clip_samples``).

Each audio file is decoded to mono at ``sample_rate_hz`` (soxr), high-passed to remove
DC, split into single steps (:mod:`benchbox.data.segment`) and each step cut into an
L-sample clip with its onset ``onset_offset_ms`` from the start. Files that cannot be
used are listed in ``rejected.csv`` with a one-line reason and never stop the import.
Exact duplicate clips (same decoded content hash) are kept once. Clips are split into
train/val/test by source file, so no recording contributes to two splits.
"""

from __future__ import annotations

import io
import re
import struct
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import soundfile as sf
from scipy import signal

from benchbox.audio import PROJECT_SAMPLE_RATE_HZ, dbfs, list_audio_files, load_audio
from benchbox.data.corpora import builtin_names, resolve_source
from benchbox.data.dataset import DATASET_FORMAT, MANIFEST_COLUMNS, SPLITS
from benchbox.data.segment import StepParams, cut_clip, find_steps, rms_db
from benchbox.data.splits import assign_splits
from benchbox.errors import AudioError, DataError
from benchbox.progress import Progress, no_progress
from benchbox.runs import atomic_write_csv, atomic_write_json, sha256_audio, write_run_info

DEFAULT_CLIP_SAMPLES = 8192  # 0.512 s at 16 kHz
MS_PER_SECOND = 1000.0
HIGHPASS_ORDER = 2
WAV_HEADER_BYTES = 12  # "RIFF" <size> "WAVE"
SURFACES = (
    "asphalt", "carpet", "concrete", "dirt", "glass", "grass", "gravel", "hard", "ice", "leaves",
    "linoleum", "marble", "metal", "mud", "rock", "sand", "snow", "splash", "stone", "tile",
    "water", "wood",
)  # fmt: skip
REJECTED_COLUMNS = ("file", "reason")


@dataclass(frozen=True)
class ImportConfig:
    """How recordings become clips. Levels are absolute dBFS."""

    sample_rate_hz: int = PROJECT_SAMPLE_RATE_HZ
    clip_samples: int = DEFAULT_CLIP_SAMPLES
    onset_offset_ms: float = 10.0  # the onset sits this far from the clip start; zeros before
    trim_db: float = -60.0  # absolute: a file whose peak is below this is silent
    highpass_hz: float = 20.0  # causal Butterworth high-pass against DC; 0 disables
    onset_delta_db: float = 9.0  # envelope rise that starts a step
    onset_lookback_ms: float = 40.0  # the rise is measured above the minimum over this window
    onset_range_db: float = 20.0  # ignore onsets this far below the file's loudest frame
    min_step_gap_ms: float = 300.0  # onsets closer than this belong to one step
    min_step_ms: float = 40.0  # shorter steps (tail blips) are dropped
    min_step_rms_db: float = -55.0  # steps quieter than this (RMS over the step) are dropped
    normalise: Literal["none", "peak"] = "none"  # "peak" scales each clip to peak_dbfs
    peak_dbfs: float = -1.0
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)  # train, val, test (by clips, grouped by source)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.sample_rate_hz <= 0 or self.clip_samples <= 0:
            raise ValueError("sample_rate_hz and clip_samples must be positive")
        if not 0 <= self.onset_offset_ms * self.sample_rate_hz / MS_PER_SECOND < self.clip_samples:
            raise ValueError("onset_offset_ms must lie inside the clip")
        if min(self.split) < 0 or sum(self.split) <= 0:
            raise ValueError("split fractions must be >= 0 and not all 0")
        if not 0 <= self.highpass_hz < self.sample_rate_hz / 2:
            raise ValueError("highpass_hz must lie in [0, sample_rate_hz / 2)")

    @property
    def onset_samples(self) -> int:
        return int(round(self.onset_offset_ms * self.sample_rate_hz / MS_PER_SECOND))

    def step_params(self) -> StepParams:
        return StepParams(
            sample_rate_hz=self.sample_rate_hz,
            trim_db=self.trim_db,
            onset_delta_db=self.onset_delta_db,
            onset_lookback_ms=self.onset_lookback_ms,
            onset_range_db=self.onset_range_db,
            min_step_gap_ms=self.min_step_gap_ms,
        )


@dataclass(frozen=True)
class ImportResult:
    out: Path
    clips: int
    sources: int
    rejected: int  # files listed in rejected.csv
    per_split: dict[str, int]
    per_label: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0  # clips dropped as exact copies of an earlier clip
    dropped_steps: int = 0  # steps too short or too quiet
    ignored: int = 0  # files without an audio suffix (COPYRIGHT, csv, ...)


@dataclass
class _Clip:
    wave: np.ndarray  # (L,)
    source: str
    label: str
    offset_seconds: float
    seconds: float


# ------------------------------------------------------------------------ labels


def surface_label(relative: Path) -> str:
    """The surface named in a file's name, else in its folders; "" when none."""
    for part in [relative.stem, *reversed(relative.parent.parts)]:
        for token in re.split(r"[^a-z]+", part.lower()):
            if token in SURFACES:
                return token
    return ""


# ----------------------------------------------------------------- per-file work


def check_wav_complete(path: Path) -> None:
    """Raise AudioError for a WAV whose data chunk is shorter than its header says."""
    if path.suffix.lower() != ".wav":
        return
    with open(path, "rb") as f:
        head = f.read(WAV_HEADER_BYTES)
        if len(head) < WAV_HEADER_BYTES or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return  # not RIFF/WAVE: let the decoder explain
        size = path.stat().st_size
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return
            ident, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if ident == b"data":
                have = size - f.tell()
                if length > have and length != 0xFFFFFFFF:  # 0xFFFFFFFF: streamed, size unknown
                    raise AudioError(f"{path}: truncated (header declares {length} data bytes, file holds {have})", hint="re-export the file")
                return
            f.seek(length + (length & 1), 1)


def _highpass(wave: np.ndarray, config: ImportConfig) -> np.ndarray:
    if config.highpass_hz <= 0:
        return wave
    sos = signal.butter(HIGHPASS_ORDER, config.highpass_hz, btype="highpass", fs=config.sample_rate_hz, output="sos")
    return signal.sosfilt(sos, wave).astype(np.float32)  # (T,)


def _reason(error: AudioError, path: Path) -> str:
    prefix = f"{path}: "
    return error.message[len(prefix) :] if error.message.startswith(prefix) else error.message


def steps_of_file(path: Path, config: ImportConfig, source: str, label: str) -> tuple[list[_Clip], int]:
    """Clips of one recording and the number of steps dropped; AudioError when unusable."""
    check_wav_complete(path)
    wave = load_audio(path, config.sample_rate_hz)  # (T,)
    peak_db = dbfs(float(np.abs(wave).max()))
    if peak_db < config.trim_db:
        raise AudioError(f"silent (peak {peak_db:.1f} dBFS below trim threshold {config.trim_db:g} dBFS)", hint="delete the file or lower import.trim_db")
    wave = _highpass(wave, config)
    clips, dropped = [], 0
    for step in find_steps(wave, config.step_params()):
        seconds = step.seconds(config.sample_rate_hz)
        if seconds * MS_PER_SECOND < config.min_step_ms or rms_db(wave[step.onset : step.end]) < config.min_step_rms_db:
            dropped += 1
            continue
        clip = cut_clip(wave, step, clip_samples=config.clip_samples, onset_samples=config.onset_samples, sample_rate_hz=config.sample_rate_hz)
        if config.normalise == "peak":
            clip *= np.float32(10 ** (config.peak_dbfs / 20) / max(float(np.abs(clip).max()), 1e-12))
        clips.append(_Clip(clip, source, label, step.onset / config.sample_rate_hz, seconds))
    if not clips:
        raise AudioError(f"no step louder than {config.min_step_rms_db:g} dBFS RMS and longer than {config.min_step_ms:g} ms", hint="lower import.min_step_rms_db")
    return clips, dropped


# ---------------------------------------------------------------------- the run


def _collect(src: Path, config: ImportConfig, progress: Progress) -> tuple[list[_Clip], list[tuple[str, str]], int]:
    files = list_audio_files(src)
    files = [f for f in files if not any(p.startswith(".") for p in f.relative_to(src).parts)]
    clips: list[_Clip] = []
    rejected: list[tuple[str, str]] = []
    dropped = 0
    for i, path in enumerate(files):
        rel = path.relative_to(src)
        try:
            found, n_dropped = steps_of_file(path, config, rel.as_posix(), surface_label(rel))
            clips.extend(found)
            dropped += n_dropped
        except AudioError as e:
            rejected.append((rel.as_posix(), _reason(e, path)))
        progress("import", i + 1, len(files), clips=len(clips), rejected=len(rejected))
    return clips, rejected, dropped


def pcm16_hash(wave: np.ndarray, sample_rate_hz: int) -> str:
    """``sha256_audio`` of the clip as it will read back from its 16-bit wav file."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(wave, -1.0, 1.0), int(sample_rate_hz), subtype="PCM_16", format="WAV")
    buf.seek(0)
    decoded, _ = sf.read(buf, dtype="float32", always_2d=True)  # (L, 1)
    return sha256_audio(decoded.mean(axis=1), sample_rate_hz)


def _dedupe(clips: list[_Clip], sample_rate_hz: int, rejected: list[tuple[str, str]]) -> tuple[list[_Clip], list[str]]:
    kept, hashes, seen = [], [], {}
    for c in clips:
        h = pcm16_hash(c.wave, sample_rate_hz)
        if h in seen:
            rejected.append((c.source, f"duplicate: step at {c.offset_seconds:.3f} s has the same audio as a step of {seen[h]}"))
            continue
        seen[h] = c.source
        kept.append(c)
        hashes.append(h)
    return kept, hashes


def import_folder(src: str | Path, out: str | Path, *, config: ImportConfig | None = None, overwrite: bool = False, progress: Progress | None = None) -> ImportResult:
    """Import every recording under ``src`` into the dataset folder ``out``."""
    config = config or ImportConfig()
    progress = progress or no_progress
    src, out = resolve_source(src), Path(out)
    if not src.is_dir():
        raise DataError(f"source folder not found: {src}", hint=f"pass a folder that holds .wav/.ogg/.flac recordings, or a built-in corpus: {', '.join(builtin_names())}")
    audio_files = list_audio_files(src)
    if not audio_files:
        raise DataError(f"no audio files in {src}", hint="the import reads .wav .flac .ogg .oga .mp3 .aif .aiff files, in sub-folders too")
    prepare_out(out, overwrite=overwrite)
    clips, rejected, dropped = _collect(src, config, progress)
    if not clips:
        first = f" (first: {rejected[0][0]}: {rejected[0][1]})" if rejected else ""
        raise DataError(f"no usable audio in {src}: all {len(rejected)} audio files were rejected{first}", hint="check the files, or lower import.trim_db / import.min_step_rms_db")
    n_before = len(clips)
    clips, hashes = _dedupe(clips, config.sample_rate_hz, rejected)
    sources = sorted({c.source for c in clips})
    counts = Counter(c.source for c in clips)
    split_of = assign_splits(sources, [counts[s] for s in sources], config.split, config.seed)
    manifest = write_clips(out, clips, hashes, [split_of[c.source] for c in clips], config.sample_rate_hz)
    atomic_write_csv(out / "rejected.csv", pd.DataFrame(rejected, columns=list(REJECTED_COLUMNS)))
    info = {"format": DATASET_FORMAT, "kind": "import", "sample_rate_hz": config.sample_rate_hz, "clip_samples": config.clip_samples, "normalise": config.normalise, "source": str(src), "import": asdict(config)}
    atomic_write_json(out / "dataset.json", info)
    write_run_info(out, {"import": asdict(config), "source": str(src)})
    return ImportResult(
        out=out,
        clips=len(clips),
        sources=len(sources),
        rejected=len(rejected),
        per_split={s: int((manifest["split"] == s).sum()) for s in SPLITS},
        per_label={str(k): int(v) for k, v in manifest["label"].replace("", "(none)").value_counts().sort_index().items()},
        duplicates=n_before - len(clips),
        dropped_steps=dropped,
        ignored=sum(1 for p in src.rglob("*") if p.is_file()) - len(audio_files),
    )


# ----------------------------------------------------------- shared with synth


def prepare_out(out: Path, *, overwrite: bool) -> None:
    """Refuse a non-empty output folder unless ``overwrite``; then clear old clips."""
    if out.exists() and not out.is_dir():
        raise DataError(f"output path is a file: {out}", hint="choose a folder for --out")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise DataError(f"output folder is not empty: {out}", hint="choose a new --out folder or pass --overwrite")
        if not (out / "dataset.json").is_file():
            raise DataError(f"refusing to overwrite {out}: it is not a benchbox dataset", hint="choose a new --out folder")
        for old in (out / "clips").glob("*.wav"):
            old.unlink()
    (out / "clips").mkdir(parents=True, exist_ok=True)


def write_clips(out: Path, clips: list, hashes: list[str], splits: list[str], sample_rate_hz: int, ids: list[str] | None = None) -> pd.DataFrame:
    """Write ``clips/<id>.wav`` and ``manifest.csv``; return the manifest.

    ``clips`` items have ``wave, source, label, offset_seconds, seconds``; ids default
    to zero-padded running numbers.
    """
    from benchbox.audio import write_wav

    rows = []
    width = max(5, len(str(len(clips))))
    for i, (c, h, split) in enumerate(zip(clips, hashes, splits)):
        clip_id = ids[i] if ids is not None else f"{i:0{width}d}"
        rel = f"clips/{clip_id}.wav"
        write_wav(out / rel, c.wave, sample_rate_hz)
        peak = float(np.abs(c.wave).max())
        rows.append((clip_id, rel, c.source, c.label, round(c.offset_seconds, 6), round(c.seconds, 6), round(peak, 6), round(rms_db(c.wave), 3), split, h))
    manifest = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
    atomic_write_csv(out / "manifest.csv", manifest)
    return manifest
