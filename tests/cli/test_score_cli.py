"""`benchbox score` through the CLI: JSON output, table, and one-line errors."""

import json

import pytest
from typer.testing import CliRunner

from benchbox.cli.main import app
from tests.score_helpers import make_dataset, make_run

runner = CliRunner()


def _run(tmp_path, rng):
    data = make_dataset(tmp_path / "data", rng)
    return make_run(tmp_path / "run", data, rng), data


def test_score_json_prints_groups(tmp_path, rng):
    run, _ = _run(tmp_path, rng)
    args = ["score", str(run), "--embedder", "mel", "--bootstrap", "20", "--json", "--set", f"cache_dir={tmp_path / 'cache'}"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["format"], doc["command"], doc["out"]) == (1, "score", str(run / "scores")) and doc["clips"] == 8
    groups = doc["groups"]
    assert [g["kind"] for g in groups] == ["generated", "generated", "floor"]
    assert groups[0]["fad/mel/lo"] <= groups[0]["fad/mel"] <= groups[0]["fad/mel/hi"]
    assert (run / "scores" / "groups.csv").is_file()


def test_score_table_and_detector_override(tmp_path, rng):
    run, data = _run(tmp_path, rng)
    args = ["score", str(run), "--reference", str(data), "--embedder", "mel", "--bootstrap", "0", "--quiet",
            "--set", f"cache_dir={tmp_path / 'cache'}", "--set", "detectors.periodicity_strength_flag_above=2.0"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "floor" in result.stdout and "8 clips scored, 0 skipped" in result.stdout
    assert "periodicity=" not in result.stdout  # nothing can reach a strength of 2


def test_score_empty_folder_is_one_line_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["score", str(tmp_path / "empty"), "--embedder", ""])
    assert result.exit_code == 1
    assert "error: no clips to score" in result.output and "hint:" in result.output
    assert "Traceback" not in result.output


def test_score_unknown_detector_key_is_one_line_error(tmp_path, rng):
    run, _ = _run(tmp_path, rng)
    result = runner.invoke(app, ["score", str(run), "--set", "detectors.dc_thresh=1"])
    assert result.exit_code == 1
    assert "error: unknown config key 'detectors.dc_thresh'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("setting", "message"), [
    ("detectors.dc_offset_flag_above=-1", "dc_offset_flag_above must be > 0, got -1"),  # once accepted: every clip flagged
    ("detectors.clip_run_flag_above=0", "clip_run_flag_above must be >= 1, got 0"),
    ("diversity_max_clips=0", "diversity_max_clips must be >= 2, got 0"),
])  # fmt: skip
def test_score_meaningless_threshold_is_one_line_error(tmp_path, rng, setting, message):
    run, _ = _run(tmp_path, rng)
    result = runner.invoke(app, ["score", str(run), "--set", setting])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0] and "hint:" in result.output
    assert not (run / "scores").exists()


def test_score_weights_option_reaches_the_vggish_embedder(tmp_path, rng, monkeypatch):
    """README and the vggish hint promise --weights: the path given is the one VGGish loads."""
    import numpy as np

    from benchbox.metrics import vggish as V

    run, _ = _run(tmp_path, rng)
    missing = tmp_path / "nowhere" / "my-vggish.pth"
    base = ["score", str(run), "--embedder", "vggish", "--bootstrap", "0", "--quiet", "--set", f"cache_dir={tmp_path / 'cache'}"]
    result = runner.invoke(app, [*base, "--weights", str(missing)])
    assert result.exit_code == 1 and f"error: VGGish weights not found: {missing}" in result.output
    assert "--weights PATH" in result.output  # the hint names an option that exists

    weights = tmp_path / "my-vggish.pth"
    weights.write_bytes(b"not used: load is stubbed")
    loaded = []
    monkeypatch.setattr(V.VGGishEmbedder, "load", lambda self: (loaded.append(self.weights_path), setattr(self, "_loaded", True)))
    monkeypatch.setattr(V.VGGishEmbedder, "_forward", lambda self, batch: np.stack([[batch[:, :128].mean(0)]] * len(batch)) + batch[:, None, :128])
    result = runner.invoke(app, [*base, "--weights", str(weights)])
    assert result.exit_code == 0, result.output
    assert loaded and set(loaded) == {weights}  # FAD/KAD and the verdict's k-NN metrics each load it
    assert json.loads((run / "scores" / "scores.json").read_text())["weights"] == str(weights)


def test_score_weights_without_vggish_is_one_line_error(tmp_path, rng):
    run, _ = _run(tmp_path, rng)
    result = runner.invoke(app, ["score", str(run), "--embedder", "mel", "--weights", str(tmp_path / "w.pth")])
    assert result.exit_code == 1
    assert "error: --weights is for the vggish embedder" in result.output and "--embedder mel,vggish" in result.output


def test_a_full_disk_during_score_is_one_error_line_and_earlier_scores_stay(tmp_path, rng, monkeypatch):
    import errno
    import os

    run, _ = _run(tmp_path, rng)
    args = ["score", str(run), "--embedder", "mel", "--bootstrap", "0", "--quiet", "--set", f"cache_dir={tmp_path / 'cache'}"]
    assert runner.invoke(app, args).exit_code == 0
    before = {p.name: p.read_bytes() for p in (run / "scores").iterdir() if p.is_file()}

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    result = runner.invoke(app, [*args, "--bootstrap", "5"])  # was: an OSError traceback
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "cannot write" in errors[0] and "No space left on device" in errors[0], result.output
    assert {p.name: p.read_bytes() for p in (run / "scores").iterdir() if p.is_file()} == before
    assert not [p for p in run.rglob("*") if p.name.startswith((".staging-", ".")) and ".tmp" in p.name]


def test_score_table_shows_the_continuation_verdict_of_primed_groups():
    import pandas as pd

    from benchbox.cli.score import _table

    row = {"group": "g/primed", "n": 4, "useful/auto_rate": 1.0, "useful/auto_lo": 0.5, "useful/auto_hi": 1.0,
           "cont/useful/auto_rate": 0.25, "cont/useful/auto_lo": 0.05, "cont/useful/auto_hi": 0.7,
           "dc/flag_rate": 0.0, "cont/dc/flag_rate": 0.5}  # the real prime lifts the whole clip
    table = _table(pd.DataFrame([row]), ("mel",))
    header = [c.header for c in table.columns]
    cells = {h: c._cells[0] for h, c in zip(header, table.columns)}
    assert "cont/useful/auto" in header and cells["cont/useful/auto"].startswith("0.25")
    assert "dc=50%" in cells["cont/flags"]


def test_score_table_gives_each_row_the_real_clips_useful_rate_cut_where_its_prime_ends():
    """The floor's floor@<ms>ms/useful columns beside each row at its prime; a dash where the scores lack them."""
    import pandas as pd

    from benchbox.cli.score import REAL_CUT, _table
    from benchbox.score_floor import floor_useful_keys

    floor = {"group": "floor", "kind": "floor", "n": 21, "prime_ms": "", "useful/auto_rate": 0.95,
             **dict(zip(floor_useful_keys(0), (0.854, 0.716, 0.931, 41))), **dict(zip(floor_useful_keys(20), (0.805, 0.66, 0.898, 41)))}
    rows = [{"group": f"g/{ms}", "kind": "generated", "n": 4, "prime_ms": ms, "cont/useful/auto_rate": 0.25} for ms in (0, 20, 40)]
    table = _table(pd.DataFrame([*rows, floor]), ("mel",))
    column = next(c for c in table.columns if c.header == REAL_CUT)._cells
    assert column == ["0.85 [0.72, 0.93]", "0.81 [0.66, 0.9]", "-", "0.85 [0.72, 0.93]"]  # 40 ms: not measured in these scores
    old = _table(pd.DataFrame([*rows, {k: v for k, v in floor.items() if not k.startswith("floor@")}]), ("mel",))  # scores before the columns
    assert next(c for c in old.columns if c.header == REAL_CUT)._cells == ["-"] * 4


def test_an_interrupted_import_names_out_and_what_was_imported(tmp_path, rng, monkeypatch):
    import soundfile as sf

    from tests.score_helpers import CLIP_SAMPLES, RATE_HZ, step

    data = make_dataset(tmp_path / "data", rng)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    for i in range(2):
        sf.write(theirs / f"take_{i}.wav", step(rng, RATE_HZ, CLIP_SAMPLES), RATE_HZ)
    out = tmp_path / "out"
    args = ["score", str(theirs), "--reference", str(data), "--embedder", "", "--bootstrap", "0", "--out", str(out), "--quiet"]

    def stop(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("benchbox.external.conform", stop)  # during the import
    r = runner.invoke(app, args)
    said = " ".join(r.output.split())
    assert r.exit_code == 130 and f"interrupted: {out / 'clips'} is unchanged" in said and f"{out / 'scores'} is unchanged" in said, said
    monkeypatch.undo()
    monkeypatch.setattr("benchbox.score.detect_clips", stop)  # after the import, while scoring
    r = runner.invoke(app, args)
    said = " ".join(r.output.split())
    assert r.exit_code == 130 and f"the clips were imported into {out / 'clips'} but not scored" in said and f"{out / 'scores'} is unchanged" in said, said
    assert str(theirs / "scores") not in said


def test_a_run_manifest_missing_a_group_column_is_one_error_line(tmp_path, rng):
    """Without 'checkpoint' best and last were scored as one group; without 'generator' the groups read '/mulaw/...'."""
    import pandas as pd

    run, _ = _run(tmp_path, rng)
    manifest = run / "samples" / "manifest.csv"
    pd.read_csv(manifest).drop(columns=["checkpoint", "prime_ms"]).to_csv(manifest, index=False)
    result = runner.invoke(app, ["score", str(run), "--embedder", "", "--bootstrap", "0"])
    assert result.exit_code == 1, result.output
    assert f"error: {manifest}: missing column(s) checkpoint, prime_ms" in result.output
    assert "hint: restore it (a run's manifest needs path, generator, quantisation, dropout, checkpoint, prime_ms)" in result.output
    assert "Traceback" not in result.output and not (run / "scores").exists()


def test_a_reference_manifest_missing_a_column_or_empty_is_one_error_line(tmp_path, rng):
    import pandas as pd

    run, data = _run(tmp_path, rng)
    pd.read_csv(data / "manifest.csv").drop(columns=["split"]).to_csv(data / "manifest.csv", index=False)
    result = runner.invoke(app, ["score", str(run), "--embedder", "", "--bootstrap", "0"])
    assert result.exit_code == 1 and f"error: {data / 'manifest.csv'}: missing column(s) split" in result.output, result.output
    (data / "manifest.csv").write_text("")  # a 0-byte manifest was a pandas EmptyDataError traceback
    result = runner.invoke(app, ["score", str(run), "--embedder", "", "--bootstrap", "0"])
    assert result.exit_code == 1 and f"error: {data}: unreadable dataset metadata" in result.output and "hint:" in result.output, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("meta, message", [("[1, 2]", "not a JSON object"), ('{"format": 1}', "no readable sample_rate_hz/clip_samples")])
def test_a_reference_dataset_json_that_is_not_an_object_is_one_error_line(tmp_path, rng, meta, message):
    """A dataset.json holding a list was an AttributeError traceback; one without the rate a KeyError."""
    run, data = _run(tmp_path, rng)
    info = json.loads((data / "dataset.json").read_text())
    (data / "dataset.json").write_text(meta if meta.startswith("[") else json.dumps({"format": info["format"]}))
    result = runner.invoke(app, ["score", str(run), "--embedder", "", "--bootstrap", "0"])
    assert result.exit_code == 1 and f"error: {data / 'dataset.json'}: {message}" in result.output and "hint:" in result.output, result.output
    assert "Traceback" not in result.output and not (run / "scores").exists()


def test_scoring_clips_of_a_checkpoint_trained_further_warns(tmp_path, rng):
    """After `train --resume`, `score RUN` exited 0 silently: fresh scores of clips from a checkpoint
    no longer on disk, which the leaderboard then rejected as stale."""
    import hashlib

    import pandas as pd

    run, _ = _run(tmp_path, rng)
    (run / "ckpt").mkdir()
    (run / "ckpt" / "best.pt").write_bytes(b"the weights the clips came from")
    manifest = pd.read_csv(run / "samples" / "manifest.csv")
    manifest.assign(checkpoint_sha256=hashlib.sha256(b"the weights the clips came from").hexdigest()).to_csv(run / "samples" / "manifest.csv", index=False)
    args = ["score", str(run), "--embedder", "", "--bootstrap", "0", "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "warning:" not in first.stderr and json.loads(first.stdout)["warnings"] == []
    (run / "ckpt" / "best.pt").write_bytes(b"trained further")
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning:") and "ckpt/best.pt changed" in line]
    assert len(warned) == 1 and f"benchbox generate {run} --overwrite" in warned[0]
    assert any("ckpt/best.pt changed since its clips were generated" in w for w in json.loads(result.stdout)["warnings"])


def test_a_run_without_its_samples_manifest_is_one_error_naming_it(tmp_path, rng, monkeypatch):
    run, data = _run(tmp_path, rng)
    (run / "samples" / "manifest.csv").unlink()
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["score", str(run), "--reference", str(data), "--embedder", "", "--bootstrap", "0"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"error: {run} is a run folder") and str(run / "samples" / "manifest.csv") in lines[0]
    assert lines[1] == f"hint: re-run `benchbox generate {run}` to write its clips and their manifest anew"
    assert not (tmp_path / "results").exists() and not (run / "scores").exists()


def test_scoring_against_another_dataset_than_the_run_trained_on_warns(tmp_path, rng):
    run, data = _run(tmp_path, rng)
    other = make_dataset(tmp_path / "other", rng)
    base = ["score", str(run), "--embedder", "", "--bootstrap", "0", "--json"]
    same = runner.invoke(app, [*base, "--reference", str(data)])
    assert same.exit_code == 0 and "warning:" not in same.stderr, same.output
    result = runner.invoke(app, [*base, "--reference", str(other)])
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning:") and "is not the dataset" in line]
    assert len(warned) == 1 and str(other) in warned[0] and str(data) in warned[0]
    assert any(f"--reference {other} is not the dataset" in w for w in json.loads(result.stdout)["warnings"])
