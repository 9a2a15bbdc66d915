"""Where a run's clips come from: the checkpoint file each was generated from.

``samples/manifest.csv`` records each clip's ``checkpoint`` (``best``, ``last``) and the
SHA-256 of that checkpoint file when it was sampled (``checkpoint_sha256``). A run trained
further (``train --resume``) or retrained rewrites ``ckpt/<name>.pt``, and its clips then
describe a checkpoint that no longer exists: scoring them measures the old model, and the
leaderboard leaves such scores out as stale (:mod:`benchbox.freshness`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchbox.runs import sha256_file

SAMPLES_MANIFEST = Path("samples") / "manifest.csv"


def changed_checkpoint(root: str | Path) -> str | None:
    """The name of the first checkpoint (``best``) whose ``ckpt/<name>.pt`` on disk no longer hashes
    to the ``checkpoint_sha256`` its clips were generated from; None when every checkpoint on disk
    matches, is absent (a fresh checkout keeps no weights), or the manifest records no hash."""
    manifest = Path(root) / SAMPLES_MANIFEST
    if not manifest.is_file():
        return None
    try:
        table = pd.read_csv(manifest, usecols=["checkpoint", "checkpoint_sha256"], dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None  # older manifests without the columns: nothing to compare
    now: dict[str, str | None] = {}  # checkpoint name -> its file's hash (each file read once)
    for name, sha in table.drop_duplicates().itertuples(index=False):
        if name not in now:
            path = Path(root) / "ckpt" / f"{name}.pt"
            now[name] = sha256_file(path) if path.is_file() else None
        if sha and now[name] is not None and now[name] != sha:
            return name
    return None


def checkpoint_reason(root: str | Path) -> str | None:
    """Why a run's clips no longer come from its checkpoints (:func:`changed_checkpoint`), or None."""
    name = changed_checkpoint(root)
    return None if name is None else f"ckpt/{name}.pt changed since its clips were generated (trained further or retrained)"
