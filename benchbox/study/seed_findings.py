"""The seed study's six findings, each decided: reproduced, not reproduced, or inconclusive.

Inputs are the study's per-clip scores (``clips.csv`` of every run: N clips), its
per-group rows (for the real ``floor`` row) and each run's ``log.jsonl``. Rates carry
Wilson 95% CIs (:func:`benchbox.stats.wilson_interval`); two rates are compared with
Fisher's exact test (two-sided, scipy), a difference counting at p < ``ALPHA``. A finding
is **reproduced** when the data show the effect in the seed's direction at that level,
**not reproduced** when they show the opposite (or rule the effect out), and
**inconclusive at this n** otherwise. A presence claim ("some clips are sines") is only
ruled out when no clip shows it and the rate's CI lies below ``RULED_OUT_RATE``. Primed clips are judged on their continuation
(``cont/`` columns), so a copied real prime never counts as generated fidelity.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from benchbox.stats import wilson_interval
from benchbox.study.analysis import compared_runs, rate_text

ALPHA = 0.05
USEFUL_SEED_RATE = 0.25  # "fewer than 25% useful"
MOSTLY = 0.5  # "mostly silence"
RULED_OUT_RATE = 0.05  # an effect whose rate's CI lies below this is ruled out
USEFUL = "cont/useful/auto"
REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive at this n"
SMOKE = "smoke test: not evidence"  # every verdict of a smoke-test study (protocol.evidence_of)


def _rate(flags: pd.Series) -> tuple[int, int, str]:
    k, n = int(flags.sum()), int(flags.count())
    return k, n, rate_text(k, n)


def _fisher(a: pd.Series, b: pd.Series) -> float:
    from scipy.stats import fisher_exact

    table = [[int(a.sum()), int(a.count() - a.sum())], [int(b.sum()), int(b.count() - b.sum())]]
    return float(fisher_exact(table)[1])


def _compare(a: pd.Series, b: pd.Series, seed_says_a_higher: bool) -> tuple[str, str]:
    """Verdict and test text for 'rate(a) > rate(b)' (or '<' when not ``seed_says_a_higher``)."""
    if a.count() == 0 or b.count() == 0:
        return INCONCLUSIVE, "one side has no clips"
    p = _fisher(a, b)
    higher = a.mean() > b.mean()
    if p >= ALPHA:
        return INCONCLUSIVE, f"Fisher exact p = {p:.3g}"
    return (REPRODUCED if higher == seed_says_a_higher else NOT_REPRODUCED), f"Fisher exact p = {p:.3g}"


def _threshold(flags: pd.Series, threshold: float, seed_says_below: bool) -> tuple[str, str]:
    k, n = int(flags.sum()), int(flags.count())
    if n == 0:
        return INCONCLUSIVE, "no clips"
    _, lo, hi = wilson_interval(k, n)
    test = f"Wilson 95% CI vs {100 * threshold:.0f}%"
    if hi < threshold:
        return (REPRODUCED if seed_says_below else NOT_REPRODUCED), test
    if lo > threshold:
        return (NOT_REPRODUCED if seed_says_below else REPRODUCED), test
    return INCONCLUSIVE, test


def _floor_flags(groups: pd.DataFrame, key: str) -> pd.Series:
    """The real floor clips' flags for detector ``key``, rebuilt from the floor row's rate and n."""
    floor = groups[groups.get("kind", pd.Series(dtype=str)) == "floor"] if not groups.empty else groups
    if floor.empty or f"{key}/flag_rate" not in floor:
        return pd.Series(dtype=float)
    n = int(floor["n"].iloc[0])
    k = int(round(float(floor[f"{key}/flag_rate"].iloc[0]) * n))
    return pd.Series([1.0] * k + [0.0] * (n - k))


def _overfits(log: Path) -> bool | None:
    """Whether val NLL rose after its minimum while train NLL kept falling (None: no log)."""
    if not log.is_file():
        return None
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "bits/val" in r and "bits/train" in r]
    if len(rows) < 3:
        return None
    best = min(range(len(rows)), key=lambda i: rows[i]["bits/val"])
    return best < len(rows) - 1 and rows[-1]["bits/val"] > rows[best]["bits/val"] and rows[-1]["bits/train"] < rows[best]["bits/train"]


def six_findings(clips: pd.DataFrame, groups: pd.DataFrame, runs_dir: Path) -> list[dict]:
    """One dict per finding: {finding, verdict, metric, estimate, test}."""
    gen = clips
    out = []
    k, n, text = _rate(gen[USEFUL])
    out.append({"finding": "1. fewer than 25% of clips are useful", "metric": f"`{USEFUL}`", "estimate": text,
                **dict(zip(("verdict", "test"), _threshold(gen[USEFUL], USEFUL_SEED_RATE, seed_says_below=True)))})
    for i, (key, what) in enumerate((("dc", "generated clips have non-zero means"), ("periodicity", "some clips are low-frequency sines")), 2):
        col = f"cont/{key}/flag"
        real = _floor_flags(groups, key)
        if real.count():
            verdict, test = _compare(gen[col], real, seed_says_a_higher=True)
            test += f"; real clips {_rate(real)[2]}"
        else:
            verdict, test = _threshold(gen[col], RULED_OUT_RATE, seed_says_below=False)
        if verdict == INCONCLUSIVE and gen[col].sum() == 0 and wilson_interval(0, int(gen[col].count()))[2] < RULED_OUT_RATE:
            verdict, test = NOT_REPRODUCED, test + f"; ruled out: the rate's CI lies below {100 * RULED_OUT_RATE:.0f}%"
        out.append({"finding": f"{i}. {what}", "metric": f"`{col}`", "estimate": _rate(gen[col])[2], "verdict": verdict, "test": test})
    out.append(_best_vs_last(gen, runs_dir))
    out.append(_priming(gen, groups))
    out.append(_dropout(gen))
    return out


def _best_vs_last(gen: pd.DataFrame, runs_dir: Path) -> dict:
    row = {"finding": "4. best-val checkpoints beat last ones, with overfitting in the curves", "metric": f"`{USEFUL}`, best vs last"}
    pairs = gen[gen["checkpoint"].isin(["best", "last"])]
    distinct = compared_runs(gen)  # the same runs as every other best-vs-last figure of the report
    if not distinct:
        return {**row, "verdict": INCONCLUSIVE, "estimate": "best and last are the same weights in every run", "test": "not tested"}
    part = pairs[pairs["run"].isin(distinct)]
    best, last = part[part["checkpoint"] == "best"][USEFUL], part[part["checkpoint"] == "last"][USEFUL]
    verdict, test = _compare(best, last, seed_says_a_higher=True)
    overfit = [r for r in distinct if _overfits(runs_dir / r / "log.jsonl")]
    estimate = f"best {_rate(best)[2]} vs last {_rate(last)[2]}; val NLL rises after its minimum in {len(overfit)} of {len(distinct)} runs"
    return {**row, "verdict": verdict, "estimate": estimate, "test": test + " (runs whose best and last differ)"}


PRIMING_EMBEDDER = "aisfx"
MIN_PAIRS = 6  # fewer paired cells than this cannot reach p < 0.05 with a signed-rank test


def _paired_cells(groups: pd.DataFrame, metric: str, distinct: list[str] | None = None) -> pd.DataFrame:
    """One row per model state: ``primed``, the mean of ``metric`` over its 20 and 40 ms cells, and
    ``unprimed``, its unprimed cell's. A model state is a (run, checkpoint); a run whose best and
    last checkpoints hold the same weights (not in ``distinct``, :func:`compared_runs`) counts
    once, and the two primes share one unprimed cell, so neither is counted as a second,
    independent pair (the signed-rank test assumes independent pairs). ``distinct`` None: every
    run's checkpoints count as distinct (callers without checkpoint hashes)."""
    need = {"kind", "run", "checkpoint", "prime_ms", metric}
    if groups.empty or not need <= set(groups.columns):
        return pd.DataFrame(columns=["primed", "unprimed"])
    gen = groups[groups["kind"] == "generated"]
    if distinct is not None:
        gen = gen[gen["run"].astype(str).isin(distinct) | (gen["checkpoint"] != "last")]  # identical weights: best only
    prime = gen["prime_ms"].astype(float)
    unprimed = gen[prime == 0].set_index(["run", "checkpoint"])[metric]
    primed = gen[prime.isin([20.0, 40.0])].groupby(["run", "checkpoint"])[metric].mean()
    rows = [{"primed": v, "unprimed": unprimed.get(key)} for key, v in primed.items()]
    return pd.DataFrame(rows, columns=["primed", "unprimed"]).dropna()


def _signed_rank(pairs: pd.DataFrame, seed_says_primed_lower: bool) -> tuple[str, str, float]:
    """(verdict, test text, median primed - unprimed) of a two-sided Wilcoxon signed-rank test."""
    from scipy.stats import wilcoxon

    diff = (pairs["primed"] - pairs["unprimed"]).astype(float)
    if len(diff) < MIN_PAIRS or (diff == 0).all():
        return INCONCLUSIVE, f"{len(diff)} paired model states (need {MIN_PAIRS})", float(diff.median()) if len(diff) else float("nan")
    p = float(wilcoxon(diff).pvalue)
    test = f"Wilcoxon signed-rank p = {p:.3g}, {len(diff)} paired model states (20/40 ms mean vs unprimed)"
    if p >= ALPHA:
        return INCONCLUSIVE, test, float(diff.median())
    lower = float(diff.median()) < 0
    return (REPRODUCED if lower == seed_says_primed_lower else NOT_REPRODUCED), test, float(diff.median())


def _priming(gen: pd.DataFrame, groups: pd.DataFrame) -> dict:
    """Fidelity = the continuation's unbiased KAD to the real clips' same span (lower is closer);
    diversity = the continuation's recall. Each 20/40 ms cell is paired with the unprimed cell
    of the same run and checkpoint, and the paired differences get a signed-rank test. The
    verdict is on fidelity; the diversity half is reported beside it."""
    kad, recall = f"cont/kad/{PRIMING_EMBEDDER}", f"cont/recall/{PRIMING_EMBEDDER}"
    row = {"finding": "5. 20/40 ms primes give more fidelity (and less diversity) than unprimed generation",
           "metric": f"`{kad}` (fidelity), `{recall}` (diversity), each 20/40 ms cell vs the same run and checkpoint unprimed"}
    distinct = compared_runs(gen)
    verdict, test, median = _signed_rank(_paired_cells(groups, kad, distinct), seed_says_primed_lower=True)
    div_verdict, div_test, div_median = _signed_rank(_paired_cells(groups, recall, distinct), seed_says_primed_lower=True)
    primed, unprimed = gen[gen["prime_ms"].isin([20, 40])][USEFUL], gen[gen["prime_ms"] == 0][USEFUL]
    estimate = (f"median KAD difference primed - unprimed {median:+.3g}; recall difference {div_median:+.3g} "
                f"(less diversity: {div_verdict}); useful 20/40 ms {_rate(primed)[2]} vs 0 ms {_rate(unprimed)[2]}")
    return {**row, "verdict": verdict, "estimate": estimate, "test": f"fidelity: {test}; diversity: {div_test}"}


def _dropout(gen: pd.DataFrame) -> dict:
    row = {"finding": "6. dropout 0.5 gives mostly silence", "metric": "`cont/silence/flag`, dropout 0.5"}
    high = gen[gen["dropout"] >= 0.5]["cont/silence/flag"]
    if high.count() == 0:
        return {**row, "verdict": INCONCLUSIVE, "estimate": "no dropout-0.5 run scored yet", "test": "not tested"}
    verdict, test = _threshold(high, MOSTLY, seed_says_below=False)
    low = gen[gen["dropout"] < 0.5]["cont/silence/flag"]
    return {**row, "verdict": verdict, "estimate": f"{_rate(high)[2]} (dropout 0: {_rate(low)[2]})", "test": test + " ('mostly' = over 50%)"}


def minmax_finding(clips: pd.DataFrame) -> dict | None:
    """The non-zero-mean hypothesis: does min-max scaling (``_minmax`` runs) raise the DC flag rate
    over the same run without it? None when the pair has not run."""
    scaled = clips[clips["run"].str.endswith("_minmax")]
    if scaled.empty:
        return None
    plain = clips[clips["run"].isin({r.removesuffix("_minmax") for r in scaled["run"]})]
    verdict, test = _compare(scaled["cont/dc/flag"], plain["cont/dc/flag"], seed_says_a_higher=True)
    estimate = f"min-max {_rate(scaled['cont/dc/flag'])[2]} vs as stored {_rate(plain['cont/dc/flag'])[2]}"
    return {"finding": "non-zero means come from the official loader's min-max scaling", "metric": "`cont/dc/flag`",
            "estimate": estimate, "verdict": ("supported" if verdict == REPRODUCED else verdict), "test": test}


def all_findings(clips: pd.DataFrame, groups: pd.DataFrame, runs_dir: Path, smoke: str = "") -> list[dict]:
    """The six findings and the min-max one (when run). In a smoke-test study (``smoke``: why)
    every verdict reads ``SMOKE``: the estimates stand, the conclusions do not."""
    if clips.empty or USEFUL not in clips:
        return []
    rows = six_findings(clips, groups, runs_dir)
    extra = minmax_finding(clips)
    rows += [extra] if extra else []
    if not smoke:
        return rows
    decided = re.compile(rf" \(less diversity: ({REPRODUCED}|{NOT_REPRODUCED}|{INCONCLUSIVE})\)")  # a verdict inside an estimate
    ruled = re.compile(r"; ruled out: [^;]*")  # a conclusion inside a test's text
    return [{**r, "verdict": SMOKE, "estimate": decided.sub("", r["estimate"]), "test": ruled.sub("", r["test"])} for r in rows]


def findings_markdown(rows: list[dict], smoke: str = "", heading: str = "## The seed study's six findings", *,
                      metrics: str = "../../docs/metrics.md") -> list[str]:
    """The report's section: one table row per finding, verdict first."""
    if not rows:
        return []
    rule = (f"**{SMOKE}**: {smoke}. The estimates show what the pipeline measures; no finding is decided." if smoke else
            f"Each decided on this study's clips: **{REPRODUCED}** (the effect, in the seed's direction, at p < {ALPHA}), "
            f"**{NOT_REPRODUCED}** (the opposite, or ruled out), or **{INCONCLUSIVE}**.")
    lines = [heading, "", rule + " Rates with Wilson 95% CIs; the tests are described in "
             f"[docs/metrics.md]({metrics}).", "",
             "| finding | verdict | metric | estimate | test |", "|---|---|---|---|---|"]
    extra = next((r for r in rows if r["finding"].startswith("non-zero means come")), None)
    for r in rows:
        lines.append(f"| {r['finding']} | **{r['verdict']}** | {r['metric']} | {r['estimate']} | {r['test']} |")
    if extra is None:
        lines += ["", "The non-zero-mean hypothesis (min-max scaling) has no scored `_minmax` run yet."]
    return lines + [""]
