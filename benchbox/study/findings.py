"""The verdict section of a study report: usefulness with reasons, KAD ranking, PRDC, the 1-NN two-sample test, memorisation.

Inputs are the concatenated ``scores/clips.csv`` and ``scores/groups.csv`` of a study's
runs (see :mod:`benchbox.score` and :mod:`benchbox.score_verdict`). Every finding line
names its metric, n and 95% CI. Metrics of primed clips are taken on the continuation
(``cont/`` columns: the generated part only); whole-clip values are labelled as such.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

from benchbox.labels import group_label
from benchbox.metrics.verdict import copy_p_value
from benchbox.score_distances import LEFT_OUT_KEY
from benchbox.score_verdict import floor_span_key, floor_span_of
from benchbox.study.analysis import identical_weights, overall_rate, rate_row_text, rate_text  # noqa: F401 - identical_weights is part of this module's API
from benchbox.stats import CI_ONLY, CLOSER, CLOSER_ALPHA, DIFFERS_CI, INDISTINGUISHABLE, SEPARATED, TWO_SAMPLE_ALPHA, nn1_text, two_sample_of, vs_floor

CONT = "cont/"
USEFUL = "useful/auto"
NOT_FOOTSTEP = "not-footstep"
REASON = "useful/reason"
EXAMPLES_PER_REASON = 3

PRDC_INTERVALS = ("Their intervals are percentile bootstraps over clips with the k-NN radii fixed from the full sets: "
                  "they leave out the radii's own uncertainty, so they are narrower than a full 95% CI.")


def _col(frame: pd.DataFrame, key: str) -> str:
    """``cont/<key>`` when the table has it (continuation), else ``<key>`` (older scores)."""
    return CONT + key if CONT + key in frame.columns else key


def _number(value) -> float:
    """``value`` as a float; NaN for None, text that is no number, or a missing cell."""
    number = pd.to_numeric(pd.Series([value], dtype=object), errors="coerce").iloc[0]
    return float(number) if pd.notna(number) else math.nan


def _fmt(value, lo=None, hi=None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    text = f"{value:.{digits}g}"
    if lo is not None and hi is not None and not (math.isnan(lo) or math.isnan(hi)):
        text += f" [{lo:.{digits}g}, {hi:.{digits}g}]"
    return text


def _rate(k: int, n: int) -> str:
    return rate_text(k, n)


def useful_by(clips: pd.DataFrame, by: str) -> list[str]:
    """Per level of ``by``: the verdict's useful rate (Wilson CI; over several runs widened by the
    design effect, :func:`benchbox.study.analysis.rate_row_text`) and what failed, most common first."""
    useful, reason = _col(clips, USEFUL), _col(clips, REASON)
    lines = [f"| {by} | `{useful}` rate [95% CI] (k/n) | what failed (clips) |", "|---|---|---|"]
    for level, part in clips.groupby(by, sort=True):
        counts = part[reason].astype(str).value_counts() if reason in part else pd.Series(dtype=int)
        failed = ", ".join(f"{r} {c}" for r, c in counts.items() if r != "ok") or "-"
        lines.append(f"| {level} | {rate_row_text(overall_rate(part, useful))} | {failed} |")
    return lines


def detector_misses(clips: pd.DataFrame) -> list[str]:
    """Per generator: clips that pass every artefact detector yet are not footsteps (what a detector-only flag calls useful),
    with a Wilson interval widened for the design effect over runs (:func:`benchbox.study.analysis.rate_row_text`)."""
    reason = _col(clips, REASON)
    if reason not in clips.columns:
        return []
    lines = []
    for gen, part in clips.groupby("generator", sort=True):
        part = part.assign(_missed=(part[reason].astype(str) == NOT_FOOTSTEP).astype(int))
        if part["_missed"].any():  # over several runs the interval is widened by the design effect, as every pooled rate is
            lines.append(f"- **{gen}**: {rate_row_text(overall_rate(part, '_missed'))} of its clips pass every artefact detector but are `{NOT_FOOTSTEP}` "
                         "(`footstep/p` under the category model's threshold): a detector-only flag would have called them useful.")
    return lines


def rejected_examples(clips: pd.DataFrame, embedder: str, k: int = EXAMPLES_PER_REASON) -> list[str]:
    """Up to ``k`` rejected clips per reason, with their ``footstep/p`` (older scores: realism on ``embedder``)."""
    reason = _col(clips, REASON)
    if reason not in clips.columns:
        return []
    realism = next((c for c in (_col(clips, "footstep/p"), _col(clips, f"realism/{embedder}")) if c in clips.columns), None)
    lines = ["| reason | example clips (run / path" + (f", `{realism}`" if realism else "") + ") |", "|---|---|"]
    for why, part in clips[clips[reason].astype(str) != "ok"].groupby(reason, sort=True):
        picks = part.head(k)
        items = [f"{r['run']}/{r['path']}" + (f" ({r[realism]:.2f})" if realism and not pd.isna(r[realism]) else "") for _, r in picks.iterrows()]
        lines.append(f"| {why} ({len(part)}) | {'; '.join(items)} |")
    return lines


def floor_row(groups: pd.DataFrame) -> dict | None:
    floor = groups[groups.get("kind", pd.Series(dtype=str)) == "floor"]
    return floor.iloc[0].to_dict() if not floor.empty else None


def kad_ranking(groups: pd.DataFrame, embedder: str) -> list[str]:
    """Generated groups ranked by the unbiased KAD of their continuation within each span (whole
    clips, then each prime length: KADs on two spans use different cuts of the real clips and
    different kernels, so the rank restarts), FAD beside, each span's floor row first and the
    floor overlap marked against that span's floor (the whole-clip floor where the scores have no
    span floor: scorer versions before 8)."""
    kad, fad = _col(groups, f"kad/{embedder}"), _col(groups, f"fad/{embedder}")
    if kad not in groups.columns:
        return []
    gen = groups[groups["kind"] == "generated"]
    prime = pd.to_numeric(gen.get("prime_ms", pd.Series(0.0, index=gen.index)), errors="coerce").fillna(0.0)
    floor = floor_row(groups) or {}
    lines = [f"| span | # | run | group | n | `{kad}` [95% CI] | `{fad}` [95% interval at this n] | vs the floor | 1-NN acc (p), {embedder} |",
             "|---|---|---|---|---|---|---|---|---|"]
    for ms in sorted(prime.unique()):
        span = "whole clip" if ms == 0 else f"after a {ms:g} ms prime"
        own = floor_span_of(floor, ms, "kad", embedder)  # this span's floor; else the whole clip's
        fk = own or kad
        f_val, f_lo, f_hi = (_number(floor.get(fk + suffix)) for suffix in ("", "/lo", "/hi"))  # text, from a CSV read back, too
        if floor:
            whole = " (whole clip: no span floor in these scores)" if ms > 0 and not own else ""
            ff = fad if ms == 0 else floor_span_key(ms, "fad", embedder)  # the span's FAD floor (NaN: n/a)
            lines.append(f"| {span} | - | real val | floor{whole} | {int(floor['n'])} | {_fmt(f_val, f_lo, f_hi)} | "
                         f"{_fmt(*(_number(floor.get(ff + suffix)) for suffix in ('', '/lo', '/hi')))} | - | "
                         f"{(nn1_text(*two_sample_of(floor, embedder)) or '-') if ms == 0 else '-'} |")
        for i, r in enumerate(gen[prime == ms].sort_values(kad, na_position="last").to_dict("records"), 1):
            lo, hi = r.get(f"{kad}/lo", math.nan), r.get(f"{kad}/hi", math.nan)
            acc, p = two_sample_of(r, embedder)
            mark = vs_floor(lo, hi, f_lo, f_hi, p) or "-"
            lines.append(f"| {span} | {i} | {r['run']} | {group_label(r)} | {int(r['n'])} | {_fmt(r.get(kad), lo, hi)} | "
                         f"{_fmt(r.get(fad), r.get(f'{fad}/lo'), r.get(f'{fad}/hi'))} | {mark} | {nn1_text(acc, p) or '-'} |")
    return lines


def two_sample_lines(groups: pd.DataFrame, embedder: str) -> list[str]:
    """How many groups a 1-NN classifier tells from real clips (p < TWO_SAMPLE_ALPHA), beside their per-clip useful rates."""
    rows = groups[groups["kind"] == "generated"].to_dict("records")
    tests = [(r, *two_sample_of(r, embedder)) for r in rows]
    tested = [(r, acc, p) for r, acc, p in tests if not (math.isnan(acc) or math.isnan(p))]
    if not tested:
        return []
    separable = [r for r, _, p in tested if p < TWO_SAMPLE_ALPHA]
    floor = floor_row(groups)
    lines = [f"`{_col(groups, f'nn1/{embedder}')}`: balanced leave-one-out 1-NN accuracy of telling a group's clips from the real test clips "
             "(about 0.5 when they cannot be told apart, and with tens of clips chance reaches down to about 0.3; 1: every "
             "clip's nearest neighbour is from its own set), with a permutation p-value "
             "(`docs/verdict.md`). It sees what a per-clip verdict cannot: clips that each pass but share a signature no real clip has."]
    f_acc, f_p = two_sample_of(floor, embedder) if floor else (math.nan, math.nan)
    if not math.isnan(f_acc):
        p_text = "" if math.isnan(f_p) else f"p = {f_p:.2g}, "
        lines[0] += f" Real val clips: {f_acc:.2f} ({p_text}n = {int(floor['n'])})."
    useful = _col(groups, "useful/auto_rate")
    passing = [r for r in separable if float(r.get(useful, 0.0) or 0.0) > 0]
    adjusted = false_discovery_control([p for _, _, p in tested], method="bh")  # Benjamini-Hochberg over the groups tested
    lines.append(f"{len(separable)} of {len(tested)} groups differ from real at p < {TWO_SAMPLE_ALPHA:g} "
                 f"({int((adjusted < TWO_SAMPLE_ALPHA).sum())} with Benjamini-Hochberg adjusted p < {TWO_SAMPLE_ALPHA:g}, "
                 f"a false discovery rate of {TWO_SAMPLE_ALPHA:g} over the {len(tested)} tests); "
                 f"{len(passing)} of them still have clips the per-clip verdict calls useful (their useful rate is an upper bound). "
                 "The per-row marks use the unadjusted p.")
    return lines


def prdc_table(groups: pd.DataFrame, embedder: str) -> list[str]:
    keys = [_col(groups, f"{m}/{embedder}") for m in ("precision", "recall", "density", "coverage")]
    if keys[0] not in groups.columns:
        return []
    lines = ["| run | group | n | " + " | ".join(f"`{k}` [95% interval]" for k in keys) + " |", "|---|---|---|" + "---|" * len(keys)]
    rows = pd.concat([groups[groups["kind"] == "floor"].head(1), groups[groups["kind"] == "generated"]])  # one floor row per run: show one
    for r in rows.to_dict("records"):
        cells = [_fmt(r.get(k), r.get(f"{k}/lo"), r.get(f"{k}/hi"), 2) for k in keys]
        lines.append(f"| {r['run'] if r['kind'] == 'generated' else 'real val'} | {group_label(r)} | {int(r['n'])} | " + " | ".join(cells) + " |")
    return lines


def axes_table(groups: pd.DataFrame, embedder: str) -> list[str]:
    """Per group, the three axes with 95% CIs: quality (artefact-free), category fit (footstep/p), diversity (recall, coverage)."""
    keys = [("quality/artefact_free_rate", "quality/artefact_free"), ("footstep/p_mean", "footstep/p"), ("footstep/share", "footstep/share")]
    if _col(groups, keys[0][0]) not in groups.columns:
        return []
    div = [_col(groups, f"{m}/{embedder}") for m in ("recall", "coverage")]
    lines = ["| run | group | n | quality: artefact-free | category: mean `footstep/p` | category: footstep share | "
             f"diversity: `{div[0]}` | diversity: `{div[1]}` |", "|---|---|---|---|---|---|---|---|"]
    rows = pd.concat([groups[groups["kind"] == "floor"].head(1), groups[groups["kind"] == "generated"]])
    for r in rows.to_dict("records"):
        cells = [_fmt(r.get(_col(groups, k)), r.get(_col(groups, f"{stem}_lo")), r.get(_col(groups, f"{stem}_hi")), 2) for k, stem in keys]
        cells += [_fmt(r.get(k), r.get(f"{k}/lo"), r.get(f"{k}/hi"), 2) for k in div]
        lines.append(f"| {r['run'] if r['kind'] == 'generated' else 'real val'} | {group_label(r)} | {int(r['n'])} | " + " | ".join(cells) + " |")
    return lines


COPY_FDR = 0.05  # the false discovery rate of the memorisation flags over a report's groups


def memorisation_lines(groups: pd.DataFrame, embedder: str) -> list[str]:
    """Groups whose clips sit closer to the training set than real held-out clips do: one-sided exact
    beta-binomial p against the real clips' share (:func:`copy_p_values`), Benjamini-Hochberg over the
    groups (Benjamini and Hochberg 1995), flagged below ``COPY_FDR``."""
    key = _col(groups, f"memorisation/{embedder}/closer_share")
    if key not in groups.columns:
        return []
    lo_key, hi_key = key.replace("closer_share", "closer_lo"), key.replace("closer_share", "closer_hi")
    gen = groups[groups["kind"] == "generated"]
    exp_key = key.replace("closer_share", "expected_share")
    expected = gen[exp_key] if exp_key in gen.columns else pd.Series(0.5, index=gen.index)  # older scores: the median rule
    h_key = key.replace("closer_share", "heldout_n")
    judged = judged_clips(gen, key)
    p_copy = copy_p_values(gen[key], judged, expected, gen[h_key] if h_key in gen.columns else None)
    tested = p_copy.notna()
    with_h = tested & (pd.to_numeric(gen[h_key], errors="coerce") > 0 if h_key in gen.columns else False)
    n_exact, n_plain = int(with_h.sum()), int((tested & ~with_h).sum())
    adjusted = pd.Series(np.nan, index=gen.index)
    if tested.any():
        adjusted[tested] = false_discovery_control(p_copy[tested].to_numpy(), method="bh")
    marked = pd.concat([gen, pd.DataFrame({"_p": p_copy, "_q": adjusted})], axis=1)  # before filtering (an empty frame's
    # assign would take the Series' index), and by concat (assign on the wide scores frame warns of fragmentation)
    copying = marked[marked["_q"] < COPY_FDR]
    floor = floor_row(groups)
    lines = [f"`{key}`: share of clips closer to their nearest training clip than the lowest 10% of real held-out (val + test) "
             f"clips are; a real clip is that close with probability `{exp_key.split('/')[-1]}` = k / (n + 1) (about 0.1). "
             f"A group is flagged as copying when more of its clips are that close than the share allows: the one-sided exact "
             + _copy_method(n_exact, n_plain)
             + f", Benjamini-Hochberg adjusted over the {int(tested.sum())} groups tested, below {COPY_FDR:g} (a false discovery rate of that level)."]
    if floor and not pd.isna(floor.get(key)):
        h = pd.to_numeric(pd.Series([floor.get(h_key)]), errors="coerce").iloc[0]
        n_text = f"n = {int(h) + 1}, " if np.isfinite(h) else ""
        lines[0] += (f" Real held-out clips (val + test), each against the others: {_fmt(floor[key], floor[lo_key], floor[hi_key], 2)} "
                     f"({n_text}k / n by construction: a check of the rule, not a measurement).")
    if not tested.any():
        lines.append("No group could be tested: none has a memorisation share (scored without a reference, or none of a group's "
                     "clips embedded: NaN samples, clips too short past the prime, a reference too short for it, or clips at several rates).")
    elif copying.empty:
        hi = gen.loc[tested, key].max()
        n_lo, n_hi = int(judged[tested].min()), int(judged[tested].max())
        n_text = str(n_lo) if n_lo == n_hi else f"{n_lo}-{n_hi}"
        lines.append(f"No group copies: no adjusted p is below {COPY_FDR:g} (largest share {_fmt(hi, digits=2)}, n = {n_text} per group tested).")
    for i, r in zip(copying.index, copying.to_dict("records")):
        lines.append(f"- **copies**: {r['run']} {group_label(r)}: `{key}` = {_fmt(r[key], r[lo_key], r[hi_key], 2)} (n = {int(judged[i])}; "
                     f"p = {r['_p']:.2g}, adjusted {r['_q']:.2g}).")
    return lines


def _copy_method(n_exact: int, n_plain: int) -> str:
    """The copy test's method in words: the exact beta-binomial p for groups whose scores record
    ``heldout_n``, the plain binomial p (with its warning) for older ones, or both, counted."""
    exact = ("beta-binomial p of its count (every clip of a group shares the one threshold drawn from the held-out clips, "
             "and the p counts that draw)")
    plain = ("binomial p of its count (scores that predate the exact test: the threshold is one draw from the held-out clips "
             "and every clip of a group shares it, which this p does not count, so it flags too often: re-score for the exact test, "
             "and read a flag as a prompt to listen, not a finding)")
    if n_plain and n_exact:
        return f"{exact} for the {n_exact} group(s) whose scores record `heldout_n`, and the {plain} for the other {n_plain}"
    return plain if n_plain else exact


def copy_p_values(share: pd.Series, n: pd.Series, expected: pd.Series, heldout_n: pd.Series | None = None) -> pd.Series:
    """One-sided exact p of each group's close-clip count (round(share n) of n) if its clips were
    as close to the training set as real held-out clips are.

    Where the scores record ``heldout_n`` (the held-out clips the threshold was drawn from): the
    beta-binomial p of :func:`benchbox.metrics.verdict.copy_p_value`, which counts that every clip
    of a group shares one threshold (k = round(expected (heldout_n + 1))). Older scores lack it:
    the binomial p against ``expected``, P(X >= count), X ~ Binomial(n, expected), which treats the
    threshold as known and rejects too often (the report's method text says which groups got which). NaN where a
    value is missing."""
    from scipy.stats import binom

    s, m, e = (pd.to_numeric(x, errors="coerce") for x in (share, n, expected))
    h = pd.to_numeric(heldout_n, errors="coerce") if heldout_n is not None else pd.Series(np.nan, index=share.index)
    ok = s.notna() & m.notna() & e.notna() & (m > 0)
    out = pd.Series(np.nan, index=share.index)
    count = (s * m).round()
    exact = ok & h.notna() & (h > 0)
    for i in exact[exact].index:
        out[i] = copy_p_value(int(count[i]), int(m[i]), int(h[i]), int(round(e[i] * (h[i] + 1))))
    plain = ok & ~exact
    out[plain] = binom.sf(count[plain] - 1, m[plain], e[plain])
    return out


def judged_clips(gen: pd.DataFrame, key: str) -> pd.Series:
    """Per group, the clips its memorisation share ``key`` is over: ``memorisation/<e>/n`` where the
    scores record it; else ``n`` less ``embedding/left_out`` (clips with NaN samples, embedded nowhere);
    else ``n``. The copy test's count and trials are both over these clips."""
    n = pd.to_numeric(gen["n"], errors="coerce")
    left = pd.to_numeric(gen[LEFT_OUT_KEY], errors="coerce").fillna(0) if LEFT_OUT_KEY in gen.columns else 0
    out = n - left
    n_key = key.replace("closer_share", "n")
    if n_key in gen.columns:
        recorded = pd.to_numeric(gen[n_key], errors="coerce")
        out = recorded.where(recorded.notna(), out)
    return out


def verdict_markdown(clips: pd.DataFrame, groups: pd.DataFrame, embedder: str) -> list[str]:
    """The report section: useful rate per generator with reasons, examples, KAD ranking, PRDC, memorisation."""
    if clips.empty or groups.empty:
        return []
    useful = _col(clips, USEFUL)
    floor = floor_row(groups)
    lines = ["## Usefulness verdict", "",
             "A clip is useful when no artefact detector fires **and** it is a footstep: `footstep/p` (a probe fitted on real "
             "footsteps and real non-footstep sound effects) at or above the category model's threshold (see `docs/verdict.md`). "
             f"Realism against the train split (`in_distribution`) and memorisation are reported beside it and never decide it. "
             f"Primed clips are judged on their continuation (`{CONT}` columns), not on the copied prime.", "",
             f"**`{useful}`**: {rate_row_text(overall_rate(clips, useful))} of generated clips (every run of the study)."]
    if floor and not pd.isna(floor.get(_col(groups, "useful/auto_rate"))):
        rate = _col(groups, "useful/auto")
        lines[-1] += (f" Real val clips (recordings not in the reference): {100 * floor[rate + '_rate']:.1f}% "
                      f"[{100 * floor[rate + '_lo']:.1f}, {100 * floor[rate + '_hi']:.1f}] (n = {int(floor['n'])}).")
    lines += [""] + useful_by(clips, "generator") + [""] + detector_misses(clips)
    lines += ["", "Rejected clips, by reason:", ""] + rejected_examples(clips, embedder) + [""]
    axes = axes_table(groups, embedder)
    if axes:
        lines += ["### Three axes: quality, category fit, diversity (continuation)", "",
                  "Quality is the share of clips no artefact detector flags; category fit is the mean `footstep/p` and the share "
                  "at or above the threshold; diversity is recall and coverage against the real test split. 95% CIs, except "
                  f"recall and coverage: {PRDC_INTERVALS}", ""] + axes + [""]
    lines += [f"### Ranking by KAD ({embedder}, continuation)", "",
              "Unbiased KAD with jackknife 95% CIs, ranked within each span (whole clips, then each prime length's continuation; the rank restarts, since KADs on two spans are not on one scale) (the bandwidth the real test clips' median distance, one kernel per span: whole clips, and each prime's continuation (bandwidth from the real clips' same span); a primed row's floor comparison compares it with the floor on its own span and kernel (real val vs real test from the same sample)); "
              "FAD beside it with a jackknife 95% interval of the FAD at the row's n (FAD is biased upward at small n: not a CI "
              "for the population value). A row whose KAD CI misses the floor's (real val vs real "
              f"test) is marked \"{DIFFERS_CI}\". One whose CI overlaps it is marked \"{INDISTINGUISHABLE}\" when the 1-NN "
              f"two-sample test does not separate it (p >= {TWO_SAMPLE_ALPHA:g}), \"{SEPARATED}\" when it does, \"{CLOSER}\" when its "
              f"accuracy is below chance at p > {1 - CLOSER_ALPHA:g}, and "
              f"\"{CI_ONLY}\" where the test was not run.", ""] + kad_ranking(groups, embedder) + [""]
    table = prdc_table(groups, embedder)
    if table:
        lines += [f"### Precision, recall, density, coverage ({embedder}, continuation)", "",
                  "Against the real test split, k = 3; compare with the floor row (real vs real at this n), not with 1. "
                  f"{PRDC_INTERVALS}", ""] + table + [""]
    two = two_sample_lines(groups, embedder)
    if two:
        lines += [f"### Two-sample test ({embedder}, continuation)", ""] + two + [""]
    mem = memorisation_lines(groups, embedder)
    if mem:
        lines += [f"### Memorisation ({embedder})", ""] + mem + [""]
    return lines
