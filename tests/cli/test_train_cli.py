import json

import pytest
from typer.testing import CliRunner

from benchbox.cli.main import app
from tests.train_helpers import corpus, tiny_overrides

runner = CliRunner()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return corpus(tmp_path_factory.mktemp("corpus") / "ds", n=12)


def _sets(*items):
    return [a for s in items for a in ("--set", s)]


def test_train_then_resume_further(tmp_path, data):
    out = tmp_path / "run"
    args = ["train", "wavenet", "--data", str(data), "--out", str(out), "--device", "cpu", "--seed", "3", "--json"]
    r = runner.invoke(app, args + _sets(*tiny_overrides("wavenet", 2, 2)))
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["last_step"] == 2 and summary["out"] == str(out) and summary["best_val"] > 0
    assert "seed = 3" in (out / "config.toml").read_text()
    r = runner.invoke(app, ["train", "--resume", str(out), "--device", "cpu", "--json", "--set", "train.max_steps=4"])
    assert r.exit_code == 0, r.output
    resumed = json.loads(r.stdout)
    assert (resumed["command"], resumed["first_step"], resumed["last_step"], resumed["steps_trained"]) == ("train", 2, 4, 2)
    r = runner.invoke(app, ["train", "--resume", str(out), "--device", "cpu", "--set", "train.max_steps=5"])
    assert r.exit_code == 0 and "trained 1 steps (steps 4 -> 5)" in r.stdout, r.output
    assert "bits/sample" in r.stdout and "nats" not in r.stdout  # NLL in bits everywhere
    assert "train 5/5" in r.stderr  # off a terminal, progress is plain lines
    r = runner.invoke(app, args)  # the same --out again, without --resume
    assert r.exit_code == 1 and "already holds a training run" in r.output and "--resume" in r.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "sashimi", "--data", "{tmp}/nope"], "error: dataset folder not found"),
        (["train", "sashimi", "--data", "{data}", "--preset", "sashimi-galactic"], "error: unknown model preset 'sashimi-galactic'"),
        (["train", "sashimi", "--data", "{data}", "--set", "train.lerning_rate=1"], "error: unknown config key 'train.lerning_rate'"),
        (["train", "sashimi", "--data", "{data}", "--set", "optim.lr=1"], "error: unknown config key 'optim'"),
        (["train", "wavenet", "--data", "{data}", "--preset", "sashimi-tiny"], "is for generator 'sashimi'"),
        (["train", "--resume", "{tmp}"], "is not a training run (no checkpoint"),
        (["train", "sashimi", "--data", "{data}", "--device", "tpu"], "error: unknown device 'tpu'"),
        (["train", "sashimi"], "error: train needs a generator and --data"),
        (["train", "sashimii", "--data", "{data}"], "error: unknown generator 'sashimii'"),
    ],
    ids=["missing-data", "unknown-preset", "bad-set-key", "bad-section", "preset-mismatch", "resume-no-run", "bad-device", "no-data", "typo-generator"],
)
def test_bad_input_is_one_error_line(tmp_path, data, args, message):
    args = [a.format(tmp=tmp_path, data=data) for a in args]
    r = runner.invoke(app, args + ["--out", str(tmp_path / "run")] * ("--resume" not in args))
    assert r.exit_code == 1, r.output
    assert message in r.output and "hint:" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "run").exists()


def test_help_lists_every_option():
    r = runner.invoke(app, ["train", "--help"])
    assert r.exit_code == 0
    for option in ("--data", "--preset", "--set", "--out", "--device", "--resume", "--seed", "--json"):
        assert option in r.output


def test_ctrl_c_exits_130_with_a_resume_hint(tmp_path, data, monkeypatch):
    import benchbox.train

    def interrupted(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(benchbox.train, "train", interrupted)
    r = runner.invoke(app, ["train", "wavenet", "--data", str(data), "--out", str(tmp_path / "run")])
    assert r.exit_code == 130 and "Traceback" not in r.output
    assert "interrupted: no checkpoint was saved" in r.output and "--resume" not in r.output  # nothing to resume yet
    (tmp_path / "run" / "ckpt").mkdir(parents=True)
    (tmp_path / "run" / "ckpt" / "last.pt").write_bytes(b"saved by the loop")
    r = runner.invoke(app, ["train", "wavenet", "--data", str(data), "--out", str(tmp_path / "run")])
    assert r.exit_code == 130 and r.output.count("interrupted:") == 1 and f"--resume {tmp_path / 'run'}" in r.output


def test_sigterm_saves_last_step_and_exits_143(tmp_path, data, monkeypatch):
    """CI and job schedulers stop with SIGTERM: handled like Ctrl-C (last.pt at the last finished step)."""
    import contextlib
    import os
    import signal

    import benchbox.cli.train
    from benchbox import checkpoint as ck

    @contextlib.contextmanager
    def term_at_step_3(enabled=True):
        def progress(task, done, total, **info):
            if task == "train" and done == 3:
                os.kill(os.getpid(), signal.SIGTERM)  # the real signal, through the CLI's handler

        yield progress

    monkeypatch.setattr(benchbox.cli.train, "rich_progress", term_at_step_3)
    out = tmp_path / "run"
    args = ["train", "wavenet", "--data", str(data), "--out", str(out), "--device", "cpu", *_sets(*tiny_overrides("wavenet", 9, 5))]
    r = runner.invoke(app, args)
    assert r.exit_code == 143, r.output
    assert r.output.count("interrupted:") == 1 and f"--resume {out}" in r.output and "Traceback" not in r.output
    assert ck.load_checkpoint(out / "ckpt" / "last.pt")["step"] == 3  # not the last eval (none yet at step 5)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is the command's, restored after


def test_train_never_writes_into_a_folder_that_holds_something_else(tmp_path, data):
    """A dataset (or any non-empty folder) as --out was overwritten: config.toml replaced, ckpt/ added."""
    import hashlib

    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in data.iterdir() if p.is_file()}
    r = runner.invoke(app, ["train", "lpc", "--data", str(data), "--out", str(data), "--device", "cpu"])
    assert r.exit_code == 1 and "is not empty" in r.output, r.output
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in data.iterdir() if p.is_file()} == before
    assert not (data / "ckpt").exists()
    afile = tmp_path / "afile"
    afile.touch()
    r = runner.invoke(app, ["train", "lpc", "--data", str(data), "--out", str(afile), "--device", "cpu"])
    assert r.exit_code == 1 and f"output path is a file: {afile}" in r.output, r.output  # it read 'is not empty'
    assert afile.read_bytes() == b""


def test_two_trainings_into_one_folder_the_second_is_refused(tmp_path, data):
    from benchbox.errors import ConfigError
    from benchbox.train import _claim

    out = tmp_path / "run"
    out.mkdir()  # empty: a folder made for this run
    _claim(out)
    with pytest.raises(ConfigError, match="not empty"):
        _claim(out)
    (out / "log.jsonl").unlink()
    with pytest.raises(ConfigError, match="another training is writing"):  # both saw it empty at once
        import builtins

        real_open = builtins.open

        def racing_open(path, mode="r", *a, **kw):
            if mode == "x":
                real_open(path, "w").close()  # the other process created it first
            return real_open(path, mode, *a, **kw)

        builtins.open = racing_open
        try:
            _claim(out)
        finally:
            builtins.open = real_open


def test_default_run_folders_started_in_one_second_differ(tmp_path, monkeypatch):
    from benchbox.train import default_run_dir

    monkeypatch.setattr("benchbox.train.time.strftime", lambda fmt: "20261207-014429")
    first = default_run_dir("wavenet-tiny", tmp_path, create=True)
    second = default_run_dir("wavenet-tiny", tmp_path, create=True)
    assert first != second and first.is_dir() and second.is_dir() and second.name == "wavenet-tiny-20261207-014429-2"


def test_a_refused_default_run_leaves_no_new_folder_and_keeps_old_ones(tmp_path, data, monkeypatch):
    """Without --out a refused train left results/ and results/runs/ behind (the run folder itself went)."""
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["train", "sashimi", "--data", str(data), "--set", "train.lerning_rate=1"])
    assert r.exit_code == 1 and "error: unknown config key" in r.output, r.output
    assert list(tmp_path.iterdir()) == []
    earlier = tmp_path / "results" / "runs" / "earlier"
    earlier.mkdir(parents=True)
    (earlier / "config.toml").write_text("kept")
    r = runner.invoke(app, ["train", "sashimi", "--data", str(tmp_path / "nope")])
    assert r.exit_code == 1 and "error: dataset folder not found" in r.output, r.output
    assert [p.name for p in (tmp_path / "results" / "runs").iterdir()] == ["earlier"] and (earlier / "config.toml").read_text() == "kept"


def test_a_run_that_fails_before_its_first_checkpoint_removes_what_it_wrote(tmp_path, data, monkeypatch):
    """It kept config.toml, log.jsonl, versions.json and data_fingerprint.json with no checkpoint: nothing to
    resume, and the same command was then refused ('is not empty and holds no training run to resume')."""
    import benchbox.train
    from benchbox.errors import GeneratorError

    def diverge(self):
        raise GeneratorError("training diverged: loss/train is nan at step 1", hint="lower train.lr")

    monkeypatch.setattr(benchbox.train.Loop, "run", diverge)
    args = ["train", "wavenet", "--data", str(data), "--device", "cpu", *_sets(*tiny_overrides("wavenet", 2, 2))]
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "new" / "run")])
    assert r.exit_code == 1 and "error: training diverged" in r.output, r.output
    assert not (tmp_path / "new").exists()
    empty = tmp_path / "empty"  # a folder that existed before the command stays
    empty.mkdir()
    r = runner.invoke(app, [*args, "--out", str(empty)])
    assert r.exit_code == 1 and empty.is_dir() and list(empty.iterdir()) == []
    marker = tmp_path / "study" / "stage_fingerprint.txt"  # a caller's own file stays
    marker.parent.mkdir()
    marker.write_text("mine")
    with pytest.raises(GeneratorError):
        benchbox.train.train(generator="wavenet", data=data, out=marker.parent, overrides=tiny_overrides("wavenet", 2, 2), device="cpu", own_files=[marker.name])
    assert list(marker.parent.iterdir()) == [marker] and marker.read_text() == "mine"


def test_a_crash_that_is_no_benchbox_error_leaves_no_new_folder_and_keeps_its_message(tmp_path, data, monkeypatch):
    """An out-of-memory kind of crash (not a BenchboxError) left the empty results/runs/<run> folders behind;
    and a cleanup that itself fails must not replace the error that stopped training."""
    import benchbox.train

    def crash(self):
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setattr(benchbox.train.Loop, "run", crash)
    monkeypatch.chdir(tmp_path)
    args = ["train", "wavenet", "--data", str(data), "--device", "cpu", *_sets(*tiny_overrides("wavenet", 2, 2))]
    r = runner.invoke(app, args)
    assert isinstance(r.exception, RuntimeError) and not (tmp_path / "results").exists()

    def cleanup_fails(*a, **k):
        raise PermissionError("simulated: cannot remove")

    monkeypatch.setattr(benchbox.train, "_unclaim", cleanup_fails)
    with pytest.raises(RuntimeError, match="out of memory"):
        benchbox.train.train(generator="wavenet", data=data, out=tmp_path / "out" / "run", overrides=tiny_overrides("wavenet", 2, 2), device="cpu")


def test_help_lists_every_registered_generator(monkeypatch):
    """The help hard-coded 'built-in: lpc, ngram, sashimi, wavenet' while the registry also had diffwave, specdiff and wavegan."""
    from benchbox.generators import registry

    def help_text() -> str:
        r = runner.invoke(app, ["train", "--help"])
        assert r.exit_code == 0, r.output
        return " ".join(r.output.replace("│", " ").split())  # the help panel's text, unwrapped

    assert f"A registered generator ({', '.join(registry.names())}:" in help_text()
    from benchbox.generators import entry_points

    monkeypatch.setattr(entry_points, "names", lambda: ["sashimi", "myplugin"])  # one a plugin registered
    assert "A registered generator (sashimi, myplugin:" in help_text()


def test_resuming_a_dataset_says_it_is_a_dataset_not_a_run(data):
    """`train --resume DATASET` read the dataset's own config.toml as a run's: "unknown config key 'synth' at the top level"."""
    r = runner.invoke(app, ["train", "--resume", str(data), "--json"])
    assert r.exit_code == 1, r.output
    lines = r.stderr.strip().splitlines()
    assert lines[0] == f"error: {data} is not a training run (no checkpoint {data / 'ckpt' / 'last.pt'}): it is a dataset"
    assert lines[1].startswith(f"hint: train on it with `benchbox train GENERATOR --data {data}`")
    assert json.loads(r.stdout)["error"] == lines[0].removeprefix("error: ")
    assert not (data / "ckpt").exists()


def test_resuming_a_folder_that_does_not_exist_says_not_found(tmp_path):
    """It said "is not a training run (no checkpoint ...)" for a path that is not there at all."""
    r = runner.invoke(app, ["train", "--resume", str(tmp_path / "nope")])
    assert r.exit_code == 1, r.output
    assert r.stderr.splitlines()[0] == f"error: cannot resume: {tmp_path / 'nope'} not found"
    assert "not a training run" not in r.output


def test_resuming_a_run_without_last_pt_names_the_checkpoints_it_has(tmp_path, data):
    """With ckpt/best.pt but no ckpt/last.pt the hint said "the run never saved a checkpoint"."""
    out = tmp_path / "run"
    r = runner.invoke(app, ["train", "wavenet", "--data", str(data), "--out", str(out), "--device", "cpu"] + _sets(*tiny_overrides("wavenet", 2, 2)))
    assert r.exit_code == 0, r.output
    (out / "ckpt" / "last.pt").unlink()
    r = runner.invoke(app, ["train", "--resume", str(out), "--device", "cpu"])
    assert r.exit_code == 1, r.output
    text = " ".join(r.stderr.split())
    assert f"error: cannot resume: {out / 'ckpt' / 'last.pt'} not found" in text
    assert "hint: its ckpt/ holds best.pt but not last.pt, the only one --resume continues from" in text
    assert "never saved" not in text
