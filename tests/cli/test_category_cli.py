"""`benchbox category fit` through the CLI, and its model used by `benchbox score --category-model`."""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from benchbox.audio import load_audio
from benchbox.cli.main import app
from benchbox.freshness import scores_freshness
from benchbox.metrics import category as cat
from benchbox.runs import sha256_file
from tests.category_helpers import toy_pair
from tests.score_helpers import make_dataset, make_run

runner = CliRunner()
FAST = ["--embedder", "mel", "--synthetic-per-kind", "2", "--quiet"]


@pytest.fixture
def toy(tmp_path, rng, monkeypatch):
    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    pos, neg = toy_pair(tmp_path, rng)
    return pos, neg, ["category", "fit", "--positives", str(pos), "--negatives", str(neg), *FAST]


def test_fit_json_is_one_envelope_with_the_evaluation(toy, tmp_path):
    *_, base = toy
    out = tmp_path / "models" / "toy.json"
    result = runner.invoke(app, [*base, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["format"], doc["command"], doc["out"]) == (1, "category fit", str(out))
    assert doc["report"] == str(out.with_suffix(".md")) and doc["evaluation"] == "leave-one-group-out" and doc["group_by"] == "package"
    assert [g["group"] for g in doc["groups"]] == ["a", "b", "c"] and doc["pooled"]["auc"] > 0.9
    model = cat.load_model(out)
    assert (doc["threshold"], doc["data_sha256"], doc["embedder"], doc["feature_set"]) == (model.threshold, model.data_sha256, "mel", "mel_norm")
    assert doc["warnings"][0].startswith("too few clips to trust this model (positives 9 train, 6 val, 18 evaluated;")  # the toy's 18 clips a class
    assert doc["warning"] == doc["warnings"][0] and "warning: too few clips to trust this model" in result.stderr


def test_a_fit_on_a_handful_of_clips_warns_on_stderr(toy, tmp_path):
    *_, base = toy
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "m.json"), "--group-by", "none"])
    assert result.exit_code == 0, result.output
    warning = " ".join(result.stderr.split())
    assert "warning: too few clips to trust this model (positives 9 train, 6 val, 3 evaluated;" in warning
    assert "the val split sets its Platt calibration and threshold" in warning and "warning:" not in result.stdout


def test_fit_table_names_what_it_wrote(toy, tmp_path):
    *_, base = toy
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "m.json"), "--group-by", "none"])
    assert result.exit_code == 0, result.output
    assert "test split" in result.stdout and "note: evaluated on the test split" in result.stdout and f"wrote {tmp_path / 'm.json'}" in result.stdout
    assert "the val split calibrates the model (Platt) and chooses its threshold" in " ".join(result.stdout.split())


@pytest.mark.parametrize("extra, message", [
    (["--out", "{tmp}/pos/m.json"], "inside the dataset"),
    (["--out", "{tmp}/old.json"], "already exists"),
    (["--out", "{tmp}/m.json", "--embedder", "nope"], "unknown embedder 'nope'"),
    (["--out", "{tmp}/m.json", "--group-by", "game"], "unknown --group-by 'game'"),
])  # fmt: skip
def test_fit_errors_are_one_error_line_and_a_hint(toy, tmp_path, extra, message):
    *_, base = toy
    (tmp_path / "old.json").write_text("{}")
    args = [*base[:-len(FAST)], *[a.format(tmp=tmp_path) for a in extra], "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error:") and message in lines[0] and lines[1].startswith("hint:")


def _score(run, data, tmp_path, model):
    args = ["score", str(run), "--reference", str(data), "--embedder", "mel", "--bootstrap", "0", "--quiet", "--category-model", str(model),
            "--set", f"cache_dir={tmp_path / 'cache'}"]
    return runner.invoke(app, args)


def test_score_with_the_fitted_model_gives_its_probabilities_and_goes_stale_when_it_changes(toy, tmp_path, rng):
    *_, base = toy
    model_path = tmp_path / "m.json"
    assert runner.invoke(app, [*base, "--out", str(model_path)]).exit_code == 0
    data = make_dataset(tmp_path / "data", rng)
    run = make_run(tmp_path / "run", data, rng)
    result = _score(run, data, tmp_path, model_path)
    assert result.exit_code == 0, result.output
    clips = pd.read_csv(run / "scores" / "clips.csv")
    model = cat.load_model(model_path)
    want = cat.footstep_probability([load_audio(run / p) for p in clips["path"]], 16_000, model)
    np.testing.assert_allclose(clips["footstep/p"].to_numpy(), want, atol=1e-9)
    info = json.loads((run / "scores" / "scores.json").read_text())
    assert info["category_model_sha256"] == sha256_file(model_path) and info["settings"]["verdict"]["category_model"] == str(model_path.resolve())
    assert scores_freshness(run).state == "fresh"
    replace(model, threshold=0.9).save(model_path)  # the same path, another model
    fresh = scores_freshness(run)
    assert fresh.state == "stale" and "category model" in fresh.reason


def test_score_with_a_vggish_model_and_no_weights_is_one_error(tmp_path, rng, monkeypatch):
    import benchbox.metrics.vggish as vggish

    monkeypatch.setattr(vggish, "DEFAULT_WEIGHTS_DIR", tmp_path / "no-weights")
    model = cat.CategoryModel(feature_set="vggish_norm", mean=[0.0] * 128, scale=[1.0] * 128, weights=[0.0] * 128, intercept=0.0, platt_a=1.0,
                              platt_b=0.0, threshold=0.5, l2=0.03, seed=0, data_sha256="test", embedder="vggish")
    model.save(tmp_path / "vggish.json")
    data = make_dataset(tmp_path / "data", rng)
    run = make_run(tmp_path / "run", data, rng)
    result = _score(run, data, tmp_path, tmp_path / "vggish.json")
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and "embeds with 'vggish'" in lines[0] and "--weights" in lines[1]
    assert not (run / "scores").exists()


def _error(result) -> tuple[str, str]:
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error:") and lines[1].startswith("hint:"), lines
    return lines[0], lines[1]


def test_fit_hints_name_the_option_and_the_fit_command(toy, tmp_path, monkeypatch):
    import benchbox.metrics.vggish as vggish

    pos, neg, base = toy
    monkeypatch.setattr(vggish, "DEFAULT_WEIGHTS_DIR", tmp_path / "no-weights")
    error, hint = _error(runner.invoke(app, ["category", "fit", "--positives", str(pos), "--negatives", str(neg), "--embedder", "vggish", "--out", str(tmp_path / "v.json")]))
    assert "--embedder vggish" in error and "benchbox category fit" in hint and "--weights PATH" in hint and "benchbox score" not in hint
    error, hint = _error(runner.invoke(app, ["category", "fit", "--positives", str(tmp_path / "nope"), "--negatives", str(neg), "--out", str(tmp_path / "m.json"), *FAST]))
    assert error.startswith(f"error: --positives {tmp_path / 'nope'}") and "--positives" in hint
    (tmp_path / "wavs").mkdir()
    error, _ = _error(runner.invoke(app, ["category", "fit", "--positives", str(pos), "--negatives", str(tmp_path / "wavs"), "--out", str(tmp_path / "m.json"), *FAST]))
    assert error.startswith(f"error: --negatives {tmp_path / 'wavs'}")


def test_a_missing_category_model_hint_names_the_option_and_the_fit_command(tmp_path, rng, monkeypatch):
    data = make_dataset(tmp_path / "data", rng)
    run = make_run(tmp_path / "run", data, rng)
    error, hint = _error(_score(run, data, tmp_path, tmp_path / "gone.json"))
    assert str(tmp_path / "gone.json") in error and "--category-model" in hint and "benchbox category fit" in hint and "benchmarks/" not in hint
    monkeypatch.setattr(cat, "MODEL_PATH", tmp_path / "shipped.json")
    assert "reinstall benchbox" in cat.missing_hint(tmp_path / "shipped.json")


def test_the_boards_reference_rows_use_the_runs_category_model(toy, tmp_path, rng):
    """The noise and silence rows were scored with the shipped model beside runs scored with --category-model,
    in one footstep/p column; they must use the runs' model, and another model re-scores them."""
    *_, base = toy
    model_path = tmp_path / "m.json"
    assert runner.invoke(app, [*base, "--out", str(model_path)]).exit_code == 0
    data = make_dataset(tmp_path / "data", rng)
    run = make_run(tmp_path / "results" / "run", data, rng)
    assert _score(run, data, tmp_path, model_path).exit_code == 0
    board = tmp_path / "board"
    r = runner.invoke(app, ["leaderboard", str(tmp_path / "results"), "--out", str(board), "--quiet"])
    assert r.exit_code == 0, r.output
    infos = [json.loads(p.read_text()) for p in board.rglob("references/*/*/scores/scores.json")]
    assert len(infos) >= 2 and all(i["category_model_sha256"] == sha256_file(model_path) for i in infos)
    assert all(i["settings"]["verdict"]["category_model"] == str(model_path.resolve()) for i in infos)
