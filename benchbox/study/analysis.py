"""Answers to the original study's questions, from score tables, with CIs.

Inputs are the concatenated ``scores/clips.csv`` (one row per clip, group columns plus
detector flags and ``useful/auto``) and ``scores/groups.csv`` (one row per group, FAD/KAD
per embedder with bootstrap CIs) of every run in a study. Every function is pure: frames
in, frames or dicts out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchbox.metrics.artifacts import FLAG_KEYS
from benchbox.score import REAL_N, REAL_PREFIX
from benchbox.stats import clustered_wilson, wilson_interval
from benchbox.study.units import run_counts

USEFUL = "useful/auto"
MINMAX_SUFFIX = "_minmax"  # the min-max ablation runs (the protocol's `extra` with normalise = "minmax")


def rate_text(k: int, n: int) -> str:
    """The one format of a rate in every report: ``12.3% [10.1, 14.8] (k/n)``, Wilson 95% CI."""
    if not n:
        return "n/a (0 clips)"
    p, lo, hi = wilson_interval(int(k), int(n))
    return f"{100 * p:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}] ({int(k)}/{int(n)})"


def rate_row_text(d) -> str:
    """A row of :func:`rate_table` (or :func:`overall_rate`) as text: ``12.3% [10.1, 14.8] (k/n)``,
    and over several runs with its design-effect-adjusted interval, ``(k/n; 6 runs, deff 3.1)``."""
    runs = int(d.get("runs", 1) or 1)
    if runs <= 1 or not np.isfinite(d.get("lo", np.nan)):
        return rate_text(int(d["k"]), int(d["n"]))
    return f"{100 * d['rate']:.1f}% [{100 * d['lo']:.1f}, {100 * d['hi']:.1f}] ({int(d['k'])}/{int(d['n'])}; {runs} runs, deff {d['deff']:.1f})"


def compared_runs(clips: pd.DataFrame) -> list[str]:
    """Runs whose best and last checkpoints hold different weights: the only ones a best-vs-last
    comparison may use (every section of a report takes its best and last clips from these)."""
    if not {"run", "checkpoint", "checkpoint_sha256"} <= set(clips.columns):
        return []
    out = []
    for run, part in clips[clips["checkpoint"].isin(["best", "last"])].groupby("run", sort=True):
        shas = part.groupby("checkpoint")["checkpoint_sha256"].first()
        if {"best", "last"} <= set(shas.index) and shas["best"] != shas["last"]:
            out.append(str(run))
    return out


def best_only_where_identical(groups: pd.DataFrame, compared: list[str]) -> pd.DataFrame:
    """``groups`` without the last-checkpoint rows of runs not in ``compared`` (:func:`compared_runs`):
    a run whose best and last hold the same weights counts its best cells once."""
    if not {"run", "checkpoint"} <= set(groups.columns):
        return groups
    return groups[groups["run"].astype(str).isin(compared) | (groups["checkpoint"] != "last")]


def identical_weights(clips: pd.DataFrame) -> list[tuple[str, str]]:
    """``(run, sha256)`` of runs whose best and last checkpoints hold the same weights."""
    if "checkpoint_sha256" not in clips.columns:
        return []
    out = []
    for run, part in clips.groupby("run", sort=True):
        shas = part.groupby("checkpoint")["checkpoint_sha256"].first()
        if {"best", "last"} <= set(shas.index) and shas["best"] == shas["last"] and isinstance(shas["best"], str):
            out.append((str(run), shas["best"]))
    return out


def _rate_row(part: pd.DataFrame, value: str) -> dict:
    """n, k (clips with ``value`` == 1; clips without a value left out of both), rate, the 95% CI
    and ``runs``: Wilson over the clips of one run; over several, the design-effect-adjusted
    Wilson interval (:func:`benchbox.stats.clustered_wilson`; ``deff``), since clips of one run
    share its weights."""
    v = pd.to_numeric(part[value], errors="coerce")
    scored = part[v.notna()]
    k, n = int(v.sum()), int(v.notna().sum())
    if "run" in part and scored["run"].nunique() > 1:
        per = run_counts(part, value)
        p, lo, hi, deff = clustered_wilson(per["sum"].to_numpy(), per["count"].to_numpy())
        return {"n": n, "k": k, "rate": p, "lo": lo, "hi": hi, "runs": len(per), "deff": deff}
    p, lo, hi = wilson_interval(k, n)
    return {"n": n, "k": k, "rate": p, "lo": lo, "hi": hi, "runs": int(scored["run"].nunique()) if "run" in part else 1, "deff": 1.0}


def rate_table(clips: pd.DataFrame, by: list[str] | str, value: str = USEFUL) -> pd.DataFrame:
    """Per level of ``by``: n, k, rate, 95% CI, runs and design effect (:func:`_rate_row`)."""
    by = [by] if isinstance(by, str) else list(by)
    rows = []
    for key, part in clips.groupby(by, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key)), **_rate_row(part, value)})
    return pd.DataFrame(rows)


def overall_rate(clips: pd.DataFrame, value: str = USEFUL) -> dict:
    """:func:`_rate_row` of every clip."""
    if clips.empty or value not in clips.columns:
        return {"n": 0, "k": 0, "rate": float("nan"), "lo": float("nan"), "hi": float("nan"), "runs": 0, "deff": 1.0}
    return _rate_row(clips, value)


def real_rate(groups: pd.DataFrame, key: str) -> tuple[int, int, str] | None:
    """``(flagged, n, whose)`` of detector ``key`` on real clips, from the floor rows: on every
    real clip of the reference (``real/<key>/flag_rate``, scorer version 11) where any floor row
    has it, else on the val clips alone (older scores); None without a floor row. The floor rows
    (one per run, the same reference) are read in order and the first with a finite value counts,
    so runs left at an older scorer version do not hide a newer run's real rate."""
    if "kind" not in groups:
        return None
    floor = groups[groups["kind"] == "floor"]
    for col, n_col, whose in ((f"{REAL_PREFIX}{key}/flag_rate", REAL_N, "every real clip of the reference, all splits"),
                              (f"{key}/flag_rate", "n", "the real val clips of the floor row")):
        if col not in floor or n_col not in floor:
            continue
        rate, n = pd.to_numeric(floor[col], errors="coerce"), pd.to_numeric(floor[n_col], errors="coerce")
        ok = np.isfinite(rate) & np.isfinite(n) & (n >= 1) & (rate >= 0) & (rate <= 1)  # a malformed row is passed over
        if ok.any():
            first = ok.to_numpy().argmax()
            return int(round(rate.iloc[first] * n.iloc[first])), int(n.iloc[first]), whose
    return None


def real_useful(groups: pd.DataFrame, prime_ms) -> tuple[int, int] | None:
    """``(useful, n)`` of the reference's held-out real clips (val + test) cut where a ``prime_ms``
    prime ends and judged as a primed clip's continuation is (``floor@<ms>ms/useful/``,
    :mod:`benchbox.score_floor`; 0: their whole clips): the like-for-like of a primed row's useful
    rate. From the first floor row that has it (runs left at older scores lack it); None when none
    does, which a report shows as a dash."""
    from benchbox.score_floor import floor_useful_of

    if "kind" not in groups:
        return None
    for floor in groups[groups["kind"] == "floor"].to_dict("records"):
        got = floor_useful_of(floor, prime_ms)
        if got is not None:
            return int(round(got[0] * got[3])), got[3]
    return None


def fad_column(groups: pd.DataFrame, embedder: str | None = None) -> str:
    cols = [c for c in groups.columns if c.startswith("fad/") and c.count("/") == 1]
    if not cols:
        return ""
    preferred = f"fad/{embedder}" if embedder else "fad/aisfx"
    return preferred if preferred in cols else cols[0]


def paired_comparison(groups: pd.DataFrame, factor: str, a, b, metric: str, keys: list[str]) -> dict:
    """Cells that differ only in ``factor`` (matched on ``keys``): does ``a`` have the lower
    ``metric`` than ``b``, run by run?

    Returns ``pairs`` (matched cells), ``mean_diff`` (a - b over those cells), and, over
    **runs** (the cells of one run share its weights, so they are not independent pairs):
    ``runs`` (runs with a pair), ``wins`` (runs whose mean difference over their cells is
    below 0), ``losses`` (above 0) and ``p_value``, the two-sided exact sign test of wins
    against losses (runs at 0 left out; NaN without a pair). Without a ``run`` key each
    matched cell counts as its own run.
    """
    from scipy.stats import binomtest

    ga = groups[groups[factor].astype(str) == str(a)].set_index(keys)[metric]
    gb = groups[groups[factor].astype(str) == str(b)].set_index(keys)[metric]
    both = pd.concat([ga.rename("a"), gb.rename("b")], axis=1, join="inner").dropna()
    n = int(len(both))
    d = both["a"] - both["b"]
    per_run = d.groupby(level="run").mean() if "run" in keys else d
    wins, losses = int((per_run < 0).sum()), int((per_run > 0).sum())
    p_value = float(binomtest(wins, wins + losses).pvalue) if wins + losses else float("nan")
    return {"pairs": n, "runs": int(len(per_run)), "wins": wins, "losses": losses,
            "mean_diff": float(d.mean()) if n else float("nan"), "p_value": p_value}


def metric_by(groups: pd.DataFrame, factor: str, metric: str) -> pd.DataFrame:
    """Mean, min and max of a group metric per level of ``factor`` (over all other cells)."""
    if metric not in groups.columns:
        return pd.DataFrame()
    agg = groups.groupby(factor)[metric].agg(["mean", "min", "max", "count"]).reset_index()
    return agg.rename(columns={"count": "cells"})


def span_pairs(groups: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per primed cell that has an unprimed partner scored on its span: ``primed`` its
    ``cont/<metric>``, ``unprimed`` the partner's ``span@<P>ms/<metric>`` (the unprimed clips from the
    sample the prime ends at, on the same cut and kernel: scorer version 10). Partners share the
    run and every group column but the prime (``cell``: :func:`benchbox.score.group_key` with the
    prime left out, so an n/a sampling setting and its neutral value are one cell, as in the
    scores); an unprimed cell that appears twice is ambiguous and pairs with nothing. Cells
    without a partner or with a NaN on either side are left out. Columns ``run``, ``cell``,
    ``prime_ms``, ``primed``, ``unprimed``; empty without span columns."""
    from benchbox.score import GROUP_COLUMNS, group_key
    from benchbox.score_verdict import span_key

    out = pd.DataFrame(columns=["run", "cell", "prime_ms", "primed", "unprimed"])
    if groups.empty or not {"run", "prime_ms", f"cont/{metric}"} <= set(groups.columns):
        return out
    keep = [c for c in groups.columns if c in ("run", *GROUP_COLUMNS, f"cont/{metric}") or (str(c).startswith("span@") and str(c).endswith(f"/{metric}"))]
    frame = groups[keep].copy()  # a lean copy: the studies' group tables are wide and fragmented
    frame["cell"] = [group_key({**r, "prime_ms": None}) for r in frame.to_dict("records")]
    frame["run"] = frame["run"].astype(str)
    prime = pd.to_numeric(frame["prime_ms"], errors="coerce")
    unprimed = frame[prime == 0].drop_duplicates(subset=["run", "cell"], keep=False)
    parts = []
    for ms in sorted(prime[prime > 0].unique()):
        col = span_key(ms, *metric.split("/", 1))
        if col not in unprimed.columns:
            continue
        primed = frame[prime == ms][["run", "cell", f"cont/{metric}"]].rename(columns={f"cont/{metric}": "primed"})
        both = primed.merge(unprimed[["run", "cell", col]].rename(columns={col: "unprimed"}), on=["run", "cell"], how="inner")
        parts.append(both.assign(prime_ms=float(ms)).dropna(subset=["primed", "unprimed"]))
    return pd.concat(parts, ignore_index=True)[out.columns] if parts else out


def same_span_table(groups: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per prime length P > 0 (:func:`span_pairs`): the mean ``cont/<metric>`` of the P cells and the
    mean ``span@<P>ms/<metric>`` of their unprimed partners. Columns ``prime_ms``, ``primed``,
    ``unprimed``, ``cells``; empty without span columns. Pass the groups with the last checkpoint
    of identical-weights runs left out, or those runs count twice."""
    pairs = span_pairs(groups, metric)
    if pairs.empty:
        return pd.DataFrame()
    table = pairs.groupby("prime_ms").agg(primed=("primed", "mean"), unprimed=("unprimed", "mean"), cells=("primed", "size"))
    return table.reset_index()


def _cont(frame: pd.DataFrame, key: str) -> str:
    """The continuation's column (``cont/<key>``) when scored, else the whole clip's."""
    return f"cont/{key}" if key and f"cont/{key}" in frame.columns else key


def study_answers(clips: pd.DataFrame, groups: pd.DataFrame, embedder: str | None = None) -> dict:
    """The five questions of the original study, each with numbers and CIs.

    Every answer uses the continuation of primed clips (``cont/`` columns) when the scores
    have them, and group metrics are the leaderboard's ranking metric (the continuation's
    KAD), so no section states a different value for a quantity another section states.
    Runs whose best and last checkpoints hold the same weights are left out of every
    best-vs-last figure (``identical_runs``; :func:`compared_runs` are the others).
    """
    gen = groups[groups.get("checkpoint", pd.Series(dtype=str)).isin(["best", "last"])] if "checkpoint" in groups else groups
    fad = fad_column(gen, embedder)
    rank = _cont(gen, f"kad/{embedder or 'aisfx'}") if f"kad/{embedder or 'aisfx'}" in gen.columns else _cont(gen, fad)
    useful = _cont(clips, USEFUL)
    cell = ["run", "prime_ms"]
    identical = identical_weights(clips)
    compared = [r for r in compared_runs(clips) if not r.endswith(MINMAX_SUFFIX)]  # finding 4's runs: the min-max ablation serves its own finding
    tested = gen[gen["run"].isin(compared)] if "run" in gen else gen
    answers: dict = {"fad_metric": fad, "rank_metric": rank, "useful_metric": useful, "overall_useful": overall_rate(clips, useful),
                     "identical_runs": identical, "compared_runs": compared}
    answers["best_vs_last"] = {
        "useful": rate_table(clips[clips["run"].isin(compared)], "checkpoint", useful) if compared else pd.DataFrame(),
        "fad": paired_comparison(tested, "checkpoint", "best", "last", rank, cell) if rank else {},
    }
    div = next((c for c in gen.columns if c.startswith("diversity/")), None)
    distinct_cells = best_only_where_identical(gen, compared)
    answers["priming"] = {
        "useful": rate_table(clips, "prime_ms", useful),
        "real_useful": {ms: real_useful(groups, ms) for ms in {0.0, *(float(p) for p in pd.to_numeric(clips.get("prime_ms", pd.Series(dtype=float)), errors="coerce") if p > 0)}},
        "fad": metric_by(gen, "prime_ms", rank) if rank else pd.DataFrame(),
        "fad_metric": rank,
        "diversity": metric_by(gen, "prime_ms", div) if div else pd.DataFrame(),
        "diversity_metric": div,
        "same_span": {f"{m}/{embedder or 'aisfx'}": same_span_table(distinct_cells, f"{m}/{embedder or 'aisfx'}") for m in ("kad", "recall")},
    }
    for metric in ("precision", "recall", "coverage"):
        key = _cont(gen, f"{metric}/{embedder or 'aisfx'}")
        if key in gen.columns:
            answers["priming"][metric] = (key, metric_by(gen, "prime_ms", key))
    answers["dropout"] = {"silence": rate_table(clips, "dropout", _cont(clips, "silence/flag")), "useful": rate_table(clips, "dropout", useful)}
    answers["artefacts"] = {  # the continuation's flags, as the findings use them
        _cont(clips, key): overall_rate(clips, _cont(clips, key)) for key in FLAG_KEYS if _cont(clips, key) in clips.columns
    }
    answers["artefacts_real"] = {  # each detector's rate on real clips (every split, or the val floor); the generated column
        # above is over every run, where findings 2 and 3 leave out the min-max ablation runs
        _cont(clips, key): real for key in FLAG_KEYS if _cont(clips, key) in clips.columns and (real := real_rate(groups, key.split("/")[0])) is not None
    }
    dc = _cont(clips, "dc/offset")
    if dc in clips.columns:
        answers["artefacts_dc_median_abs"] = (dc, float(np.nanmedian(clips[dc].abs())))
    answers["quantisation"] = {
        "useful": rate_table(clips, "quantisation", useful),
        "fad": metric_by(gen, "quantisation", rank) if rank else pd.DataFrame(),
    }
    answers["per_generator"] = rate_table(clips, "generator", useful)
    return answers
