"""benchbox-clips.csv from a hostile or careless user: paths that leave the folder, clips whose
converted names collide, primes that leave nothing to score; all refused before anything is written."""

from __future__ import annotations

import hashlib

import pytest
import soundfile as sf

from benchbox.errors import DataError
from benchbox.external import MANIFEST_NAME
from benchbox.score import score_run
from tests.score_helpers import CLIP_SAMPLES, RATE_HZ, make_dataset, step


def _clip(path, rng, n=CLIP_SAMPLES, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, step(rng, RATE_HZ, n), RATE_HZ, **({"format": fmt} if fmt else {}))
    return path


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def data(tmp_path, rng):
    return make_dataset(tmp_path / "data", rng)


def _score(theirs, data, out):
    return score_run(theirs, reference=data, embedders=(), bootstrap=0, out=out)


@pytest.mark.parametrize("kind", ["absolute", "dotdot"])
def test_a_manifest_path_outside_the_folder_is_refused_and_nothing_is_written(tmp_path, rng, data, kind):
    victim = _clip(tmp_path / "victim.wav", rng)  # the user's own original, outside the folder
    before = _sha(victim)
    theirs = tmp_path / "theirs"
    _clip(theirs / "a.wav", rng)
    path = str(victim) if kind == "absolute" else "../victim.wav"
    (theirs / MANIFEST_NAME).write_text(f"path\na.wav\n{path}\n")
    with pytest.raises(DataError, match=f"{MANIFEST_NAME}, line 3: path '.*' (is absolute|leaves the folder)"):
        _score(theirs, data, tmp_path / "out")
    assert _sha(victim) == before and not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "theirs", "victim.wav"]


def test_clips_whose_converted_names_collide_keep_their_suffix(tmp_path, rng, data):
    import pandas as pd

    theirs = tmp_path / "theirs"
    for name, fmt in (("a.wav", None), ("a.flac", "FLAC"), ("a.ogg", "OGG"), ("b.flac", "FLAC")):
        _clip(theirs / name, rng, fmt=fmt)
    result = _score(theirs, data, tmp_path / "out")
    assert sorted(result.clips["path"]) == ["clips/a.flac.wav", "clips/a.ogg.wav", "clips/a.wav", "clips/b.wav"]
    assert result.clips["sha256"].nunique() == 4  # four clips scored, not one clip four times
    manifest = pd.read_csv(tmp_path / "out" / MANIFEST_NAME)
    assert sorted(manifest["source"].map(lambda p: p.split("/")[-1])) == ["a.flac", "a.ogg", "a.wav", "b.flac"]


def test_clips_that_differ_only_in_case_are_refused_before_anything_is_written(tmp_path, rng, data):
    theirs = tmp_path / "theirs"
    _clip(theirs / "a.wav", rng)
    _clip(theirs / "A.wav", rng)
    with pytest.raises(DataError, match="'A.wav' and 'a.wav' would both become clips/a.wav"):
        _score(theirs, data, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    (theirs / "A.wav").unlink()
    (theirs / MANIFEST_NAME).write_text("path,group\na.wav,x\n./a.wav,y\n")
    with pytest.raises(DataError, match="lists './a.wav' twice"):
        _score(theirs, data, tmp_path / "out")


def test_a_user_manifest_with_a_source_column_is_not_taken_for_an_import(tmp_path, rng, data, monkeypatch):
    from typer.testing import CliRunner

    from benchbox.cli.main import app

    theirs = tmp_path / "theirs"
    _clip(theirs / "a.wav", rng)
    _clip(theirs / "b.wav", rng)
    (theirs / MANIFEST_NAME).write_text("path,group,source\na.wav,x,my synth\nb.wav,y,my synth\n")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["score", str(theirs), "--reference", str(data), "--embedder", "", "--bootstrap", "0", "--quiet"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in theirs.iterdir()) == ["a.wav", "b.wav", MANIFEST_NAME]  # nothing written into their folder
    assert (tmp_path / "results" / "theirs" / "scores" / "groups.csv").is_file()


def test_an_import_written_before_the_marker_is_still_an_import(tmp_path, rng, data):
    from benchbox.external import IMPORT_MARKER, imported

    out = tmp_path / "out"
    _score(_clip(tmp_path / "theirs" / "a.wav", rng).parent, data, out)
    assert imported(out)
    (out / IMPORT_MARKER).unlink()  # as this version's predecessors wrote it
    assert imported(out)
    _score(tmp_path / "theirs", data, out)  # a re-import of the same folder is still allowed
    assert imported(out) and not imported(tmp_path / "theirs")


@pytest.mark.parametrize("prime", ["inf", "1e400", "nan", "-5", "ten"])
def test_a_prime_that_is_no_finite_length_is_refused_before_anything_is_written(tmp_path, rng, data, prime):
    theirs = tmp_path / "theirs"
    _clip(theirs / "a.wav", rng)
    _clip(theirs / "b.wav", rng)
    (theirs / MANIFEST_NAME).write_text(f"path,prime_ms\na.wav,10\nb.wav,{prime}\n")
    with pytest.raises(DataError, match=f"line 3: prime_ms '{prime}' is not a finite number"):
        _score(theirs, data, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_prime_that_leaves_no_continuation_is_refused_naming_the_line_and_the_length(tmp_path, rng, data):
    clip_ms = CLIP_SAMPLES * 1000 / RATE_HZ  # 256 ms: the reference's clip length
    theirs = tmp_path / "theirs"
    _clip(theirs / "a.wav", rng, n=4 * CLIP_SAMPLES)  # 1024 ms of their own, cropped to 256 ms
    _clip(theirs / "b.wav", rng)
    (theirs / MANIFEST_NAME).write_text(f"path,prime_ms\nb.wav,20\na.wav,{clip_ms:g}\n")
    with pytest.raises(DataError, match=f"line 3: prime_ms {clip_ms:g} leaves no sample of the reference's clip length.*\\({CLIP_SAMPLES} samples, {clip_ms:g} ms\\)"):
        _score(theirs, data, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    (theirs / MANIFEST_NAME).write_text("path,prime_ms\nb.wav,300\n")
    with pytest.raises(DataError, match=f"line 2: prime_ms 300 leaves no sample of the clip 'b.wav' \\({CLIP_SAMPLES} samples, {clip_ms:g} ms\\)"):
        score_run(theirs, reference=data, embedders=(), bootstrap=0)  # scored in place, unconverted: its own length
    assert sorted(p.name for p in theirs.iterdir()) == ["a.wav", "b.wav", MANIFEST_NAME]
    almost = clip_ms - 0.01  # under the length in ms, but rounds to every sample: no continuation either
    (theirs / MANIFEST_NAME).write_text(f"path,prime_ms\nb.wav,20\na.wav,{almost:g}\n")
    with pytest.raises(DataError, match=f"line 3: prime_ms {almost:g} leaves no sample"):
        _score(theirs, data, tmp_path / "out")
    (theirs / MANIFEST_NAME).write_text(f"path,prime_ms\nb.wav,20\na.wav,{clip_ms - 10:g}\n")
    result = _score(theirs, data, tmp_path / "out")  # shorter primes still score
    assert len(result.clips) == 2


def test_two_primes_that_end_at_the_same_sample_are_refused_naming_both_lines(tmp_path, rng, data):
    """10 and 10.01 ms both end at sample 160 at 16 kHz: one continuation span under two names, whose
    span@ scores would carry only one of them. The same prime written twice is one span, and scores."""
    theirs = tmp_path / "theirs"
    for name in ("a.wav", "b.wav", "c.wav"):
        _clip(theirs / name, rng)
    near = 10 + 0.4 * 1000 / RATE_HZ  # under half a sample past 10 ms
    (theirs / MANIFEST_NAME).write_text(f"path,prime_ms\na.wav,10\nb.wav,0\nc.wav,{near:g}\n")
    with pytest.raises(DataError, match=f"lines 2 and 4: prime_ms 10 and {near:g} both cut the clip at sample {round(10 * RATE_HZ / 1000)}"):
        _score(theirs, data, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    (theirs / MANIFEST_NAME).write_text("path,prime_ms\na.wav,10\nb.wav,0\nc.wav,10.0\n")
    assert len(_score(theirs, data, tmp_path / "out").clips) == 3


def test_a_zero_prime_and_an_empty_cell_are_one_unprimed_group(tmp_path, rng, data):
    """"0", "0.0" and an empty cell all mean "no prime": their clips form one group, scored whole,
    not an unprimed group beside a 0 ms one."""
    theirs = tmp_path / "theirs"
    for name in ("a.wav", "b.wav", "c.wav", "d.wav"):
        _clip(theirs / name, rng)
    (theirs / MANIFEST_NAME).write_text("path,prime_ms\na.wav,\nb.wav,0\nc.wav,0.0\nd.wav,10\n")
    result = _score(theirs, data, tmp_path / "out")
    unprimed = result.clips[result.clips["path"].str.contains("[abc]\\.wav$")]
    assert len(unprimed) == 3 and (unprimed["prime_ms"].fillna("").astype(str) == "").all()
    assert sorted(g for g in result.groups["group"] if g != "floor") == ["theirs", "theirs/prime_ms=10"]
    (theirs / MANIFEST_NAME).write_text("path,prime_ms\na.wav,\nb.wav,0.00001\n")  # rounds to no sample: unprimed in all but name
    with pytest.raises(DataError, match="line 3: prime_ms 0.00001 is under half a sample at 16000 Hz"):
        _score(theirs, data, tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_linked_group_folders_are_followed_and_every_entry_left_out_is_named(tmp_path, rng, data):
    import os

    theirs = tmp_path / "theirs"
    _clip(theirs / "g1" / "a.wav", rng)
    _clip(theirs / "g1" / "b.wav", rng)
    _clip(tmp_path / "kept-elsewhere" / "c.wav", rng)
    _clip(tmp_path / "kept-elsewhere" / "d.wav", rng)
    os.symlink(tmp_path / "kept-elsewhere", theirs / "g2")  # a group folder linked in
    os.symlink(theirs, theirs / "g1" / "loop")  # a cycle
    os.symlink(tmp_path / "nowhere.wav", theirs / "broken.wav")
    os.mkfifo(theirs / "pipe.wav")
    _clip(theirs / "scores" / "s.wav", rng)  # where in-place scores go: left out, but said
    result = _score(theirs, data, tmp_path / "out")
    groups = result.groups.set_index("group")["n"]
    assert groups["theirs/g1"] == 2 and groups["theirs/g2"] == 2
    said = "\n".join(result.warnings)
    for name, why in (("broken.wav", "a broken symbolic link"), ("pipe.wav", "not a regular file"), ("g1/loop", "already listed"), ("scores/s.wav", "not scored")):
        assert f"{theirs / name} (" in said and why in said, said


def test_a_file_in_a_hidden_folder_is_left_out_naming_that_folder(tmp_path, rng):
    from benchbox.external import walk_clips
    from benchbox.score import _is_output

    _clip(tmp_path / "a" / ".b" / "x.wav", rng)
    _clip(tmp_path / "a" / "y.wav", rng)
    files, ignored = walk_clips(tmp_path, skip=_is_output)
    assert [f.name for f in files] == ["y.wav"]
    assert ignored == [("a/.b/x.wav", "inside .b/, a scores/ or hidden folder (where benchbox writes scores and staging folders): not scored")]
