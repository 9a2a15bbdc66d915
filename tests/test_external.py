"""A folder of clips from another generator as a run: groups, manifest, conversion, --out,
tags, and ranking beside benchbox's runs (also through a symlink)."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from benchbox.cli.main import app
from benchbox.errors import DataError
from benchbox.external import MANIFEST_NAME, conform, folder_table
from benchbox.leaderboard import build_leaderboard
from benchbox.score import score_run
from tests.score_helpers import CLIP_SAMPLES, RATE_HZ, make_dataset, make_run, step

runner = CliRunner()
THEIR_RATE_HZ = 44_100


def their_clips(root, rng, groups=("temp0.8", "temp1.0"), n=3):
    """44.1 kHz stereo 1 s clips in one subfolder per group, as another toolkit writes them."""
    for g in groups:
        for i in range(n):
            mono = step(rng, THEIR_RATE_HZ, THEIR_RATE_HZ)  # (T,) 1 s
            path = root / g / f"take_{i}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, np.stack([mono, 0.5 * mono], axis=1), THEIR_RATE_HZ, subtype="PCM_16")
    return root


def test_subfolders_are_groups_and_the_manifest_names_them(tmp_path, rng):
    their_clips(tmp_path / "mymodel", rng)
    sf.write(tmp_path / "mymodel" / "loose.wav", np.zeros(100, dtype=np.float32), RATE_HZ)
    table = folder_table(tmp_path / "mymodel")
    assert sorted(set(table["generator"])) == ["mymodel", "mymodel/temp0.8", "mymodel/temp1.0"]
    (tmp_path / "mymodel" / MANIFEST_NAME).write_text("path,generator,group,prime_ms\ntemp0.8/take_0.wav,theirs,cold,\ntemp1.0/take_0.wav,,hot,20\n")
    table = folder_table(tmp_path / "mymodel")
    assert table.to_dict("records") == [{"path": "temp0.8/take_0.wav", "generator": "theirs/cold", "prime_ms": ""},
                                        {"path": "temp1.0/take_0.wav", "generator": "mymodel/hot", "prime_ms": "20"}]
    (tmp_path / "mymodel" / MANIFEST_NAME).write_text("path,checkpoint\ntemp0.8/take_0.wav,x\n")
    with pytest.raises(DataError, match="unknown column 'checkpoint'"):
        folder_table(tmp_path / "mymodel")
    (tmp_path / "mymodel" / MANIFEST_NAME).write_text("path\nnope.wav\n")
    with pytest.raises(DataError, match="clip 'nope.wav' not found"):
        folder_table(tmp_path / "mymodel")


def test_conform_names_each_rule():
    stereo = np.full((THEIR_RATE_HZ, 2), 0.25, dtype=np.float32)  # (T, C) 1 s
    wave, done = conform(stereo, THEIR_RATE_HZ, target_hz=RATE_HZ, target_samples=CLIP_SAMPLES)
    assert wave.shape == (CLIP_SAMPLES,) and done == ["downmixed from 2 channels to mono", f"resampled from {THEIR_RATE_HZ} Hz to {RATE_HZ} Hz",
                                                      f"cropped to their first {CLIP_SAMPLES} samples (the reference's clip length)"]
    wave, done = conform(np.ones((10, 1), dtype=np.float32) * 0.1, RATE_HZ, target_hz=RATE_HZ, target_samples=CLIP_SAMPLES)
    assert done == [f"padded with silence at the end to {CLIP_SAMPLES} samples (the reference's clip length)"] and wave[10:].max() == 0


@pytest.fixture
def world(tmp_path, rng, monkeypatch):
    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "data", rng)
    score_run(make_run(tmp_path / "results" / "ours", data, rng), embedders=("mel",), bootstrap=0)
    return tmp_path, data, their_clips(tmp_path / "elsewhere" / "mymodel", rng)


def test_score_out_converts_with_warnings_and_never_writes_their_folder(world):
    tmp_path, data, theirs = world
    before = sorted(p.relative_to(theirs) for p in theirs.rglob("*"))
    out = tmp_path / "results" / "mymodel"
    r = runner.invoke(app, ["score", str(theirs), "--reference", str(data), "--embedder", "mel", "--bootstrap", "0", "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    assert sorted(p.relative_to(theirs) for p in theirs.rglob("*")) == before  # nothing written into their folder
    for rule in ("downmixed from 2 channels to mono", f"resampled from {THEIR_RATE_HZ} Hz to {RATE_HZ} Hz", f"cropped to their first {CLIP_SAMPLES} samples"):
        assert f"warning: 6 of 6 clips {rule}" in r.stderr, r.stderr
    groups = pd.read_csv(out / "scores" / "groups.csv", keep_default_na=False)
    assert list(groups["group"]) == ["mymodel/temp0.8", "mymodel/temp1.0", "floor"]
    info = sf.info(str(out / "clips" / "temp0.8" / "take_0.wav"))
    assert (info.samplerate, info.channels, info.frames) == (RATE_HZ, 1, CLIP_SAMPLES)
    assert json.loads((out / "scores" / "scores.json").read_text())["source"] == str(theirs.resolve())


def test_default_out_is_results_name(world, monkeypatch):
    tmp_path, data, theirs = world
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["score", str(theirs), "--reference", str(data), "--embedder", "", "--name", "theirs", "--quiet"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "results" / "theirs" / "scores" / "groups.csv").is_file() and not (theirs / "scores").exists()
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.chdir(elsewhere)  # re-scoring the imported run rescores it in place, from any folder
    r = runner.invoke(app, ["score", str(tmp_path / "results" / "theirs"), "--reference", str(data), "--embedder", "", "--quiet"])
    assert r.exit_code == 0, r.output
    assert not (elsewhere / "results").exists() and "not at the reference" not in r.stderr
    # without --reference: the import is re-scored against the reference it was scored against
    # (docs/external.md promised `benchbox score OUT`; it said "no reference dataset")
    before = json.loads((tmp_path / "results" / "theirs" / "scores" / "scores.json").read_text())["reference"]
    r = runner.invoke(app, ["score", str(tmp_path / "results" / "theirs"), "--embedder", "", "--quiet"])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "results" / "theirs" / "scores" / "scores.json").read_text())["reference"] == before == str(data)
    # a relative record is read from here: taken when it is the same dataset, refused when another one is there
    scores_json = tmp_path / "results" / "theirs" / "scores" / "scores.json"
    info = json.loads(scores_json.read_text())
    info = {k: v for k, v in info.items() if k not in ("reference_from_scores", "reference_absolute")}  # a record from before those keys
    scores_json.write_text(json.dumps({**info, "reference": "data"}))
    monkeypatch.chdir(tmp_path)  # "data" here is the dataset it was scored against
    r = runner.invoke(app, ["score", str(tmp_path / "results" / "theirs"), "--embedder", "", "--quiet"])
    assert r.exit_code == 0, r.output
    other = tmp_path / "elsewhere" / "data"
    make_dataset(other, np.random.default_rng(7))
    scores_json.write_text(json.dumps({**info, "reference": "data"}))
    monkeypatch.chdir(tmp_path / "elsewhere")  # another "data" under the same relative name
    r = runner.invoke(app, ["score", str(tmp_path / "results" / "theirs"), "--embedder", "", "--quiet"])
    assert r.exit_code == 1 and "holds another dataset" in r.output and "pass --reference" in r.output
    scores_json.write_text(json.dumps(info))
    # a plain folder of clips is never given one: it still needs --reference
    r = runner.invoke(app, ["score", str(theirs), "--embedder", "mel", "--quiet"])
    assert r.exit_code == 1 and "no reference dataset" in r.output


def test_external_run_ranks_beside_ours_through_a_symlink_with_human_rates(world):
    tmp_path, data, theirs = world
    out = tmp_path / "elsewhere" / "scored"
    score_run(theirs, reference=data, embedders=("mel",), bootstrap=0, out=out)
    os.symlink(out, tmp_path / "results" / "mymodel")  # linked in, not copied
    from benchbox.review.session import open_session

    session = open_session(out, rater="alice")  # what `benchbox tag OUT --rater alice` records
    assert {c.groups["generator"] for c in session.review_set.clips} == {"mymodel/temp0.8", "mymodel/temp1.0"}
    for cid in session.ids:
        session.tag(cid, "useful")
    board = build_leaderboard(tmp_path / "results", out=tmp_path / "board")
    table = pd.read_csv(board / "leaderboard.csv")
    assert {"ours", "mymodel"} <= set(table["run"])
    mine = table[table["run"] == "mymodel"].set_index("group")
    assert mine.loc["mymodel/temp1.0", "n_human"] == 3 and mine.loc["mymodel/temp0.8", "useful/human_rate"] == 1.0


def test_two_results_folders_rank_together(world):
    tmp_path, data, theirs = world
    score_run(theirs, reference=data, embedders=("mel",), bootstrap=0, out=tmp_path / "mine" / "mymodel")
    r = runner.invoke(app, ["leaderboard", str(tmp_path / "results"), str(tmp_path / "mine"), "--out", str(tmp_path / "board"), "--json", "--quiet"])
    assert r.exit_code == 0, r.output
    runs = {row["run"] for row in json.loads(r.stdout)["rows"]}
    assert {"results/ours", "mine/mymodel"} <= runs
