"""The seed study's six findings, each decided: reproduced, not reproduced, inconclusive, or not tested.

Inputs are the study's per-clip scores (``clips.csv`` of every run: N clips), its
per-group rows (for the real ``floor`` row) and each run's ``log.jsonl``. Each finding is a
claim about generators, so it is tested over **runs**, not clips (:mod:`benchbox.study.units`:
clips of one run share its weights and are not independent evidence): a run's rate is one
observation; rates against a fixed rate by the exact sign test (against the real clips' rate:
over the runs that differ from it by Fisher's exact test), two sets of runs by the exact
permutation test, paired differences (best - last, primed - unprimed) by the Wilcoxon
signed-rank test over runs; a difference counts at p < ``ALPHA``. The estimates give the
pooled clip count (no interval: the clips are clustered) and each run's rate. A finding
is **reproduced** when the data show the effect in the seed's direction at that level,
**not reproduced** when they show the opposite (or rule the effect out), and
**inconclusive at this n** otherwise, or **undecidable with these runs** where even the most
extreme outcome of this many runs could not reach the level (:func:`units.smallest_p`), and
**not tested** where the study holds nothing this test can use (:data:`NOT_TESTED_RULE`; here no
dropout-0.5 run, or best and last the same weights in every run): no test ran, so the verdict says
nothing for or against the effect, and the test text says why. A presence claim ("some clips are sines") is only
ruled out when no clip shows it and every run's Wilson CI over its own clips lies below ``RULED_OUT_RATE``. Primed clips are judged on their continuation
(``cont/`` columns), so a copied real prime never counts as generated fidelity.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.stats import wilson_interval
from benchbox.study.analysis import MINMAX_SUFFIX, best_only_where_identical, compared_runs, rate_text, real_rate, real_useful, span_pairs
from benchbox.study.units import pooled_text, run_counts, run_values, runs_text, runs_vs_real_p, sign_p, signed_rank_p, smallest_p

ALPHA = 0.05
USEFUL_SEED_RATE = 0.25  # "fewer than 25% useful"
MOSTLY = 0.5  # "mostly silence"
RULED_OUT_RATE = 0.05  # an effect whose rate's CI lies below this is ruled out
USEFUL = "cont/useful/auto"
REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive at this n"
UNDECIDABLE = "undecidable with these runs"  # the most extreme outcome of these runs could not reach p < ALPHA
NOT_TESTED = "not tested"  # no test ran: the study holds nothing this test can use (the test text says why)
NOT_TESTED_RULE = "the study holds nothing this test can use (the test column says why)"  # one definition, every report section
SMOKE = "smoke test: not evidence"  # every verdict of a smoke-test study (protocol.evidence_of)


def _rate(flags: pd.Series) -> tuple[int, int, str]:
    k, n = int(flags.sum()), int(flags.count())
    return k, n, rate_text(k, n)


def _estimate(clips: pd.DataFrame, col: str) -> str:
    """Pooled clip count and each run's rate: ``"13.0% of clips (125/960); 4 runs: ..."``."""
    return f"{pooled_text(clips[col])}; {runs_text(run_values(clips, col))}"


def _decide(p: float, higher: bool, seed_says_higher: bool, floor: float = 0.0) -> str:
    """The verdict at ``p``; ``floor`` is the smallest p the test could give with these runs
    (:func:`units.smallest_p`): at or above ALPHA the question is undecidable, not inconclusive."""
    if floor >= ALPHA:
        return UNDECIDABLE
    if p >= ALPHA:
        return INCONCLUSIVE
    return REPRODUCED if higher == seed_says_higher else NOT_REPRODUCED


def undecidable_text(floor: float, runs: str) -> str:
    """The test text's note on an undecidable question: ``"; with 3 runs no outcome gives p under 0.25"``."""
    return f"; with {runs} no outcome gives p under {floor:.3g}" if floor >= ALPHA else ""


def _fisher(a: pd.Series, b: pd.Series) -> float:
    """Two-sided Fisher exact p of two sets of 0/1 clips: a statement about these clips' runs
    only (reported beside the run-level tests, never deciding a finding)."""
    from scipy.stats import fisher_exact

    table = [[int(a.sum()), int(a.count() - a.sum())], [int(b.sum()), int(b.count() - b.sum())]]
    return float(fisher_exact(table)[1])


def _paired(diffs: pd.Series, seed_says_positive: bool) -> tuple[str, str]:
    """Verdict and test text for one paired difference per run (Wilcoxon signed-rank)."""
    p, n, direction = signed_rank_p(diffs.to_numpy())
    runs = int(np.isfinite(diffs.to_numpy(dtype=float)).sum())
    floor = smallest_p("signed_rank", runs)
    test = f"Wilcoxon signed-rank p = {p:.3g}, {n} runs with a non-zero difference (of {len(diffs)})" + undecidable_text(floor, f"{runs} runs")
    return _decide(p, direction > 0, seed_says_positive, floor), test


def _threshold(clips: pd.DataFrame, col: str, threshold: float, seed_says_below: bool) -> tuple[str, str]:
    """Verdict and test text for 'the runs' rates of ``col`` lie below (above) ``threshold``:
    the exact sign test of the run rates against it (:func:`units.sign_p`)."""
    rates = run_values(clips, col)
    if rates.empty:
        return NOT_TESTED, "not tested: no run has this column"
    p, above, below = sign_p(rates.to_numpy(), threshold)
    runs = int(np.isfinite(rates.to_numpy(dtype=float)).sum())
    floor = smallest_p("sign", runs)
    test = f"sign test over runs vs {100 * threshold:.3g}%: {below} below, {above} above, p = {p:.3g}" + undecidable_text(floor, f"{runs} runs")
    return _decide(p, above > below, not seed_says_below, floor), test


def _against_real(clips: pd.DataFrame, col: str, real: tuple[int, int, str]) -> tuple[str, str]:
    """Verdict and test text for 'the runs flag ``col`` more often than real clips do', ``real`` =
    ``(flagged, n, whose)``: each run against the real count by Fisher's exact test, then the sign
    test over the runs that differ (:func:`units.runs_vs_real_p`). A real rate measured as 0/21
    is not read as exactly 0, where one flagged clip of 256 would already count as above."""
    k, n, whose = real
    if run_values(clips, col).empty:
        return NOT_TESTED, "not tested: no run has this column"
    p, above, below, same = runs_vs_real_p(clips, col, k, n, alpha=ALPHA)
    floor = smallest_p("sign", above + below + same)  # every run differing, all on one side
    test = (f"sign test over the runs whose rate differs from the real rate (Fisher's exact test per run, p < {ALPHA:g}): "
            f"{below} below, {above} above, {same} not different, p = {p:.3g} (the rate on {whose}: {rate_text(k, n)})"
            + undecidable_text(floor, f"{above + below + same} runs"))
    return _decide(p, above > below, True, floor), test


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


def _ruled_out(gen: pd.DataFrame, col: str) -> bool:
    """True when no clip is flagged in ``col`` and **every run's** Wilson upper bound over its own
    clips lies below ``RULED_OUT_RATE`` (0 of n: n >= 73 clips a run). A pooled interval over every
    run's clips would treat clustered clips as independent and rule out an effect from many small
    runs, none of which could rule it out alone."""
    counts = run_counts(gen, col)
    return bool(len(counts)) and int(counts["sum"].sum()) == 0 and all(wilson_interval(0, int(n))[2] < RULED_OUT_RATE for n in counts["count"])


def six_findings(clips: pd.DataFrame, groups: pd.DataFrame, runs_dir: Path) -> list[dict]:
    """One dict per finding: {finding, verdict, metric, estimate, test}. Every test is over runs
    (:mod:`benchbox.study.units`): each run's rate or paired difference is one observation.

    The min-max ablation runs (``*_minmax``) are left out: they change the data loader on purpose
    (:func:`minmax_finding` compares them with their twins), so counting one as a further run of
    the grid would add a deliberately DC-shifted model to finding 2's runs and to every other count."""
    gen = clips[~clips["run"].astype(str).str.endswith(MINMAX_SUFFIX)]
    if "run" in groups:
        groups = groups[~groups["run"].astype(str).str.endswith(MINMAX_SUFFIX)]
    out = [{"finding": "1. fewer than 25% of clips are useful", "metric": f"`{USEFUL}`, per run", "estimate": _estimate(gen, USEFUL),
            **dict(zip(("verdict", "test"), _threshold(gen, USEFUL, USEFUL_SEED_RATE, seed_says_below=True)))}]
    for i, (key, what) in enumerate((("dc", "generated clips have non-zero means"), ("periodicity", "some clips are low-frequency sines")), 2):
        col = f"cont/{key}/flag"
        real = real_rate(groups, key)
        if real is not None:
            verdict, test = _against_real(gen, col, real)
        else:
            verdict, test = _threshold(gen, col, RULED_OUT_RATE, seed_says_below=False)
        if verdict in (INCONCLUSIVE, UNDECIDABLE) and _ruled_out(gen, col):
            verdict, test = NOT_REPRODUCED, test + (f"; ruled out for these runs: no clip is flagged, and each run's Wilson CI over its own "
                                                    f"clips lies below {100 * RULED_OUT_RATE:.0f}%")
        out.append({"finding": f"{i}. {what}", "metric": f"`{col}`, per run", "estimate": _estimate(gen, col), "verdict": verdict, "test": test})
    out.append(_best_vs_last(gen, runs_dir))
    out.append(_priming(gen, groups))
    out.append(_dropout(gen))
    return out


def _best_vs_last(gen: pd.DataFrame, runs_dir: Path) -> dict:
    row = {"finding": "4. best-val checkpoints beat last ones, with overfitting in the curves", "metric": f"`{USEFUL}`, best - last per run"}
    distinct = compared_runs(gen)  # the same runs as every other best-vs-last figure of the report
    if not distinct:
        return {**row, "verdict": NOT_TESTED, "estimate": "best and last are the same weights in every run",
                "test": "not tested: best and last are the same weights in every run, so there is no difference to test"}
    part = gen[gen["run"].isin(distinct)]
    best, last = part[part["checkpoint"] == "best"], part[part["checkpoint"] == "last"]
    diffs = (run_values(best, USEFUL) - run_values(last, USEFUL)).dropna()
    verdict, test = _paired(diffs, seed_says_positive=True)
    overfit = [r for r in distinct if _overfits(runs_dir / r / "log.jsonl")]
    estimate = (f"best {pooled_text(best[USEFUL])} vs last {pooled_text(last[USEFUL])}; best higher in {int((diffs > 0).sum())}, "
                f"last in {int((diffs < 0).sum())} of {len(diffs)} runs; val NLL rises after its minimum while train NLL keeps falling in {len(overfit)} of {len(distinct)} runs")
    return {**row, "verdict": verdict, "estimate": estimate, "test": test + " (runs whose best and last differ)"}


PRIMING_EMBEDDER = "aisfx"


def _paired_cells(groups: pd.DataFrame, metric: str, distinct: list[str] | None = None) -> pd.DataFrame:
    """One row per run: ``primed``, the mean of ``metric`` over its 20 and 40 ms cells, and
    ``unprimed``, the mean over its unprimed cells, each over the run's checkpoints (a run whose
    best and last checkpoints hold the same weights, not in ``distinct``
    (:func:`compared_runs`), counts its best cells only). The run is the unit: its checkpoints
    and its two primes are not independent pairs. ``distinct`` None: every run's checkpoints
    count as distinct (callers without checkpoint hashes)."""
    need = {"kind", "run", "checkpoint", "prime_ms", metric}
    if groups.empty or not need <= set(groups.columns):
        return pd.DataFrame(columns=["run", "primed", "unprimed"])
    gen = groups[groups["kind"] == "generated"]
    if distinct is not None:
        gen = best_only_where_identical(gen, distinct)
    prime = gen["prime_ms"].astype(float)
    state = ["run", "checkpoint"]
    unprimed = gen[prime == 0].set_index(state)[metric]
    primed = gen[prime.isin([20.0, 40.0])].groupby(state)[metric].mean()
    both = pd.DataFrame({"primed": primed, "unprimed": unprimed}).dropna()
    if both.empty:
        return pd.DataFrame(columns=["run", "primed", "unprimed"])
    return both.groupby(level="run").mean().reset_index()


def _paired_spans(groups: pd.DataFrame, metric: str, distinct: list[str] | None = None) -> pd.DataFrame:
    """Like :func:`_paired_cells`, on one scale: each 20 and 40 ms cell's ``cont/<metric>`` against
    its unprimed partner's ``span@<ms>ms/<metric>`` (:func:`benchbox.study.analysis.span_pairs`: the
    same run, checkpoint and sampling settings, scored on the same cut and kernel), averaged per
    cell over the primes it has, then per run. Empty when no unprimed cell carries a span column
    (scores before version 10)."""
    gen = groups[groups["kind"] == "generated"] if "kind" in groups.columns else groups
    if distinct is not None:
        gen = best_only_where_identical(gen, distinct)
    pairs = span_pairs(gen, metric)
    pairs = pairs[pairs["prime_ms"].isin([20.0, 40.0])]
    if pairs.empty:
        return pd.DataFrame(columns=["run", "primed", "unprimed"])
    return pairs.groupby(["run", "cell"])[["primed", "unprimed"]].mean().groupby(level="run").mean().reset_index()


def _real_cut_text(groups: pd.DataFrame) -> str:
    """How the reference's held-out real clips read whole and cut where 20 and 40 ms primes end
    (:func:`benchbox.study.analysis.real_useful`), the scale each useful rate of finding 5 sits on;
    the docs' pointer where the scores predate those columns."""
    cuts = [(ms, real_useful(groups, ms)) for ms in (0, 20, 40)]
    if any(got is None for _, got in cuts):
        return "real clips read lower cut after the onset, docs/verdict.md"
    parts = [f"{'whole' if ms == 0 else f'cut at {ms} ms'} {rate_text(k, n)}" for ms, (k, n) in cuts]
    return "the held-out real clips read " + ", ".join(parts)


def _priming(gen: pd.DataFrame, groups: pd.DataFrame) -> dict:
    """Fidelity = the continuation's unbiased KAD to the real clips' same span (lower is closer);
    diversity = the continuation's recall. Per run, its 20/40 ms cells against its unprimed
    cells on the same span and kernel (:func:`_paired_spans`; scores before version 10 lack the
    unprimed cells' spans, and fall back to their whole clips, :func:`_paired_cells`, which the
    metric text flags as not one scale); the runs' differences get a signed-rank test. The
    verdict is on fidelity; the diversity half is reported beside it."""
    kad, recall = f"kad/{PRIMING_EMBEDDER}", f"recall/{PRIMING_EMBEDDER}"
    distinct = compared_runs(gen)
    fid, div = _paired_spans(groups, kad, distinct), _paired_spans(groups, recall, distinct)
    same_span = not fid.empty
    against = ("its unprimed cells scored on the same span and kernel (`span@<ms>ms/`: the unprimed clips from the sample the prime ends at)"
               if same_span else "its unprimed cells' whole clips (no unprimed cell was scored on a primed span: scores before version 10, or "
               "continuations too short to embed; a continuation's span and kernel against the whole clip's, not one scale, see docs/metrics.md)")
    if same_span:  # runs a version-9 score (or a missing span) leaves without a like-for-like pair are named, not silently dropped
        cells = groups[groups["kind"] == "generated"]
        prime = cells["prime_ms"].astype(float)
        runs = set(cells[prime == 0]["run"].astype(str)) & set(cells[prime.isin([20.0, 40.0])]["run"].astype(str))
        missing = sorted(runs - set(fid["run"].astype(str)))
        if missing:
            against += f"; left out, no unprimed cell scored on their 20/40 ms spans (re-score them): {', '.join(missing)}"
    row = {"finding": "5. 20/40 ms primes give more fidelity (and less diversity) than unprimed generation",
           "metric": f"`cont/{kad}` (fidelity), `cont/{recall}` (diversity), per run: its 20/40 ms cells vs {against}"}
    if not same_span:
        fid, div = _paired_cells(groups, f"cont/{kad}", distinct), _paired_cells(groups, f"cont/{recall}", distinct)
    fid_d, div_d = (fid["primed"] - fid["unprimed"]).astype(float), (div["primed"] - div["unprimed"]).astype(float)
    verdict, test = _paired(fid_d, seed_says_positive=False)
    div_verdict, div_test = _paired(div_d, seed_says_positive=False)
    med = lambda d: float(d.median()) if len(d) else float("nan")  # noqa: E731
    primed, unprimed = gen[gen["prime_ms"].isin([20, 40])][USEFUL], gen[gen["prime_ms"] == 0][USEFUL]
    estimate = (f"median KAD difference primed - unprimed {med(fid_d):+.3g}; recall difference {med(div_d):+.3g} "
                f"(less diversity: {div_verdict}); useful 20/40 ms {pooled_text(primed)} (continuation) vs 0 ms {pooled_text(unprimed)} "
                f"(whole clip: not one scale, {_real_cut_text(groups)})")
    return {**row, "verdict": verdict, "estimate": estimate, "test": f"fidelity: {test}; diversity: {div_test}"}


def _dropout(gen: pd.DataFrame) -> dict:
    row = {"finding": "6. dropout 0.5 gives mostly silence", "metric": "`cont/silence/flag`, per run at dropout 0.5"}
    high = gen[gen["dropout"] >= 0.5]
    if high.empty:
        return {**row, "verdict": NOT_TESTED, "estimate": "no dropout-0.5 run scored yet", "test": "not tested: no dropout-0.5 run scored"}
    verdict, test = _threshold(high, "cont/silence/flag", MOSTLY, seed_says_below=False)
    low = gen[gen["dropout"] < 0.5]
    estimate = f"{_estimate(high, 'cont/silence/flag')} (every run at dropout under 0.5: {pooled_text(low['cont/silence/flag'])})"
    return {**row, "verdict": verdict, "estimate": estimate, "test": test + " ('mostly' = over 50%)"}


def minmax_finding(clips: pd.DataFrame) -> dict | None:
    """The non-zero-mean hypothesis: does min-max scaling (``_minmax`` runs) raise the DC flag rate
    over the same run without it? One paired difference per pair of runs (signed-rank). None
    when no pair has run."""
    scaled = clips[clips["run"].str.endswith(MINMAX_SUFFIX)]
    if scaled.empty:
        return None
    plain = clips[clips["run"].isin({r.removesuffix(MINMAX_SUFFIX) for r in scaled["run"]})]
    col = "cont/dc/flag"
    s_rates = run_values(scaled, col).rename(lambda r: r.removesuffix(MINMAX_SUFFIX))
    diffs = (s_rates - run_values(plain, col)).dropna()
    verdict, test = _paired(diffs, seed_says_positive=True)
    estimate = f"min-max {_estimate(scaled, col)} vs as stored {_estimate(plain, col)}"
    return {"finding": "non-zero means come from the official loader's min-max scaling", "metric": f"`{col}`, per pair of runs",
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
    decided = re.compile(rf" \(less diversity: ({REPRODUCED}|{NOT_REPRODUCED}|{INCONCLUSIVE}|{UNDECIDABLE}|{NOT_TESTED})\)")  # a verdict inside an estimate
    ruled = re.compile(r"; ruled out: [^;]*")  # a conclusion inside a test's text
    return [{**r, "verdict": SMOKE, "estimate": decided.sub("", r["estimate"]), "test": ruled.sub("", r["test"])} for r in rows]


def findings_markdown(rows: list[dict], smoke: str = "", heading: str = "## The seed study's six findings", *,
                      metrics: str = "../../docs/metrics.md", scope: str = "") -> list[str]:
    """The report's section: one table row per finding, verdict first; ``scope`` names the runs
    they were decided on when a families study left others out (:func:`family_findings.seed_scope`)."""
    if not rows:
        return []
    rule = (f"**{SMOKE}**: {smoke}. The estimates show what the pipeline measures; no finding is decided." if smoke else
            f"Each decided on this study's clips: **{REPRODUCED}** (the effect, in the seed's direction, at p < {ALPHA}), "
            f"**{NOT_REPRODUCED}** (the opposite, or ruled out), **{INCONCLUSIVE}**, **{UNDECIDABLE}** (even the most "
            f"extreme outcome of this many runs could not reach p < {ALPHA}: more runs, not more clips, would decide it), "
            f"or **{NOT_TESTED}** ({NOT_TESTED_RULE}; e.g. no dropout-0.5 run).")
    lines = [heading, "", rule + " Each is decided over runs (a run's rate is one observation), with the pooled clip count beside it; the tests are described in "
             f"[docs/metrics.md]({metrics})." + (f" Decided on the {scope}: the seed's claims are about its autoregressive "
                                                 "models, so the other families' and the baselines' runs are left out here and "
                                                 "decided family by family in the families section." if scope else ""), "",
             "| finding | verdict | metric | estimate | test |", "|---|---|---|---|---|"]
    extra = next((r for r in rows if r["finding"].startswith("non-zero means come")), None)
    if extra is not None:
        lines[2] += (" Findings 1-6 count the grid's runs only: the min-max ablation runs (`*_minmax`) serve the min-max "
                     "finding, so the findings' pooled clip counts are smaller than other sections', which include them.")
    for r in rows:
        lines.append(f"| {r['finding']} | **{r['verdict']}** | {r['metric']} | {r['estimate']} | {r['test']} |")
    if extra is None:
        lines += ["", "The non-zero-mean hypothesis (min-max scaling) has no scored `_minmax` run yet."]
    return lines + [""]
