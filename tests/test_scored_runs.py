"""A damaged or missing scores.json leaves that run out of the board with a note naming the file
and the fix; the board still stands, and --json prints one JSON object either way."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from benchbox.cli.main import app
from benchbox.errors import DataError
from benchbox.freshness import STALE, scores_freshness
from benchbox.score import score_run
from benchbox.scored_runs import load_scored
from benchbox.scores_record import read_scores_info
from tests.score_helpers import make_dataset, make_run

DAMAGE = {
    "truncated": '{"format": 1, "scorer_vers',
    "a list": "[1, 2]",
    "not utf-8": b"\xff\xfe{",
}


@pytest.fixture
def two_runs(tmp_path, rng, monkeypatch):
    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "data", rng)
    runs = [make_run(tmp_path / "results" / name, data, rng) for name in ("damaged", "kept")]
    for run in runs:
        score_run(run, embedders=(), bootstrap=0)
    return tmp_path, runs[0] / "scores" / "scores.json"


def _write(path, content):
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_scores_json_is_one_typed_error_naming_the_file(tmp_path, kind):
    _write(tmp_path / "scores.json", DAMAGE[kind])
    with pytest.raises(DataError) as e:
        read_scores_info(tmp_path)
    assert str(tmp_path / "scores.json") in e.value.message and "benchbox score" in e.value.hint


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_run_is_left_out_of_the_board_with_a_note_and_json_stays_one_object(two_runs, kind):
    tmp_path, info = two_runs
    _write(info, DAMAGE[kind])
    scored, notes = load_scored(tmp_path / "results", tmp_path / "board")
    assert [s.name for s in scored] == ["kept"]
    assert any(n.startswith("damaged: scores left out") and str(info) in n and "benchbox score" in n for n in notes)
    r = CliRunner().invoke(app, ["leaderboard", str(tmp_path / "results"), "--out", str(tmp_path / "board"), "--embedder", "", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)  # one object, no traceback
    assert {row["run"] for row in doc["rows"] if row.get("kind") == "generated"} == {"kept"}
    assert "Traceback" not in r.output and "damaged: scores left out" in r.stderr
    assert any(w.startswith("damaged: scores left out") for w in doc["warnings"])  # and in the JSON's warnings


def test_a_board_of_damaged_runs_only_prints_one_json_error(two_runs):
    tmp_path, info = two_runs
    _write(info, DAMAGE["truncated"])
    kept = tmp_path / "results" / "kept" / "scores" / "scores.json"
    _write(kept, DAMAGE["a list"])
    r = CliRunner().invoke(app, ["leaderboard", str(tmp_path / "results"), "--out", str(tmp_path / "board"), "--json"])
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["command"] == "leaderboard" and str(info) in doc["error"]


def test_a_missing_scores_json_says_so_not_scorer_version_1(two_runs):
    tmp_path, info = two_runs
    info.unlink()
    fresh = scores_freshness(info.parent.parent)
    assert fresh.state == STALE and f"{info} is missing" in fresh.reason and "version" not in fresh.reason
    _, notes = load_scored(tmp_path / "results", tmp_path / "board")
    note = next(n for n in notes if n.startswith("damaged:"))
    assert f"{info} is missing" in note and "scorer version" not in note
    assert f"`benchbox score {info.parent.parent}`" in note


@pytest.mark.parametrize("named", [False, True], ids=["scanned", "named"])
def test_a_generated_run_that_was_never_scored_is_named_in_a_note_and_a_warning(two_runs, rng, named):
    """A run with clips but no scores was dropped in silence, even when named on the command line."""
    tmp_path, _ = two_runs
    unscored = make_run(tmp_path / "results" / "fresh", tmp_path / "data", rng)
    dirs = [tmp_path / "results" / "kept", unscored] if named else [tmp_path / "results"]
    heard = []
    scored, notes = load_scored(dirs, tmp_path / "board", heard.append)
    assert "fresh" not in {s.name for s in scored}
    note = next(n for n in notes if "fresh" in n)
    assert "not scored" in note and f"`benchbox score {unscored}`" in note and note in heard
    r = CliRunner().invoke(app, ["leaderboard", *map(str, dirs), "--out", str(tmp_path / "board"), "--embedder", "", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "warning:" in r.stderr and "fresh: not on the board, it is not scored" in " ".join(r.stderr.split())
    assert "fresh: not on the board, it is not scored" in (tmp_path / "board" / "leaderboard.md").read_text()
    r = CliRunner().invoke(app, ["leaderboard", *map(str, dirs), "--out", str(tmp_path / "board"), "--embedder", "", "--quiet", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)  # the note reaches a --json reader too, not only stderr
    assert any(w.startswith("fresh: not on the board, it is not scored") for w in doc["warnings"]), doc.get("warnings")


def test_a_board_of_unscored_runs_only_names_the_score_command(tmp_path, rng):
    data = make_dataset(tmp_path / "data", rng)
    run = make_run(tmp_path / "results" / "fresh", data, rng)
    with pytest.raises(DataError) as e:
        load_scored(tmp_path / "results", tmp_path / "board")
    assert "no scored runs" in e.value.message and f"`benchbox score {run}`" in e.value.hint


@pytest.mark.parametrize("in_place", [True, False], ids=["scored in place", "imported"])
def test_a_clip_folder_whose_clips_are_gone_is_told_to_restore_them_not_to_run_benchbox_run(tmp_path, rng, monkeypatch, in_place):
    from benchbox.audio import write_wav
    from benchbox.score import SCORER_VERSION
    from tests.score_helpers import RATE_HZ, step

    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "data", rng)
    mine, out = tmp_path / "results" / "mine", tmp_path / "results" / "mine" if in_place else tmp_path / "imported"
    for i in range(3):
        write_wav(mine / f"take_{i}.wav", step(rng), RATE_HZ)
    score_run(mine, reference=data, embedders=(), bootstrap=0, out=None if in_place else out)
    if not in_place:
        mine.rename(tmp_path / "source")  # the source is not a scored folder: only the import is on the board
        out.rename(mine)
        out = mine
    info_path = out / "scores" / "scores.json"
    info_path.write_text(json.dumps({**json.loads(info_path.read_text()), "scorer_version": SCORER_VERSION - 1}))  # to re-score
    sorted(out.rglob("*.wav"))[-1].unlink()  # one clip gone: re-scoring now would score two
    with pytest.raises(DataError) as e:  # the only run: every run is stale
        load_scored(tmp_path / "results", tmp_path / "board")
    note = e.value.message
    assert "mine: scores left out" in note and "restore its clips, then re-run `benchbox score" in note and "benchbox run" not in note, note


def test_a_dataset_copied_to_a_samples_folder_is_not_named_as_an_unscored_run(two_runs, rng):
    """Only a run's manifest (its columns, or beside config.toml) makes an unscored run: a dataset's
    manifest.csv in X/samples/ is not one, and `benchbox score X` would fail."""
    import shutil

    tmp_path, _ = two_runs
    shutil.copytree(tmp_path / "data", tmp_path / "results" / "copied" / "samples")  # a dataset's manifest.csv at samples/manifest.csv
    bare = make_run(tmp_path / "results" / "bare", tmp_path / "data", rng)
    (bare / "config.toml").unlink()  # a run's manifest still, by its columns
    heard = []
    _, notes = load_scored(tmp_path / "results", tmp_path / "board", heard.append)
    assert not any("copied: not on the board" in n or "results/copied" in n for n in notes + heard), notes
    assert any(n.startswith("bare: not on the board, it is not scored") for n in notes), notes


def test_a_board_of_runs_stale_for_different_reasons_names_each_fix_and_json_keeps_every_note(two_runs):
    from benchbox.score import SCORER_VERSION

    tmp_path, _ = two_runs
    for name, version in (("damaged", SCORER_VERSION + 1), ("kept", SCORER_VERSION - 1)):  # upgrade; re-score
        info_path = tmp_path / "results" / name / "scores" / "scores.json"
        info_path.write_text(json.dumps({**json.loads(info_path.read_text()), "scorer_version": version}))
    with pytest.raises(DataError) as e:
        load_scored(tmp_path / "results", tmp_path / "board")
    assert "(and 1 more)" in e.value.message
    assert e.value.hint == "each run's note names its fix (re-score or upgrade benchbox)", e.value.hint
    r = CliRunner().invoke(app, ["leaderboard", str(tmp_path / "results"), "--out", str(tmp_path / "board"), "--json", "--quiet"])
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    doc = json.loads(r.stdout)  # the note the error leaves out ("and 1 more") is in its warnings
    assert doc["command"] == "leaderboard" and "upgrade benchbox" in doc["hint"]
    assert sorted(w.split(":")[0] for w in doc["warnings"]) == ["damaged", "kept"], doc
