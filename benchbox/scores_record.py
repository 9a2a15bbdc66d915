"""``scores/scores.json``: reading it, and finding the reference dataset it records.

Every reader of a scored folder's ``scores.json`` goes through :func:`read_scores_info`, so a
missing, truncated or non-object file is one :class:`~benchbox.errors.DataError` that names the
file and the fix (re-score), never a traceback, nor a silent ``{}`` that reads as "scorer version 1".

**The reference dataset.** ``benchbox score --reference REF`` records REF three ways:

* ``reference``: as typed (relative paths then meant "from the folder benchbox ran in");
  written by every scorer version, and the only form in scores written before these keys;
* ``reference_from_scores``: the path from the scores folder to REF (so a moved or cloned
  checkout that keeps both still finds it);
* ``reference_absolute``: REF's absolute path (so scores read from anywhere on this machine
  find it).

:func:`recorded_reference_path` tries them in that documented order: relative to the scores
folder, then absolute, then as typed from the current folder (the legacy reading, which the
committed studies' records, relative to the repository root, need). Where the scores recorded
the reference's ``manifest.csv`` hash, a candidate counts only when its manifest is there; the
first whose manifest hashes as recorded wins, else the first with a manifest (the caller then
reports the dataset changed): a different dataset is never taken silently.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from benchbox.errors import DataError
from benchbox.runs import sha256_file

SCORES_JSON = "scores.json"
REFERENCE_KEY = "reference"
REFERENCE_FROM_SCORES_KEY = "reference_from_scores"
REFERENCE_ABSOLUTE_KEY = "reference_absolute"
REFERENCE_SHA_KEY = "reference_manifest_sha256"


def read_scores_info(scores_dir: str | Path) -> dict:
    """The object in ``scores_dir/scores.json``. DataError (naming the file; hint: re-score) when it
    is missing, unreadable, not JSON or not a JSON object."""
    path = Path(scores_dir) / SCORES_JSON
    hint = (f"re-score the folder: `benchbox score {Path(scores_dir).parent}` (add --reference DATA_DIR unless it is a run "
            "whose config.toml names its dataset)")
    if not path.is_file():
        raise DataError(f"{path} is missing (an interrupted or hand-edited scores/ folder), so these scores cannot be checked", hint=hint)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise DataError(f"{path}: unreadable ({str(e).splitlines()[0][:80]})", hint=hint) from None
    if not isinstance(info, dict):
        raise DataError(f"{path}: holds a JSON {type(info).__name__}, not the object benchbox score writes", hint=hint)
    return info


def reference_record(reference: str | Path | None, scores_dir: str | Path) -> dict[str, str]:
    """The ``scores.json`` keys that record ``reference`` (see the module docstring); {} for None.
    ``scores_dir`` is the final scores folder (not a staging folder beside it)."""
    if reference is None:
        return {}
    record = {REFERENCE_ABSOLUTE_KEY: os.path.abspath(reference)}
    try:  # from the scores folder's real location: ".." is resolved on the disk, not in the text
        record[REFERENCE_FROM_SCORES_KEY] = Path(os.path.relpath(os.path.realpath(reference), os.path.realpath(scores_dir))).as_posix()
    except ValueError:  # another drive (Windows): no relative path exists
        pass
    return record


def reference_candidates(info: dict, scores_dir: str | Path) -> list[Path]:
    """The folders the recorded reference may be, in the order tried: relative to the scores
    folder, absolute, as typed (from the current folder). Duplicates dropped."""
    forms = [(REFERENCE_FROM_SCORES_KEY, lambda v: Path(scores_dir) / v), (REFERENCE_ABSOLUTE_KEY, Path), (REFERENCE_KEY, Path)]
    out: list[Path] = []
    for key, to_path in forms:
        value = info.get(key)
        if isinstance(value, str) and value and to_path(value) not in out:
            out.append(to_path(value))
    return out


def recorded_reference_path(info: dict, scores_dir: str | Path) -> Path | None:
    """The reference dataset folder a ``scores.json`` record (``info``) names, resolved (absolute);
    None when no recorded form is found on disk (or none is recorded). With a recorded manifest
    hash: the first candidate whose ``manifest.csv`` hashes as recorded, else the first with a
    ``manifest.csv`` (its hash then tells the caller it changed)."""
    sha = info.get(REFERENCE_SHA_KEY)
    if sha:
        present = [c for c in reference_candidates(info, scores_dir) if (c / "manifest.csv").is_file()]
        chosen = next((c for c in present if sha256_file(c / "manifest.csv") == sha), present[0] if present else None)
    else:
        chosen = next((c for c in reference_candidates(info, scores_dir) if c.is_dir()), None)
    return chosen.resolve() if chosen is not None else None


def where_looked(info: dict, scores_dir: str | Path) -> str:
    """The candidates of :func:`reference_candidates`, for a "not found at" message."""
    shown = {}  # each folder once, however it was written (relative or absolute), in the order tried
    for c in reference_candidates(info, scores_dir):
        shown.setdefault(os.path.abspath(c), os.path.normpath(c))
    return " or ".join(shown.values()) or "(no path recorded)"
