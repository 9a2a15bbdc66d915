"""One name, one figure: a leaderboard.md / .html column headed by a metric key shows that key's
figure as leaderboard.csv (and --json) spells it. A primed span's table used to head its
continuation distance ``kad/mel``, the CSV's name for the whole clip (real prime included)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from benchbox.leaderboard import _order
from benchbox.leaderboard_render import fmt_ci, render_html, render_markdown
from benchbox.progress import no_progress

KEYS = ("kad/mel", "fad/mel", "coverage/mel")


def _board() -> pd.DataFrame:
    """A floor, an unprimed row and a 40 ms primed row whose whole-clip figures (prime included) differ from its continuation's."""
    def row(kind, run, group, prime_ms, whole, cont):
        values = {"kind": kind, "run": run, "group": group, "n": 8, "prime_ms": prime_ms, "generator": "wavenet", "quantisation": "mulaw",
                  "dropout": 0.0, "checkpoint": "best", "useful/auto_rate": 0.5, "cont/useful/auto_rate": 0.25}
        for key, scale in zip(KEYS, (1.0, 100.0, 0.5)):
            for prefix, v in (("", whole), ("cont/", cont)):
                values.update({f"{prefix}{key}": v * scale, f"{prefix}{key}/lo": v * scale * 0.5, f"{prefix}{key}/hi": v * scale * 1.5})
        return values

    rows = pd.DataFrame([row("floor", "reference: data", "floor", np.nan, 0.1, 0.1), row("generated", "a", "a/0", 0.0, 0.3, 0.3),
                         row("generated", "p", "p/40", 40.0, 0.2, 0.7)])
    rows.loc[0, ["generator", "quantisation", "dropout", "checkpoint"]] = np.nan
    return _order(rows, "mel", "kad")


def _tables(md: str) -> list[tuple[list[str], list[list[str]]]]:
    """(header cells, row cells) of each Markdown table."""
    tables = []
    for block in re.findall(r"(?m)^(\| # \|.*\n\|[-|]+\n(?:\|.*\n)*)", md):
        lines = [[c.strip() for c in ln.strip().strip("|").split(" | ")] for ln in block.strip().splitlines()]
        tables.append((lines[0], lines[2:]))
    return tables


def test_every_metric_header_shows_the_figure_the_csv_gives_that_key():
    table = _board()
    md = render_markdown(table, "mel", [], "kad")
    tables = _tables(md)
    assert len(tables) == 2  # whole clips, then the 40 ms continuation
    checked = set()
    for heads, rows in tables:
        for cells in rows:
            row = table[(table["run"] == cells[heads.index("run")]) & (table["group"] == cells[heads.index("group")])].iloc[0]
            for head, cell in zip(heads, cells):
                key = head.split(": ")[-1]  # "diversity: coverage/mel" names coverage/mel
                if key in table.columns and "/" in key:
                    assert cell == fmt_ci(row[key], row[f"{key}/lo"], row[f"{key}/hi"]), (head, row["group"])
                    checked.add((key, row["group"]))
    assert {("cont/kad/mel", "p/40"), ("cont/fad/mel", "p/40"), ("cont/coverage/mel", "p/40"), ("kad/mel", "a/0"), ("fad/mel", "floor")} <= checked
    whole, cont = tables[0][0], tables[1][0]
    assert "kad/mel" in whole and "cont/kad/mel" in cont and "kad/mel" not in cont  # the CSV's kad/mel of p/40 is 0.2, never shown as 0.7


def test_the_html_heads_each_span_table_with_the_keys_it_shows():
    page = render_html(_board(), "mel", [], {}, no_progress, "kad").replace("<wbr>", "")
    heads = [re.findall(r"<th[^>]*>(.*?)</th>", h) for h in re.findall(r"<thead>(.*?)</thead>", page, re.S)]
    assert len(heads) == 2
    assert {"kad/mel", "fad/mel", "diversity: coverage/mel"} <= set(heads[0]) and "cont/kad/mel" not in heads[0]
    assert {"cont/kad/mel", "cont/fad/mel", "diversity: cont/coverage/mel"} <= set(heads[1]) and "kad/mel" not in heads[1]
    assert 'data-sort="70.0"' in page and 'data-sort="20.0"' not in page  # p/40's continuation FAD shown, its whole clip's not


def test_a_continuation_table_says_its_diversity_column_is_the_whole_clips():
    table = _board()
    table["diversity/mel"] = [0.11, 0.33, 0.22]  # no cont/ diversity exists: a primed row's whole clip, prime included
    tables = _tables(render_markdown(table, "mel", [], "kad"))
    (whole, _), (cont, rows) = tables
    assert "diversity/mel" in whole and "diversity/mel (whole clip)" in cont and "diversity/mel" not in cont
    cell = rows[0][cont.index("diversity/mel (whole clip)")]
    assert float(cell) == 0.22  # p/40's whole-clip figure, as leaderboard.csv gives it


def test_a_continuation_tables_quality_and_category_columns_are_headed_by_the_cont_keys_they_show():
    table = _board()
    for key, whole, cont in (("quality/artefact_free_rate", 0.9, 0.6), ("footstep/p_mean", 0.8, 0.4)):
        table[key], table[f"cont/{key}"] = whole, [whole, whole, cont]  # p/40's continuation differs from its whole clip
    md = render_markdown(table, "mel", [], "kad")
    page = render_html(table, "mel", [], {}, no_progress, "kad").replace("<wbr>", "")
    html_heads = [re.findall(r"<th[^>]*>(.*?)</th>", h) for h in re.findall(r"<thead>(.*?)</thead>", page, re.S)]
    (whole_heads, _), (cont_heads, cont_rows) = _tables(md)
    for heads in (cont_heads, html_heads[1]):
        assert {"quality: cont/quality/artefact_free_rate", "category: cont/footstep/p_mean"} <= set(heads), heads
    for heads in (whole_heads, html_heads[0]):
        assert not any("cont/" in h for h in heads if h.startswith(("quality", "category"))), heads
    row = dict(zip(cont_heads, cont_rows[[r[cont_heads.index("group")] for r in cont_rows].index("p/40")]))
    shown = {h.split(": ")[-1]: row[h] for h in cont_heads if h.startswith(("quality", "category"))}
    assert shown == {"cont/quality/artefact_free_rate": "0.6", "cont/footstep/p_mean": "0.4"}  # the figures of the keys named
