"""The leaderboard's row notes (benchbox.score_notes.row_notes): a row whose group lost files to
decoding is marked and the notes under the table say how many; a board without notes is unchanged."""

from __future__ import annotations

import pandas as pd
import pytest

from benchbox.leaderboard import build_leaderboard
from benchbox.score import score_run
from benchbox.audio import write_wav
from tests.score_helpers import CLIP_SAMPLES, RATE_HZ, import_with_undecodable, make_dataset, make_run, step


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def scored_import(tmp_path, rng):
    return import_with_undecodable(tmp_path, rng)


def test_the_leaderboard_marks_the_row_that_lost_files_and_says_why_under_the_table(scored_import, tmp_path):
    _, out, _ = scored_import
    board = build_leaderboard(out, out=tmp_path / "board")
    table = pd.read_csv(board / "leaderboard.csv", keep_default_na=False)
    row = table[table["kind"] == "generated"].set_index("group").loc["mine"]
    assert row["n"] == 2 and row["note"].startswith("3 of 5 files could not be decoded and are left out (n = 2): see ")
    md = (board / "leaderboard.md").read_text()
    assert "| mine (!) | 2 |" in md
    assert "- (!) mine, group mine: 3 of 5 files could not be decoded" in md
    assert "- mine: group 'mine/lost': none of its 2 files could be decoded, so it has no row" in md
    assert "(!) see the notes</span>" in (board / "leaderboard.html").read_text()


def test_a_board_without_notes_is_unchanged(tmp_path, rng):
    data = make_dataset(tmp_path / "data", rng)
    run = make_run(tmp_path / "results" / "run", data, rng)
    score_run(run, embedders=(), bootstrap=0)
    board = build_leaderboard(tmp_path / "results", out=tmp_path / "board")
    assert "note" not in pd.read_csv(board / "leaderboard.csv").columns and "(!)" not in (board / "leaderboard.md").read_text()


def test_a_row_of_clips_off_the_reference_length_is_marked(tmp_path, rng):
    data = make_dataset(tmp_path / "data", rng)
    run = make_run(tmp_path / "results" / "run", data, rng)
    for clip in (run / "samples" / "best" / "prime0").glob("*.wav"):
        write_wav(clip, step(rng, n=CLIP_SAMPLES // 2), RATE_HZ)
    score_run(run, embedders=(), bootstrap=0)
    board = build_leaderboard(tmp_path / "results", out=tmp_path / "board")
    table = pd.read_csv(board / "leaderboard.csv", keep_default_na=False).set_index("group")
    short, primed = sorted(table[table["kind"] == "generated"].index, key=len)[:2]
    assert table.loc[short, "note"].startswith("4 of 4 clips are 2048 samples (0.128 s) long, not the reference's 4096")
    assert table.loc[primed, "note"] == ""  # its continuation is shorter on purpose; its whole clips are the reference's length
    assert f"- (!) run, group {short}: 4 of 4 clips are 2048 samples" in (board / "leaderboard.md").read_text()


def test_a_malformed_length_record_gives_no_note_and_no_traceback(tmp_path):
    from benchbox.score_notes import LENGTH_KEY, row_notes

    bad = {LENGTH_KEY: {"groups": {"g": {"off": 1, "clips": 2, "min_samples": 10, "max_samples": 10}}}, "skipped": 0}
    assert row_notes(bad, tmp_path / "skipped.csv")[0] == {}
    partial = {LENGTH_KEY: {"reference_samples": 4096, "reference_rate_hz": 16000, "groups": {"g": {"off": 1}}}, "skipped": 0}
    assert row_notes(partial, tmp_path / "skipped.csv")[0] == {}


def test_a_group_named_like_a_number_keeps_its_name(tmp_path):
    """groups.csv's group column was read as numbers: '007' came back as 7, and its row notes missed it."""
    import pandas as pd

    from benchbox.scored_runs import _load

    scores = tmp_path / "results" / "run" / "scores"
    scores.mkdir(parents=True)
    # scored without a reference (detectors only): no floor row, so no text in the column to keep it text
    pd.DataFrame({"group": ["007", "010"], "kind": ["generated", "generated"], "n": [4, 4]}).to_csv(scores / "groups.csv", index=False)
    (scores / "scores.json").write_text("{}")  # a scored folder has one
    assert list(_load(scores / "groups.csv", tmp_path / "results", prefix=False).groups["group"]) == ["007", "010"]
