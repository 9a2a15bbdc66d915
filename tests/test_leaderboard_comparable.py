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
