"""End-to-end: a tiny protocol runs every stage, re-runs skip, and changes redo only what changed."""

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from benchbox.cli.main import app
from benchbox.study.protocol import load_protocol, plan
from benchbox.study.runner import run_protocol

TINY = """
name = "tiny"
seed = 3
device = "cpu"
presets = ["sashimi-tiny", "wavenet-tiny"]
[data]
source = "synth"
n = 30
crop_samples = 512
[sweep]
quantisation = ["mulaw"]
dropout = [0.0]
checkpoint = ["best", "last"]
prime_ms = [0, 10]
[train]
max_steps = 4
eval_every = 2
batch_size = 2
val_batches = 1
warmup_steps = 1
[model]
dropout = 0.0
[generate]
n = 2
seconds = 0.04
batch = 2
[score]
embedders = ["mel"]
bootstrap = 20
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    proto_path = root / "tiny.toml"
    proto_path.write_text(TINY)
    out = root / "out"
    logs: list[str] = []
    report = run_protocol(load_protocol(proto_path), out=out, protocol_path=proto_path, log=logs.append).report
    return proto_path, out, report, logs


@pytest.mark.slow
def test_every_stage_runs_and_report_answers_questions(study):
    _, out, report, logs = study
    assert all(line.startswith("run") or line.startswith("  ") for line in logs if line.strip())
    ledger = json.loads((out / "stages.json").read_text())
    assert set(ledger) >= {"data", "leaderboard", "report", "train/sashimi-tiny_mulaw_do0", "score/wavenet-tiny_mulaw_do0"}
    text = report.read_text()
    for question in ("best-val checkpoints better than last", "priming", "dropout 0.5", "non-zero", "quantisation wins"):
        assert question in text
    assert "benchbox run" in text  # the command that made it
    for name in ("leaderboard.md", "leaderboard.csv", "leaderboard.html", "report.html", "protocol.toml", "versions.json"):
        assert (out / name).is_file(), name
    manifest = pd.read_csv(out / "runs" / "sashimi-tiny_mulaw_do0" / "samples" / "manifest.csv")
    assert len(manifest) == 2 * 2 * 2  # checkpoints x primes x n


@pytest.mark.slow
def test_rerun_skips_and_change_redoes_only_downstream(study):
    proto_path, out, _, _ = study
    logs: list[str] = []
    outcome = run_protocol(load_protocol(proto_path), out=out, protocol_path=proto_path, log=logs.append)
    assert logs and all(line.startswith("skip") for line in logs)
    assert outcome.ran == () and outcome.unchanged == tuple(s.key for s in plan(load_protocol(proto_path)))
    logs.clear()
    run_protocol(load_protocol(proto_path, overrides=["generate.n=1"]), out=out, protocol_path=proto_path, log=logs.append)
    ran = {line.split()[1] for line in logs if line.startswith("run")}
    assert not any(k.startswith("train/") or k == "data" for k in ran)
    assert {"generate/sashimi-tiny_mulaw_do0", "score/wavenet-tiny_mulaw_do0", "leaderboard", "report"} <= ran


@pytest.mark.slow
def test_a_clip_edited_after_scoring_is_rescored(study):
    """The score stage's fingerprint covers the clips' content, not only samples/manifest.csv: a
    re-run after a clip changed on disk re-scores that run instead of keeping its stale scores."""
    import numpy as np
    import soundfile as sf

    proto_path, out, _, _ = study
    proto = load_protocol(proto_path, overrides=["generate.n=1"])
    run_protocol(proto, out=out, protocol_path=proto_path, log=lambda s: None)  # settle at n = 1
    clip = sorted((out / "runs" / "wavenet-tiny_mulaw_do0" / "samples").rglob("*.wav"))[0]
    wave, rate = sf.read(clip, dtype="float32")
    sf.write(clip, np.zeros_like(wave), rate, subtype="PCM_16")
    logs: list[str] = []
    run_protocol(proto, out=out, protocol_path=proto_path, log=logs.append)
    ran = {line.split()[1] for line in logs if line.startswith("run")}
    assert "score/wavenet-tiny_mulaw_do0" in ran and "score/sashimi-tiny_mulaw_do0" not in ran
    assert not any(k.startswith(("generate/", "train/")) for k in ran)


@pytest.mark.slow
def test_killed_training_resumes_from_last(study, tmp_path):
    proto_path, out, _, _ = study
    run_dir = out / "runs" / "wavenet-tiny_mulaw_do0"
    ledger = json.loads((out / "stages.json").read_text())
    del ledger["train/wavenet-tiny_mulaw_do0"]  # as if killed after last.pt was written
    (out / "stages.json").write_text(json.dumps(ledger))
    logs: list[str] = []
    run_protocol(load_protocol(proto_path, overrides=["generate.n=1"]), out=out, protocol_path=proto_path, log=logs.append)
    assert any("resume wavenet-tiny_mulaw_do0" in line for line in logs)
    assert (run_dir / "ckpt" / "last.pt").is_file()


def test_cli_dry_run_and_bad_protocol(tmp_path):
    runner = CliRunner()
    proto = tmp_path / "p.toml"
    proto.write_text(TINY)
    result = runner.invoke(app, ["run", str(proto), "--dry-run", "--json", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["clips_total"] == 2 * 2 * 2 * 2 and info["estimate"]["total_seconds"] > 0
    assert not (tmp_path / "o").exists()
    proto.write_text(TINY.replace("bootstrap = 20", "bootstrap = 20\nbogus = 1"))
    result = runner.invoke(app, ["run", str(proto)])
    assert result.exit_code == 1 and "score.bogus" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_fresh_clone_of_a_committed_study_rebuilds_missing_outputs(study):
    """A committed study folder has its ledger but no data, checkpoints or clips."""
    import shutil

    proto_path, out, _, _ = study
    shutil.rmtree(out / "data")
    for run in (out / "runs").iterdir():
        shutil.rmtree(run / "ckpt")
        for wav in (run / "samples").rglob("*.wav"):
            wav.unlink()
    logs: list[str] = []
    run_protocol(load_protocol(proto_path, overrides=["generate.n=1"]), out=out, protocol_path=proto_path, log=logs.append)
    ran = {line.split()[1] for line in logs if line.startswith("run")}
    assert {"data", "train/sashimi-tiny_mulaw_do0", "generate/wavenet-tiny_mulaw_do0"} <= ran
    assert (out / "runs" / "sashimi-tiny_mulaw_do0" / "ckpt" / "best.pt").is_file()


def test_a_builtin_corpus_name_has_a_data_fingerprint(tmp_path):
    """`benchbox run ... --data footsteps-dev` passed the check but failed in the data stage's fingerprint."""
    from benchbox.progress import no_progress
    from benchbox.study.protocol import Stage, StageLedger, StudyContext
    from benchbox.study.stages import stage_fingerprint

    proto = load_protocol(Path(__file__).resolve().parents[2] / "protocols" / "footsteps-cpu.toml", data="footsteps-dev")
    ctx = StudyContext(proto, tmp_path, StageLedger(tmp_path), no_progress, lambda s: None)
    assert len(stage_fingerprint(ctx, Stage("data", "data"))) > 8


def test_a_changed_category_model_changes_the_score_stages_fingerprint(tmp_path, monkeypatch):
    """Scores record the category model file's hash and read as stale when it changes; the study re-scores them."""
    from benchbox.metrics import category
    from benchbox.progress import no_progress
    from benchbox.study.protocol import Stage, StageLedger, StudyContext, train_jobs
    from benchbox.study.stages import stage_fingerprint

    proto = load_protocol(Path(__file__).resolve().parents[2] / "protocols" / "footsteps-cpu.toml", data="footsteps-dev")
    ctx = StudyContext(proto, tmp_path, StageLedger(tmp_path), no_progress, lambda s: None)
    run = train_jobs(proto)[0].run_id
    model = tmp_path / "model.json"
    monkeypatch.setattr(category, "MODEL_PATH", model)
    fingerprints = []
    for text in ('{"data_sha256": "a"}', '{"data_sha256": "b"}'):
        model.write_text(text)
        fingerprints.append({kind: stage_fingerprint(ctx, Stage(f"{kind}/{run}", kind, run)) for kind in ("train", "generate", "score")})
    assert fingerprints[0]["score"] != fingerprints[1]["score"]
    assert all(fingerprints[0][kind] == fingerprints[1][kind] for kind in ("train", "generate"))


@pytest.mark.slow
def test_a_rerun_that_skips_every_stage_keeps_the_versions_record(study):
    """versions.json (and the report's Versions block) describe the latest invocation that ran a
    stage; one that skips every stage used to rewrite it, so the report named another invocation."""
    proto_path, out, report, _ = study
    proto = load_protocol(proto_path, overrides=["generate.n=1"])
    run_protocol(proto, out=out, protocol_path=proto_path, log=lambda s: None)  # settle at n = 1
    record = json.loads((out / "versions.json").read_text())
    assert record["first_stage_run"] and record["recorded_utc"]
    text = report.read_text()
    assert "Versions of the latest `benchbox run` that ran a stage of this study" in text and json.dumps(record, indent=2) in text
    (out / "versions.json").write_text(json.dumps({**record, "torch": "the invocation that ran the stages"}))
    logs: list[str] = []
    run_protocol(proto, out=out, protocol_path=proto_path, log=logs.append)
    assert logs and all(line.startswith("skip") for line in logs)
    assert json.loads((out / "versions.json").read_text())["torch"] == "the invocation that ran the stages"
