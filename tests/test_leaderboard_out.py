"""``benchbox leaderboard --out`` into a scored folder it ranks is refused, as ``benchbox score``
refuses an --out inside the folder it scores (benchbox.external.refuse_out_inside): the board's
cached reference clips would be scored as that folder's own clips the next time it is scored."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
from typer.testing import CliRunner

from benchbox.audio import write_wav
from benchbox.cli.main import app
from tests.score_helpers import RATE_HZ, make_dataset, step

runner = CliRunner()


def _digest(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def _score(folder, data):
    r = runner.invoke(app, ["score", str(folder), "--reference", str(data), "--out", str(folder), "--embedder", "", "--bootstrap", "0", "--quiet"])
    assert r.exit_code == 0, r.output
    return pd.read_csv(folder / "scores" / "groups.csv")["group"].tolist()


@pytest.mark.parametrize("inside", [False, True], ids=["the folder", "a subfolder"])
def test_an_out_that_is_or_lies_inside_a_scored_folder_is_refused(tmp_path, rng, monkeypatch, inside):
    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "data", rng)
    mine = tmp_path / "mine"
    for i in range(3):
        write_wav(mine / f"take_{i}.wav", step(rng), RATE_HZ)
    groups = _score(mine, data)  # scored in place
    before = _digest(mine)
    out = mine / "board" if inside else mine
    r = runner.invoke(app, ["leaderboard", str(mine), "--out", str(out), "--embedder", "", "--quiet"])
    assert r.exit_code == 1 and r.output.count("error:") == 1 and r.output.count("hint:") == 1 and "Traceback" not in r.output, r.output
    said = " ".join(r.output.split())
    assert f"is inside the scored folder {mine}" in said if inside else f"is the scored folder {mine} itself" in said
    assert f"pass --out a folder outside {mine}" in said
    assert _digest(mine) == before  # nothing written into it
    assert _score(mine, data) == groups  # so a later score sees the same groups: no references/noise group
    r = runner.invoke(app, ["leaderboard", str(mine), "--out", str(tmp_path / "board"), "--embedder", "", "--quiet"])
    assert r.exit_code == 0, r.output  # beside it, as before


@pytest.mark.parametrize("inside", [False, True], ids=["the folder", "a subfolder"])
def test_an_out_that_is_or_lies_inside_the_clip_folder_of_a_scored_import_is_refused(tmp_path, rng, monkeypatch, inside):
    """`score mine` writes results/mine; a board --out mine would drop references/ among mine's clips."""
    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    data = make_dataset(tmp_path / "data", rng)
    mine = tmp_path / "mine"
    for i in range(3):
        write_wav(mine / f"take_{i}.wav", step(rng), RATE_HZ)
    r = runner.invoke(app, ["score", str(mine), "--reference", str(data), "--embedder", "", "--bootstrap", "0", "--quiet"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "results" / "mine" / "scores" / "groups.csv").is_file()  # the import, outside mine
    before = _digest(mine)
    out = mine / "board" if inside else mine
    r = runner.invoke(app, ["leaderboard", "results", "--out", str(out), "--embedder", "", "--quiet"])
    assert r.exit_code == 1 and r.output.count("error:") == 1 and "Traceback" not in r.output, r.output
    said = " ".join(r.output.split())
    assert "was imported from" in said and str(mine) in said and f"pass --out a folder outside {mine}" in said
    assert _digest(mine) == before  # nothing written into it
    r = runner.invoke(app, ["leaderboard", "results", "--out", str(tmp_path / "board"), "--embedder", "", "--quiet"])
    assert r.exit_code == 0, r.output


def test_a_boards_references_beside_its_leaderboard_csv_are_not_scored_as_clips(tmp_path, rng, monkeypatch):
    """A board written into a clip folder (by hand, or before the refusal): the next score of
    that folder leaves its references/ out, with one warning naming it, and scores only the clips."""
    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "data", rng)
    mine = tmp_path / "mine"
    for i in range(3):
        write_wav(mine / f"take_{i}.wav", step(rng), RATE_HZ)
    for kind in ("noise", "silence"):
        for i in range(2):
            write_wav(mine / "references" / "data-0123456789" / kind / f"{kind}_{i}.wav", step(rng), RATE_HZ)
    (mine / "leaderboard.csv").write_text("run\n", encoding="utf-8")
    out = tmp_path / "scored"
    r = runner.invoke(app, ["score", str(mine), "--reference", str(data), "--out", str(out), "--embedder", "", "--bootstrap", "0", "--quiet"])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert said.count("not scored:") == 1 and f"{mine / 'references'}" in said and "a leaderboard's cached reference clips" in said, r.output
    groups = pd.read_csv(out / "scores" / "groups.csv")
    assert groups.loc[groups["group"] == "mine", "n"].tolist() == [3] and not groups["group"].str.contains("references").any()
