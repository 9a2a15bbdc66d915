"""Do a folder's scores still describe its clips? Fresh, stale, or scores of record.

Scores are tied to content: every scored path must still hold audio with the ``sha256``
recorded in ``scores/clips.csv``, the clips to score must be the ones scored or skipped then,
the scorer version must be this benchbox's, and the reference dataset's manifest (and each of its clips against the manifest's ``sha256``) and the category
model file (``verdict.category_model``, or the shipped one) must hash as they did (when
``scores.json`` recorded them).

**Scores of record.** A fresh clone holds the committed studies' scores but not their audio
(clips are not in git). When *none* of the scored clips is on disk, nothing contradicts the
scores, and they were written by this scorer version, they stand as scores of record: the
leaderboard shows them as baseline rows, marked as such, instead of leaving them out. Any
partial mismatch (some clips missing, some changed) is stale as before.

**Each reason carries its fix** (:attr:`Freshness.fix`): most stale scores are mended by scoring
again; clips of a checkpoint trained further must be regenerated first (re-scoring them scores the
old model again); a reference clip edited behind its manifest must be restored or the dataset
re-imported (``score`` refuses such a reference); scores of a newer benchbox need that benchbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchbox.data.dataset import clip_sha256, load_dataset
from benchbox.errors import DataError
from benchbox.metrics.category import model_file
from benchbox.provenance import checkpoint_reason
from benchbox.runs import sha256_file
from benchbox.score import SCORER_VERSION, SCORES_DIR, collect_clips, import_skips
from benchbox.scores_record import read_scores_info, recorded_reference_path, where_looked

FRESH, STALE, RECORD = "fresh", "stale", "record"
# The fix of a stale reason: score again; regenerate the clips, then score; restore (or re-import)
# the reference dataset, then score; upgrade benchbox (never re-score with an older one).
RESCORE, REGENERATE, RESTORE_REFERENCE, UPGRADE = "rescore", "regenerate", "restore-reference", "upgrade"


@dataclass(frozen=True)
class Freshness:
    state: str  # FRESH, STALE or RECORD
    reason: str | None = None  # why stale, or why the scores are of record
    fix: str | None = None  # for STALE: RESCORE, REGENERATE, RESTORE_REFERENCE or UPGRADE


def stale_reason(root: str | Path) -> str | None:
    """Why ``root/scores`` no longer describes the clips on disk, or None when it still does
    (scores of record, whose audio is absent, give their reason too). Decodes every clip once."""
    return scores_freshness(root).reason


def scores_freshness(root: str | Path) -> Freshness:
    """:class:`Freshness` of ``root/scores`` (see the module docstring)."""
    root, out = Path(root), Path(root) / SCORES_DIR
    try:
        scored = pd.read_csv(out / "clips.csv", usecols=["path", "sha256"], dtype=str)
        skipped = pd.read_csv(out / "skipped.csv", usecols=["path"], dtype=str) if (out / "skipped.csv").is_file() else pd.DataFrame({"path": []})
        info = read_scores_info(out)  # missing or unreadable: DataError, not a record of "scorer version 1"
    except DataError as e:
        return Freshness(STALE, e.message, RESCORE)
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        return Freshness(STALE, f"cannot read {out} ({str(e).splitlines()[0][:80]})", RESCORE)
    version = _stale_version(info)
    present = [(rel, sha) for rel, sha in zip(scored["path"], scored["sha256"]) if (root / rel).is_file()]
    if not present and len(scored):
        if version is not None:
            return version
        ref_changed = _reference_reason(info, out, missing_ok=True) or category_reason(info, missing_ok=True)
        if ref_changed is not None:
            return Freshness(STALE, *ref_changed)
        return Freshness(RECORD, f"none of the {len(scored)} scored clips is on disk (a fresh checkout holds no audio): scores of record, not re-checked; regenerate the audio to check them")
    moved = _clips_reason(root, scored, skipped)
    if moved is not None:
        return Freshness(STALE, *moved)
    retrained = checkpoint_reason(root)
    if retrained is not None:  # re-scoring the same clips would score the old checkpoint again
        return Freshness(STALE, retrained, REGENERATE)
    if version is not None:
        return version
    ref_changed = _reference_reason(info, out, missing_ok=False) or category_reason(info, missing_ok=False)
    return Freshness(FRESH) if ref_changed is None else Freshness(STALE, *ref_changed)


def clips_reason(root: str | Path) -> str | None:
    """Why the clips under ``root`` are not the ones ``root/scores/clips.csv`` describes (clips
    added or gone, or holding other audio by content hash); None when they are the clips scored.
    The clips half of :func:`scores_freshness`, for folders whose other inputs are checked
    elsewhere (the leaderboard's cached reference rows)."""
    root, out = Path(root), Path(root) / SCORES_DIR
    try:
        scored = pd.read_csv(out / "clips.csv", usecols=["path", "sha256"], dtype=str)
        skipped = pd.read_csv(out / "skipped.csv", usecols=["path"], dtype=str) if (out / "skipped.csv").is_file() else pd.DataFrame({"path": []})
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        return f"cannot read {out} ({str(e).splitlines()[0][:80]})"
    moved = _clips_reason(root, scored, skipped)
    return None if moved is None else moved[0]


def _clips_reason(root: Path, scored: pd.DataFrame, skipped: pd.DataFrame) -> tuple[str, str] | None:
    """``(reason, fix)`` of :func:`clips_reason` given the ``path``/``sha256`` of the scored clips and the
    ``path`` of the skipped ones: REGENERATE when the clips cannot be listed any more, else RESCORE."""
    try:
        _, table, _ = collect_clips(root)
    except DataError as e:  # no clips to score any more, or a run's manifest gone or damaged: generate makes them anew
        return f"cannot read {root / SCORES_DIR} ({e.message[:80]})", REGENERATE
    now = set(table["path"].astype(str))
    try:
        import_skipped = {r["path"] for r in import_skips(root)}  # source files an import never wrote here: not clips of this folder
    except DataError as e:
        return e.message[:120], RESCORE
    then = set(scored["path"]) | (set(skipped["path"].astype(str)) - import_skipped)
    if now != then:
        return f"{len(now)} clips to score now, {len(then)} when scored", RESCORE
    present = [(rel, sha) for rel, sha in zip(scored["path"], scored["sha256"]) if (root / rel).is_file()]
    missing = len(scored) - len(present)
    if missing:
        return f"{missing} of {len(scored)} scored clips are missing (a fresh checkout holds no audio: regenerate it, e.g. with benchbox run)", RESCORE
    changed = sum(clip_sha256(root / rel) != sha for rel, sha in present)  # an undecodable clip reads None: changed
    if changed:
        return f"{changed} of {len(scored)} scored clips hold other audio now", RESCORE
    return None


def version_reason(info: dict) -> str | None:
    """Why a scores.json record's scorer version is not this benchbox's (older, newer or unreadable); None when it is."""
    try:
        version = int(info.get("scorer_version", 1))  # scores written before versions were recorded are version 1
    except (TypeError, ValueError):
        return f"scores.json has no readable scorer_version ({info.get('scorer_version')!r})"
    if version > SCORER_VERSION:
        return f"scored by a newer benchbox (scorer version {version}; this one has {SCORER_VERSION}): upgrade benchbox, do not re-score"
    if version < SCORER_VERSION:
        return f"scored by scorer version {version}, this benchbox scores with version {SCORER_VERSION}"
    return None


def _stale_version(info: dict) -> Freshness | None:
    """:func:`version_reason` as a stale :class:`Freshness`: an older scorer's scores are scored again,
    a newer one's need that benchbox (this one would score them with the older rules)."""
    reason = version_reason(info)
    if reason is None:
        return None
    try:
        newer = int(info.get("scorer_version", 1)) > SCORER_VERSION
    except (TypeError, ValueError):
        newer = False
    return Freshness(STALE, reason, UPGRADE if newer else RESCORE)


def _reference_reason(info: dict, scores_dir: Path, *, missing_ok: bool) -> tuple[str, str] | None:
    """``(reason, fix)``: the reference dataset changed since scoring: its manifest's hash (a re-import:
    score again), or a clip's audio against the manifest's ``sha256`` (``score`` refuses such a reference:
    restore the clip or re-import the dataset first); or it is not found where the scores record it
    (:func:`benchbox.scores_record.recorded_reference_path`), which counts only unless ``missing_ok``."""
    ref_sha = info.get("reference_manifest_sha256")
    if not (ref_sha and info.get("reference")):
        return None
    ref = recorded_reference_path(info, scores_dir)
    if ref is None:
        return None if missing_ok else (f"the reference dataset {info['reference']} is not found at {where_looked(info, scores_dir)} (no manifest.csv there)", RESCORE)
    if sha256_file(ref / "manifest.csv") != ref_sha:
        return f"the reference dataset {ref} changed since scoring", RESCORE
    try:
        changed = load_dataset(ref).changed_clips()
    except DataError:  # its manifest hashes as scored; a folder no longer a dataset (moved, half-deleted) is the leaderboard's note
        return None
    return ((f"{len(changed)} clip(s) of the reference dataset {ref} are missing or hold other audio than its "
             "manifest.csv records", RESTORE_REFERENCE) if changed else None)


def category_reason(info: dict, *, missing_ok: bool) -> tuple[str, str] | None:
    """``(reason, fix)``: the category model file changed (or, unless ``missing_ok``, is gone) since scoring; None
    when it hashes as recorded, or scores.json recorded no hash (scores written before it did)."""
    recorded = info.get("category_model_sha256")
    if not recorded:
        return None
    given = ((info.get("settings") or {}).get("verdict") or {}).get("category_model", "")
    path = model_file(given)
    if not path.is_file():
        return None if missing_ok else (f"the category model {path} is gone since scoring", RESCORE)
    if sha256_file(path) != recorded:
        return f"the category model {path} changed since scoring (footstep/p and useful/auto would differ)", RESCORE
    return None
