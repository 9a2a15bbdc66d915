"""The report's "study questions" section, from :func:`benchbox.study.analysis.study_answers`.

Every rate is :func:`benchbox.study.analysis.rate_text` of the same clips the findings
table uses (continuation columns; best vs last only on runs whose checkpoints differ), so
the two sections cannot state different values for one quantity.
"""

from __future__ import annotations

import pandas as pd

from benchbox.study.analysis import rate_row_text, rate_text


fmt_rate = rate_row_text  # the report's name for it


def rate_lines(table: pd.DataFrame, label: str) -> list[str]:
    if table.empty:
        return ["(no data)"]
    out = [f"| {label} | rate [95% CI] (k/n) |", "|---|---|"]
    for _, r in table.iterrows():
        out.append(f"| {r.iloc[0]} | {fmt_rate(r)} |")
    return out


PRIMED_USEFUL_CAVEAT = ("The useful rate of a primed row judges the continuation, which starts after the onset: the category model "
                        "and detectors were calibrated on whole clips, and real clips read lower cut the same way (docs/verdict.md, "
                        "\"Primed clips\"; the last column gives this reference's own figures). "
                        "Compare each row with the real clips cut at the same sample (the last column: the reference's held-out val "
                        "and test clips judged as a continuation is, `floor@<ms>ms/useful/auto_rate`; a dash where the scores predate it), "
                        "not with the 0 ms row.")


def primed_useful_lines(table: pd.DataFrame, real: dict) -> list[str]:
    """The useful rate per prime (:func:`benchbox.study.analysis.rate_table` by ``prime_ms``) beside
    ``real[ms]``, the real clips' ``(useful, n)`` cut at the same sample (0: whole; a dash where None or absent)."""
    if table.empty:
        return ["(no data)"]
    out = ["| prime_ms | rate [95% CI] (k/n) | real clips cut there (val + test) |", "|---|---|---|"]
    for _, r in table.iterrows():
        ms = pd.to_numeric(r["prime_ms"], errors="coerce")
        got = real.get(float(ms) if ms > 0 else 0.0)  # NaN or 0: the whole clip
        out.append(f"| {r.iloc[0]} | {fmt_rate(r)} | {'-' if got is None else rate_text(*got)} |")
    return out


def metric_lines(table: pd.DataFrame, label: str, metric: str) -> list[str]:
    if table.empty:
        return []
    out = [f"| {label} | mean `{metric}` | min | max | cells |", "|---|---|---|---|---|"]
    for _, r in table.iterrows():
        out.append(f"| {r.iloc[0]} | {r['mean']:.4g} | {r['min']:.4g} | {r['max']:.4g} | {int(r['cells'])} |")
    return out


def same_span_lines(tables: dict[str, pd.DataFrame]) -> list[str]:
    """Each prime's continuation beside the unprimed clips scored on the same span and kernel
    (``span@<ms>ms/``): the like-for-like reading of the table above, whose 0 ms row is the whole clip."""
    out = []
    for metric, table in tables.items():
        if table.empty:
            continue
        if not out:
            out = ["The 0 ms row above scores the whole clip, on another span and kernel than a continuation. Like with like: each prime's "
                   "continuation beside the same runs' unprimed clips scored from the sample that prime ends at (`span@<ms>ms/`), means over cells:", ""]
        out += [f"| prime_ms | primed `cont/{metric}` | unprimed on the same span | primed - unprimed | cells |", "|---|---|---|---|---|"]
        out += [f"| {r['prime_ms']:g} | {r['primed']:.4g} | {r['unprimed']:.4g} | {r['primed'] - r['unprimed']:+.4g} | {int(r['cells'])} |" for _, r in table.iterrows()]
        out.append("")
    return out


def why_tests_differ(paired: dict, useful: pd.DataFrame, metric: str) -> str:
    """One sentence: why the paired group-metric test and the per-clip rate test can disagree."""
    if not paired or not paired.get("pairs") or useful.empty:
        return ""
    rates = dict(zip(useful.iloc[:, 0].astype(str), useful["rate"]))
    rate_says_best = rates.get("best", 0) > rates.get("last", 0)
    pair_says_best = paired["wins"] > paired.get("losses", paired["pairs"] - paired["wins"])
    agree = "agree on the direction" if rate_says_best == pair_says_best else "point different ways"
    return (f"The two measures {agree}, and they measure different things: the sign test compares each run's mean "
            f"`{metric}` over its cells (how close a cell's clips sit to the real clips as a distribution; "
            f"{paired.get('runs', paired['pairs'])} runs, little power), while the useful rate counts single clips that pass "
            "every detector and the category model: a checkpoint can make fewer usable clips while its clips as a set "
            "sit no further from the real distribution.")


def best_vs_last_lines(ans: dict, useful_metric: str) -> list[str]:
    bl, metric = ans["best_vs_last"], ans.get("rank_metric") or ans["fad_metric"]
    lines = ["### Are best-val checkpoints better than last?", ""]
    for run, sha in ans.get("identical_runs", []):
        lines += [f"**{run}: best and last hold the same weights** (checkpoint sha256 {sha[:12]}): not compared.", ""]
    compared = ans.get("compared_runs", [])
    if not compared:
        which = f"No run of the {ans['scope']}" if ans.get("scope") else "No run"
        return lines + [f"{which} has best and last checkpoints with different weights: there is nothing to test.", ""]
    lines += [f"On the {len(compared)} runs whose best and last differ (the same clips as finding 4):", ""]
    f = bl["fad"]
    if f and f.get("pairs"):
        runs = f.get("runs", f["pairs"])
        lines += [f"Paired cells (same run and prime; {f['pairs']} pairs): best has the lower mean `{metric}` over its cells in "
                  f"{f['wins']} of {runs} runs, last in {f.get('losses', runs - f['wins'])} (mean difference best - last over "
                  f"the cells = {f['mean_diff']:.4g}; sign test over runs p = {f['p_value']:.3g}: a run's cells share its "
                  "weights, so they are not independent pairs).", ""]
    lines += rate_lines(bl["useful"], "checkpoint") + [""]
    why = why_tests_differ(f, bl["useful"], metric)
    return lines + ([why, ""] if why else [])


def answers_markdown(ans: dict) -> list[str]:
    metric = ans.get("rank_metric") or ans["fad_metric"] or "FAD"
    ov = ans["overall_useful"]
    useful = ans.get("useful_metric", "useful/auto")
    scope = ans.get("scope", "")
    lines = ["## The study's questions", "", *([f"On the {scope}, as the seed's findings (the other families are in the families section).", ""] if scope else []),
             f"**Useful samples overall{', on the ' + scope if scope else ''}** (`{useful}`: no artefact flag and a footstep; continuation of primed clips): "
             f"{fmt_rate(ov)}" + (" (the interval is widened by the design effect: clips of one run share its weights)" if ov.get("runs", 1) > 1 else "")
             + ". The original study found fewer than 25% useful, by ear.", ""]
    lines += best_vs_last_lines(ans, useful)
    pr = ans["priming"]
    lines += ["### Does 20/40 ms priming raise fidelity and lower diversity?", "",
              "Judged on the continuation only (the generated part after the copied real prime, against the real "
              "clips cut at the same point); precision is fidelity, recall and coverage are diversity. These are "
              "means over cells; every cell's value with its n and 95% CI is in the verdict tables above.", ""]
    lines += metric_lines(pr["fad"], "prime_ms", pr.get("fad_metric", metric)) + [""]
    lines += same_span_lines(pr.get("same_span", {}))
    for key in ("precision", "recall", "coverage"):
        if key in pr:
            lines += metric_lines(pr[key][1], "prime_ms", pr[key][0]) + [""]
    if pr["diversity_metric"]:
        lines += metric_lines(pr["diversity"], "prime_ms", pr["diversity_metric"]) + [""]
    lines += primed_useful_lines(pr["useful"], pr.get("real_useful", {})) + [""]
    lines += [PRIMED_USEFUL_CAVEAT, ""]
    lines += ["### Does dropout 0.5 give silence?", "", "Share of clips flagged silent:", ""]
    lines += rate_lines(ans["dropout"]["silence"], "dropout") + [""]
    lines += ["### How often are means non-zero and outputs periodic?", ""]
    real = ans.get("artefacts_real", {})
    if real:  # the real clips' rate beside it: a generated rate is only an effect when it differs
        whose = next(iter(real.values()))[2]

        def real_cell(key: str) -> str:
            if key not in real:
                return "-"
            k, n, source = real[key]
            return rate_text(k, n) + ("" if source == whose else f" ({source})")

        runs = f"the {ans['scope']}" if ans.get("scope") else "every run of the study"
        lines += [f"Generated clips: {runs}. Real clips: the rate on {whose}.", "",
                  "| detector | flag rate [95% CI] (k/n) | real clips |", "|---|---|---|"]
        lines += [f"| `{k}` | {fmt_rate(v)} | {real_cell(k)} |" for k, v in ans["artefacts"].items()]
    else:
        lines += ["| detector | flag rate [95% CI] (k/n) |", "|---|---|"]
        lines += [f"| `{k}` | {fmt_rate(v)} |" for k, v in ans["artefacts"].items()]
    if "artefacts_dc_median_abs" in ans:
        key, value = ans["artefacts_dc_median_abs"]
        lines += ["", f"Median |`{key}`| over all clips: {value:.2e}."]
    lines += ["", "### Which quantisation wins?", ""]
    lines += metric_lines(ans["quantisation"]["fad"], "quantisation", metric) + [""]
    lines += rate_lines(ans["quantisation"]["useful"], "quantisation") + [""]
    lines += ["Per generator: see the usefulness verdict's table (the same rates, with what failed).", ""]
    return lines
