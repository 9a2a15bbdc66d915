import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from benchbox.audio import load_audio
from benchbox.data.dataset import MANIFEST_COLUMNS, clip_sha256, load_dataset
from benchbox.data.importer import ImportConfig, import_folder, surface_label
from benchbox.errors import DataError
from tests.data.helpers import RATE_HZ, recording, write

from pathlib import Path


@pytest.fixture
def src(tmp_path, rng):
    """Six sources: one 3-step walk (44.1 kHz stereo), single steps, one exact copy."""
    root = tmp_path / "src"
    write(root / "gravel" / "walk.wav", recording(rng, [0.05, 0.55, 1.1], 1.5, rate_hz=44_100), rate_hz=44_100, channels=2)
    for i, name in enumerate(["footstep_wood_01.wav", "wood/step2.wav", "snow_1.flac", "misc/thing.wav"]):
        write(root / name, recording(rng, [0.02 + 0.01 * i], 0.4))
    (root / "copy").mkdir()
    (root / "copy" / "thing_again.wav").write_bytes((root / "misc" / "thing.wav").read_bytes())
    (root / "COPYRIGHT").write_text("not audio")
    return root


def test_import_counts_onsets_and_format(src, tmp_path):
    out = tmp_path / "ds"
    result = import_folder(src, out)
    m = pd.read_csv(out / "manifest.csv", dtype={"id": str}, keep_default_na=False)
    assert tuple(m.columns) == (*MANIFEST_COLUMNS, "gain_db")
    assert (m["gain_db"] == 0.0).all()  # nothing needed scaling
    assert (m["source"] == "gravel/walk.wav").sum() == 3  # the walk is cut into its 3 steps
    assert result.clips == len(m) == 7 and result.duplicates == 1 and result.ignored == 1
    walk = m[m["source"] == "gravel/walk.wav"]
    # 44.1 kHz source: the resampler's pre-ringing may cross -60 dBFS a little early
    assert walk["offset_seconds"].tolist() == pytest.approx([0.05, 0.55, 1.1], abs=2e-3)
    for row in m.itertuples():
        wave = load_audio(out / row.path)
        assert wave.shape == (8192,)
        first = int(np.flatnonzero(np.abs(wave) > 0)[0])
        assert abs(first - 160) <= RATE_HZ // 1000  # onset 10 ms from the start
        assert row.sha256 == clip_sha256(out / row.path)  # what changed_clips checks it against
    assert dict(zip(m["source"], m["label"])) == {
        "gravel/walk.wav": "gravel", "footstep_wood_01.wav": "wood", "wood/step2.wav": "wood",
        "snow_1.flac": "snow", "copy/thing_again.wav": "",  # the first copy in path order is kept
    }  # fmt: skip
    rejected = pd.read_csv(out / "rejected.csv")
    assert rejected["file"].tolist() == ["misc/thing.wav"] and "duplicate" in rejected["reason"][0]
    ds = load_dataset(out)
    assert ds.info["kind"] == "import" and ds.info["normalise"] == "none" and ds.info["import"]["trim_db"] == -60.0
    assert (out / "config.toml").is_file() and (out / "versions.json").is_file()


def test_split_is_grouped_and_deterministic(tmp_path, rng):
    src = tmp_path / "src"
    for i in range(12):
        write(src / f"walk{i:02d}.wav", recording(rng, [0.05, 0.6, 1.2][: 1 + i % 3], 1.6))
    a = import_folder(src, tmp_path / "a", config=ImportConfig(seed=3))
    b = import_folder(src, tmp_path / "b", config=ImportConfig(seed=3))
    c = import_folder(src, tmp_path / "c", config=ImportConfig(seed=4))
    ma, mb, mc = (pd.read_csv(r.out / "manifest.csv") for r in (a, b, c))
    assert (ma.groupby("source")["split"].nunique() == 1).all()  # no source in two splits
    assert all(a.per_split[s] > 0 for s in ("train", "val", "test"))
    assert ma.equals(mb)
    assert not ma["split"].equals(mc["split"])


def _bad_files(root: Path, rng) -> dict[str, str]:
    """Each bad kind of file, and a word its rejection reason must hold."""
    root.mkdir(parents=True)
    good = recording(rng, [0.02], 0.3)
    write(root / "good.wav", good)
    (root / "empty.wav").write_bytes(b"")
    (root / "text.wav").write_text("this is not audio\n" * 20)
    write(root / "zero_frames.wav", np.zeros(0, dtype=np.float32))
    sf.write(str(root / "nan.wav"), np.full(1000, np.nan, dtype=np.float32), RATE_HZ, subtype="FLOAT")
    write(root / "silent.wav", np.zeros(RATE_HZ, dtype=np.float32))
    write(root / "quiet.wav", np.full(RATE_HZ, 1e-4, dtype=np.float32))
    full = (root / "good.wav").read_bytes()
    (root / "truncated.wav").write_bytes(full[: len(full) // 2])
    (root / "header_only.wav").write_bytes(full[:40])
    return {"empty.wav": "empty", "text.wav": "cannot decode", "zero_frames.wav": "no audio frames", "nan.wav": "NaN",
            "silent.wav": "silent (peak", "quiet.wav": "silent (peak", "truncated.wav": "truncated", "header_only.wav": "cannot decode"}  # fmt: skip


def test_every_bad_file_is_rejected_with_a_reason(tmp_path, rng):
    expected = _bad_files(tmp_path / "src", rng)
    result = import_folder(tmp_path / "src", tmp_path / "out")
    assert result.clips == 1 and result.rejected == len(expected)
    reasons = dict(pd.read_csv(tmp_path / "out" / "rejected.csv").itertuples(index=False))
    for name, word in expected.items():
        assert word in reasons[name], (name, reasons[name])
        assert "\n" not in reasons[name]


def test_no_usable_audio_and_empty_folder_raise(tmp_path, rng):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no audio files"):
        import_folder(tmp_path / "empty", tmp_path / "out")
    write(tmp_path / "bad" / "silent.wav", np.zeros(RATE_HZ, dtype=np.float32))
    with pytest.raises(DataError, match="no usable audio.*silent"):
        import_folder(tmp_path / "bad", tmp_path / "out2")


def test_output_folder_is_protected(src, tmp_path):
    import_folder(src, tmp_path / "ds")
    with pytest.raises(DataError, match="not empty"):
        import_folder(src, tmp_path / "ds")
    result = import_folder(src, tmp_path / "ds", config=ImportConfig(normalise="peak"), overwrite=True)
    m = pd.read_csv(result.out / "manifest.csv")
    assert m["peak"].to_numpy() == pytest.approx(10 ** (-1 / 20), abs=2e-4)
    assert len(list((result.out / "clips").glob("*.wav"))) == len(m)


def test_an_out_inside_the_source_or_a_file_as_source_is_refused(src, tmp_path):
    """An --out inside the source made the next import of that source take the dataset's own clips as new
    recordings (and split copies of test clips into train); a file as source read 'not found'."""
    with pytest.raises(DataError, match="inside the source folder"):
        import_folder(src, src / "inner")
    assert not (src / "inner").exists()
    one = next(p for p in src.rglob("*") if p.is_file())
    with pytest.raises(DataError, match="must be a folder, not a file"):
        import_folder(one, tmp_path / "ds_one")


def test_an_import_that_leaves_a_split_empty_says_so(tmp_path, rng):
    """One recording imported silently into train only; train then failed with 'no clips in the val split'."""
    write(tmp_path / "one" / "fs_wood1.wav", recording(rng, [0.1, 0.6], 1.2))
    result = import_folder(tmp_path / "one", tmp_path / "ds")
    assert result.per_split["val"] == 0 and result.per_split["test"] == 0
    assert any("val, test split(s) are empty: 1 source file(s) cannot fill 3 splits" in w for w in result.warnings), result.warnings


def test_surface_label_from_name_then_folder():
    assert surface_label(Path("0ad/fs_gravel2.ogg")) == "gravel"
    assert surface_label(Path("minetest/default_hard_footstep.1.ogg")) == "hard"
    assert surface_label(Path("Wood/step1.wav")) == "wood"
    assert surface_label(Path("misc/thing.wav")) == ""


def test_interrupted_or_failed_reimport_leaves_the_dataset_byte_identical(src, tmp_path):
    """prepare_out used to delete every old clip before the new import had produced one."""
    out = tmp_path / "ds"
    import_folder(src, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def ctrl_c(task, done, total, **info):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_folder(src, out, overwrite=True, progress=ctrl_c)
    silent = tmp_path / "silent"
    write(silent / "quiet.wav", np.zeros(RATE_HZ, dtype=np.float32))
    with pytest.raises(DataError, match="no usable audio"):
        import_folder(silent, out, overwrite=True)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "silent", "src"]  # no staging folder left


def test_load_clips_refuses_a_clip_of_another_length_or_rate(src, tmp_path):
    """Dataset.load_clips used to cut, zero-pad or resample an edited clip without a word."""
    out = tmp_path / "ds"
    import_folder(src, out)
    ds = load_dataset(out)
    assert ds.load_clips().shape == (7, 8192)
    clip = ds.clip_paths()[0]
    sf.write(clip, np.zeros(4096, dtype=np.float32), RATE_HZ, subtype="PCM_16")
    with pytest.raises(DataError, match=f"{clip}: 4096 samples at 16000 Hz, but the dataset's clips are 8192"):
        ds.load_clips()


def test_a_step_longer_than_the_clip_is_reported_not_cut_silently(tmp_path, rng):
    src = tmp_path / "src"
    t = np.arange(2 * RATE_HZ) / RATE_HZ
    wave = np.where(t > 0.1, rng.standard_normal(t.size) * np.exp(-(t - 0.1) / 0.5) * 0.1, 0.0).astype(np.float32)  # ~1.5 s decay
    write(src / "long_gravel.wav", wave)
    write(src / "short_gravel.wav", recording(rng, [0.05], 0.5))
    result = import_folder(src, tmp_path / "ds")
    assert result.truncated == 1 and result.clips == 2
    assert any("1 step(s) were longer than the 8192-sample clip" in w for w in result.warnings)
    assert load_dataset(tmp_path / "ds").info["truncated_steps"] == 1


def _ogg(wave: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    sf.write(buf, wave, RATE_HZ, format="OGG")
    return buf.getvalue()


def test_chained_ogg_gives_the_steps_of_every_stream_and_the_import_says_so(tmp_path, rng):
    src = tmp_path / "src"
    src.mkdir()
    (src / "chained.ogg").write_bytes(_ogg(recording(rng, [0.05], 0.6)) + _ogg(recording(rng, [0.05], 0.6)))
    result = import_folder(src, tmp_path / "ds")
    assert result.clips == 2  # was 1: the second stream was dropped without a word
    assert "2 chained Ogg streams" in result.decoding["chained.ogg"]
    assert any(w.startswith("chained.ogg: 2 chained Ogg streams") for w in result.warnings)
    assert "chained.ogg" in load_dataset(tmp_path / "ds").info["decoding"]


def test_names_that_are_not_utf8_are_read_or_rejected_escaped(tmp_path, rng):
    import os

    src = tmp_path / "src"
    (src / os.fsdecode(b"gr\xe9vel")).mkdir(parents=True)  # Latin-1 e-acute: not valid UTF-8
    os.rename(write(tmp_path / "a.wav", recording(rng, [0.05], 0.5)), src / os.fsdecode(b"gr\xe9vel") / "a.wav")
    os.rename(write(tmp_path / "b.wav", recording(rng, [0.05], 0.5)), src / os.fsdecode(b"caf\xe9_wood.wav"))
    (src / os.fsdecode(b"bad\xe9.wav")).write_text("not audio\n" * 20)
    result = import_folder(src, tmp_path / "ds")  # was: a UnicodeEncodeError traceback and no dataset
    m = pd.read_csv(tmp_path / "ds" / "manifest.csv", keep_default_na=False)
    assert sorted(m["source"]) == ["caf\\xe9_wood.wav", "gr\\xe9vel/a.wav"] and result.clips == 2
    assert dict(zip(m["source"], m["label"]))["caf\\xe9_wood.wav"] == "wood"
    rejected = dict(pd.read_csv(tmp_path / "ds" / "rejected.csv").itertuples(index=False))
    assert list(rejected) == ["bad\\xe9.wav"] and "cannot decode" in rejected["bad\\xe9.wav"]


def test_what_the_walk_passes_by_is_counted_and_listed(tmp_path, rng, monkeypatch):
    import os

    src = tmp_path / "src"
    write(src / "good.wav", recording(rng, [0.05], 0.5))
    write(tmp_path / "elsewhere" / "x.wav", recording(rng, [0.05], 0.5))
    (src / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (src / "gone.wav").symlink_to(tmp_path / "missing.wav")
    write(src / "locked" / "y.wav", recording(rng, [0.05], 0.5))
    write(src / ".hidden" / "z.wav", recording(rng, [0.05], 0.5))
    write(src / "._good.wav", recording(rng, [0.05], 0.5))
    os.mkfifo(src / "pipe.wav")
    real_scandir = os.scandir

    def scandir(path="."):
        if str(path).endswith("locked"):  # as chmod 000 does for a non-root user
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = import_folder(src, tmp_path / "ds")
    rejected = dict(pd.read_csv(tmp_path / "ds" / "rejected.csv").itertuples(index=False))
    assert result.clips == 1 and result.skipped == 6 == len(rejected)
    assert "not followed" in rejected["linked"] and "broken" in rejected["gone.wav"]
    assert "not readable (Permission denied)" in rejected["locked"]
    assert "hidden" in rejected[".hidden"] and "hidden" in rejected["._good.wav"]
    assert "not a regular file" in rejected["pipe.wav"]
    assert any("6 path(s) walked past" in w for w in result.warnings)


def test_overwrite_refuses_a_dataset_folder_holding_other_files(src, tmp_path):
    """--overwrite replaced the whole folder, deleting a note, a leaderboard and a references/
    folder someone had put beside the clips without a word; it now names them and deletes nothing."""
    out = tmp_path / "ds"
    import_folder(src, out)
    (out / "NOTES.txt").write_text("mine")
    (out / "leaderboard.md").write_text("mine")
    (out / "leaderboard.csv").write_text("mine")
    (out / "references").mkdir()
    (out / "references" / "a.wav").write_bytes(b"mine")
    (out / "clips" / "README").write_text("mine")
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(DataError, match=r"holds what a dataset import did not write: NOTES.txt, leaderboard.csv, leaderboard.md and 2 more \(hint") as e:
        import_folder(src, out, overwrite=True)
    assert "move them out of" in e.value.hint and "another --out" in e.value.hint
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    for extra in ("NOTES.txt", "leaderboard.md", "leaderboard.csv", "references", "clips/README"):
        (out / extra).unlink() if (out / extra).is_file() else shutil.rmtree(out / extra)
    (out / "cache").mkdir()
    (out / "cache" / "baselines-0.json").write_text("{}")  # benchbox's own cache, written by train
    (out / ".DS_Store").write_bytes(b"")  # a file browser's, not the user's work
    import_folder(src, out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["clips", "config.toml", "dataset.json", "manifest.csv", "rejected.csv", "versions.json"]
