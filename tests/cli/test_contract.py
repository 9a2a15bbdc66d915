"""The CLI contract: one --json envelope, error:/hint: usage errors, fast help, examples, plain output off a terminal."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.main import get_command
from typer.testing import CliRunner

from benchbox.cli.common import JSON_FORMAT, id_table, json_envelope, plain_progress
from benchbox.cli.main import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "pandas", "matplotlib", "scipy", "librosa")


def _commands(group, path=()):
    """Every leaf command path of the app, e.g. ("data", "info")."""
    from typer.main import get_command as _get

    cmd = _get(app) if group is None else group
    for name, sub in getattr(cmd, "commands", {}).items():
        if getattr(sub, "commands", None):
            yield from _commands(sub, (*path, name))
        else:
            yield (*path, name)


COMMANDS = sorted(_commands(None))


def test_json_envelope_shape():
    doc = json_envelope("score", Path("/x/scores"), groups=[{"a": 1}])
    assert list(doc)[:3] == ["format", "command", "out"] and doc["format"] == JSON_FORMAT == 1
    assert doc["out"] == "/x/scores" and json_envelope("bench generators", None)["out"] is None


def test_every_command_that_prints_json_uses_the_envelope():
    """Each --json command prints through print_json(command, out, ...) and nothing else."""
    sources = {p.stem: p.read_text() for p in (ROOT / "benchbox" / "cli").glob("*.py")}
    for path in COMMANDS:
        help_text = runner.invoke(app, [*path, "--help"]).output
        if "--json" not in help_text:
            continue
        src = sources[path[0]]
        assert f'print_json("{" ".join(path)}"' in src, path
    assert all("print_json(json_records" not in s and "print_json(summary)" not in s for s in sources.values())


def test_data_info_json_envelope(tmp_path):
    from tests.train_helpers import corpus

    data = corpus(tmp_path / "ds", n=12)
    r = runner.invoke(app, ["data", "info", str(data), "--json"])
    doc = json.loads(r.stdout)
    assert (doc["format"], doc["command"], doc["out"], doc["clips"]) == (1, "data info", str(data), 12)


@pytest.mark.parametrize("args, message", [
    (["data", "info"], "error: Missing argument 'folder'."),
    (["score", "/tmp", "--nope"], "error: No such option: --nope"),
    (["nope"], "error: No such command 'nope'."),
    (["generate", "x", "--n", "many"], "error: Invalid value for '--n'"),
])
def test_usage_error_is_error_and_hint_exit_2(args, message):
    r = runner.invoke(app, args)
    lines = r.output.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 2, r.output
    assert lines[0].startswith(message) and lines[1].startswith("hint: see `") and "--help" in lines[1]
    assert "╭" not in r.output and "Usage:" not in r.output


@pytest.mark.parametrize("group, names", [
    (["data"], "info, import, synth"),
    (["tag"], "review, export, stats"),
    (["bench"], "generators"),
    (["category"], "fit"),
])
def test_a_group_without_its_command_names_the_commands(group, names):
    """`benchbox data` printed its help, then an empty `error: ` line."""
    r = runner.invoke(app, group)
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert lines == [f"error: missing command ({names})", f"hint: see `{' '.join(['benchbox', *group])} --help` for the arguments and examples"], r.stderr


def test_help_imports_no_heavy_library():
    code = ("import sys; from benchbox.cli.main import app; from typer.testing import CliRunner; "
            "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_every_command_help_has_examples_and_honest_flags(path):
    r = runner.invoke(app, [*path, "--help"], terminal_width=120)
    assert r.exit_code == 0 and "Examples" in r.output and f"$ benchbox {path[0]}" in r.output
    assert "<bool>" not in r.output and "list[str]" not in r.output


def test_plain_progress_prints_first_throttled_and_last():
    now, lines = [0.0], []
    cb = plain_progress(lines.append, interval_s=10.0, clock=lambda: now[0])
    for step in range(1, 101):
        now[0] = step * 0.5  # 50 s in all
        cb("train", step, 100, loss=1.0 / step)
    assert lines[0].startswith("train 1/100  loss=1") and lines[-1].startswith("train 100/100")
    assert 5 <= len(lines) <= 7


def test_identifier_columns_are_never_truncated():
    ident = "sashimi/mulaw/0.5/best/40-with-a-long-tail"
    table = id_table("t", ["group", "fad", "flags"], [[ident, "123.4 [100.1, 150.2]", "silence=31% dc=12% hum=4%"]], ids=["group"])
    console = Console(width=60, record=True)
    console.print(table)
    assert ident in console.export_text()


def test_dry_run_with_a_missing_dataset_is_an_error():
    r = runner.invoke(app, ["run", str(ROOT / "protocols" / "quickstart.toml"), "--data", "nope", "--dry-run"])
    assert r.exit_code == 1 and "error: dataset source not found: nope" in r.output and "plan for" not in r.output


def test_long_lines_are_not_wrapped_off_a_terminal(tmp_path):
    out = tmp_path / ("a-very-long-folder-name-" * 4)
    r = runner.invoke(app, ["data", "synth", "--n", "12", "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    assert f"synthesised 12 clips into {out}\n" in r.stdout  # one line, however long (was wrapped at 80 columns)


@pytest.mark.parametrize(("args", "command", "message"), [
    (["leaderboard", "NOPE", "--json"], "leaderboard", "results folder not found"),
    (["data", "info", "NOPE", "--json"], "data info", "dataset folder not found"),
    (["generate", "NOPE", "--prime-ms", "0,0", "--json"], "generate", "--prime-ms lists 0 more than once"),
])  # fmt: skip
def test_a_failed_json_run_prints_one_json_error_object(tmp_path, args, command, message):
    """`... --json | jq` once read empty input on an error: stdout now holds one JSON object."""
    args = [str(tmp_path / "nope") if a == "NOPE" else a for a in args]
    r = runner.invoke(app, args)
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc == {"format": JSON_FORMAT, "command": command, "error": doc["error"], "hint": doc["hint"]}
    assert message in doc["error"] and doc["hint"]
    assert f"error: {doc['error']}" in " ".join(r.stderr.split())  # the stderr line stays


def test_a_failed_run_without_json_prints_nothing_on_stdout(tmp_path):
    r = runner.invoke(app, ["leaderboard", str(tmp_path / "nope")])
    assert r.exit_code == 1 and r.stdout == "" and "error: results folder not found" in r.stderr


def test_a_json_command_line_that_cannot_be_parsed_is_a_json_error_too(tmp_path):
    r = runner.invoke(app, ["data", "info", "--json", str(tmp_path), "--bogus"])  # fails before --json's callback runs
    assert r.exit_code == 2 and "error: No such option: --bogus" in r.stderr
    doc = json.loads(r.stdout)
    assert doc["command"] == "data info" and "--bogus" in doc["error"] and doc["hint"].startswith("see `")


@pytest.mark.parametrize(("argv", "target", "command", "kept"), [
    (["score", "SRC", "--embedder", "", "--json"], "benchbox.score.score_run", "score", "is unchanged"),
    (["generate", "SRC", "--json"], "benchbox.generate.generate_run", "generate", "samples is unchanged"),
    (["train", "wavenet", "--data", "SRC", "--out", "OUT", "--json"], "benchbox.train.train", "train", "no checkpoint was saved"),
    (["data", "import", "SRC", "--out", "OUT", "--json"], "benchbox.data.importer.import_folder", "data import", "is unchanged"),
    (["leaderboard", "SRC", "--json"], "benchbox.leaderboard.build_leaderboard", "leaderboard", "every file written so far is complete"),  # the root's boundary
])  # fmt: skip
@pytest.mark.parametrize(("stop", "code"), [("sigint", 130), ("sigterm", 143)])
def test_an_interrupted_json_run_prints_one_json_object(tmp_path, monkeypatch, argv, target, command, kept, stop, code):
    """`... --json | jq` read empty input when Ctrl-C (or SIGTERM) stopped the run: stdout now holds
    one JSON object saying so, what was kept and how to resume; the stderr line stays."""
    import importlib

    from benchbox.cli.common import Terminated

    def stopped(*args, **kwargs):
        raise Terminated() if stop == "sigterm" else KeyboardInterrupt()

    module, name = target.rsplit(".", 1)
    monkeypatch.setattr(importlib.import_module(module), name, stopped)
    (tmp_path / "src").mkdir()
    args = [str(tmp_path / "src") if a == "SRC" else str(tmp_path / "out") if a == "OUT" else a for a in argv]
    r = runner.invoke(app, args)
    assert r.exit_code == code, r.output
    doc = json.loads(r.stdout)
    assert doc == {"format": JSON_FORMAT, "command": command, "error": doc["error"], "hint": doc["hint"], "interrupted": stop.upper(), "kept": doc["kept"]}
    assert doc["error"].startswith("interrupted") and kept in doc["kept"] and doc["hint"]
    assert r.stderr.count("interrupted:") == 1 and kept in " ".join(r.stderr.split())


def test_an_interrupted_run_without_json_prints_nothing_on_stdout(tmp_path, monkeypatch):
    import benchbox.leaderboard

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(benchbox.leaderboard, "build_leaderboard", stopped)
    r = runner.invoke(app, ["leaderboard", str(tmp_path)])
    assert r.exit_code == 130 and r.stdout == "" and "interrupted:" in r.stderr
