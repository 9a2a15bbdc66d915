"""The content fingerprint of the data a run trains on, so a resume never mixes two datasets.

Legend: N clips in a split, T samples per clip.

The fingerprint hashes what the trainer really holds: every split's waves (float32, as
loaded, after any normalisation), codes and labels, in order, with the split names. A
dataset re-imported or edited in place (a clip regenerated, a split moved) changes it,
whatever its folder is called. ``train`` records it in the run folder
(``data_fingerprint.json``); ``train --resume`` refuses to continue when it changed,
because the checkpoint's ``best_val`` was measured on the old val split and ``best.pt``
would be chosen by comparing losses on two different sets. Forced, the resume goes on,
the change is recorded, and the best checkpoint is chosen afresh on the new val split.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from benchbox.errors import DataError
from benchbox.runs import atomic_write_json

FINGERPRINT_FILE = "data_fingerprint.json"
SHORT_CHARS = 16  # shown in messages


def content_fingerprint(clips: Mapping) -> str:
    """sha256 over every split's waves, codes and labels (``Clips`` items), in split order."""
    h = hashlib.sha256()
    for split in sorted(clips):
        c = clips[split]
        h.update(f"{split}:{tuple(c.waves.shape)}".encode())
        for tensor, dtype in ((c.waves, np.float32), (c.codes, np.uint8), (c.labels, np.int64)):
            h.update(np.ascontiguousarray(tensor.cpu().numpy(), dtype=dtype).tobytes())
    return h.hexdigest()


def recorded(run_dir: str | Path) -> dict | None:
    """The run's fingerprint record, or None for a run made before fingerprints were kept."""
    path = Path(run_dir) / FINGERPRINT_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def check_resume(run_dir: str | Path, fingerprint: str, data_path: str | Path, *, force: bool) -> bool:
    """Before a resume: DataError when the data changed since the run recorded it (unless
    ``force``). Returns True when it changed (and was forced), False when it is the same or unknown."""
    old = (recorded(run_dir) or {}).get("fingerprint")
    if old is None or old == fingerprint:
        return False
    if not force:
        raise DataError(
            f"cannot resume {run_dir}: the dataset {data_path} changed since the run trained on it "
            f"(content fingerprint {old[:SHORT_CHARS]} then, {fingerprint[:SHORT_CHARS]} now)",
            hint="start a new run on the changed data, or pass --force-data-change to continue (best.pt is then re-chosen on the new val split)",
        )
    return True


def record(run_dir: str | Path, fingerprint: str, data_path: str | Path, *, step: int) -> None:
    """Write the run's fingerprint record; a forced change keeps the earlier ones in ``replaced``."""
    previous = recorded(run_dir) or {}
    replaced = list(previous.get("replaced", []))
    if previous.get("fingerprint") not in (None, fingerprint):
        replaced.append({"fingerprint": previous["fingerprint"], "until_step": step})
    atomic_write_json(Path(run_dir) / FINGERPRINT_FILE, {"fingerprint": fingerprint, "data": str(data_path), "replaced": replaced})
