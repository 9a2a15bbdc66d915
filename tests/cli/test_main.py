import pytest
from typer.testing import CliRunner

from benchbox.cli.main import app

runner = CliRunner()


def test_version_and_help():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and "benchbox" in r.output
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0 and "data" in r.output


def test_library_error_becomes_one_line(tmp_path):
    r = runner.invoke(app, ["data", "info", str(tmp_path / "nope")])
    assert r.exit_code == 1
    assert "error: dataset folder not found" in r.output
    assert "Traceback" not in r.output


def test_usage_error_keeps_exit_2():
    r = runner.invoke(app, ["data", "info"])
    assert r.exit_code == 2


@pytest.mark.parametrize("stop, code", [("sigint", 130), ("sigterm", 143)])
def test_any_command_stopped_prints_one_interrupted_line(tmp_path, monkeypatch, stop, code):
    """Commands without their own line still say what was kept and how to resume; SIGTERM exits 143."""
    import benchbox.leaderboard
    from benchbox.cli.common import Terminated

    def stopped(*args, **kwargs):
        raise Terminated() if stop == "sigterm" else KeyboardInterrupt()

    monkeypatch.setattr(benchbox.leaderboard, "build_leaderboard", stopped)
    result = CliRunner().invoke(app, ["leaderboard", str(tmp_path)])
    assert result.exit_code == code, result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("interrupted:")]
    assert len(lines) == 1 and "run the same command again" in lines[0] and "Traceback" not in result.output


@pytest.mark.parametrize("argv, target", [
    (["data", "import", "SRC", "--out", "OUT"], "benchbox.data.importer.import_folder"),
    (["score", "SRC", "--embedder", ""], "benchbox.score.score_run"),
])
def test_data_import_and_score_say_their_output_is_unchanged(tmp_path, monkeypatch, argv, target):
    import importlib

    module, name = target.rsplit(".", 1)

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module(module), name, ctrl_c)
    (tmp_path / "src").mkdir()
    args = [str(tmp_path / "src") if a == "SRC" else str(tmp_path / "out") if a == "OUT" else a for a in argv]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 130, result.output
    assert result.output.count("interrupted:") == 1 and "is unchanged" in result.output


def _cli(args: list[str], stdout) -> "subprocess.CompletedProcess[str]":
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([sys.executable, "-m", "benchbox.cli.main", *args], stdout=stdout, stderr=subprocess.PIPE, text=True, env=env, timeout=120)


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["data", "synth", "--n", "4", "--out", "OUT", "--json"], ["data", "synth", "--n", "4", "--out", "OUT", "-q"]])
def test_a_full_stdout_is_one_error_line_never_a_traceback(args, tmp_path):
    from pathlib import Path

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:
        done = _cli([str(tmp_path / "ds") if a == "OUT" else a for a in args], full)
    assert done.returncode == 1 and "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines() == ["error: cannot write to standard output: No space left on device"]


def test_a_closed_stdout_pipe_is_never_a_traceback():
    import os

    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line, as with `| head -0`
    with os.fdopen(write, "w") as pipe:
        done = _cli(["--help"], pipe)
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr


@pytest.mark.parametrize("args", [["--help"], ["run", "quickstart", "--dry-run"]])
def test_reader_leaving_a_pipe_early_is_exit_0_and_quiet(args):
    """`benchbox ... | head -1` exited 1 with nothing on stderr, breaking `set -o pipefail` scripts."""
    import os

    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line is written
    with os.fdopen(write, "w") as pipe:
        done = _cli(args, pipe)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


def test_tables_print_full_width_on_a_pipe(capsys):
    """`score ... | cat` wrapped at 80 columns and `tag stats` lost its useful/human_rate header."""
    from benchbox.cli.common import id_table, print_table

    columns = ["group", "useful/human_rate", "n_human", *(f"some_long_metric_column/{i}" for i in range(4))]
    print_table(id_table("t", columns, [["sashimi/mulaw/0/best/0", "0.5 [0.1, 0.9]", "4", *["1.234 [1.0, 2.0]"] * 4]], ids=["group"]))
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) > 120
    assert all(c in out for c in columns)


def test_python_dash_m_benchbox_runs_the_cli():
    """`python -m benchbox --help` works where the console script is not on PATH."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-m", "benchbox", "--help"], capture_output=True, text=True, cwd=root, timeout=120)
    assert out.returncode == 0 and "leaderboard" in out.stdout and "score" in out.stdout
