"""Error and warning lines print file names as they are: Rich markup in a name is text, never a
style or a MarkupError traceback."""

from __future__ import annotations

from typer.testing import CliRunner

from benchbox.cli.main import app

runner = CliRunner()


def test_brackets_in_a_path_print_as_themselves(tmp_path):
    missing = tmp_path / "Footstep [gravel] 01" / "x[/y]"
    r = runner.invoke(app, ["score", str(missing), "--reference", str(tmp_path / "nope[/b]"), "--quiet"])
    assert r.exit_code == 1, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output and "MarkupError" not in r.output
    assert "error:" in r.output and ("[gravel]" in r.output or "[/b]" in r.output), r.output


def test_a_bracketed_set_value_is_one_error_line():
    r = runner.invoke(app, ["train", "sashimi", "--set", "train.lr=[/x]", "--data", "nowhere", "--out", "nowhere-out"])
    assert r.exit_code in (1, 2), r.output
    assert "Traceback" not in r.output and "MarkupError" not in r.output and "error:" in r.output
