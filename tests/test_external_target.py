"""benchbox score --out: the folders it must never write into, a failed import that keeps the earlier
one, NaN clips kept for the nan detector, and an unknown embedder refused before anything is written."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from benchbox.audio import read_audio
from benchbox.cli.main import app
from benchbox.errors import DataError, MetricError
from benchbox.external import MANIFEST_NAME, import_clips
from benchbox.score import score_run
from tests.score_helpers import CLIP_SAMPLES, RATE_HZ, make_dataset, step

runner = CliRunner()


def _clips(root, rng, n=3):
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sf.write(root / f"take_{i}.wav", step(rng, RATE_HZ, CLIP_SAMPLES), RATE_HZ, subtype="PCM_16")
    return root


def _digest(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def _import(source, out, **kw):
    return import_clips(source, out, target_hz=RATE_HZ, target_samples=CLIP_SAMPLES, **kw)


def test_a_dataset_or_a_run_is_never_an_import_target(tmp_path, rng):
    data = make_dataset(tmp_path / "data", rng)
    before = _digest(data)
    with pytest.raises(DataError, match="is a benchbox dataset"):
        _import(_clips(tmp_path / "theirs", rng), data)
    assert _digest(data) == before
    (tmp_path / "run" / "samples").mkdir(parents=True)
    (tmp_path / "run" / "samples" / "manifest.csv").write_text("path\n")
    with pytest.raises(DataError, match="is a run folder"):
        _import(tmp_path / "theirs", tmp_path / "run")


def test_another_folders_import_is_replaced_only_with_overwrite(tmp_path, rng):
    out = tmp_path / "out"
    _import(_clips(tmp_path / "a" / "samples", rng), out)
    first = _digest(out)
    _import(tmp_path / "a" / "samples", out)  # the same folder again: a re-import, allowed
    assert _digest(out) == first
    other = _clips(tmp_path / "b" / "samples", rng, n=2)
    with pytest.raises(DataError, match="imported from elsewhere"):
        _import(other, out)
    assert _digest(out) == first
    _import(other, out, overwrite=True)
    assert sorted(pd.read_csv(out / MANIFEST_NAME)["source"].map(lambda p: p.split("/")[-3])) == ["b", "b"]


def test_a_folder_that_holds_other_things_is_refused(tmp_path, rng):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(DataError, match="not empty"):
        _import(_clips(tmp_path / "theirs", rng), tmp_path / "notes")
    assert (tmp_path / "notes" / "todo.txt").read_text() == "mine" and not (tmp_path / "notes" / "clips").exists()


def test_a_failed_import_leaves_the_earlier_one_byte_identical(tmp_path, rng):
    out = tmp_path / "out"
    _import(_clips(tmp_path / "theirs", rng), out)
    before = _digest(out)
    for p in (tmp_path / "theirs").iterdir():
        p.write_text("not audio")
    with pytest.raises(DataError, match="was not changed"):
        _import(tmp_path / "theirs", out)
    assert _digest(out) == before and sorted(p.name for p in out.iterdir()) == ["benchbox-clips.csv", "benchbox-import.json", "clips"]


def test_nan_clips_are_kept_for_the_nan_detector(tmp_path, rng):
    theirs = _clips(tmp_path / "theirs", rng, n=2)
    bad = step(rng, RATE_HZ, CLIP_SAMPLES)
    bad[100:200] = np.nan
    sf.write(theirs / "broken.wav", bad, RATE_HZ, subtype="FLOAT")
    _, skipped = _import(theirs, tmp_path / "out")
    assert skipped == []
    data, _ = read_audio(tmp_path / "out" / "clips" / "broken.wav", finite=False)
    assert np.isnan(data[100:200]).all() and np.isfinite(data[:100]).all()
    assert sf.info(str(tmp_path / "out" / "clips" / "take_0.wav")).subtype == "PCM_16"  # finite clips stay 16-bit


def test_nan_clip_counts_against_the_useful_rate(tmp_path, rng, monkeypatch):
    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "data", rng)
    theirs = _clips(tmp_path / "theirs", rng, n=2)
    sf.write(theirs / "broken.wav", np.full(CLIP_SAMPLES, np.nan, np.float32), RATE_HZ, subtype="FLOAT")
    result = score_run(theirs, reference=data, embedders=(), bootstrap=0, out=tmp_path / "out")
    row = result.groups[result.groups["group"] == "theirs"].iloc[0]
    assert row["n"] == 3 and abs(row["nan/flag_rate"] - 1 / 3) < 1e-9


def test_an_unknown_embedder_writes_nothing(tmp_path, rng, monkeypatch):
    data = make_dataset(tmp_path / "data", rng)
    with pytest.raises(MetricError, match="unknown embedder"):
        score_run(_clips(tmp_path / "theirs", rng), reference=data, embedders=("bogus",), bootstrap=0, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    monkeypatch.setenv("BENCHBOX_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    with pytest.raises(MetricError):  # user-supplied weights that are not there
        score_run(tmp_path / "theirs", reference=data, embedders=("vggish",), bootstrap=0, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    r = runner.invoke(app, ["score", str(tmp_path / "theirs"), "--reference", str(data), "--embedder", "mel", "--bootstrap", "0", "--out", str(data), "--quiet"])
    assert r.exit_code == 1 and "is a benchbox dataset" in r.output


def test_copies_of_the_test_clips_are_called_closer_than_real(tmp_path, rng, monkeypatch):
    """A generator that reproduces the reference's test recordings reads 'closer than real', not
    'indistinguishable': memorisation only looks at the train split."""
    import shutil

    from benchbox.data.dataset import load_dataset
    from benchbox.leaderboard import build_leaderboard
    from benchbox.stats import CLOSER

    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "data", rng, counts={"train": 8, "val": 8, "test": 8})
    copies = tmp_path / "copies"
    copies.mkdir()
    for p in load_dataset(data).clip_paths("test"):
        shutil.copy(p, copies / p.name)
    score_run(copies, reference=data, embedders=("mel",), bootstrap=50, out=tmp_path / "results" / "copies")
    build_leaderboard(tmp_path / "results", out=tmp_path / "board", metric="kad")
    text = (tmp_path / "board" / "leaderboard.md").read_text()
    assert CLOSER in text, text[:2000]



def test_an_imports_skipped_clips_stay_on_record_and_do_not_make_it_stale(tmp_path, rng, monkeypatch):
    from benchbox.external import IMPORT_MARKER
    from benchbox.freshness import stale_reason

    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "data", rng)
    theirs = _clips(tmp_path / "theirs", rng, n=2)
    (theirs / "empty.wav").write_bytes(b"")
    out = tmp_path / "out"
    score_run(theirs, reference=data, embedders=(), bootstrap=0, out=out)
    assert list(pd.read_csv(out / "scores" / "skipped.csv")["path"]) == ["empty.wav"]
    assert stale_reason(out) is None  # 2 clips in the import, 2 scored: the undecodable source file is no clip of it
    for legacy in (False, True):  # an import written before the marker keeps its list from scores/skipped.csv
        if legacy:
            (out / IMPORT_MARKER).unlink()
        score_run(out, reference=data, embedders=(), bootstrap=0)  # the re-score the leaderboard's hint asks for
        skipped = pd.read_csv(out / "scores" / "skipped.csv")
        assert list(skipped["path"]) == ["empty.wav"] and "empty file" in skipped["reason"][0]
        assert stale_reason(out) is None


@pytest.mark.parametrize("where", ["inside", "holding"])
def test_an_out_inside_the_folder_or_holding_it_is_refused(tmp_path, rng, where):
    data = make_dataset(tmp_path / "data", rng)
    theirs = _clips(tmp_path / "theirs", rng)
    out = theirs / "scored" if where == "inside" else tmp_path
    before = _digest(theirs)
    r = runner.invoke(app, ["score", str(theirs), "--reference", str(data), "--embedder", "", "--bootstrap", "0", "--out", str(out), "--quiet"])
    assert r.exit_code == 1 and r.output.count("error:") == 1 and "Traceback" not in r.output, r.output
    assert ("is inside " + str(theirs) if where == "inside" else "is inside the output folder") in " ".join(r.output.split())
    assert _digest(theirs) == before and not (tmp_path / "clips").exists()
