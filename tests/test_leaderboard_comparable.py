"""One leaderboard ranks runs scored against one reference; different detector settings are named."""

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
