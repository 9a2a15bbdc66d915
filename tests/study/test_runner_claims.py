"""Two `benchbox run` processes share a study folder: each run belongs to the one that claims it."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

from benchbox.config import dump_toml, to_dict
from benchbox.errors import ProtocolError
from benchbox.study import runner
from benchbox.study.protocol import load_protocol

ROOT = Path(__file__).resolve().parents[2]


def test_a_run_another_process_holds_is_skipped_then_waited_for_and_found_done(tmp_path, monkeypatch):
    proto = load_protocol(ROOT / "protocols" / "quickstart.toml",
                          overrides=['presets=["wavenet-tiny"]', 'sweep.quantisation=["mulaw", "linear"]', "sweep.dropout=[0.0]"])
    first, second = "wavenet-tiny_mulaw_do0", "wavenet-tiny_linear_do0"
    finished, ran = set(), []
    monkeypatch.setattr(runner, "is_current", lambda ctx, stage: stage.key in finished)
    monkeypatch.setattr(runner.st, "stage_fingerprint", lambda ctx, stage: "fp")
    (tmp_path / runner.CLAIMS_DIR).mkdir()
    other = open(tmp_path / runner.CLAIMS_DIR / f"{first}.lock", "a")  # another process is training the first run
    fcntl.flock(other, fcntl.LOCK_EX)

    def stage_runner(ctx, stage):
        ran.append(stage.key)
        finished.add(stage.key)
        if stage.key == f"score/{second}":  # meanwhile the other process finishes the first run and lets go
            finished.update({f"train/{first}", f"generate/{first}", f"score/{first}"})
            fcntl.flock(other, fcntl.LOCK_UN)

    for kind in ("data", "train", "generate", "score", "leaderboard", "report"):
        monkeypatch.setattr(runner.st, f"run_{kind}", stage_runner)
    logs = []
    runner.run_protocol(proto, out=tmp_path, log=logs.append)
    other.close()
    assert ran == ["data", f"train/{second}", f"generate/{second}", f"score/{second}", "leaderboard", "report"]
    assert any(f"skip {first} for now" in line for line in logs) and any(f"wait {first}" in line for line in logs)
    with runner.claim(tmp_path, first, wait=False) as mine:
        assert mine  # released: a later process may claim it


def test_rescore_scores_the_runs_that_are_sampled_and_trains_nothing(tmp_path, monkeypatch):
    """--rescore after a scorer upgrade: a trained and sampled run is scored again, a run never trained (or
    held by another process and still unfinished when waited for) is left alone, and the board and report are rebuilt."""
    proto = load_protocol(ROOT / "protocols" / "quickstart.toml",
                          overrides=['presets=["wavenet-tiny"]', 'sweep.quantisation=["mulaw", "linear"]', "sweep.dropout=[0.0]"])
    sampled, untrained = "wavenet-tiny_mulaw_do0", "wavenet-tiny_linear_do0"
    finished = {"data", f"train/{sampled}", f"generate/{sampled}"}  # its score is stale (an older scorer)
    ran = []
    monkeypatch.setattr(runner, "is_current", lambda ctx, stage: stage.key in finished)
    monkeypatch.setattr(runner.st, "stage_fingerprint", lambda ctx, stage: "fp")
    for kind in ("data", "train", "generate", "score", "leaderboard", "report"):
        monkeypatch.setattr(runner.st, f"run_{kind}", lambda ctx, stage: ran.append(stage.key))
    logs = []
    with pytest.raises(ProtocolError, match="no study in"):  # nothing to re-score: refused before anything is written
        runner.run_protocol(proto, out=tmp_path, log=logs.append, rescore=True)
    assert ran == [] and not (tmp_path / "protocol.toml").exists()
    (tmp_path / "protocol.toml").write_text(dump_toml(to_dict(proto)))
    (tmp_path / "stages.json").write_text("{}")
    other_data = load_protocol(tmp_path / "protocol.toml", overrides=["data.n=48"])
    with pytest.raises(ProtocolError, match="another protocol"):  # would re-import data and score nothing
        runner.run_protocol(other_data, out=tmp_path, log=logs.append, rescore=True)
    finished.discard("data")
    with pytest.raises(ProtocolError, match="dataset changed"):
        runner.run_protocol(proto, out=tmp_path, log=logs.append, rescore=True)
    finished.add("data")
    assert ran == []
    outcome = runner.run_protocol(proto, out=tmp_path, log=logs.append, rescore=True)
    assert ran == [f"score/{sampled}", "leaderboard", "report"]
    assert any(f"skip {untrained} (--rescore" in line for line in logs)
    assert outcome.ran == (f"score/{sampled}", "leaderboard", "report") and outcome.rescore_skips == (untrained,)
    assert outcome.unchanged == ("data", f"train/{sampled}", f"generate/{sampled}") and outcome.report == tmp_path / "report.md"
    ran.clear()
    other = open(tmp_path / runner.CLAIMS_DIR / f"{untrained}.lock", "a")  # another process is training it
    fcntl.flock(other, fcntl.LOCK_EX)
    monkeypatch.setattr(runner.st, "run_score", lambda ctx, stage: (ran.append(stage.key), fcntl.flock(other, fcntl.LOCK_UN)))
    runner.run_protocol(proto, out=tmp_path, log=logs.append, rescore=True)
    other.close()
    assert ran == [f"score/{sampled}", "leaderboard", "report"]  # waited for, found unfinished: not trained here


def test_rescore_skips_names_the_runs_whose_training_or_clips_are_not_finished():
    proto = load_protocol(ROOT / "protocols" / "quickstart.toml",
                          overrides=['presets=["wavenet-tiny"]', 'sweep.quantisation=["mulaw", "linear"]', "sweep.dropout=[0.0]"])
    done = frozenset({"data", "train/wavenet-tiny_mulaw_do0", "generate/wavenet-tiny_mulaw_do0", "train/wavenet-tiny_linear_do0"})
    assert runner.rescore_skips(proto, done) == ["wavenet-tiny_linear_do0"]  # trained but never sampled
    assert runner.rescore_skips(proto, done | {"generate/wavenet-tiny_linear_do0"}) == []


def test_rescore_dry_run_refuses_a_folder_without_a_study(tmp_path):
    from typer.testing import CliRunner

    from benchbox.cli.main import app

    r = CliRunner().invoke(app, ["run", str(ROOT / "protocols" / "quickstart.toml"), "--out", str(tmp_path / "none"), "--rescore", "--dry-run"])
    assert r.exit_code != 0 and "no study in" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "none").exists()


def test_rescore_json_lists_what_it_scored_and_what_it_left_alone(tmp_path, monkeypatch):
    """`run --rescore --json` (not only --dry-run) names the stages it ran, those it found done and the runs it skipped."""
    import json

    from typer.testing import CliRunner

    from benchbox.cli.main import app

    proto = load_protocol(ROOT / "protocols" / "quickstart.toml",
                          overrides=['presets=["wavenet-tiny"]', 'sweep.quantisation=["mulaw", "linear"]', "sweep.dropout=[0.0]"])
    sampled, untrained = "wavenet-tiny_mulaw_do0", "wavenet-tiny_linear_do0"
    (tmp_path / "protocol.toml").write_text(dump_toml(to_dict(proto)))
    (tmp_path / "stages.json").write_text("{}")
    finished = {"data", f"train/{sampled}", f"generate/{sampled}"}
    monkeypatch.setattr(runner, "is_current", lambda ctx, stage: stage.key in finished)
    monkeypatch.setattr(runner.st, "stage_fingerprint", lambda ctx, stage: "fp")
    for kind in ("data", "train", "generate", "score", "leaderboard", "report"):
        monkeypatch.setattr(runner.st, f"run_{kind}", lambda ctx, stage: None)
    r = CliRunner().invoke(app, ["run", str(tmp_path / "protocol.toml"), "--out", str(tmp_path), "--rescore", "--json", "-q"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["ran"] == [f"score/{sampled}", "leaderboard", "report"] and info["rescore_skips"] == [untrained]
    assert info["unchanged"] == ["data", f"train/{sampled}", f"generate/{sampled}"]
    r = CliRunner().invoke(app, ["run", str(tmp_path / "protocol.toml"), "--out", str(tmp_path), "--rescore", "-q"])
    assert r.exit_code == 0 and f"left alone by --rescore (not trained or sampled with these settings): {untrained}" in r.output
    # --dry-run plans the same: the runs it leaves alone are named, not listed as done, and cost nothing
    r = CliRunner().invoke(app, ["run", str(tmp_path / "protocol.toml"), "--out", str(tmp_path), "--rescore", "--dry-run", "--json"])
    assert r.exit_code == 0, r.output
    plan_info = json.loads(r.stdout)
    assert plan_info["rescore_skips"] == [untrained] and sorted(plan_info["done"]) == sorted(info["unchanged"])
    assert not any(key.endswith(untrained) for key in plan_info["estimate"]["stages"] if plan_info["estimate"]["stages"][key])


def test_run_threads_scopes_torch_and_blas_for_the_whole_study_and_restores_them(tmp_path, monkeypatch):
    """`run --threads 1`: each of several processes sharing a machine trains and scores at one thread
    (torch's pool and numpy's BLAS), not at torch's default of every core; the caller's counts come back."""
    import torch
    from threadpoolctl import threadpool_info
    from typer.testing import CliRunner

    from benchbox.cli.main import app

    seen = {}

    def fake_run_protocol(proto, *, out, **kwargs):
        seen["torch"] = torch.get_num_threads()
        seen["blas"] = {i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"}
        return runner.StudyOutcome(report=out / "report.md")

    monkeypatch.setattr(runner, "run_protocol", fake_run_protocol)
    before = torch.get_num_threads()
    r = CliRunner().invoke(app, ["run", str(ROOT / "protocols" / "quickstart.toml"), "--out", str(tmp_path / "s"), "--threads", "1", "--json"])
    assert r.exit_code == 0, r.output
    assert seen == {"torch": 1, "blas": {1}} and torch.get_num_threads() == before
    bad = CliRunner().invoke(app, ["run", str(ROOT / "protocols" / "quickstart.toml"), "--out", str(tmp_path / "t"), "--threads", "-1"])
    assert bad.exit_code != 0 and "error:" in bad.output and "--threads must be >= 1" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "t").exists()
