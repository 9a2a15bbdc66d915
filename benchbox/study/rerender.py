"""Re-render a study's pages from its scores of record, with no training, sampling or scoring.

A committed study folder keeps its scores (``runs/*/scores/*.csv``, ``log.jsonl``,
``leaderboard.csv``) but not its data, checkpoints or clips. :func:`rerender_study` rewrites
``leaderboard.md``/``.html`` from ``leaderboard.csv`` (the rows, scores and marks as they
were computed, reference rows included; a board ranked before the spans were ranked apart is
grouped by span and its ranks numbered within each, every other cell of the CSV kept as written)
and ``report.md``/``.html`` from the runs' scores with this version's layout. The leaderboard's players and thumbnails are kept from the old
page, row by row (run and group), since the clips they play are not on disk.

The report's prose describes the verdict of this checkout's scorer version, so
:func:`rerender_study` refuses a study whose runs were scored with an older version (the
text would describe a verdict the numbers were not computed with); re-score it first.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from benchbox.errors import DataError, ProtocolError
from benchbox.freshness import version_reason
from benchbox.labels import group_label
from benchbox.runs import publish_files
from benchbox.scores_record import read_scores_info

_ROW = re.compile(r'<tr class="[^"]*">(.*?)</tr>', re.S)
_CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)
_RANKED = re.compile(r"Ranked by `(kad|fad)/([\w-]+)`")


def _text(cell: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", cell.replace("<br>", " "))).strip()


def old_media(page: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(run, group) -> (players, thumbnail) HTML of each row of an earlier leaderboard page."""
    media = {}
    for row in _ROW.findall(page):
        cells = _CELL.findall(row)
        tds = re.findall(r"<td[^>]*>", row)
        at = next((i for i, td in enumerate(tds) if 'class="media"' in td), None)
        if at is None or at + 1 >= len(cells):
            continue
        ident = next((i for i, td in enumerate(tds) if 'class="id"' in td), None)
        if ident is not None:  # this layout: run<br>group in one cell
            run, _, group = cells[ident].partition('<span class="group">')
            key = (_text(run), _text(group))
        else:  # the earlier layout: #, kind, run, group
            key = (_text(cells[2]), _text(cells[3]))
        media[key] = (cells[at], cells[at + 1])
    return media


def ranked_by_span(csv: Path) -> str:
    """``leaderboard.csv``'s text with its rows grouped by span and ranked within each
    (:func:`benchbox.leaderboard.rank_within_spans`; the rows are in ranking order already), every
    other cell kept as written, text for text: no score is parsed and printed again."""
    from benchbox.leaderboard import rank_within_spans

    raw = pd.read_csv(csv, dtype=str, keep_default_na=False)
    return rank_within_spans(raw, ranked=bool((raw.get("rank", pd.Series(dtype=str)) != "").any())).to_csv(index=False)


def rerender_board(out: Path) -> None:
    """``leaderboard.md``/``.html`` (and the CSV's ``rank`` and ``span``) again from
    ``leaderboard.csv`` and the old page's media."""
    import io

    from benchbox.leaderboard_render import render_html, render_markdown
    from benchbox.progress import no_progress

    csv, md_path, page_path = out / "leaderboard.csv", out / "leaderboard.md", out / "leaderboard.html"
    if not csv.is_file() or not md_path.is_file():
        raise DataError(f"{out} has no leaderboard.csv and leaderboard.md to re-render", hint="run `benchbox leaderboard` on the study first")
    old_md = md_path.read_text()
    ranked = _RANKED.search(old_md)
    metric, embedder = ranked.groups() if ranked else ("kad", "aisfx")
    notes = [ln[2:] for ln in old_md.split("\n| ", 1)[-1].splitlines() if ln.startswith("- ")]
    rows_csv = ranked_by_span(csv)
    table = pd.read_csv(io.StringIO(rows_csv), keep_default_na=False, na_values=[""]).copy()  # one block: assign() below stays cheap
    media = old_media(page_path.read_text()) if page_path.is_file() else {}
    labels = [group_label(r) for r in table.to_dict("records")]  # the page shows labels; pages before them, keys
    table = table.assign(_media_html=[media.get((str(r), label), media.get((str(r), str(g)), ("", "")))
                                      for r, g, label in zip(table["run"], table["group"], labels)])
    curves = {p.parent.name: p for p in sorted((out / "runs").glob("*/curves.png"))}
    page = render_html(table, embedder, notes, curves, no_progress, metric)
    markdown = render_markdown(table.drop(columns=["_media_html"]), embedder, notes, metric)
    publish_files({csv: rows_csv, md_path: markdown, page_path: page})


def scorer_versions(out: Path) -> dict[str, tuple[int | None, str | None]]:
    """Each run's scorer version from ``runs/<run>/scores/scores.json`` (None: not recorded) and
    :func:`benchbox.freshness.version_reason`'s reason it is not this checkout's (None: it is)."""
    versions = {}
    for path in sorted(Path(out).glob("runs/*/scores/scores.json")):
        info = read_scores_info(path.parent)  # DataError naming the file when it is not a scores record
        versions[path.parent.parent.name] = (info.get("scorer_version"), version_reason(info))
    return versions


def rerender_study(out: Path, command: str = "") -> Path:
    """Both pages of a study folder from its scores of record; returns the report's path.

    Raises ProtocolError when a run was scored with an older scorer version than this
    checkout's (its report text would describe the wrong verdict), naming the runs.
    """
    from benchbox.score import SCORER_VERSION
    from benchbox.study.protocol import load_protocol, study_data_dir
    from benchbox.study.report import write_report

    out = Path(out)
    old = {run: v for run, (v, reason) in scorer_versions(out).items() if reason is not None}
    if old:
        runs = ", ".join(f"{run} (version {v})" for run, v in old.items())
        raise ProtocolError(f"{out}: runs scored with an older scorer than this checkout's version {SCORER_VERSION}: {runs}; "
                            "re-score the study (its clips are needed) before re-rendering its report, or keep its committed pages")
    rerender_board(out)
    proto = load_protocol(out / "protocol.toml")  # no command: the report keeps the previous one (report._reproduce_command)
    data = study_data_dir(proto, out)  # the real clips of the figures and players, where still on disk
    ctx = SimpleNamespace(out=out, proto=proto, command=command, protocol_path=None, data_dir=data if (data / "dataset.json").is_file() else None)
    return write_report(ctx)


def record_previous(committed: Path, out: Path) -> Path:
    """Seed ``out/report_summary.json`` (:mod:`benchbox.study.changes`) with the summary of the
    committed study folder ``committed`` (its scores of record, read as its report reads them),
    so the next report written into ``out`` (a re-run or re-score of that study) says what
    changed against it. Returns the path. Raises ProtocolError when ``out`` already has a summary
    (its record would be lost)."""
    from benchbox.runs import publish_files
    from benchbox.study.changes import SUMMARY_NAME, read_record
    from benchbox.study.protocol import evidence_of, load_protocol, study_data_dir, train_jobs
    from benchbox.study.report import _dataset_kind, collect, summary_of
    from benchbox.study.sampling import at_reference

    committed, out = Path(committed), Path(out)
    if read_record(out)["current"] is not None:
        raise ProtocolError(f"{out / SUMMARY_NAME} already records a report; seeding it would lose that record",
                            hint="record_previous is for a study whose reports predate report_summary.json")
    proto = load_protocol(committed / "protocol.toml")
    clips, groups = collect(committed, [j.run_id for j in train_jobs(proto)])
    smoke = evidence_of(proto, _dataset_kind(study_data_dir(proto, committed)))[0]
    summary = summary_of(committed, at_reference(clips, proto), at_reference(groups, proto), smoke=smoke, proto=proto)
    path = out / SUMMARY_NAME
    publish_files({path: json.dumps({"current": summary, "previous": None}, indent=1) + "\n"})
    return path
