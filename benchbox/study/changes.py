"""What changed since a study's previous report: per-run scores (content hash, scorer version,
useful clips) and the findings' verdicts, before and after a re-score or re-run.

Each report writes ``report_summary.json`` beside it: ``{"current": S, "previous": S | null}``,
where S is :func:`study_summary` of the scores it describes. A new report whose summary differs
from the file's ``current`` moves that to ``previous``; one that matches (a re-render of the same
scores) keeps the file's ``previous``, so the last change stays on the page until the next one.
S holds each run's ``clips.csv`` sha256, so a summary is tied to the scores it describes, and the
findings keyed by number with their undecorated verdicts (a smoke-test label or a reworded title
is not a change). S also records ``verdict_labels`` (:data:`VERDICT_LABELS`): a summary without
it predates the ``not tested`` verdict, when an untested finding read ``inconclusive at this n``;
such a pair is read as a relabel, never as a change in the evidence (:func:`next_record`,
:func:`changes_markdown`). A study whose reports predate this module gets a first summary from its
committed folder with :func:`benchbox.study.rerender.record_previous`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from benchbox.study.seed_findings import INCONCLUSIVE, NOT_TESTED

SUMMARY_NAME = "report_summary.json"
USEFUL = "cont/useful/auto"
VERDICT_LABELS = 2  # 2: an untested finding reads NOT_TESTED; 1 (no key: summaries before it): it read INCONCLUSIVE
RELABELLED = f"{INCONCLUSIVE} (earlier reports' label for an untested finding)"


def _scores_info(out: Path, run: str) -> tuple[int | None, str | None]:
    """A run's scorer version (scores.json) and its clips.csv sha256; None where unreadable."""
    folder = Path(out) / "runs" / run / "scores"
    try:
        version = json.loads((folder / "scores.json").read_text()).get("scorer_version")
    except (OSError, ValueError, AttributeError):
        version = None
    try:
        digest = hashlib.sha256((folder / "clips.csv").read_bytes()).hexdigest()
    except OSError:
        digest = None
    return (version if isinstance(version, int) else None), digest


def finding_key(title: str) -> str:
    """``"5"`` for ``"5. 20/40 ms primes ..."``: a finding's number, else its whole title."""
    head = str(title).split(".", 1)[0]
    return head if head.isdigit() else str(title)


def study_summary(out: Path, clips: pd.DataFrame, findings: list[dict], *, smoke: bool) -> dict:
    """``{"runs": {run: {scorer_version, clips_sha256, clips, useful}}, "findings": {key: verdict},
    "smoke": bool}``: over ``clips`` (N rows with a ``run`` column: the report's clips, at the
    reference sampling setting), each run's scorer version, scores hash, clip count and
    ``cont/useful/auto`` count, and each finding's verdict as decided (``findings`` without the
    smoke label; ``smoke`` says the study's verdicts are not evidence)."""
    runs = {}
    if not clips.empty and "run" in clips.columns:
        for run, part in clips.groupby("run", sort=True):
            useful = int(pd.to_numeric(part[USEFUL], errors="coerce").fillna(0).sum()) if USEFUL in part.columns else None
            version, digest = _scores_info(out, str(run))
            runs[str(run)] = {"scorer_version": version, "clips_sha256": digest, "clips": int(len(part)), "useful": useful}
    return {"runs": runs, "findings": {finding_key(f["finding"]): str(f["verdict"]) for f in findings}, "smoke": bool(smoke),
            "verdict_labels": VERDICT_LABELS}


def _labels(summary: dict) -> int:
    labels = summary.get("verdict_labels", 1)
    return labels if isinstance(labels, int) else 1


def _relabelled(before: dict, f: str, now_verdict: str | None) -> bool:
    """Whether finding ``f`` read INCONCLUSIVE in ``before`` only because ``before`` predates
    NOT_TESTED: ``before`` has older labels and the finding reads NOT_TESTED now."""
    return _labels(before) < VERDICT_LABELS and before.get("findings", {}).get(f) == INCONCLUSIVE and now_verdict == NOT_TESTED


def _same_scores(old: dict | None, current: dict) -> bool:
    """Whether ``old`` describes the scores ``current`` does: equal, once an older summary's
    untested findings (INCONCLUSIVE where ``current`` reads NOT_TESTED) read with today's label."""
    if old is None:
        return False
    findings = {f: current["findings"][f] if _relabelled(old, f, current["findings"].get(f)) else v for f, v in old["findings"].items()}
    return _unlabelled({**old, "findings": findings}) == _unlabelled(current)


def _unlabelled(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "verdict_labels"}


def valid_summary(value) -> bool:
    """Whether ``value`` has :func:`study_summary`'s shape (a hand-edited or foreign file does not)."""
    if not isinstance(value, dict) or not isinstance(value.get("runs"), dict) or not isinstance(value.get("findings"), dict):
        return False
    for run in value["runs"].values():
        if not isinstance(run, dict) or not isinstance(run.get("clips"), int) or not isinstance(run.get("useful"), (int, type(None))):
            return False
        if not isinstance(run.get("scorer_version"), (int, type(None))):
            return False
    if not isinstance(value.get("verdict_labels", 1), int):
        return False
    return all(isinstance(v, str) for v in value["findings"].values())


def read_record(out: Path) -> dict:
    """``out``'s ``report_summary.json``; an unreadable or malformed file (or part) counts as none."""
    try:
        old = json.loads((Path(out) / SUMMARY_NAME).read_text())
    except (OSError, ValueError):
        return {"current": None, "previous": None}
    old = old if isinstance(old, dict) else {}
    return {k: old.get(k) if valid_summary(old.get(k)) else None for k in ("current", "previous")}


def next_record(out: Path, current: dict) -> dict:
    """The ``report_summary.json`` to publish with a report of ``current``. A re-render of the
    same scores keeps the file's ``previous``, also when only the verdict labels moved on
    (:func:`_same_scores`): the last change stays on the page."""
    old = read_record(out)
    previous = old["previous"] if _same_scores(old["current"], current) else old["current"]
    return {"current": current, "previous": previous}


def _rate(run: dict | None) -> str:
    if not run or run.get("useful") is None:
        return "-"
    n = run["clips"]
    return f"{run['useful']}/{n} ({100.0 * run['useful'] / n:.1f}%)" if n else "0/0"


def _version(run: dict | None) -> str:
    return "-" if not run or run.get("scorer_version") is None else str(run["scorer_version"])


def changes_markdown(record: dict) -> list[str]:
    """The report's "What changed since the previous report" section; [] without a previous
    summary. One row per run whose scores changed (scorer version and useful clips, before and
    now) and one per finding whose verdict changed (not shown when either report is a smoke test,
    whose verdicts are not evidence). A finding that read INCONCLUSIVE in a summary older than
    NOT_TESTED and reads NOT_TESTED now is shown as the relabel it is (:data:`RELABELLED`)."""
    before, now = record.get("previous"), record.get("current") or {}
    if not before:
        return []
    b_runs, n_runs = before.get("runs", {}), now.get("runs", {})
    changed = [r for r in sorted(set(b_runs) | set(n_runs)) if b_runs.get(r) != n_runs.get(r)]
    lines = ["## What changed since the previous report", "",
             "The summary stored with the previous report (by the benchbox that wrote it) against this one's, over the clips at "
             "the reference sampling setting: each run whose scores changed (`cont/useful/auto` counts the continuation of "
             "primed clips; a scorer version change re-decides every clip).", "",
             "| run | scorer version: before | now | useful: before | now |", "|---|---|---|---|---|"]
    lines += [f"| {r} | {_version(b_runs.get(r))} | {_version(n_runs.get(r))} | {_rate(b_runs.get(r))} | {_rate(n_runs.get(r))} |" for r in changed]
    lines += [""] if changed else ["| (none) | | | | |", ""]
    if before.get("smoke") or now.get("smoke"):
        return lines + ["The findings are not compared: a smoke-test study's verdicts are not evidence.", ""]
    b_find, n_find = before.get("findings", {}), now.get("findings", {})
    moved = [(f, RELABELLED if _relabelled(before, f, n_find.get(f)) else b_find.get(f, "-"), n_find.get(f, "-"))
             for f in dict.fromkeys([*b_find, *n_find]) if b_find.get(f) != n_find.get(f)]
    if moved:
        return lines + ["| finding | verdict before | now |", "|---|---|---|", *[f"| {f} | {b} | {n} |" for f, b, n in moved], ""]
    return lines + ["No finding's verdict changed.", ""]
