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
