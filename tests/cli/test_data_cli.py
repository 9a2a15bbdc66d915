import json

import numpy as np
from typer.testing import CliRunner

from benchbox.cli.main import app
from tests.data.helpers import recording, write

runner = CliRunner()


def test_synth_import_info_roundtrip(tmp_path):
    synth = tmp_path / "synth"
    r = runner.invoke(app, ["data", "synth", "--n", "12", "--out", str(synth), "--seed", "1", "-q"])
    assert r.exit_code == 0, r.output
    assert "synthesised 12 clips" in r.output
    r = runner.invoke(app, ["data", "import", str(synth / "clips"), "--out", str(tmp_path / "re"), "--seed", "2", "--set", "min_step_gap_ms=250", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["clips"] == 12 and summary["rejected"] == 0 and sum(summary["per_split"].values()) == 12
    r = runner.invoke(app, ["data", "info", str(tmp_path / "re"), "--json"])
    info = json.loads(r.stdout)
    assert r.exit_code == 0 and info["kind"] == "import" and info["clips"] == 12 and len(info["per_label"]) == 6


def test_import_prints_counts_and_keeps_going_past_bad_files(tmp_path):
    write(tmp_path / "src" / "gravel_1.wav", recording(np.random.default_rng(0), [0.02], 0.3))
    (tmp_path / "src" / "broken.wav").write_text("not audio")
    r = runner.invoke(app, ["data", "import", str(tmp_path / "src"), "--out", str(tmp_path / "ds"), "-q"])
    assert r.exit_code == 0, r.output
    assert "imported 1 clips from 1 sources" in r.output and "rejected 1" in r.output


def test_import_errors_are_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    r = runner.invoke(app, ["data", "import", str(tmp_path / "empty"), "--out", str(tmp_path / "ds")])
    assert r.exit_code == 1 and "error: no audio files" in r.output and "Traceback" not in r.output
    write(tmp_path / "silent" / "a.wav", np.zeros(16_000, dtype=np.float32))
    r = runner.invoke(app, ["data", "import", str(tmp_path / "silent"), "--out", str(tmp_path / "ds")])
    assert r.exit_code == 1 and "error: no usable audio" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["data", "import", str(tmp_path / "silent"), "--out", str(tmp_path / "ds"), "--set", "bogus=1"])
    assert r.exit_code == 1 and "error: unknown config key 'bogus'" in r.output
    r = runner.invoke(app, ["data", "synth", "--n", "0", "--out", str(tmp_path / "s")])
    assert r.exit_code == 1 and "error: synth: n=0" in r.output and "Traceback" not in r.output


def test_errors_naming_a_non_utf8_path_print_it_escaped(tmp_path):
    import os

    src = tmp_path / os.fsdecode(b"sil\xe9nt")  # Latin-1 e-acute: not valid UTF-8
    os.rename(write(tmp_path / "tmp" / "a.wav", np.zeros(16_000, dtype=np.float32)).parent, src)
    r = runner.invoke(app, ["data", "import", str(src), "--out", str(tmp_path / "ds")])
    assert r.exit_code == 1 and "error: no usable audio in" in r.output and "sil\\xe9nt" in r.output, r.output
    r = runner.invoke(app, ["data", "info", str(tmp_path / os.fsdecode(b"gone\xe9"))])
    assert r.exit_code == 1 and "error:" in r.output and "gone\\xe9" in r.output and "Traceback" not in r.output, r.output


def test_a_full_disk_during_synth_is_one_error_line_and_the_dataset_stays(tmp_path, monkeypatch):
    import errno
    import os

    out = tmp_path / "synth"
    r = runner.invoke(app, ["data", "synth", "--n", "8", "--out", str(out), "-q"])
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    calls = []

    def fsync(fd):
        calls.append(fd)
        if len(calls) > 3:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync)
    r = runner.invoke(app, ["data", "synth", "--n", "8", "--out", str(out), "--overwrite", "--seed", "5"])
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    errors = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and f"cannot write {out}/" in errors[0] and "No space left on device" in errors[0], r.output
    assert [p.name for p in tmp_path.iterdir()] == ["synth"]  # no staging folder left behind
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_info_rounds_the_table_and_keeps_json_exact(tmp_path):
    import pandas as pd

    from tests.review.fakes import make_dataset

    data = make_dataset(tmp_path / "ds", np.random.default_rng(0))
    manifest = pd.read_csv(data / "manifest.csv")
    manifest["rms_dbfs"] = -28.113999999999997  # a median as float arithmetic leaves it
    manifest.to_csv(data / "manifest.csv", index=False)
    r = runner.invoke(app, ["data", "info", str(data)])
    assert r.exit_code == 0, r.output
    assert "-28.11 " in r.output and "-28.11399" not in r.output  # once printed as -28.113999999999997
    info = json.loads(runner.invoke(app, ["data", "info", str(data), "--json"]).stdout)
    assert info["rms_dbfs_median"] == -28.113999999999997


def test_overwrite_names_files_an_import_did_not_write_in_one_error_line(tmp_path):
    out = tmp_path / "synth"
    assert runner.invoke(app, ["data", "synth", "--n", "8", "--out", str(out), "-q"]).exit_code == 0
    (out / "NOTES.txt").write_text("mine")
    r = runner.invoke(app, ["data", "synth", "--n", "8", "--out", str(out), "--overwrite", "-q"])
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    errors = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and errors[0].endswith("holds what a dataset import did not write: NOTES.txt"), r.output
    assert "hint: move them out of" in r.output and (out / "NOTES.txt").read_text() == "mine"
