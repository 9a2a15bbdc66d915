"""The reference a scores.json records is found from any working folder, a moved checkout, and
(for records written before it was recorded three ways) from the folder benchbox ran in; a
missing reference reads "not found", never "changed"."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchbox.external import recorded_reference, scored_reference
from benchbox.freshness import FRESH, STALE, scores_freshness
from benchbox.score import score_run
from benchbox.scored_runs import load_scored, rescore_command
from benchbox.scores_record import REFERENCE_ABSOLUTE_KEY, REFERENCE_FROM_SCORES_KEY, recorded_reference_path
from tests.score_helpers import make_dataset, make_run


@pytest.fixture
def scored_here(tmp_path, rng, monkeypatch):
    """``tmp_path/here/run`` scored with ``--reference ref`` typed relative to ``tmp_path/here``;
    the working folder is then ``tmp_path`` (another folder)."""
    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    here = tmp_path / "here"
    here.mkdir()
    make_dataset(here / "ref", rng)
    make_run(here / "run", here / "ref", rng)
    monkeypatch.chdir(here)
    score_run(Path("run"), reference=Path("ref"), embedders=(), bootstrap=0)
    monkeypatch.chdir(tmp_path)
    return here


def _info(run: Path) -> dict:
    return json.loads((run / "scores" / "scores.json").read_text())


def test_a_relative_reference_is_recorded_from_the_scores_folder_and_absolute(scored_here):
    info = _info(scored_here / "run")
    assert info["reference"] == "ref"  # as typed, as before
    assert info[REFERENCE_FROM_SCORES_KEY] == "../../ref"
    assert Path(info[REFERENCE_ABSOLUTE_KEY]) == (scored_here / "ref").resolve()


def test_scores_read_from_another_folder_are_fresh_and_the_rescore_command_works_there(scored_here, tmp_path):
    run = Path("here/run")  # relative to tmp_path, the working folder now
    assert scores_freshness(run).state == FRESH
    scored, notes = load_scored([run], tmp_path / "board")
    assert [s.name for s in scored] == ["run"] and not any("stale" in n for n in notes)
    assert f"--reference {(scored_here / 'ref').resolve()}" in rescore_command(scored[0])


def test_a_moved_checkout_finds_its_reference_beside_it(scored_here, tmp_path):
    moved = tmp_path / "moved"
    shutil.move(str(scored_here), str(moved))  # the absolute record now points nowhere
    assert scores_freshness(moved / "run").state == FRESH
    assert recorded_reference_path(_info(moved / "run"), moved / "run" / "scores") == (moved / "ref").resolve()


def test_a_deleted_reference_reads_not_found_not_changed(scored_here):
    shutil.rmtree(scored_here / "ref")
    fresh = scores_freshness(scored_here / "run")
    assert fresh.state == STALE
    assert "not found at" in fresh.reason and "changed since scoring" not in fresh.reason
    assert str(scored_here / "ref") in fresh.reason


def test_a_record_from_before_the_two_forms_resolves_from_its_original_folder_only(scored_here, tmp_path, monkeypatch):
    """The committed studies' form: ``"reference"`` relative to the folder benchbox ran in (the repo root)."""
    path = scored_here / "run" / "scores" / "scores.json"
    info = _info(scored_here / "run")
    del info[REFERENCE_FROM_SCORES_KEY], info[REFERENCE_ABSOLUTE_KEY]
    path.write_text(json.dumps(info))
    monkeypatch.chdir(scored_here)
    assert scores_freshness(Path("run")).state == FRESH
    monkeypatch.chdir(tmp_path)
    assert "not found at ref" in scores_freshness(Path("here/run")).reason


def test_another_dataset_at_a_recorded_path_is_never_taken(scored_here, tmp_path, rng):
    """The first recorded form holding the dataset the scores hashed wins; a folder holding other
    clips is passed over, and when it is the only one the scores read as changed."""
    info = _info(scored_here / "run")
    decoy = make_dataset(tmp_path / "decoy", rng, counts={"train": 2, "val": 2, "test": 2})
    moved = {**info, REFERENCE_FROM_SCORES_KEY: "../../../decoy"}  # first in order, but another dataset
    assert recorded_reference_path(moved, scored_here / "run" / "scores") == (scored_here / "ref").resolve()
    shutil.rmtree(scored_here / "ref")
    shutil.copytree(decoy, scored_here / "ref")
    assert "changed since scoring" in scores_freshness(scored_here / "run").reason


def test_an_import_rescored_or_tagged_from_another_folder_finds_its_reference(tmp_path, rng, monkeypatch):
    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    here = tmp_path / "here"
    make_dataset(here / "ref", rng)
    make_dataset(here / "gen", rng, counts={"train": 4})
    monkeypatch.chdir(here)
    score_run(Path("gen/clips"), reference=Path("ref"), out=Path("imported"), embedders=(), bootstrap=0)
    monkeypatch.chdir(tmp_path)
    assert recorded_reference(Path("here/imported")) == (here / "ref").resolve()
    assert scored_reference(Path("here/imported")) == (here / "ref").resolve()  # tag --include-real's real clips


def test_the_not_found_message_names_each_place_once():
    """'scores/../../data' (from the scores folder) and 'data' (as typed) can be one path after
    normalising: the message lists it once."""
    from benchbox.scores_record import where_looked

    info = {"reference": "run/../data", REFERENCE_FROM_SCORES_KEY: "../../data", REFERENCE_ABSOLUTE_KEY: "/abs/data"}
    text = where_looked(info, "run/scores")
    assert text.split(" or ").count("data") == 1 and "/abs/data" in text


def test_the_not_found_message_names_one_folder_once_whether_written_relative_or_absolute(tmp_path, monkeypatch):
    from benchbox.scores_record import where_looked

    monkeypatch.chdir(tmp_path)
    info = {"reference": "data", REFERENCE_FROM_SCORES_KEY: "../../data", REFERENCE_ABSOLUTE_KEY: str(tmp_path / "data")}
    assert where_looked(info, "run/scores") == "data"
