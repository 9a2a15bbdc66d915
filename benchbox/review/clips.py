"""The review set: which clips a rater hears, their content hashes, and how they are served.

Legend: T time in samples, F frequency bins, W spectrogram frames.

A review target is either a training run folder (``samples/manifest.csv`` lists the
clips and their group columns) or any folder of audio files. Real recordings can be
mixed in: from the test split of the run's dataset (``config.toml`` ``[data] path``), of
the reference a scored folder of clips records (``scores/scores.json``: an import made by
``benchbox score DIR --out OUT``), or from a folder given explicitly; a real clip that primed a clip under review (the samples
manifest's ``prime_source``) is never one of them, or the rater would hear the same
attack twice and tell the natural continuation apart. Every clip is identified by the hash of its decoded
audio (:func:`benchbox.audio.mono_sha256`), the same key ``scores/clips.csv`` uses, so
tags survive renames and go stale when a clip is regenerated with new samples. Audio
that repeats (within a run, or across groups) is one clip to review that keeps every
copy (``copies``): its tag counts for each group that holds it, and it is served from
any copy that still holds it. Each copy's file stamp (size, mtime, inode) is kept, so a
session can tell when the clips on disk changed (:func:`changed_on_disk`).

Clips are served decoded and re-encoded as plain 16-bit wav, so no file name, folder or
container metadata reaches the rater.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from benchbox.audio import list_audio_files, mono_sha256, read_audio
from benchbox.config import load_toml
from benchbox.errors import AudioError, BenchboxError, ReviewError
from benchbox.progress import Progress, no_progress
from benchbox.runs import sha256_audio

# = benchbox.score.GROUP_COLUMNS: the sampling settings close the key, so cells that differ only in
# top-p or sampling steps are separate groups (empty: n/a, or a store written before they were recorded)
SAMPLING_GROUP_COLUMNS = ("temperature", "top_p", "sampling_steps")
GROUP_COLUMNS = ("generator", "quantisation", "dropout", "checkpoint", "prime_ms", *SAMPLING_GROUP_COLUMNS)
SAMPLES_MANIFEST = Path("samples") / "manifest.csv"
RUN_CONFIG = "config.toml"
TAGS_FILE = "tags.sqlite"
SCORES_JSON = Path("scores") / "scores.json"  # a scored folder's record, with the reference it was scored against
REAL_SPLIT = "test"
PRIME_SOURCE = "prime_source"  # samples manifest: the dataset id of the real clip a primed clip continues ("" unprimed)

SPEC_FFT_SAMPLES = 512
SPEC_HOP_SAMPLES = 128
SPEC_FLOOR_DB = -80.0  # dBFS at the darkest colour (page.html's colour bar says the same)
SPEC_MAX_FRAMES = 1200  # long clips are decimated to about this many columns
# Dark-to-bright ramp, evenly spaced stops (after matplotlib's "magma").
SPEC_RAMP_RGB = ((0, 0, 4), (28, 16, 68), (79, 18, 123), (129, 37, 129), (181, 54, 122), (229, 80, 100), (251, 135, 97), (254, 194, 135), (252, 253, 191))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class ReviewClip:
    """One clip: content hash, where it lives, whether it is real, and its group values."""

    sha256: str
    path: Path  # absolute
    source: str  # as recorded: relative to the review root, or absolute for outside clips
    is_real: bool
    groups: dict = field(default_factory=dict)  # GROUP_COLUMNS -> value (None when unknown)
    copies: tuple = ()  # every (path, source, groups) holding this audio, the first one first; () means just this one
    stamps: tuple = ()  # file_stamp() of each copy when it was hashed

    @property
    def all_copies(self) -> tuple:
        return self.copies or ((self.path, self.source, self.groups),)


def file_stamp(path: Path) -> tuple | None:
    """(size, mtime_ns, inode) of ``path``, None when missing: changes whenever its bytes are rewritten."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def changed_on_disk(clips: tuple) -> bool:
    """True when any copy of any clip was rewritten, replaced or removed since it was hashed."""
    return any(c.stamps and tuple(file_stamp(p) for p, _, _ in c.all_copies) != c.stamps for c in clips)


@dataclass(frozen=True)
class ReviewSet:
    root: Path  # the folder that holds tags.sqlite
    kind: str  # "run" or "folder"
    clips: tuple[ReviewClip, ...]
    skipped: tuple[tuple[str, str], ...] = ()  # (source, reason) of each file that could not be decoded: left out, as score does
    notes: tuple[str, ...] = ()  # what the rater should know about the set (fewer real clips than asked); the CLI warns

    @property
    def db_path(self) -> Path:
        return self.root / TAGS_FILE

    @property
    def n_real(self) -> int:
        return sum(c.is_real for c in self.clips)


def check_folder(folder: str | Path, hint: str = "pass a run folder (with samples/manifest.csv) or a folder of wavs") -> Path:
    """``folder`` as a Path; ReviewError when it is a file (a clip, not the folder holding it) or missing."""
    folder = Path(folder)
    if folder.is_file():
        raise ReviewError(f"{folder} is a file, not a folder: a review (and its tags) covers a run folder or a folder of clips",
                          hint=f"pass the folder that holds it: {_holding_folder(folder)}")
    if not folder.is_dir():
        raise ReviewError(f"review folder not found: {folder}", hint=hint)
    return folder


def _holding_folder(file: Path) -> Path:
    """The nearest folder above ``file`` that is a run, holds a review or scores (an import's root,
    not its ``clips/``); the file's own folder when none does."""
    for parent in file.parents:
        if (parent / SAMPLES_MANIFEST).is_file() or (parent / TAGS_FILE).is_file() or (parent / SCORES_JSON).is_file():
            return parent
    return file.parent


def target_kind(target: str | Path) -> str:
    """``"run"`` for a run folder with ``samples/manifest.csv``, ``"folder"`` for a folder of audio."""
    target = check_folder(target)
    return "run" if (target / SAMPLES_MANIFEST).is_file() else "folder"


def hashes_now(folder: str | Path, paths: Sequence[str]) -> dict[str, str | None]:
    """Each recorded clip path (relative to ``folder``, or absolute for real clips from elsewhere)
    -> the :func:`benchbox.audio.mono_sha256` of what it holds now; None when missing, unreadable or
    holding NaN/inf (the review refuses those clips; not the cached :func:`benchbox.data.dataset.clip_sha256`,
    which hashes them)."""
    folder, now = Path(folder), {}
    for path in dict.fromkeys(str(p) for p in paths):
        file = Path(path) if Path(path).is_absolute() else folder / path
        try:
            now[path] = mono_sha256(file) if file.is_file() else None
        except AudioError:
            now[path] = None
    return now


def build_review_set(
    target: str | Path,
    *,
    include_real: int = 0,
    real_dir: str | Path | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> ReviewSet:
    """Collect and hash the clips of ``target``, plus ``include_real`` real clips chosen with ``seed``."""
    root = Path(target).resolve()
    kind = target_kind(root)
    if include_real < 0:
        raise ReviewError(f"--include-real must be >= 0, got {include_real}", hint="give the number of real clips to mix in")
    manifest = _read_manifest(root) if kind == "run" else None
    generated = _run_entries(root, manifest) if manifest is not None else _folder_entries(root)
    real: list[tuple[Path, str, dict]] = []
    notes: tuple[str, ...] = ()
    if include_real:
        candidates = _real_candidates(root, kind, real_dir)
        primers = _prime_source_paths(root, manifest) if manifest is not None else set()
        usable = _not_primers(candidates, primers)  # a prime's source would be heard twice: not blind
        n_primers = len(candidates) - len(usable)
        if include_real > len(candidates):
            raise ReviewError(
                f"asked for {include_real} real clips but only {len(candidates)} are available",
                hint=f"use --include-real {len(usable)} or point --real at a bigger folder",
            )
        if not usable:
            raise ReviewError(
                f"all {len(candidates)} real clips primed clips under review, so a rater would hear each one twice and the review would not be blind",
                hint="point --real at other recordings, or drop --include-real",
            )
        if include_real > len(usable):
            notes = (f"asked for {include_real} real clips but mixed in {len(usable)}: {n_primers} of the {len(candidates)} available primed clips under review and are left out",)
            include_real = len(usable)
        rng = np.random.default_rng(seed)
        picks = sorted(rng.choice(len(usable), size=include_real, replace=False).tolist())
        real = [(usable[i], str(usable[i]), {}) for i in picks]
    if real:
        _check_blind_lengths([e[0] for e in generated], [e[0] for e in real])
    clips, skipped = _hash_entries(generated, real, progress or no_progress)
    return ReviewSet(root, kind, clips, skipped, notes)


LENGTH_TOLERANCE_SECONDS = 0.01


def _check_blind_lengths(generated: list[Path], real: list[Path]) -> None:
    """Refuse a review whose real clips can be told from the generated ones by their length (the
    player and the spectrogram show it): ReviewError when the two sets' durations do not overlap."""
    from benchbox.audio import header_length

    def seconds(paths: list[Path]) -> list[float]:
        lengths = [header_length(p) for p in paths]  # None: undecodable here, the hashing step names it
        return [frames / rate for frames, rate in filter(None, lengths)]

    gen, ref = seconds(generated), seconds(real)
    if gen and ref and (min(ref) > max(gen) + LENGTH_TOLERANCE_SECONDS or max(ref) < min(gen) - LENGTH_TOLERANCE_SECONDS):
        raise ReviewError(
            f"the real clips last {min(ref):.3g}-{max(ref):.3g} s and the generated ones {min(gen):.3g}-{max(gen):.3g} s: a rater would tell them apart by length, so the review would not be blind",
            hint=f"generate clips as long as the real ones (benchbox generate --seconds {max(ref):.3g}), or drop --include-real",
        )


def _hash_entries(generated: list, real: list, progress: Progress) -> tuple[tuple[ReviewClip, ...], tuple[tuple[str, str], ...]]:
    """The review clips (identical audio is one clip with all its copies) and the (source, reason)
    of every file that could not be decoded, which is left out as ``benchbox score`` skips it."""
    entries = [(*e, False) for e in generated] + [(*e, True) for e in real]
    by_digest: dict[str, list] = {}
    skipped: list[tuple[str, str]] = []
    for i, (path, source, groups, is_real) in enumerate(entries):
        stamp = file_stamp(path)
        try:
            digest = mono_sha256(path)  # NaN/inf samples raise too: such a clip could not be served (_mono)
        except AudioError as e:
            skipped.append((str(source), e.message))
        else:
            by_digest.setdefault(digest, []).append((path, source, {c: groups.get(c) for c in GROUP_COLUMNS}, is_real, stamp))
        progress("hash clips", i + 1, len(entries))
    if not by_digest:
        first = f" ({len(skipped)} could not be decoded; first: {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise ReviewError(f"the review set is empty{first}", hint="generate samples first (`benchbox generate`) or point at a folder of wavs")
    clips = []
    for digest, copies in by_digest.items():  # identical audio is one clip to review, with all its copies
        path, source, groups, is_real, _ = copies[0]
        clips.append(ReviewClip(digest, path, source, is_real, groups, tuple(c[:3] for c in copies), tuple(c[4] for c in copies)))
    return tuple(clips), tuple(skipped)


def _read_manifest(root: Path) -> pd.DataFrame:
    manifest_path = root / SAMPLES_MANIFEST
    try:
        manifest = pd.read_csv(manifest_path, dtype={PRIME_SOURCE: str})  # ids stay text ("007" is not 7)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ReviewError(f"{manifest_path}: unreadable ({str(e).splitlines()[0]})", hint="re-run `benchbox generate` for this run") from None
    if "path" not in manifest.columns:
        raise ReviewError(f"{manifest_path}: no 'path' column", hint="re-run `benchbox generate` for this run")
    return manifest


def _run_entries(root: Path, manifest: pd.DataFrame) -> list[tuple[Path, str, dict]]:
    manifest_path = root / SAMPLES_MANIFEST
    out = []
    for row in manifest.to_dict("records"):
        path = root / str(row["path"])
        if not path.is_file():
            raise ReviewError(f"{manifest_path}: clip {row['path']} is missing", hint="re-run `benchbox generate` for this run")
        groups = {c: _native(row[c]) for c in GROUP_COLUMNS if c in row}
        out.append((path, str(row["path"]), groups))
    return out


def _folder_entries(root: Path) -> list[tuple[Path, str, dict]]:
    """A folder of clips: groups from its subfolders or benchbox-clips.csv, as ``benchbox score`` forms them."""
    from benchbox.errors import DataError
    from benchbox.external import folder_table

    try:
        table = folder_table(root, skip=lambda rel: rel.parts[0] == "scores")
    except DataError as e:
        raise ReviewError(e.message, hint=e.hint) from None
    if table.empty:
        raise ReviewError(f"no audio files under {root}", hint="pass a run folder (with samples/manifest.csv) or a folder of wavs")
    return [(root / rec["path"], rec["path"], {"generator": rec["generator"], "prime_ms": _prime(rec["prime_ms"])}) for rec in table.to_dict("records")]


def _prime(text: str) -> float | None:
    return float(text) if text not in ("", None) else None


def _native(value):
    """numpy scalars and NaN -> plain Python values that SQLite and JSON store as-is."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def _prime_source_paths(root: Path, manifest: pd.DataFrame) -> set[Path]:
    """The resolved files of the run's dataset that primed any clip in ``manifest`` (its
    ``prime_source`` ids); empty when nothing was primed or the dataset cannot be found."""
    if PRIME_SOURCE not in manifest.columns:
        return set()
    ids = {str(v) for v in manifest[PRIME_SOURCE].dropna() if str(v).strip()}
    if not ids:
        return set()
    from benchbox.data.dataset import load_dataset

    try:
        dataset = load_dataset(_run_data_path(root))
    except BenchboxError:  # no dataset to map the ids to: an explicit --real folder is used as given
        return set()
    primers = dataset.manifest[dataset.manifest["id"].astype(str).isin(ids)]
    return {(dataset.root / str(p)).resolve() for p in primers["path"]}


def _not_primers(candidates: list[Path], primers: set[Path]) -> list[Path]:
    """``candidates`` less the prime sources: by resolved path, and by decoded audio
    (:func:`benchbox.data.dataset.clip_sha256`), so a copy of the run's dataset passed as
    ``--real`` (a backup, the same clips elsewhere) does not bring them back."""
    from benchbox.data.dataset import clip_sha256

    if not primers:
        return list(candidates)
    heard = {h for h in (clip_sha256(p) for p in primers) if h is not None}
    return [c for c in candidates if c.resolve() not in primers and clip_sha256(c) not in heard]


def _real_candidates(root: Path, kind: str, real_dir: str | Path | None) -> list[Path]:
    if real_dir is not None:
        return _clips_in(Path(real_dir), "--real")
    if kind != "run":
        return _clips_in(_scored_reference(root), f"{root / SCORES_JSON} reference")
    return _clips_in(_run_data_path(root), f"{root / RUN_CONFIG} [data] path")


def _scored_reference(root: Path) -> Path:
    """The reference a folder of clips (an import, or a folder scored in place) was scored against,
    from ``scores/scores.json`` (:func:`benchbox.external.scored_reference`: taken only while its
    manifest hashes as recorded); ReviewError naming ``--real`` when there is none."""
    from benchbox.external import scored_reference

    try:
        reference = scored_reference(root)
    except BenchboxError as e:
        raise ReviewError(e.message, hint="pass --real DIR with real recordings (the reference dataset itself will do)") from None
    if reference is None:
        raise ReviewError(f"{root} is not a run folder and its scores record no reference dataset, so there is no dataset to take real clips from",
                          hint="pass --real DIR with real recordings, or score the folder first (benchbox score DIR --reference DATA_DIR)")
    return reference


def _run_data_path(root: Path) -> Path:
    """The run's dataset folder, from ``config.toml`` ``[data] path``; ReviewError when unknown."""
    config_path = root / RUN_CONFIG
    if not config_path.is_file():
        raise ReviewError(f"{config_path} not found, so the run's dataset is unknown", hint="pass --real DIR with real recordings")
    try:
        data_path = load_toml(config_path)["data"]["path"]
    except (KeyError, TypeError):
        raise ReviewError(f"{config_path}: no [data] path", hint="pass --real DIR with real recordings") from None
    except BenchboxError as e:
        raise ReviewError(e.message, hint=e.hint) from None
    path = Path(str(data_path))
    if not path.is_absolute() and not path.is_dir():
        path = root / path
    return path


def _clips_in(folder: Path, where: str) -> list[Path]:
    """The test split of a benchbox dataset, or every audio file of a plain folder."""
    if not folder.is_dir():
        raise ReviewError(f"real-clip folder not found: {folder} (from {where})", hint="pass --real DIR with real recordings")
    if (folder / "dataset.json").is_file():
        from benchbox.data.dataset import load_dataset

        try:
            paths = load_dataset(folder).clip_paths(REAL_SPLIT)
        except BenchboxError as e:
            raise ReviewError(e.message, hint=e.hint) from None
    else:
        paths = list_audio_files(folder)
    if not paths:
        raise ReviewError(f"no real clips in {folder} (from {where})", hint="pass --real DIR with real recordings")
    return [p.resolve() for p in paths]


# ------------------------------------------------------------------------ serving


def _mono(path: str | Path, sha256: str | None) -> tuple[np.ndarray, int]:
    """Decoded mono (T,) and rate; ReviewError when the file no longer holds the audio ``sha256`` names."""
    data, rate = read_audio(path)  # (T, channels)
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]  # (T,)
    if sha256 is not None and sha256_audio(mono, rate) != sha256:
        raise ReviewError(f"{path} changed since the review started (other audio, same file)", hint="restart `benchbox tag` to review the clips as they are now")
    return mono, rate


def check_unchanged(clip: ReviewClip) -> Path:
    """The first copy of ``clip`` that still holds the audio the review hashed; ReviewError when none does."""
    error = None
    for path, _, _ in clip.all_copies:
        try:
            _mono(path, clip.sha256)
            return Path(path)
        except BenchboxError as e:  # changed, missing or unreadable: try the next copy
            error = error or e
    raise error if isinstance(error, ReviewError) else ReviewError(f"{clip.path} changed since the review started", hint="restart `benchbox tag` to review the clips as they are now")


def wav_bytes(path: str | Path, sha256: str | None = None) -> bytes:
    """The decoded clip as a metadata-free mono wav (verified against ``sha256`` when given).

    16-bit PCM, unless the clip goes beyond full scale (a float file): then 32-bit float,
    so the rater hears the clip as it is rather than a silently clipped copy.
    """
    mono, rate = _mono(path, sha256)  # (T,)
    buf = io.BytesIO()
    subtype = "FLOAT" if float(np.abs(mono).max(initial=0.0)) > 1.0 else "PCM_16"
    sf.write(buf, mono, rate, subtype=subtype, format="WAV")
    return buf.getvalue()


def spectrogram_png(path: str | Path, sha256: str | None = None) -> bytes:
    """A log-magnitude spectrogram image, PNG bytes: 0 Hz at the bottom to Nyquist at the top, the
    whole clip left to right, colour from ``SPEC_FLOOR_DB`` dBFS (dark) to 0 dBFS (bright) on one
    fixed scale, so a quiet clip looks quiet. The review page draws the kHz / s axes and the colour bar.
    Verified against ``sha256`` when given (ReviewError when the file changed)."""
    mono, _ = _mono(path, sha256)  # (T,)
    if len(mono) < SPEC_FFT_SAMPLES:
        mono = np.pad(mono, (0, SPEC_FFT_SAMPLES - len(mono)))
    hop = max(SPEC_HOP_SAMPLES, (len(mono) - SPEC_FFT_SAMPLES) // SPEC_MAX_FRAMES + 1)
    starts = np.arange(0, len(mono) - SPEC_FFT_SAMPLES + 1, hop)
    frames = np.stack([mono[s : s + SPEC_FFT_SAMPLES] for s in starts])  # (W, SPEC_FFT_SAMPLES)
    window = np.hanning(SPEC_FFT_SAMPLES).astype(np.float32)
    mag = np.abs(np.fft.rfft(frames * window, axis=1))  # (W, F)
    full_scale = SPEC_FFT_SAMPLES / 4.0  # a full-scale sine through the Hann window peaks here
    db = np.clip(20.0 * np.log10(np.maximum(mag / full_scale, 1e-8)), SPEC_FLOOR_DB, 0.0)  # (W, F) dBFS, one scale for every clip
    level = (db.T[::-1] - SPEC_FLOOR_DB) / -SPEC_FLOOR_DB  # (F, W) in [0, 1], low frequencies last
    return _png_rgb(_colour(level))


def _colour(level: np.ndarray) -> np.ndarray:
    """(F, W) values in [0, 1] -> (F, W, 3) uint8 along a dark-to-bright (magma-like) ramp."""
    stops = np.linspace(0.0, 1.0, len(SPEC_RAMP_RGB))
    ramp = np.asarray(SPEC_RAMP_RGB, dtype=np.float64)  # (stops, 3)
    rgb = np.stack([np.interp(level, stops, ramp[:, c]) for c in range(3)], axis=-1)  # (F, W, 3)
    return np.round(rgb).astype(np.uint8)


def _png_rgb(rgb: np.ndarray) -> bytes:
    """Encode an (H, W, 3) uint8 image as PNG with the standard library (no imaging package)."""
    height, width, _ = rgb.shape
    raw = b"".join(b"\x00" + row.tobytes() for row in rgb)  # filter type 0 per scanline

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
