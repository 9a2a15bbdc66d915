"""Statistics of listening-review tags: useful rates per group, rater agreement, checks.

Legend: N clips, K categories, n raters per clip, k useful decisions.

* :func:`group_rates` - per group (generator, quantisation, dropout, checkpoint,
  prime_ms and the sampling settings, as ``benchbox score`` keys them) the share of human
  decisions that said *useful*, with a Wilson 95% CI.
  Every rater's decision on a clip is one trial; skips and real clips are left out. Audio that
  repeats is one clip: its decision counts once in each group holding it, however many
  copies of it that group has.
* :func:`cohen_kappa` (two raters) and :func:`fleiss_kappa` (three or more), pure maths.
* :func:`auto_agreement` - human decisions against ``useful/auto`` from
  ``scores/clips.csv`` (joined by content hash only): kappa and a 2x2 table.
* :func:`real_accuracy` - per rater, how often the mixed-in real clips were called useful.

Every tag is tied to the content hash of the clip it judged. A tag whose clip is gone,
or whose file now holds other audio (``generate`` replaced it), is *stale*: it stays in
the database but :func:`fresh_tags` sets it aside, so no statistic counts it, and
``tag stats`` says how many were set aside.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.errors import MetricError
from benchbox.review.clips import GROUP_COLUMNS, TAGS_FILE, check_folder, hashes_now
from benchbox.review.store import DECISIONS, TAGS, TagStore
from benchbox.stats import wilson_interval

HUMAN_RATE = "useful/human_rate"
HUMAN_LO = "useful/human_lo"
HUMAN_HI = "useful/human_hi"
N_HUMAN = "n_human"
AUTO_USEFUL = "useful/auto"
SCORES_CLIPS = Path("scores") / "clips.csv"
RATE_COLUMNS = (*GROUP_COLUMNS, HUMAN_RATE, HUMAN_LO, HUMAN_HI, N_HUMAN)
CONFUSION_LABELS = ("useful", "not_useful")


# ------------------------------------------------------------------- pure maths


def cohen_kappa(a: Sequence, b: Sequence) -> float:
    """Cohen's kappa of two raters' labels on the same items (nan when chance agreement is 1)."""
    a, b = list(a), list(b)
    if len(a) != len(b):
        raise MetricError(f"cohen_kappa: {len(a)} labels against {len(b)}", hint="pass both raters' labels for the same items")
    if not a:
        return math.nan
    labels = sorted(set(a) | set(b), key=str)
    observed = sum(x == y for x, y in zip(a, b)) / len(a)
    expected = sum((a.count(c) / len(a)) * (b.count(c) / len(b)) for c in labels)
    return math.nan if expected >= 1.0 else (observed - expected) / (1.0 - expected)


def fleiss_kappa(counts: np.ndarray | Sequence[Sequence[int]]) -> float:
    """Fleiss' kappa from an (N, K) table: how many of the n raters put item i in category j."""
    table = np.asarray(counts, dtype=np.float64)  # (N, K)
    if table.ndim != 2 or table.shape[0] == 0:
        raise MetricError(f"fleiss_kappa: need an (items, categories) table, got shape {table.shape}", hint="count raters per item and category")
    per_item = table.sum(axis=1)  # (N,)
    n = per_item[0]
    if n < 2 or not np.all(per_item == n) or np.any(table < 0):
        raise MetricError("fleiss_kappa: every item needs the same number (>= 2) of ratings", hint="keep only items every rater tagged")
    share = table.sum(axis=0) / table.sum()  # (K,)
    agreement = ((table * table).sum(axis=1) - n) / (n * (n - 1))  # (N,)
    expected = float((share * share).sum())
    return math.nan if expected >= 1.0 else (float(agreement.mean()) - expected) / (1.0 - expected)


def confusion_2x2(human: Sequence[bool], auto: Sequence[bool]) -> list[list[int]]:
    """[[both useful, human only], [auto only, neither]]: rows human, columns auto."""
    h, a = np.asarray(human, dtype=bool), np.asarray(auto, dtype=bool)
    return [[int((h & a).sum()), int((h & ~a).sum())], [int((~h & a).sum()), int((~h & ~a).sum())]]


# ------------------------------------------------------------------ from a run


def load_tags(folder: str | Path, *, missing_ok: bool = False) -> pd.DataFrame:
    """The current tags of ``folder/tags.sqlite`` (see :meth:`TagStore.tags_frame`)."""
    folder = check_folder(folder, hint="pass the run folder or clip folder you tagged")
    db = folder / TAGS_FILE
    if missing_ok and not db.is_file():
        return pd.DataFrame(columns=["clip_id", "sha256", "rater", "tag", "reasons", "note", "position", "version", "tagged_at", "path", "real", *GROUP_COLUMNS])
    return TagStore(db, create=False).tags_frame()


def fresh_tags(folder: str | Path, tags: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``(tags whose clip still holds the audio they judged, number set aside as stale)``.

    A tag's clip is found at its recorded path (relative to ``folder``, or absolute for
    real clips from elsewhere) and hashed as the review hashed it; a missing, unreadable
    or changed file makes every tag of that clip stale. Each file is decoded once.
    """
    now = hashes_now(folder, list(tags["path"].astype(str)))
    keep = [now.get(str(p)) == sha for p, sha in zip(tags["path"], tags["sha256"])]
    fresh = tags[np.asarray(keep, dtype=bool)] if len(tags) else tags
    return fresh, int(len(tags) - len(fresh))


def per_copy(folder: str | Path, tags: pd.DataFrame) -> pd.DataFrame:
    """``tags`` with one row per copy of each clip (its path and groups), from the store's
    ``clip_copies``: a clip that repeats within a run or across groups has a row for each copy
    (so each copy's freshness is checked; :func:`rates_of` counts a decision once per group)."""
    db = Path(folder) / TAGS_FILE
    copies = TagStore(db, create=False).copies_frame() if db.is_file() and len(tags) else pd.DataFrame()
    if copies.empty:
        return tags
    own = ["path", *GROUP_COLUMNS]
    known = tags["sha256"].isin(set(copies["sha256"]))
    expanded = tags[known].drop(columns=own).merge(copies, on="sha256", how="left")[list(tags.columns)]
    return pd.concat([expanded, tags[~known]], ignore_index=True)


def fresh_per_copy(folder: str | Path, tags: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """``(fresh copies, fresh tags, stale tags)``: a copy is fresh when its file still holds the
    audio the tag judged (:func:`fresh_tags`); a tag is fresh when any of its copies is."""
    copies, _ = fresh_tags(folder, per_copy(folder, tags))
    alive = set(zip(copies["sha256"], copies["rater"]))
    fresh = tags[np.asarray([(s, r) in alive for s, r in zip(tags["sha256"], tags["rater"])], dtype=bool)] if len(tags) else tags
    return copies, fresh, int(len(tags) - len(fresh))


def _decisions(tags: pd.DataFrame, *, real: bool) -> pd.DataFrame:
    mask = tags["tag"].isin(DECISIONS) & (tags["real"].astype(bool) == real)
    return tags[mask]


def group_rates(run_dir: str | Path) -> pd.DataFrame:
    """Group columns + ``useful/human_rate``, ``useful/human_lo``, ``useful/human_hi``, ``n_human``.

    A run without ``tags.sqlite`` gives an empty frame with those columns. Stale tags
    (see :func:`fresh_tags`) are not counted.
    """
    copies, _, _ = fresh_per_copy(run_dir, load_tags(run_dir, missing_ok=True))
    return rates_of(copies)


def rates_of(tags: pd.DataFrame) -> pd.DataFrame:
    """:func:`group_rates` of an already loaded (and freshness-checked) tag frame, one row per copy
    (:func:`per_copy`): a rater's decision on a clip is one trial in each group holding it, however
    many byte-identical copies of the clip that group has."""
    tags = _decisions(tags, real=False).drop_duplicates(["sha256", "rater", *GROUP_COLUMNS])
    rows = []
    for key, part in tags.groupby(list(GROUP_COLUMNS), sort=True, dropna=False):
        k, n = int((part["tag"] == "useful").sum()), int(len(part))
        p, lo, hi = wilson_interval(k, n)
        rows.append({**dict(zip(GROUP_COLUMNS, key)), HUMAN_RATE: p, HUMAN_LO: lo, HUMAN_HI: hi, N_HUMAN: n})
    return pd.DataFrame(rows, columns=list(RATE_COLUMNS))


def rater_agreement(tags: pd.DataFrame) -> dict:
    """Cohen's kappa for two raters, Fleiss' kappa for three or more, over clips all of them decided."""
    decided = _decisions(tags, real=False)
    raters = sorted(decided["rater"].unique().tolist())
    out = {"raters": raters, "method": None, "kappa": math.nan, "n_clips": 0, "observed_agreement": math.nan}
    if len(raters) < 2:
        return out
    wide = decided.pivot(index="sha256", columns="rater", values="tag").dropna()  # (N, raters)
    out["n_clips"] = int(len(wide))
    if wide.empty:
        return {**out, "method": "cohen" if len(raters) == 2 else "fleiss"}
    out["observed_agreement"] = float((wide.nunique(axis=1) == 1).mean())
    if len(raters) == 2:
        return {**out, "method": "cohen", "kappa": cohen_kappa(wide[raters[0]], wide[raters[1]])}
    counts = np.stack([(wide == c).sum(axis=1).to_numpy() for c in DECISIONS], axis=1)  # (N, K)
    return {**out, "method": "fleiss", "kappa": fleiss_kappa(counts)}


def auto_agreement(run_dir: str | Path, tags: pd.DataFrame) -> dict:
    """Human decisions (generated clips) against ``useful/auto`` of ``scores/clips.csv``."""
    path = Path(run_dir) / SCORES_CLIPS
    if not path.is_file():
        return {"available": False, "reason": f"{path} not found (run `benchbox score` first)"}
    scores = pd.read_csv(path, keep_default_na=False, na_values=[""])  # only an empty cell is missing (useful/reason "nan" is text)
    if AUTO_USEFUL not in scores.columns:
        return {"available": False, "reason": f"{path} has no '{AUTO_USEFUL}' column"}
    decided = _decisions(tags, real=False)
    auto = _auto_lookup(scores, decided)
    pairs = [(t == "useful", auto[i]) for i, t in zip(decided.index, decided["tag"]) if i in auto]
    if not pairs:
        return {"available": False, "reason": f"no tagged clip matches a row of {path}"}
    human, machine = zip(*pairs)
    return {
        "available": True,
        "n": len(pairs),
        "kappa": cohen_kappa(human, machine),
        "observed_agreement": float(np.mean([h == m for h, m in pairs])),
        "rows": "human", "columns": "auto", "labels": list(CONFUSION_LABELS),
        "confusion": confusion_2x2(human, machine),
    }


def _auto_lookup(scores: pd.DataFrame, decided: pd.DataFrame) -> dict:
    """Tag row index -> bool useful/auto, matched by content hash only.

    A path match is no match: after ``generate`` replaces a clip, its path holds other
    audio than either the tag or the score row may describe.
    """
    valid = scores.dropna(subset=[AUTO_USEFUL])
    by_sha = dict(zip(valid["sha256"], valid[AUTO_USEFUL])) if "sha256" in valid else {}
    out = {}
    for i, sha in zip(decided.index, decided["sha256"]):
        value = by_sha.get(sha)
        if value is not None:
            out[i] = bool(int(value))
    return out


def real_accuracy(tags: pd.DataFrame) -> list[dict]:
    """Per rater: real clips decided, how many were called useful, the rate and its Wilson CI."""
    real = _decisions(tags, real=True)
    rows = []
    for rater, part in real.groupby("rater", sort=True):
        k, n = int((part["tag"] == "useful").sum()), int(len(part))
        p, lo, hi = wilson_interval(k, n)
        rows.append({"rater": rater, "n_real": n, "called_useful": k, "rate": p, "lo": lo, "hi": hi})
    return rows


def review_stats(run_dir: str | Path) -> dict:
    """Everything ``benchbox tag stats`` reports, JSON-ready (nan becomes None).

    Only fresh tags count; ``tags.stale`` says how many were set aside (kept in the
    database) because their clip changed or is gone.
    """
    copies, tags, stale = fresh_per_copy(run_dir, load_tags(run_dir))
    counts = {t: int((tags["tag"] == t).sum()) for t in TAGS}
    summary = {
        "folder": str(run_dir),
        "tags": {"total": int(len(tags)), **counts, "real": int(tags["real"].astype(bool).sum()), "stale": stale},
        "raters": sorted(tags["rater"].unique().tolist()),
        "groups": rates_of(copies).to_dict("records"),
        "agreement": rater_agreement(tags),
        "auto": auto_agreement(run_dir, tags),
        "real": real_accuracy(tags),
    }
    return _clean(summary)


def _clean(obj):
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return obj
