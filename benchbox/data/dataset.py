"""The on-disk dataset format, shared by import, synth, train, generate and score.

A dataset folder holds:

* ``manifest.csv`` - one row per clip: ``id, path, source, label, offset_seconds,
  seconds, peak, rms_dbfs, split, sha256`` (``path`` is relative to the folder), and
  ``gain_db``: the gain applied after decoding (0 when none; older folders lack it);
  ``peak``/``rms_dbfs``/``sha256`` describe the clip as written;
* ``clips/*.wav`` - 16-bit mono clips at ``sample_rate_hz``, all ``clip_samples`` long;
* ``dataset.json`` - ``{"format", "sample_rate_hz", "clip_samples", "kind", "normalise", ...}``;
* ``rejected.csv`` - files the import could not use, with a one-line reason each;
* ``config.toml`` / ``versions.json`` - the resolved config and library versions;
* ``cache/`` - written later by training (the baselines' fits, keyed by content).

Those are the entries an import owns (:data:`DATASET_ENTRIES`, :func:`foreign_entries`): a
re-import with ``--overwrite`` replaces them and refuses a folder holding anything else.

Legend: N clips, T samples per clip.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.audio import mono_sha256, read_audio
from benchbox.errors import AudioError, DataError

DATASET_FORMAT = 1
DATASET_INFO = "dataset.json"  # what marks a dataset folder
MANIFEST_COLUMNS = ("id", "path", "source", "label", "offset_seconds", "seconds", "peak", "rms_dbfs", "split", "sha256")
GAIN_COLUMN = "gain_db"  # optional: datasets written before it read as 0.0
SPLITS = ("train", "val", "test")
DATASET_FILES = ("manifest.csv", "dataset.json", "rejected.csv", "config.toml", "versions.json")
DATASET_DIRS = ("clips", "cache")  # clips/: the import's .wav files; cache/: benchbox's own content-keyed cache
DATASET_ENTRIES = DATASET_FILES + DATASET_DIRS
OS_LITTER = (".DS_Store", "Thumbs.db", "desktop.ini")  # folder metadata a file browser writes by itself: not the user's work


@dataclass(frozen=True)
class Dataset:
    root: Path
    manifest: pd.DataFrame
    sample_rate_hz: int
    clip_samples: int
    info: dict

    def rows(self, split: str | None = None) -> pd.DataFrame:
        if split is None:
            return self.manifest
        if split not in SPLITS:
            raise DataError(f"unknown split '{split}'", hint=f"use one of: {', '.join(SPLITS)}")
        return self.manifest[self.manifest["split"] == split].reset_index(drop=True)

    def clip_paths(self, split: str | None = None) -> list[Path]:
        return [self.root / p for p in self.rows(split)["path"]]

    def load_clips(self, split: str | None = None) -> np.ndarray:
        """(N, T) float32 waveforms of one split, T = ``clip_samples``.

        Every clip must be mono-decodable at ``sample_rate_hz`` and exactly T samples
        long, as the import wrote it; anything else is a DataError naming the file
        (it used to be resampled, cut or zero-padded without a word).
        """
        paths = self.clip_paths(split)
        out = np.zeros((len(paths), self.clip_samples), dtype=np.float32)  # (N, T)
        for i, p in enumerate(paths):
            data, rate = read_audio(p)  # (T, C)
            if rate != self.sample_rate_hz or data.shape[0] != self.clip_samples:
                raise DataError(
                    f"{p}: {data.shape[0]} samples at {rate} Hz, but the dataset's clips are {self.clip_samples} samples at {self.sample_rate_hz} Hz",
                    hint="the clip was replaced or edited; re-import the dataset",
                )
            out[i] = data.mean(axis=1)
        return out


    def changed_clips(self, split: str | None = None) -> list[Path]:
        """Clips of ``split`` (every split: None) whose audio no longer has the ``sha256`` the
        manifest records (:func:`benchbox.audio.mono_sha256`, the mono float32 read-back's hash), or that
        are missing or undecodable: a reference edited in place after import. A row without a
        recorded ``sha256`` (empty) is not checked. Decodes each clip
        once per process and file state (:func:`clip_sha256`), so a leaderboard over many runs of
        one reference checks it once."""
        rows = self.rows(split)
        recorded = rows["sha256"].fillna("").astype(str)
        return [self.root / rel for rel, sha in zip(rows["path"], recorded) if sha and clip_sha256(self.root / rel) != sha]


_SHA_CACHE: dict[tuple[str, int, int, int, int, int], str | None] = {}


def clip_sha256(path: Path) -> str | None:
    """:func:`benchbox.audio.mono_sha256` of a clip, NaN/inf samples and all; None when it cannot be read.

    Cached per process and file state: path, device, inode, size, mtime and ctime. Size and
    mtime alone do not tell a replaced clip (a dataset's clips all have one size, and an mtime
    can repeat: a coarse file-system clock, ``touch -r``, ``cp -p``); an atomic replace changes
    the inode and any write changes the ctime, which no user-space tool sets back."""
    try:
        st = path.stat()
    except OSError:
        return None
    key = (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if key not in _SHA_CACHE:
        try:
            _SHA_CACHE[key] = mono_sha256(path, finite=False)
        except (AudioError, OSError):
            _SHA_CACHE[key] = None
    return _SHA_CACHE[key]


def _owned(name: str) -> bool:
    """Whether a top-level entry name is the import's: one of DATASET_ENTRIES, or the temporary
    file an interrupted atomic write of one of them leaves (``.manifest.csv.<random>.tmp.csv``)."""
    return name in DATASET_ENTRIES or name in OS_LITTER or any(name.startswith(f".{own}.") and ".tmp" in name for own in DATASET_FILES)


def foreign_entries(root: Path) -> list[str]:
    """The paths under ``root`` (relative, sorted) that a dataset import did not write: top-level
    entries other than DATASET_ENTRIES (a file named like a folder of them, or the reverse,
    counts too) and anything in ``clips/`` but ``.wav`` files. ``cache/`` is benchbox's own."""
    out = []
    for entry in sorted(root.iterdir()):
        name = entry.name
        if not _owned(name) or (name in DATASET_FILES and entry.is_dir()) or (name in DATASET_DIRS and not entry.is_dir()):
            out.append(name + ("/" if entry.is_dir() else ""))
    clips = root / "clips"
    if clips.is_dir() and not clips.is_symlink():
        out += [f"clips/{p.name}" + ("/" if p.is_dir() else "") for p in sorted(clips.iterdir())
                if not (p.is_file() and p.suffix.lower() == ".wav") and p.name not in OS_LITTER]
    return out


def load_dataset(root: str | Path) -> Dataset:
    """Open a dataset folder written by ``benchbox data import`` or ``data synth``."""
    root = Path(root)
    meta_path, manifest_path = root / DATASET_INFO, root / "manifest.csv"
    if not root.is_dir():
        raise DataError(f"dataset folder not found: {root}", hint="create one with `benchbox data import SRC --out DIR` or `benchbox data synth`")
    if not meta_path.is_file() or not manifest_path.is_file():
        raise DataError(f"{root} is not a benchbox dataset (no dataset.json/manifest.csv)", hint="import it first with `benchbox data import SRC --out DIR`")
    try:
        info = json.loads(meta_path.read_text())
        manifest = pd.read_csv(manifest_path, dtype={"id": str, "label": str, "source": str})
    except (json.JSONDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:  # EmptyDataError: a 0-byte manifest.csv
        raise DataError(f"{root}: unreadable dataset metadata ({e})", hint="re-run the import into a fresh folder") from None
    if not isinstance(info, dict):
        raise DataError(f"{meta_path}: not a JSON object", hint="re-run the import into a fresh folder")
    if info.get("format") != DATASET_FORMAT:
        raise DataError(f"{meta_path}: unknown dataset format {info.get('format')!r}", hint=f"this benchbox reads format {DATASET_FORMAT}; re-import the data")
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    if missing:
        raise DataError(f"{manifest_path}: missing column(s) {', '.join(missing)}", hint="re-run the import into a fresh folder")
    if manifest.empty:
        raise DataError(f"{manifest_path}: no clips", hint="import a folder that holds audio")
    manifest["label"] = manifest["label"].fillna("")
    if GAIN_COLUMN not in manifest.columns:
        manifest[GAIN_COLUMN] = 0.0
    try:
        rate, clip = int(info["sample_rate_hz"]), int(info["clip_samples"])
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f"{meta_path}: no readable sample_rate_hz/clip_samples ({e!r})", hint="re-run the import into a fresh folder") from None
    return Dataset(root, manifest, rate, clip, info)


def summarise(ds: Dataset) -> dict:
    """Counts per split and label, duration stats and rate, for ``benchbox data info``."""
    m = ds.manifest
    return {
        "root": str(ds.root),
        "kind": ds.info.get("kind", "import"),
        "sample_rate_hz": ds.sample_rate_hz,
        "clip_samples": ds.clip_samples,
        "clip_seconds": ds.clip_samples / ds.sample_rate_hz,
        "clips": int(len(m)),
        "sources": int(m["source"].nunique()),
        "per_split": {s: int((m["split"] == s).sum()) for s in SPLITS},
        "per_label": {str(k): int(v) for k, v in m["label"].replace("", "(none)").value_counts().sort_index().items()},
        "step_seconds": {
            "min": float(m["seconds"].min()),
            "median": float(m["seconds"].median()),
            "max": float(m["seconds"].max()),
        },
        "rms_dbfs_median": float(m["rms_dbfs"].median()),
        "rejected": _count_rejected(ds.root),
    }


def _count_rejected(root: Path) -> int:
    path = root / "rejected.csv"
    if not path.is_file():
        return 0
    return int(len(pd.read_csv(path)))
