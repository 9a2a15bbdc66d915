"""The leaderboard's two renderings: ``leaderboard.md`` and ``leaderboard.html``.

Legend: G leaderboard rows.

Both show one table per span a row is scored on (:func:`span_ms`): whole clips first (unprimed
generations and the reference rows), then the continuation after each prime length, shortest
first. FAD/KAD on different spans are measured against different cuts of the real clips with
different kernels, so they are not on one scale: a rank compares only rows of one table.

The page is self-contained (inline CSS/JS, audio and images as base64 data URIs) and fits a
1366 px window: the row's identity (run, then group) is one sticky first column, so the
table can scroll sideways inside its box while the reader still sees which row is which; a
CI wraps under its value. A row may carry ``_media_html`` (players, thumbnail) from an
earlier page when its clips are no longer on disk (a committed study re-rendered).
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from benchbox.errors import AudioError
from benchbox.labels import group_label
from benchbox.metrics.artifacts import DETECTORS
from benchbox.progress import Progress
from benchbox.score import decode
from benchbox.score_clip_verdict import CONT, verdict_prefix
from benchbox.score_floor import floor_useful_text
from benchbox.score_verdict import floor_span_key
from benchbox.stats import CI_ONLY, CLOSER, CLOSER_ALPHA, DIFFERS_CI, INDISTINGUISHABLE, SEPARATED, TWO_SAMPLE_ALPHA, nn1_text, two_sample_of

VS_FLOOR = "vs_floor"
NOTE = "note"  # a row's own notes (benchbox.score_notes.row_notes: clips off the reference's length, files that did not decode)
NOTE_MARK = "(!)"  # after the group of a row with a note; the board's notes under the table start with it and say what

# What the bracketed intervals are (docs/metrics.md): not all of them are 95% CIs of a population value.
INTERVALS_LEGEND = ("KAD: jackknife 95% CI at the shared kernel; FAD: jackknife 95% interval of the FAD at the row's n "
                    "(FAD is biased upward at small n: not a CI for the population value, compare FADs at equal n); "
                    "recall/coverage: bootstrap over clips with the k-NN radii fixed, narrower than a full CI.")


WHOLE_CLIP = "whole clip"


def span_ms(prime_ms) -> float:
    """The span a row is scored and ranked on, as its prime in ms: 0 for the whole clip (an
    unprimed row; a reference row, whose ``prime_ms`` is empty), else the continuation after it."""
    try:
        ms = float(prime_ms)
    except (TypeError, ValueError):  # "" or None: a reference row
        return 0.0
    return ms if math.isfinite(ms) and ms > 0 else 0.0


def span_label(ms: float) -> str:
    """The ``span`` column: ``whole clip`` or ``continuation after a 20 ms prime``."""
    return WHOLE_CLIP if ms == 0 else f"continuation after a {ms:g} ms prime"


def by_span(table: pd.DataFrame) -> list[tuple[float, pd.DataFrame]]:
    """(span in ms, its rows in table order) per span, whole clips first, then by prime length."""
    spans = table.get("prime_ms", pd.Series(np.nan, index=table.index)).map(span_ms)
    return [(ms, table[spans == ms]) for ms in sorted(spans.unique())]


def fmt_ci(value, lo=None, hi=None, digits: int = 3) -> str:
    """``12.3 [10.1, 14.8]``; ``n/a`` when the value is missing; no brackets without a CI."""
    if not _finite(value):
        return "n/a"  # never a guessed number
    if not (_finite(lo) and _finite(hi)):
        return f"{value:.{digits}g}"
    return f"{value:.{digits}g} [{lo:.{digits}g}, {hi:.{digits}g}]"


def _finite(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(float(value))


def _display_columns(table: pd.DataFrame, embedder: str, metric: str = "kad", ms: float = 0.0) -> list[tuple[str, str]]:
    """(header, base key) pairs of the table of span ``ms`` (:func:`span_ms`): a base key with
    ``/lo`` ``/hi`` siblings renders with its CI. A header that names a metric key names the one
    whose figure the column shows, as leaderboard.csv spells it: in a continuation's table the
    distances are the ``cont/`` ones (``cont/kad/aisfx``; leaderboard.csv's ``kad/aisfx`` is a
    primed row's whole clip, real prime included); in the whole-clip table, where a row's
    continuation is its whole clip, the plain ones (``kad/aisfx``). ``diversity/<e>`` is always the whole
    clip's (real prime included: there is no ``cont/`` diversity), and a continuation's table says so;
    its quality and category columns are headed by the ``cont/`` keys they show (``cont/footstep/p_mean``)."""
    span = CONT if ms else ""
    cols = [("#", "rank"), ("kind", "kind"), ("run", "run"), ("group", "group"), ("n", "n")]
    ordered = sorted({c.split("/")[1] for c in table.columns if c.startswith(("fad/", "kad/"))}, key=lambda e: e != embedder)
    other = "fad" if metric == "kad" else "kad"
    for e in ordered:
        cols += [(f"{span}{metric}/{e}", f"rank/{metric}/{e}"), (f"{span}{other}/{e}", f"rank/{other}/{e}"),
                 (f"diversity/{e}" + (" (whole clip)" if ms else ""), f"diversity/{e}")]  # no cont/ diversity exists: say whose it is
        if e == embedder:
            cols += [("vs floor", VS_FLOOR), (f"1-NN acc (p), {e}", f"nn1/{e}")]
    pfx = verdict_prefix(table.columns)
    cols.append(("useful/auto (continuation)" if pfx else "useful/auto", f"{pfx}useful/auto_rate"))
    named = pfx if ms else ""  # a continuation's table names the cont/ keys it shows; the whole-clip table's rows are their whole clips
    axes = [(f"quality: {named}quality/artefact_free_rate" if named else "quality: artefact-free", f"{pfx}quality/artefact_free_rate"),
            (f"category: {named}footstep/p_mean" if named else "category: mean footstep/p", f"{pfx}footstep/p_mean"),
            (f"diversity: {named}coverage/{embedder}", f"{pfx}coverage/{embedder}")]  # the three axes, one column each to fit 1366 px
    # (footstep/share and recall are in leaderboard.csv and the report's three-axes table; docs/verdict.md)
    cols += [(h, k) for h, k in axes if k in table.columns]
    if "useful/human_rate" in table.columns:
        cols.append(("useful/human", "useful/human_rate"))
    return cols


def _heading(embedder: str, metric: str) -> str:
    if not embedder:
        return ("Unranked: the runs were scored without an embedder (detectors only), so there is no distance to the real "
                "clips to rank by. Rows are listed in a fixed order, one table per span (whole clips, then each prime's continuation): "
                "the real floor, each run's groups, then the reference rows. "
                "Score the runs with an embedder (e.g. `--embedder aisfx,mel`) to rank them.")
    what = ("unbiased KAD (MMD^2, Gaussian kernel; bandwidth the real test clips' median distance, "
            "one kernel per span: whole clips, and each prime's continuation (bandwidth from the real clips' same span); a primed row's *vs floor* mark compares it with the floor on its own span and kernel (real val vs real test from the same sample))"
            if metric == "kad" else "FAD")
    return (f"Ranked by `{metric}/{embedder}`, the {what} to the real test split (lower is closer), on the continuation: "
            "a primed clip is scored without its real prime, against the reference clips' same span, so the continuation tables "
            f"show `cont/{metric}/{embedder}` (leaderboard.csv's `{metric}/{embedder}` is a primed row's whole clip, real prime included). Each span has its own table and its own ranking: whole clips (unprimed generations and the "
            "reference rows) first, then the continuation after each prime length; distances on different spans are measured "
            "against different cuts of the real clips with different kernels, so a rank never compares rows of two tables. "
            f"Intervals in brackets: {INTERVALS_LEGEND} *vs floor* compares the row's `{metric}` CI with the real floor's "
            f"(real val vs real test): \"{DIFFERS_CI}\" when they do not overlap; when they do, \"{INDISTINGUISHABLE}\" if the "
            f"1-NN two-sample test does not tell the row's clips from real ones (p >= {TWO_SAMPLE_ALPHA:g}), \"{SEPARATED}\" if "
            f"it does, \"{CLOSER}\" if its accuracy is below chance at p > {1 - CLOSER_ALPHA:g} (each clip's nearest neighbour a test clip), "
            f"and \"{CI_ONLY}\" where it was not run. *1-NN acc* is that test's balanced leave-one-out accuracy of "
            "telling the row's clips from the real test clips (about 0.5 when they cannot be told apart; with tens of clips, "
            "values down to about 0.3 are chance too) with its permutation p-value.")


def _markdown_inline(text: str) -> str:
    """One line of Markdown as HTML (code spans, emphasis; raw HTML escaped)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).renderInline(text)


def _cell(row: dict, key: str) -> tuple[str, str]:
    """(display text, sort value) of one cell."""
    value = row.get(key)
    if key == "group":  # without the axes the row's generator does not have; marked when the row has a note
        return group_label(row) + (f" {NOTE_MARK}" if _noted(row) else ""), group_label(row)
    if key.startswith(("useful/", "cont/useful/", "quality/", "cont/quality/", "footstep/", "cont/footstep/")):
        stem = key.rsplit("_", 1)[0]
        return fmt_ci(value, row.get(f"{stem}_lo"), row.get(f"{stem}_hi"), 2), (f"{value}" if _finite(value) else "")
    if key.startswith("nn1/"):  # the continuation's test; the whole clip's only for unprimed rows
        acc, p = two_sample_of(row, key.split("/", 1)[1])
        return (nn1_text(acc, p), f"{acc}") if _finite(acc) else ("", "")
    if key.startswith(("fad/", "kad/", "rank/", "recall/", "coverage/", "cont/recall/", "cont/coverage/")):
        return fmt_ci(value, row.get(f"{key}/lo"), row.get(f"{key}/hi")), (f"{value}" if _finite(value) else "")
    if _finite(value):
        return (fmt_ci(value) if isinstance(value, (float, np.floating)) else str(value)), f"{value}"
    return ("" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)), ""


def _span_intro(ms: float, table: pd.DataFrame, embedder: str, metric: str) -> tuple[str, str]:
    """(title, one line of Markdown) of a span's table: which span its rows are scored on, the real
    clips' useful rate on it (:func:`_real_useful`) and, for a continuation, the real floor on that
    span that its *vs floor* marks compare with."""
    floor = table[table["kind"] == "floor"] if "kind" in table.columns else table.iloc[:0]
    value = floor.iloc[0].to_dict() if not floor.empty else {}
    real = _real_useful(value, ms) if value else ""
    if ms == 0:
        return ("Whole clips: unprimed generations and the reference rows",
                "Each row's whole clip against the real test clips" + (", with the whole-clip kernel; ranked among these rows only." if embedder else ".") + real)
    what = f"The generated part after the {ms:g} ms prime against the real test clips from the same sample on"
    if not embedder:
        return f"Continuation after a {ms:g} ms prime", what + "." + real
    key = floor_span_key(ms, metric, embedder)
    if floor.empty:
        shown = "No real floor row on this board: no *vs floor* marks."
    elif _finite(value.get(key + "/lo")) and _finite(value.get(key + "/hi")):  # the interval floor_intervals compares with
        shown = (f"Real floor on this span (val vs test): `{key}` {fmt_ci(value.get(key), value.get(key + '/lo'), value.get(key + '/hi'))}; "
                 "the *vs floor* marks compare with it.")
    else:
        shown = "These scores carry no floor interval on this span: the *vs floor* marks compare with the whole-clip floor."
    return f"Continuation after a {ms:g} ms prime", f"{what}, with this span's own kernel; ranked among these rows only (the ranks restart). {shown}{real}"


def _real_useful(floor: dict, ms: float) -> str:
    """One sentence: the useful rate of the reference's held-out real clips (val + test) cut where this
    span starts, judged as a continuation is (``floor@<ms>ms/useful/``, :mod:`benchbox.score_floor`;
    the whole clips for span 0); a dash where the floor row lacks it (scores written before it)."""
    where = "whole" if ms == 0 else f"cut where a {ms:g} ms prime ends"
    return (f" Real clips {where} (the reference's held-out val + test clips, judged as these rows are): `useful/auto` "
            f"{floor_useful_text(floor, ms)}" + ("" if ms == 0 else ", the like-for-like of this table's useful column (real audio reads "
                                                  "lower cut after its onset: compare with this, not with the whole clips' rate)") + ".")


def render_markdown(table: pd.DataFrame, embedder: str, notes: list[str], metric: str = "kad") -> str:
    """The Markdown page: the heading, one table per span (:func:`by_span`), the notes."""
    lines = ["# benchbox leaderboard", "", _heading(embedder, metric), ""]
    for ms, rows in by_span(table):
        cols = _display_columns(table, embedder, metric, ms)
        title, intro = _span_intro(ms, table, embedder, metric)
        lines += [f"## {title}", "", intro, ""]
        lines.append("| " + " | ".join(h for h, _ in cols) + " | flags |")
        lines.append("|" + "---|" * (len(cols) + 1))
        for row in rows.to_dict("records"):
            cells = [_cell(row, key)[0].replace("|", "\\|") for _, key in cols]
            lines.append("| " + " | ".join(cells) + f" | {_flags(row)} |")
        lines.append("")
    lines += ["## Notes", "", *(f"- {n}" for n in notes)] if notes else []  # the board's notes, not the last span's
    return "\n".join(lines) + "\n"


def _flags(row: dict) -> str:
    """Detector flag rates on the span the row is judged on: the continuation's
    (``cont/<d>/flag_rate``) where the row has them (a primed clip's real prime is not the
    generator's work, and the useful and quality columns beside it are the continuation's),
    else the whole clip's."""
    cont = {d: row[f"cont/{d}/flag_rate"] for d in DETECTORS if _finite(row.get(f"cont/{d}/flag_rate"))}
    whole = {d: row[f"{d}/flag_rate"] for d in DETECTORS if _finite(row.get(f"{d}/flag_rate"))}  # not the floor's real/<d> rates
    rates = {k: v for k, v in (cont or whole).items() if v > 0}
    return " ".join(f"{k} {v:.0%}" for k, v in rates.items()) or "none"


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _wav_uri(path: str) -> str:
    wave, rate = decode(Path(path))  # (T,)
    buf = io.BytesIO()
    sf.write(buf, np.clip(np.nan_to_num(wave), -1.0, 1.0), rate, subtype="PCM_16", format="WAV")
    return _data_uri("audio/wav", buf.getvalue())


def spectrogram_png(path: str) -> bytes:
    """A thumbnail on the one fixed scale stated under the table (``plots.THUMB_SCALE_NOTE``)."""
    from benchbox.plots import spectrogram_thumb_png

    wave, rate = decode(Path(path))  # (T,)
    return spectrogram_thumb_png(wave, rate)


def _media_html(paths: list[str]) -> tuple[str, str]:
    """Audio players and a spectrogram for a row; nothing when a clip cannot be decoded."""
    try:
        return _players_and_thumb(paths)
    except AudioError:
        return "", ""


def _players_and_thumb(paths: list[str]) -> tuple[str, str]:
    players = "".join(f'<audio controls preload="none" src="{_wav_uri(p)}"></audio>' for p in paths)
    thumb = f'<img alt="spectrogram" src="{_data_uri("image/png", spectrogram_png(paths[0]))}">' if paths else ""
    return players, thumb


MEDIA_AFTER = "n"  # the audio and spectrogram columns follow this one, so they stay in view


def _html_cell(text: str, sort: str) -> str:
    """A table cell; a CI ``v [lo, hi]`` wraps onto a second line so wide tables fit the window."""
    value, sep, ci = text.partition(" [")
    shown = _breakable(value) + (f'<br><span class="ci">[{html.escape(ci).replace(", ", ",<wbr> ")}</span>' if sep else "")
    return f'<td data-sort="{html.escape(sort)}">{shown}</td>'


def _id_cell(row: dict) -> str:
    """The row's identity, kept in view while the table scrolls sideways: run, then group (marked
    when the row has a note, which its tooltip shows; the notes under the table say it too)."""
    run, group = str(row.get("run", "")), group_label(row)
    mark = f' <span class="note" title="{html.escape(str(row[NOTE]))}">{NOTE_MARK} see the notes</span>' if _noted(row) else ""
    return f'<td class="id" data-sort="{html.escape(run)}">{_breakable(run)}<br><span class="group">{_breakable(group)}</span>{mark}</td>'


def _noted(row: dict) -> bool:
    note = row.get(NOTE)
    return isinstance(note, str) and bool(note)


def _breakable(text: str) -> str:
    """Escaped text that may wrap after each '/' and '_' (group keys, run names, metric headers)."""
    return html.escape(text).replace("/", "/<wbr>").replace("_", "_<wbr>")


def _row_html(row: dict, cols: list[tuple[str, str]], split: int) -> str:
    """One ``<tr>``: the cells of ``cols``, with the players and thumbnail after the first ``split``."""
    cells = [_id_cell(row) if key == "run" else _html_cell(*_cell(row, key)) for _, key in cols]
    kept = row.get("_media_html")  # players and thumbnail of a page re-rendered without its clips
    players, thumb = kept if isinstance(kept, tuple) else _media_html([p for p in row.get("_media", []) if Path(p).is_file()])
    cells = cells[:split] + [f'<td class="media">{players}</td>', f"<td>{thumb}</td>"] + cells[split:]
    cells.append(f"<td>{html.escape(_flags(row))}</td>")
    return f'<tr class="{html.escape(str(row.get("kind", "")))}">' + "".join(cells) + "</tr>"


def render_html(table: pd.DataFrame, embedder: str, notes: list[str], curves: dict[str, Path], progress: Progress, metric: str = "kad") -> str:
    """The self-contained page: sortable table, audio, spectrograms, loss curves."""
    from benchbox.plots import THUMB_SCALE_NOTE

    boards, done = [], 0
    for ms, rows in by_span(table):  # one table per span: a rank compares rows of one span only
        cols = [c for c in _display_columns(table, embedder, metric, ms) if c[1] not in ("kind", "group")]  # shading says the kind
        split = [h for h, k in cols].index(MEDIA_AFTER) + 1
        heads = ['<th class="id">run / group</th>' if k == "run" else f"<th>{_breakable(h)}</th>" for h, k in cols]
        head = "".join(heads[:split]) + "<th>audio</th><th>spectrogram</th>" + "".join(heads[split:]) + "<th>flags</th>"
        body = []
        for row in rows.to_dict("records"):
            body.append(_row_html(row, cols, split))
            done += 1
            progress("render", done, len(table))
        title, intro = _span_intro(ms, table, embedder, metric)
        boards.append(f"<h2>{html.escape(title)}</h2>\n<p>{_markdown_inline(intro)}</p>\n"
                      f'<div class="board"><table><thead><tr>{head}</tr></thead>\n<tbody>\n' + "\n".join(body) + "\n</tbody></table></div>")
    figures = "".join(
        f"<figure><figcaption>Loss curves of {html.escape(name)}: NLL in bits / sample and accuracy against step</figcaption>"
        f'<img alt="loss curves of {html.escape(name)}" src="{_data_uri("image/png", path.read_bytes())}"></figure>'
        for name, path in curves.items()
    )
    notes_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return _PAGE.format(
        heading=_markdown_inline(_heading(embedder, metric)), boards="\n".join(boards), notes=notes_html, scale=html.escape(THUMB_SCALE_NOTE),
        curves=figures or "<p>no run has a curves.png</p>", script=_SCRIPT,
    )  # fmt: skip


_SCRIPT = """
function sortValue(row, col) {
  const cell = row.cells[col];
  const raw = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent;
  if (raw === "") return null;
  const num = Number(raw);
  return Number.isNaN(num) ? raw.toLowerCase() : num;
}
function sortTable(th) {
  const table = th.closest("table"), body = table.tBodies[0];
  const col = Array.from(th.parentNode.children).indexOf(th);
  const asc = th.dataset.dir !== "asc";
  table.querySelectorAll("th").forEach(h => delete h.dataset.dir);
  th.dataset.dir = asc ? "asc" : "desc";
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = sortValue(a, col), y = sortValue(b, col);
    if (x === null || y === null) return (x === null) - (y === null);
    const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return asc ? order : -order;
  });
  rows.forEach(r => body.appendChild(r));
}
document.querySelectorAll("th").forEach(th => th.addEventListener("click", () => sortTable(th)));
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>benchbox leaderboard</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1em; color: #222; }}
.board {{ overflow-x: auto; }}
table {{ border-collapse: collapse; font-size: 0.75em; }}
td .ci {{ color: #666; font-size: 0.9em; }}
.board .id {{ position: sticky; left: 0; z-index: 1; background: #fff; min-width: 10em; box-shadow: 1px 0 0 #ccc; }}
.board th.id {{ z-index: 2; background: #f0f0f0; }}
.board .id .group {{ color: #555; }}
.board .id .note {{ color: #a40; white-space: nowrap; }}
tr.floor .id, tr.synth .id, tr.noise .id, tr.silence .id {{ background: #fff8e0; }}
td.media {{ min-width: 9.5em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.35em; vertical-align: middle; }}
th {{ background: #f0f0f0; cursor: pointer; user-select: none; position: sticky; top: 0; }}
th[data-dir="asc"]::after {{ content: " \\25B2"; }}
th[data-dir="desc"]::after {{ content: " \\25BC"; }}
tr.floor, tr.synth, tr.noise, tr.silence {{ background: #fff8e0; }}
audio {{ width: 9.5em; height: 2em; display: block; }}
td img {{ width: 100px; height: auto; display: block; }}
figure {{ display: inline-block; margin: 0.5em; max-width: 100%; }}
figure img {{ max-width: 100%; }}
figcaption {{ font-size: 0.9em; margin-bottom: 0.3em; }}
</style></head><body>
<h1>benchbox leaderboard</h1>
<p>{heading}
Click a column header to sort its table. Shaded rows are references: real floor (val vs test), procedural corpus, white noise, silence.</p>
<p>{scale}</p>
<ul>{notes}</ul>
{boards}
<h2>Loss curves</h2>
{curves}
<script>{script}</script>
</body></html>
"""
