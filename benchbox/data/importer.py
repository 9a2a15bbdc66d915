"""``benchbox data import``: a folder of footstep recordings -> a dataset folder.

Legend: T samples of a decoded recording, L samples per clip (``clip_samples``).

Each audio file is decoded to mono at ``sample_rate_hz`` (soxr), high-passed to remove
DC, split into single steps (:mod:`benchbox.data.segment`) and each step cut into an
L-sample clip with its onset ``onset_offset_ms`` from the start. Files that cannot be
used (a header that lies, no decodable audio, silence) are listed in ``rejected.csv``
with a one-line reason and never stop the import; so is whatever the walk of the source
folder passes by (links to folders, unreadable or hidden folders: :mod:`benchbox.data.walk`).
Names that are not valid UTF-8 are read, and written escaped (``caf\\xe9.wav``). Files
that libsndfile cannot be trusted with are decoded by PyAV, and chained Ogg streams are
all read (:mod:`benchbox.decoding`); the import says which in a warning and in
``dataset.json`` (``decoding``).

Audio is never altered silently. A file whose clips would exceed full scale (float
files beyond +-1, or resampler/high-pass overshoot) has all its clips scaled by one
gain, so that nothing is clipped; the gain is in the manifest's ``gain_db`` column,
in ``dataset.json`` (``scaled``) and in a warning naming the file. The manifest's
``peak``/``rms_dbfs``/``sha256`` describe each clip as written (16-bit PCM).
Exact duplicate clips (same decoded content hash) are kept once. Clips are split into
train/val/test by source file, so no recording contributes to two splits.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy import signal

from benchbox.audio import FULL_SCALE, PROJECT_SAMPLE_RATE_HZ, as_written, dbfs, load_audio_noted
from benchbox.data.corpora import builtin_names, resolve_source
from benchbox.data.dataset import DATASET_FORMAT, GAIN_COLUMN, MANIFEST_COLUMNS, SPLITS, foreign_entries
from benchbox.data.segment import StepParams, cut_clip, find_steps, rms_db
from benchbox.data.splits import assign_splits
from benchbox.data.walk import Walk, display_name, walk_sources
from benchbox.errors import AudioError, DataError
from benchbox.progress import Progress, no_progress
from benchbox.runs import atomic_write_csv, atomic_write_json, sha256_audio, staged_dir, write_run_info

DEFAULT_CLIP_SAMPLES = 8192  # 0.512 s at 16 kHz
MS_PER_SECOND = 1000.0
HIGHPASS_ORDER = 2
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
        if self.peak_dbfs > 0:
            raise ValueError("peak_dbfs must be <= 0 (a 16-bit clip cannot exceed full scale)")

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
    skipped: int = 0  # paths walked past (links to folders, unreadable or hidden folders), listed in rejected.csv
    decoding: dict[str, str] = field(default_factory=dict)  # source -> what decoding it took (PyAV, chained streams)
    scaled: dict[str, float] = field(default_factory=dict)  # source -> gain in dB that kept it within full scale
    truncated: int = 0  # kept clips whose step was longer than the clip (tail cut and faded)
    warnings: tuple[str, ...] = ()


@dataclass
class _Clip:
    wave: np.ndarray  # (L,)
    source: str
    label: str
    offset_seconds: float
    seconds: float
    gain_db: float = 0.0  # gain applied after decoding (peak normalise, full-scale fit)
    truncated: bool = False  # the step was longer than the clip holds: its tail is cut (and faded)


# ------------------------------------------------------------------------ labels


def surface_label(relative: Path) -> str:
    """The surface named in a file's name, else in its folders; "" when none."""
    for part in [relative.stem, *reversed(relative.parent.parts)]:
        for token in re.split(r"[^a-z]+", part.lower()):
            if token in SURFACES:
                return token
    return ""


# ----------------------------------------------------------------- per-file work


def _highpass(wave: np.ndarray, config: ImportConfig) -> np.ndarray:
    if config.highpass_hz <= 0:
        return wave
    sos = signal.butter(HIGHPASS_ORDER, config.highpass_hz, btype="highpass", fs=config.sample_rate_hz, output="sos")
    return signal.sosfilt(sos, wave).astype(np.float32)  # (T,)


def _reason(error: AudioError, path: Path) -> str:
    prefix = f"{path}: "
    return error.message[len(prefix) :] if error.message.startswith(prefix) else error.message


def steps_of_file(path: Path, config: ImportConfig, source: str, label: str) -> tuple[list[_Clip], int, float, tuple[str, ...]]:
    """Clips of one recording, the number of steps dropped, the full-scale gain (dB, 0 when
    none was needed; see :func:`fit_full_scale`) and the decoder's notes; AudioError when unusable."""
    wave, notes = load_audio_noted(path, config.sample_rate_hz)  # (T,)
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
        gain = 1.0
        if config.normalise == "peak":
            gain = 10 ** (config.peak_dbfs / 20) / max(float(np.abs(clip).max()), 1e-12)
            clip = (clip.astype(np.float64) * gain).astype(np.float32)
        truncated = step.end - step.onset > config.clip_samples - config.onset_samples
        clips.append(_Clip(clip, source, label, step.onset / config.sample_rate_hz, seconds, dbfs(gain), truncated))
    if not clips:
        raise AudioError(f"no step louder than {config.min_step_rms_db:g} dBFS RMS and longer than {config.min_step_ms:g} ms", hint="lower import.min_step_rms_db")
    return clips, dropped, fit_full_scale(clips), notes


def fit_full_scale(clips: list[_Clip]) -> float:
    """Scale one file's clips by one gain when any exceeds full scale; return that gain (dB, 0 when none).

    One gain per file keeps the level of its steps relative to each other.
    """
    peak = max(float(np.abs(c.wave).max()) for c in clips)
    if peak <= FULL_SCALE:
        return 0.0
    gain = FULL_SCALE / peak
    for c in clips:
        c.wave = (c.wave.astype(np.float64) * gain).astype(np.float32)  # peak * (1 / peak) rounds to <= 1.0 in float32
        c.gain_db += dbfs(gain)
    return dbfs(gain)


# ---------------------------------------------------------------------- the run


@dataclass
class _Collected:
    clips: list[_Clip] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    dropped: int = 0
    scaled: dict[str, float] = field(default_factory=dict)
    decoding: dict[str, str] = field(default_factory=dict)


def _collect(src: Path, files: list[Path], config: ImportConfig, progress: Progress) -> _Collected:
    got = _Collected()
    for i, path in enumerate(files):
        rel = path.relative_to(src)
        name = display_name(rel.as_posix())  # the text form: a non-UTF-8 byte is escaped, never a UnicodeEncodeError
        try:
            found, n_dropped, fit_db, notes = steps_of_file(path, config, name, surface_label(Path(name)))
            got.clips.extend(found)
            got.dropped += n_dropped
            if fit_db:
                got.scaled[name] = round(fit_db, 3)
            if notes:
                got.decoding[name] = "; ".join(notes)
        except AudioError as e:
            got.rejected.append((name, display_name(_reason(e, path))))
        except MemoryError:  # a header check missed a lie: this file is lost, not the import
            got.rejected.append((name, "out of memory while decoding (a size or count field in its header may lie)"))
        progress("import", i + 1, len(files), clips=len(got.clips), rejected=len(got.rejected))
    return got


def pcm16_hash(wave: np.ndarray, sample_rate_hz: int) -> str:
    """``sha256_audio`` of the clip as it will read back from its 16-bit wav file."""
    return sha256_audio(as_written(wave), sample_rate_hz)


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
    if src.is_file():
        raise DataError(f"the source must be a folder, not a file: {src}", hint=f"pass the folder that holds it: {src.parent}")
    if not src.is_dir():
        raise DataError(f"source folder not found: {src}", hint=f"pass a folder that holds .wav/.ogg/.flac recordings, or a built-in corpus: {', '.join(builtin_names())}")
    real_src, real_out = src.resolve(), out.resolve()
    if real_out == real_src or real_src in real_out.parents or real_out in real_src.parents:
        raise DataError(f"--out {out} is inside the source folder {src} (or holds it): a later import of the source would take the "
                        "dataset's own clips as new recordings, and split copies of test clips into train", hint="choose an --out outside the source")
    walk = walk_sources(src)
    if not walk.files:
        passed = f" ({len(walk.skipped)} path(s) walked past, first: {walk.skipped[0][0]}: {walk.skipped[0][1]})" if walk.skipped else ""
        raise DataError(f"no audio files in {display_name(src)}{passed}", hint="the import reads .wav .flac .ogg .oga .opus .mp3 .m4a .aac .aif .aiff files, in sub-folders too")
    prepare_out(out, overwrite=overwrite)
    got = _collect(src, walk.files, config, progress)
    clips, rejected = got.clips, got.rejected
    if not clips:
        first = f" (first: {rejected[0][0]}: {rejected[0][1]})" if rejected else ""
        raise DataError(f"no usable audio in {display_name(src)}: all {len(rejected)} audio files were rejected{first}", hint="check the files, or lower import.trim_db / import.min_step_rms_db")
    n_before = len(clips)
    clips, hashes = _dedupe(clips, config.sample_rate_hz, rejected)
    sources = sorted({c.source for c in clips})
    counts = Counter(c.source for c in clips)
    split_of = assign_splits(sources, [counts[s] for s in sources], config.split, config.seed)
    truncated = sum(c.truncated for c in clips)
    with staged_dir(out) as stage:  # the dataset folder is replaced whole, or left as it was
        manifest = write_clips(stage, clips, hashes, [split_of[c.source] for c in clips], config.sample_rate_hz)
        atomic_write_csv(stage / "rejected.csv", pd.DataFrame(rejected + walk.skipped, columns=list(REJECTED_COLUMNS)))
        info = {"format": DATASET_FORMAT, "kind": "import", "sample_rate_hz": config.sample_rate_hz, "clip_samples": config.clip_samples, "normalise": config.normalise, "scaled": got.scaled, "truncated_steps": truncated, "skipped": len(walk.skipped), "decoding": got.decoding, "source": display_name(src), "import": asdict(config)}
        atomic_write_json(stage / "dataset.json", info)
        write_run_info(stage, {"import": asdict(config), "source": display_name(src)})
    return ImportResult(
        out=out,
        clips=len(clips),
        sources=len(sources),
        rejected=len(rejected),
        per_split={s: int((manifest["split"] == s).sum()) for s in SPLITS},
        per_label={str(k): int(v) for k, v in manifest["label"].replace("", "(none)").value_counts().sort_index().items()},
        duplicates=n_before - len(clips),
        dropped_steps=got.dropped,
        ignored=walk.ignored,
        skipped=len(walk.skipped),
        decoding=got.decoding,
        scaled=got.scaled,
        truncated=truncated,
        warnings=_warnings(config, got, walk, truncated) + _empty_splits(manifest, len(sources), config),
    )


def _empty_splits(manifest: pd.DataFrame, n_sources: int, config: ImportConfig) -> tuple[str, ...]:
    """A warning per empty split: training needs train and val clips, scoring needs test clips."""
    empty = [s for s in SPLITS if not (manifest["split"] == s).any()]
    if not empty:
        return ()
    why = (f"{n_sources} source file(s) cannot fill {len(SPLITS)} splits (a source file goes to one split)" if n_sources < len(SPLITS)
           else f"split = {list(config.split)} leaves {', '.join(empty)} without a source")
    return (f"the {', '.join(empty)} split(s) are empty: {why}; train needs train and val clips, score needs test clips "
            "(add recordings, or --set split=[a,b,c])",)


def _warnings(config: ImportConfig, got: _Collected, walk: Walk, truncated: int) -> tuple[str, ...]:
    lines = [f"{s}: scaled by {g:+.1f} dB so that no sample exceeds full scale (gain in manifest gain_db)" for s, g in got.scaled.items()]
    lines += [f"{s}: {notes}" for s, notes in got.decoding.items()]
    if walk.skipped:
        lines.append(f"{len(walk.skipped)} path(s) walked past, not imported (first: {walk.skipped[0][0]}: {walk.skipped[0][1]}); all are listed in rejected.csv")
    if truncated:
        lines.append(f"{truncated} step(s) were longer than the {config.clip_samples}-sample clip: their tails were cut and faded (manifest seconds gives each step's full length; raise import.clip_samples to keep them)")
    return tuple(lines)


# ----------------------------------------------------------- shared with synth


FOREIGN_SHOWN = 3  # foreign entries named in the refusal; the rest are counted


def prepare_out(out: Path, *, overwrite: bool) -> None:
    """Refuse a non-empty output folder unless ``overwrite`` and it holds a dataset and nothing
    else (:func:`benchbox.data.dataset.foreign_entries`): the replaced folder goes whole, so a
    note or a leaderboard someone put beside the clips would go with it.

    Nothing is deleted here: the new dataset is built in a staging folder and replaces
    ``out`` whole (:func:`benchbox.runs.staged_dir`) only when it is complete.
    """
    if out.exists() and not out.is_dir():
        raise DataError(f"output path is a file: {out}", hint="choose a folder for --out")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise DataError(f"output folder is not empty: {out}", hint="choose a new --out folder or pass --overwrite")
        if not (out / "dataset.json").is_file():
            raise DataError(f"refusing to overwrite {out}: it is not a benchbox dataset", hint="choose a new --out folder")
        foreign = foreign_entries(out)
        if foreign:
            more = f" and {len(foreign) - FOREIGN_SHOWN} more" if len(foreign) > FOREIGN_SHOWN else ""
            raise DataError(f"refusing to overwrite {out}: --overwrite replaces the whole folder, and it holds what a dataset import "
                            f"did not write: {', '.join(foreign[:FOREIGN_SHOWN])}{more}",
                            hint=f"move them out of {out}, or choose another --out")


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
        written = as_written(c.wave)  # (L,) what the file holds: peak and RMS describe it, not the float clip
        peak = float(np.abs(written).max())
        gain_db = round(float(getattr(c, "gain_db", 0.0)), 3)
        rows.append((clip_id, rel, c.source, c.label, round(c.offset_seconds, 6), round(c.seconds, 6), round(peak, 6), round(rms_db(written), 3), split, h, gain_db))
    manifest = pd.DataFrame(rows, columns=[*MANIFEST_COLUMNS, GAIN_COLUMN])
    atomic_write_csv(out / "manifest.csv", manifest)
    return manifest
