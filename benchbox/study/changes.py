"""What changed since a study's previous report: per-run scorer version and useful rate, and the
findings' verdicts, before and after a re-score or re-run.

Each report writes ``report_summary.json`` beside it: ``{"current": S, "previous": S | null}``,
where S is :func:`study_summary` of the scores it describes. A new report whose summary differs
from the file's ``current`` moves that to ``previous``; one that matches (a re-render of the same
scores) keeps the file's ``previous``, so the last change stays on the page until the next one.
A study that never had a summary (reports written before this module) can get one from its
committed folder with :func:`record_previous`, so its first re-scored report says what changed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

SUMMARY_NAME = "report_summary.json"
USEFUL = "cont/useful/auto"


def _scorer_version(out: Path, run: str) -> int | None:
    path = Path(out) / "runs" / run / "scores" / "scores.json"
    try:
        return json.loads(path.read_text()).get("scorer_version")
    except (OSError, ValueError):
        return None


def study_summary(out: Path, clips: pd.DataFrame, findings: list[dict]) -> dict:
    """``{"runs": {run: {scorer_version, clips, useful}}, "findings": {finding: verdict}}``: each
    run's scorer version (None: not recorded), clip count and ``cont/useful/auto`` count over
    ``clips`` (N rows with a ``run`` column), and each finding's verdict."""
    runs = {}
    if not clips.empty and "run" in clips.columns:
        for run, part in clips.groupby("run", sort=True):
            useful = int(pd.to_numeric(part[USEFUL], errors="coerce").fillna(0).sum()) if USEFUL in part.columns else None
            runs[str(run)] = {"scorer_version": _scorer_version(out, str(run)), "clips": int(len(part)), "useful": useful}
    return {"runs": runs, "findings": {str(f["finding"]): str(f["verdict"]) for f in findings}}


def next_record(out: Path, current: dict) -> dict:
    """The ``report_summary.json`` to publish with a report of ``current``; an unreadable or
    malformed file counts as none."""
    try:
        old = json.loads((Path(out) / SUMMARY_NAME).read_text())
    except (OSError, ValueError):
        old = {}
    old = old if isinstance(old, dict) else {}
    previous = old.get("previous") if old.get("current") == current else old.get("current")
    return {"current": current, "previous": previous if isinstance(previous, dict) else None}


def record_previous(committed: Path, out: Path, clips: pd.DataFrame, findings: list[dict]) -> Path:
    """Write ``out/report_summary.json`` whose ``current`` is the summary of ``committed``'s scores
    (``clips`` and ``findings`` read from them, e.g. with :func:`benchbox.study.report.collect`),
    so the next report written into ``out`` lists what changed against it. Returns the path."""
    from benchbox.runs import publish_files

    path = Path(out) / SUMMARY_NAME
    publish_files({path: json.dumps({"current": study_summary(committed, clips, findings), "previous": None}, indent=1) + "\n"})
    return path


def _rate(run: dict | None) -> str:
    if not run or run.get("useful") is None:
        return "-"
    n = run["clips"]
    return f"{run['useful']}/{n} ({100.0 * run['useful'] / n:.1f}%)" if n else "0/0"


def changes_markdown(record: dict) -> list[str]:
    """The report's "What changed since the previous report" section; [] without a previous
    summary. One row per run (scorer version and useful clips, before and now) and one per
    finding whose verdict changed."""
    before, now = record.get("previous"), record.get("current") or {}
    if not before:
        return []
    b_runs, n_runs = before.get("runs", {}), now.get("runs", {})
    lines = ["## What changed since the previous report", "",
             "The previous report's scores against these, as this version of benchbox reads both (a scorer version "
             "change re-decides every clip; `cont/useful/auto` counts the continuation of primed clips).", "",
             "| run | scorer version: before | now | useful: before | now |", "|---|---|---|---|---|"]
    for run in sorted(set(b_runs) | set(n_runs)):
        b, n = b_runs.get(run), n_runs.get(run)
        version = lambda r: "-" if not r or r.get("scorer_version") is None else str(r["scorer_version"])  # noqa: E731
        lines.append(f"| {run} | {version(b)} | {version(n)} | {_rate(b)} | {_rate(n)} |")
    b_find, n_find = before.get("findings", {}), now.get("findings", {})
    moved = [(f, b_find.get(f, "-"), n_find.get(f, "-")) for f in list(dict.fromkeys([*b_find, *n_find])) if b_find.get(f) != n_find.get(f)]
    lines += [""]
    if moved:
        lines += ["| finding | verdict before | now |", "|---|---|---|", *[f"| {f} | {b} | {n} |" for f, b, n in moved], ""]
    else:
        lines += ["No finding's verdict changed.", ""]
    return lines
