"""One leaderboard ranks runs scored against one reference; different detector settings are named;
a rank compares rows of one span only (whole clips, or the continuation after one prime length)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from benchbox.cli.main import app
from benchbox.errors import DataError
from benchbox.leaderboard import build_leaderboard
from benchbox.metrics.artifacts import DetectorConfig
from benchbox.score import ScoreConfig, score_run
from tests.score_helpers import make_dataset, make_run


@pytest.fixture
def two_runs(tmp_path, rng, monkeypatch):
    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "data", rng)
    a = make_run(tmp_path / "results" / "a", data, rng)
    b = make_run(tmp_path / "results" / "b", data, rng)
    score_run(a, embedders=("mel",), bootstrap=0)
    return tmp_path, data, a, b


def test_runs_scored_against_different_references_are_not_ranked_together(two_runs, rng):
    tmp_path, data, a, b = two_runs
    other = make_dataset(tmp_path / "other", rng, counts={"train": 6, "val": 5, "test": 7})  # another manifest: other clips
    score_run(b, reference=other, embedders=("mel",), bootstrap=0)
    with pytest.raises(DataError, match="2 different reference datasets"):
        build_leaderboard(tmp_path / "results", out=tmp_path / "board")
    r = CliRunner().invoke(app, ["leaderboard", str(tmp_path / "results"), "--out", str(tmp_path / "board")])
    assert r.exit_code == 1 and "different reference datasets" in r.output and not (tmp_path / "board" / "leaderboard.md").exists()


def test_runs_scored_with_other_detector_settings_are_named(two_runs):
    tmp_path, data, a, b = two_runs
    score_run(b, embedders=("mel",), bootstrap=0, config=ScoreConfig(detectors=DetectorConfig(silence_floor_dbfs=-20.0)))
    settings = [json.loads((r / "scores" / "scores.json").read_text())["settings"] for r in (a, b)]
    assert settings[0]["detectors"]["silence_floor_dbfs"] != settings[1]["detectors"]["silence_floor_dbfs"]
    warned: list[str] = []
    build_leaderboard(tmp_path / "results", out=tmp_path / "board", warn=warned.append)
    assert any("2 different detector/verdict settings" in w for w in warned)
    assert "2 different detector/verdict settings" in (tmp_path / "board" / "leaderboard.md").read_text()
    score_run(b, embedders=("mel",), bootstrap=0)  # the same settings again: no note
    warned.clear()
    build_leaderboard(tmp_path / "results", out=tmp_path / "board", warn=warned.append)
    assert not any("settings" in w for w in warned)


def test_a_run_trained_further_after_its_clips_were_made_reads_stale(two_runs):
    """samples/manifest.csv records each clip's checkpoint_sha256; a ckpt/best.pt that no longer
    hashes to it means the scored clips are not this run's any more."""
    import hashlib

    import pandas as pd

    from benchbox.freshness import stale_reason

    tmp_path, data, a, b = two_runs
    assert stale_reason(a) is None  # no checkpoint on disk (a fresh checkout): nothing to compare
    (a / "ckpt").mkdir()
    weights = b"the weights the clips came from"
    (a / "ckpt" / "best.pt").write_bytes(weights)
    manifest = pd.read_csv(a / "samples" / "manifest.csv")
    manifest.assign(checkpoint_sha256=hashlib.sha256(weights).hexdigest()).to_csv(a / "samples" / "manifest.csv", index=False)
    score_run(a, embedders=("mel",), bootstrap=0)
    assert stale_reason(a) is None
    (a / "ckpt" / "best.pt").write_bytes(b"trained further")
    assert "ckpt/best.pt changed since its clips were generated" in stale_reason(a)


def test_one_reference_imported_at_two_paths_gives_one_set_of_reference_rows(two_runs):
    import shutil

    import pandas as pd

    tmp_path, data, a, b = two_runs
    again = tmp_path / "elsewhere" / "footsteps"  # the same corpus re-imported into another folder: the same manifest
    shutil.copytree(data, again)
    score_run(b, reference=again, embedders=("mel",), bootstrap=0)
    build_leaderboard(tmp_path / "results", out=tmp_path / "board")
    table = pd.read_csv(tmp_path / "board" / "leaderboard.csv")
    refs = table[table["kind"] != "generated"]
    assert sorted(refs["kind"]) == ["floor", "noise", "silence"], refs[["kind", "run"]]
    assert refs["run"].nunique() == 1


def test_a_board_of_detector_only_runs_is_unranked_with_well_formed_keys(two_runs):
    tmp_path, data, a, b = two_runs
    for run in (a, b):
        score_run(run, embedders=(), bootstrap=0)  # --embedder= : detectors only
    r = CliRunner().invoke(app, ["leaderboard", str(tmp_path / "results"), "--out", str(tmp_path / "board"), "--json", "--quiet"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rows"]
    keys = {k for row in rows for k in row}
    assert not [k for k in keys if k.endswith("/") or "//" in k or k.startswith("rank/")], sorted(keys)
    assert rows[0]["kind"] == "floor" and all(row["rank"] is None for row in rows)
    assert [row["kind"] for row in rows].count("generated") == 4
    text = (tmp_path / "board" / "leaderboard.md").read_text()
    assert text.splitlines()[2].startswith("Unranked") and "Ranked by" not in text and "`kad/`" not in text


def _spans_board(floor_at_20: bool = True):
    """A floor, noise, two unprimed rows and 20 ms / 40 ms primed rows whose continuation KAD and FAD
    are lower than every whole-clip row's: on another span and kernel, so not better than them."""
    import numpy as np
    import pandas as pd

    def row(kind, run, group, prime_ms, kad, fad):
        return {"kind": kind, "run": run, "group": group, "n": 8, "prime_ms": prime_ms, "generator": "wavenet", "quantisation": "mulaw",
                "dropout": 0.0, "checkpoint": "best", "kad/mel": kad, "kad/mel/lo": kad - 0.05, "kad/mel/hi": kad + 0.05,
                "fad/mel": fad, "fad/mel/lo": fad - 5, "fad/mel/hi": fad + 5, "cont/kad/mel": kad, "cont/kad/mel/lo": kad - 0.05,
                "cont/kad/mel/hi": kad + 0.05, "cont/fad/mel": fad, "cont/fad/mel/lo": fad - 5, "cont/fad/mel/hi": fad + 5,
                "useful/auto_rate": 0.5, "cont/useful/auto_rate": 0.25}

    rows = pd.DataFrame([
        row("floor", "reference: data", "floor", np.nan, 0.10, 50.0),
        row("generated", "b", "b/0", 0.0, 0.30, 90.0),
        row("generated", "p", "p/40", 40.0, 0.03, 20.0),
        row("generated", "a", "a/0", 0.0, 0.20, 80.0),
        row("generated", "p", "p/20", 20.0, 0.01, 10.0),
        row("generated", "q", "q/20", 20.0, 0.02, 15.0),
        row("noise", "reference: data", "noise", np.nan, 1.50, 300.0),
    ])  # fmt: skip
    rows.loc[rows["kind"] != "generated", ["generator", "quantisation", "dropout", "checkpoint"]] = np.nan
    if floor_at_20:  # the floor on the 20 ms continuation span (real val vs real test from that sample on)
        rows.loc[0, ["floor@20ms/kad/mel", "floor@20ms/kad/mel/lo", "floor@20ms/kad/mel/hi"]] = [0.004, -0.02, 0.03]
    return rows


@pytest.mark.parametrize("metric", ["kad", "fad"])
def test_primed_rows_are_ranked_only_among_rows_of_their_span(metric):
    """A 20 ms row whose continuation FAD/KAD is lower than every unprimed row's used to take rank 1 above them all:
    its distance is to another cut of the real clips with another kernel. Each span is ranked apart now."""
    from benchbox.leaderboard import _order

    table = _order(_spans_board(), "mel", metric)
    whole = table[table["prime_ms"].fillna(0) == 0]
    assert whole["run"].tolist() == ["reference: data", "a", "b", "reference: data"] and whole.index.tolist() == [0, 1, 2, 3]
    assert whole["rank"].tolist() == [1, 2, 3, 4]  # not pushed down by the primed rows' lower distances (ranks 1-3 before)
    got = table[["rank", "span", "run", "group"]].astype(str).agg(" ".join, axis=1).tolist()
    assert got == [
        "1 whole clip reference: data floor", "2 whole clip a a/0", "3 whole clip b b/0", "4 whole clip reference: data noise",
        "1 continuation after a 20 ms prime p p/20", "2 continuation after a 20 ms prime q q/20",
        "1 continuation after a 40 ms prime p p/40",
    ]
    assert table.columns[:3].tolist() == ["rank", "span", "kind"]
    assert (table["span"] == "whole clip").tolist() == [True] * 4 + [False] * 3
    assert whole[f"rank/{metric}/mel"].is_monotonic_increasing and (whole["kind"] != "generated").sum() == 2  # the reference rows are whole clips


def test_each_span_is_its_own_table_in_markdown_and_html():
    from benchbox.leaderboard import _order
    from benchbox.leaderboard_render import render_html, render_markdown
    from benchbox.progress import no_progress

    table = _order(_spans_board(), "mel", "kad")
    md = render_markdown(table, "mel", ["a note"], "kad")
    heads = [ln for ln in md.splitlines() if ln.startswith("## ")]
    assert heads == ["## Whole clips: unprimed generations and the reference rows", "## Continuation after a 20 ms prime",
                     "## Continuation after a 40 ms prime", "## Notes"]  # the notes are the board's, not the 40 ms table's
    sections = md.split("\n## ")
    assert "| 2 | generated | a |" in sections[1] and "| 3 | generated | b |" in sections[1] and "p/20" not in sections[1]
    assert "| 1 | generated | p |" in sections[2] and "| 2 | generated | q |" in sections[2] and "b/0" not in sections[2]
    assert "ranks restart" in sections[2] and "Real floor on this span (val vs test): `floor@20ms/kad/mel` 0.004 [-0.02, 0.03]" in sections[2]
    assert "no floor interval on this span" in sections[3]  # the 40 ms floor is not in these scores: the whole-clip floor is used
    value_only = table.copy()
    value_only.loc[value_only["kind"] == "floor", "floor@40ms/kad/mel"] = 0.01  # a value without its interval: marks use the whole clip's
    assert "no floor interval on this span" in render_markdown(value_only, "mel", [], "kad").split("\n## ")[3]
    no_floor = render_markdown(table[table["kind"] != "floor"], "mel", [], "kad").split("\n## ")
    assert all("No real floor row on this board" in sec for sec in no_floor[2:])  # it said 'compare with the whole-clip floor'
    assert md.rstrip().endswith("- a note") and md.count("| # | kind |") == 3 and "its own ranking" in md
    page = render_html(table, "mel", [], {}, no_progress, "kad")
    assert page.count("<table") == 3 and page.count("<h2>Continuation after a ") == 2 and page.count("<tr class=") == len(table)
    assert page.index("<h2>Whole clips") < page.index("<h2>Continuation after a 20 ms") < page.index("<h2>Continuation after a 40 ms")


def test_the_csv_and_json_say_which_span_each_rank_is_within(two_runs):
    """make_run's groups are unprimed and 100 ms primed: every row carries its span; ranks restart per span."""
    tmp_path, data, a, b = two_runs
    score_run(b, embedders=("mel",), bootstrap=0)
    r = CliRunner().invoke(app, ["leaderboard", str(tmp_path / "results"), "--out", str(tmp_path / "board"), "--json", "--quiet"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rows"]
    spans = [(row["span"], row["rank"]) for row in rows]
    whole = [rank for span, rank in spans if span == "whole clip"]
    primed = [rank for span, rank in spans if span == "continuation after a 100 ms prime"]
    assert whole == list(range(1, len(whole) + 1)) and primed == [1, 2] and len(whole) + len(primed) == len(rows)
    assert all(row["span"] == "whole clip" for row in rows if row["kind"] != "generated")


def test_each_span_says_the_real_clips_useful_rate_cut_where_it_starts():
    """A continuation's table states the held-out real clips' useful rate on its own span (floor@<ms>ms/useful),
    the whole-clip table theirs whole; scores without those columns read a dash, with or without an embedder."""
    from benchbox.leaderboard import _order
    from benchbox.leaderboard_render import render_html, render_markdown
    from benchbox.progress import no_progress
    from benchbox.score_floor import floor_useful_keys

    table = _order(_spans_board(), "mel", "kad")
    at = table.index[table["kind"] == "floor"][0]
    for ms, values in ((0, (35 / 41, 0.7156, 0.9312, 41)), (20, (33 / 41, 0.6599, 0.8977, 41))):
        table.loc[at, list(floor_useful_keys(ms))] = values
    sections = render_markdown(table, "mel", [], "kad").split("\n## ")
    assert "Real clips whole (the reference's held-out val + test clips, judged as these rows are): `useful/auto` 85.4% [71.6, 93.1] (35/41)." in sections[1]
    assert "Real clips cut where a 20 ms prime ends" in sections[2] and "`useful/auto` 80.5% [66.0, 89.8] (33/41), the like-for-like" in sections[2]
    assert "Real clips cut where a 40 ms prime ends (the reference's held-out val + test clips, judged as these rows are): `useful/auto` -," in sections[3]
    old = render_markdown(_order(_spans_board(), "mel", "kad"), "", [], "kad").split("\n## ")  # older scores, no embedder
    assert all("`useful/auto` -" in sec for sec in old[1:4])
    assert "80.5% [66.0, 89.8] (33/41)" in render_html(table, "mel", [], {}, no_progress, "kad")
