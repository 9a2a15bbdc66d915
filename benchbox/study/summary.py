"""The top of a study report: the answer first, then a table of contents.

Inputs are the decided findings (:func:`benchbox.study.seed_findings.all_findings`), the
concatenated ``clips.csv`` (N clips) and ``groups.csv`` (G groups) of the study's runs. The
summary restates numbers the sections compute, never new ones: each line carries the same
text as the section it links to.

Anchors follow GitHub's heading slugs (lower case, punctuation dropped, spaces to ``-``),
so the links work in ``report.md`` on GitHub and in ``report.html`` alike.
"""

from __future__ import annotations

import re

import pandas as pd

from benchbox.metrics.artifacts import DETECTORS
from benchbox.study.analysis import rate_text

CONT = "cont/"
WHAT_IT_SOUNDS_LIKE = {  # useful/reason parts, in words a listener would use
    "dc": "a non-zero mean (DC offset)",
    "silence": "silence",
    "clip": "clipping (flat tops)",
    "click": "one-sample clicks",
    "periodicity": "a steady low tone",
    "transient": "no step-like attack",
    "wall": "a wall of steady noise",
    "dropout": "dropouts (the sound cuts out and comes back)",
    "line": "a ringing spectral line",
    "crackle": "crackle (many small onsets)",
    "burstwall": "a noise wall with late bursts",
    "nan": "NaN samples",
    "unrealistic": "unlike any real step (outside the real clips' k-NN balls)",
    "not-footstep": "not a footstep to the category model (footstep/p under its threshold)",
    "footstep-p-nan": "no footstep/p (the category model gave NaN), so not counted as a footstep",
}
SOUND_LINE_PARTS = 3  # reasons named per generator line
FINDING_SECTIONS = {  # finding number -> the section that details it
    "1": "Usefulness verdict", "2": "How often are means non-zero and outputs periodic?",
    "3": "How often are means non-zero and outputs periodic?", "4": "Are best-val checkpoints better than last?",
    "5": "Does 20/40 ms priming raise fidelity and lower diversity?", "6": "Does dropout 0.5 give silence?",
}


def slug(text: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", text.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def toc(markdown_lines: list[str], extra: list[str] = ()) -> list[str]:
    """A nested list of links to every ``##`` and ``###`` heading (``extra``: HTML-only sections)."""
    out = ["## Contents", ""]
    for line in markdown_lines:
        m = re.match(r"^(#{2,3}) (.+)$", line)
        if m and m.group(2) not in ("Contents", "Summary"):
            indent = "  " * (len(m.group(1)) - 2)
            out.append(f"{indent}- [{m.group(2).replace('`', '')}](#{slug(m.group(2))})")
    out += [f"- {e}" for e in extra]
    return out + [""]


def _link(title: str) -> str:
    return f"[{title}](#{slug(title)})"


def findings_lines(findings: list[dict]) -> list[str]:
    """One line per finding: verdict, metric and the section's own estimate and test."""
    out = []
    for f in findings:
        number = f["finding"].split(".", 1)[0]
        section = FINDING_SECTIONS.get(number, "The seed study's six findings")
        out.append(f"- **{f['verdict']}**: {f['finding']} ({_link(section)}). {f['metric']}: {f['estimate']}; {f['test']}.")
    return out


def _mean(groups: pd.DataFrame, key: str) -> str:
    if key not in groups.columns:
        return "n/a"
    values = pd.to_numeric(groups[key], errors="coerce").dropna()
    if values.empty:
        return "n/a"
    return f"{values.mean():.2f} (mean of {len(values)} cells, {values.min():.2f}-{values.max():.2f})"


def artefact_free(part: pd.DataFrame) -> tuple[int, int]:
    """(k, n): clips no artefact detector flags (on the continuation), the quality axis: every
    detector of the scorer (:data:`benchbox.metrics.artifacts.DETECTORS`), as the scorer's own
    ``quality/artefact_free_rate`` counts them."""
    cols = [c for c in (f"{CONT}{k}/flag" for k in DETECTORS) if c in part.columns] or \
           [c for c in (f"{k}/flag" for k in DETECTORS) if c in part.columns]
    if not cols:
        return 0, 0
    flagged = part[cols].fillna(0).astype(float).sum(axis=1) > 0
    return int((~flagged).sum()), int(len(part))


def category_fit(part: pd.DataFrame, gen: pd.DataFrame) -> str:
    """The category axis when the scores carry it: mean ``footstep/p`` of the run's clips and the
    mean over its cells of ``footstep/share`` (clips above the category model's threshold); else n/a."""
    p = next((c for c in (f"{CONT}footstep/p", "footstep/p") if c in part.columns), None)
    if p is None:
        return "n/a (these scores carry no category model)"
    values = pd.to_numeric(part[p], errors="coerce").dropna()
    if values.empty:
        return "n/a"
    share = next((c for c in (f"{CONT}footstep/share", "footstep/share") if c in gen.columns), None)
    above = f"; above threshold {_mean(gen, share)}" if share else ""
    return f"mean `{p}` {values.mean():.2f} (n = {len(values)}){above}"


def _mean_kad(groups: pd.DataFrame, run: str, embedder: str) -> float:
    gen = groups[(groups.get("kind", pd.Series(dtype=str)) == "generated") & (groups.get("run", pd.Series(dtype=str)) == run)]
    key = f"{CONT}kad/{embedder}" if f"{CONT}kad/{embedder}" in gen.columns else f"kad/{embedder}"
    values = pd.to_numeric(gen[key], errors="coerce").dropna() if key in gen.columns else pd.Series(dtype=float)
    return float(values.mean()) if len(values) else float("inf")


def best_generator(clips: pd.DataFrame, groups: pd.DataFrame, useful: str, embedder: str) -> list[str]:
    """The training run with the highest useful rate (Wilson lower bound; ties: the lowest mean
    continuation KAD over its cells), with its three axes."""
    if clips.empty or useful not in clips.columns or "run" not in clips.columns:
        return []
    from benchbox.stats import wilson_interval

    scored = []
    for run, part in clips.groupby("run", sort=True):
        v = pd.to_numeric(part[useful], errors="coerce")  # a clip without a verdict is in neither k nor n
        k, n_run = int(v.sum()), int(v.notna().sum())
        if n_run == 0:
            continue  # no clip of this run has a verdict: it cannot lead
        scored.append((wilson_interval(k, n_run)[1], -_mean_kad(groups, run, embedder), k, run, part, n_run))
    if not scored:
        return []
    ranked = sorted(scored, key=lambda s: (s[0], s[1]), reverse=True)
    _, neg_kad, k, run, part, n_run = ranked[0]
    gen = groups[(groups.get("kind", pd.Series(dtype=str)) == "generated") & (groups.get("run", pd.Series(dtype=str)) == run)]
    recall, coverage = (_mean(gen, f"{CONT}{m}/{embedder}") for m in ("recall", "coverage"))
    ok, n = artefact_free(part)
    title = "Best generator"
    if any(s[2] for s in scored):
        why = f"highest lower 95% bound of `{useful}`: {rate_text(k, n_run)}"
        if len(ranked) > 1:  # is it separated from the runner-up, or a tie at this n?
            from scipy.stats import fisher_exact

            _, _, k2, run2, _, n2 = ranked[1]
            p = float(fisher_exact([[k, n_run - k], [k2, n2 - k2]])[1])
            if p >= 0.05:
                title = "Leading generator (not a tested win)"
                why += f"; not separated from `{run2}` ({rate_text(k2, n2)}) at this n: Fisher's exact p = {p:.2g}"
            else:
                why += f"; ahead of `{run2}` ({rate_text(k2, n2)}), Fisher's exact p = {p:.2g}"
    else:
        title = "Leading generator (not a tested win)"
        why = (f"no run makes a useful clip ({rate_text(k, n_run)}); the lowest mean continuation KAD "
               f"({embedder}) over its cells, {-neg_kad:.3g}, untested against the others")
    return [f"**{title}**: `{run}` ({why}; {_link('Usefulness verdict')}).", "",
            f"- quality (no artefact flag on the continuation): {rate_text(ok, n)}",
            f"- category fit: {category_fit(part, gen)}",
            f"- diversity (`{embedder}`, continuation): recall {recall}; coverage {coverage}"]


def sound_lines(clips: pd.DataFrame, reason: str) -> list[str]:
    """Per generator, what its clips sound like: the verdict's most common reasons, in words."""
    if reason not in clips.columns or "generator" not in clips.columns:
        return []
    out = []
    for gen, part in clips.groupby("generator", sort=True):
        parts = part[reason].astype(str).str.split("+").explode()
        counts = parts[parts != "ok"].value_counts()
        named = [f"{WHAT_IT_SOUNDS_LIKE.get(r, r)} {100 * c / len(part):.0f}%" for r, c in counts.head(SOUND_LINE_PARTS).items()]
        ok = int((part[reason].astype(str) == "ok").sum())
        out.append(f"- **{gen}** ({len(part)} clips): useful {100 * ok / len(part):.0f}%; " + ("; ".join(named) or "nothing flagged") + ".")
    return out


def summary_section(findings: list[dict], clips: pd.DataFrame, groups: pd.DataFrame, *, useful: str, embedder: str,
                    smoke: str, figures: list[str], scope: str = "") -> list[str]:
    """``## Summary``: smoke banner, the questions with answers, the best generator, the clips in a line each."""
    lines = ["## Summary", ""]
    if smoke:
        lines += [f"> **Smoke test: not evidence.** {smoke[0].upper() + smoke[1:]}. The numbers show that the pipeline "
                  "measures each effect; they decide none of the study's questions.", ""]
    if findings:
        on = f", on the {scope}" if scope else ""
        lines += [f"**The study's questions**, each with its metric, n and test (decided over runs, not clips{on}):", "", *findings_lines(findings), ""]
    lines += best_generator(clips, groups, useful, embedder) + [""]
    sound = sound_lines(clips, useful.replace("useful/auto", "useful/reason"))
    if sound:
        where = ", ".join(_link(f) for f in figures) or "the figures"
        lines += [f"**What the clips sound like** (share of each generator's clips per verdict reason; hear and see them in {where}):", "", *sound, ""]
    return lines
