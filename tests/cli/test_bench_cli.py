"""``benchbox bench generators``: the quick smoke run and its errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from benchbox.bench import parse_label, summarise
from benchbox.cli.main import app

runner = CliRunner()


@pytest.mark.slow
def test_quick_bench_writes_positive_numbers(tmp_path):
    out = tmp_path / "bench.json"
    r = runner.invoke(app, ["bench", "generators", "--quick", "--presets", "wavenet-tiny", "--threads", "1", "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "reference measured on a 2-core machine" in r.output
    data = json.loads(out.read_text())
    assert data["format"] == 1 and data["quick"] is True and data["threads"] == [1]
    assert data["machine"]["cpu_count"] >= 1 and data["machine"]["torch"]
    kinds = {m["kind"] for m in data["measurements"]}
    assert kinds == {"check", "train", "generate"}
    metrics = {row["metric"]: row["value"] for row in data["summary"] if row["preset"] == "wavenet-tiny"}
    for key in ("train/samples_per_s", "gen_b1/samples_per_s", "gen_b4/samples_per_s", "mem/peak_rss_mb"):
        assert metrics[key] > 0, key
    assert 0 <= metrics["check/step_max_abs_err"] < 1e-4
    assert 0 < metrics["gen_b4/samples_per_s_median"] <= metrics["gen_b4/samples_per_s"]  # best window >= median
    assert all(m["parameters"] > 0 and len(m["loadavg"]) == 3 for m in data["measurements"])


def test_unknown_preset_is_one_line_error(tmp_path):
    r = runner.invoke(app, ["bench", "generators", "--quick", "--presets", "nope-tiny", "--out", str(tmp_path / "b.json")])
    assert r.exit_code == 1
    assert "error: unknown model preset 'nope-tiny'" in r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "b.json").exists()


def test_bad_threads_is_one_line_error():
    r = runner.invoke(app, ["bench", "generators", "--quick", "--threads", "one"])
    assert r.exit_code == 1 and "error: --threads 'one'" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["bench", "generators", "--quick", "--threads", "0"])
    assert r.exit_code == 1 and "error: thread counts must be >= 1" in r.output


def test_label_overrides_and_summary_ratios():
    assert parse_label("sashimi-sc09:kernel=dplr") == ("sashimi-sc09", {"kernel": "dplr"})
    assert parse_label("wavenet-tiny") == ("wavenet-tiny", {})
    rows = summarise(
        [
            {"preset": "wavenet-sc09", "threads": 1, "metrics": {"gen_b16/samples_per_s": 2642.0, "mem/peak_rss_mb": 300.0}},
            {"preset": "wavenet-sc09", "threads": 2, "metrics": {"gen_b16/samples_per_s": 6000.0, "mem/peak_rss_mb": 200.0}},
        ]
    )
    by_metric = {row["metric"]: row for row in rows}
    gen = by_metric["gen_b16/samples_per_s"]
    assert gen["threads"] == 2 and gen["reference"] == 1321 and gen["ratio"] == pytest.approx(6000 / 1321)
    assert gen["target"] == 5000 and gen["meets_target"] is True
    assert by_metric["mem/peak_rss_mb"]["value"] == 300.0 and by_metric["mem/peak_rss_mb"]["reference"] is None


def test_failed_child_is_a_row_not_an_abort():
    import subprocess

    from benchbox.bench import _failed

    proc = subprocess.CompletedProcess(args=[], returncode=-9, stdout="", stderr="")
    row = _failed({"preset": "wavenet-sc09", "kind": "train", "threads": 2, "batch": 8, "seed": 0}, proc)
    assert row["error"] == "exit -9: no output" and row["metrics"] == {} and "seed" not in row
    ok = {"preset": "wavenet-tiny", "threads": 1, "metrics": {"gen_b1/samples_per_s": 10.0}}
    rows = summarise([row, ok])
    assert [(r["preset"], r["metric"]) for r in rows] == [("wavenet-tiny", "gen_b1/samples_per_s")]
