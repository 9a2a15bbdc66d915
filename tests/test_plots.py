"""Figures carry units: NLL in bits with baseline lines, spectrograms in kHz / s / dBFS."""

import json
import math

import numpy as np
import pytest

from benchbox import plots

RATE_HZ = 16000


def _log(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _capture(monkeypatch):
    """Keep the last figure plot_curves draws, to inspect its axes."""
    seen = {}
    real = plots._new_figure

    def keep(*args, **kwargs):
        seen["fig"] = real(*args, **kwargs)
        return seen["fig"]

    monkeypatch.setattr(plots, "_new_figure", keep)
    return seen


def test_curves_in_bits_val_and_test_apart_for_model_and_baselines(tmp_path, monkeypatch):
    seen = _capture(monkeypatch)
    log = _log(tmp_path / "log.jsonl", [
        {"step": s, "loss/train": 2 * math.log(2), "loss/val": 3 * math.log(2), "bits/test": 2.5,
         "baseline/ngram/bits/val": 7.5, "baseline/ngram/bits/test": 7.0} for s in (2, 4, 6)])
    plots.plot_curves(log, tmp_path / "curves.png", baselines={"baseline/lpc/bits/val": 6.0})
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    nll = seen["fig"].axes[0]
    assert "bits" in nll.get_ylabel() and nll.get_xlabel() == "training step"
    lines = {ln.get_label(): ln for ln in nll.get_lines()}
    assert "loss/train" not in lines  # a bits axis labelled with the nats key
    assert list(lines["bits/train"].get_ydata()) == pytest.approx([2.0] * 3)  # nats -> bits
    assert list(lines["bits/test"].get_ydata()) == pytest.approx([2.5] * 3)  # the test NLL is drawn
    for name in ("", "ngram "):  # val and test differ in style for the model and a baseline alike
        assert lines[f"{name}bits/val"].get_linestyle() == "-" and lines[f"{name}bits/test"].get_linestyle() == "--"
    assert lines["ngram bits/val"].get_color() == lines["ngram bits/test"].get_color() != lines["bits/val"].get_color()
    assert list(lines["lpc bits/val"].get_ydata()) == [6.0, 6.0] and lines["lpc bits/val"].get_color() != lines["ngram bits/val"].get_color()
    assert lines["bits/val"].get_marker() == "o" and nll.get_xlim()[0] == 0
    assert nll.get_legend() is not None and not nll.texts  # three evals: a curve, no warning


def test_one_eval_point_is_a_warning_not_a_curve(tmp_path, monkeypatch):
    seen = _capture(monkeypatch)
    log = _log(tmp_path / "log.jsonl", [{"step": 300, "bits/val": 3.0, "bits/test": 2.9}])
    plots.plot_curves(log, tmp_path / "curves.png")
    assert "too few to draw a curve" in seen["fig"].axes[0].texts[0].get_text()


def test_effect_chart_has_ci_bars_units_and_a_legend(tmp_path, monkeypatch):
    seen = _capture(monkeypatch)
    panel = plots.EffectPanel("useful", "prime length (ms)", "useful clips (%)",
                              {"a": [("0", 10.0, 5.0, 20.0), ("20", 30.0, 20.0, 40.0)], "b": [("0", 50.0, 40.0, 60.0)]},
                              (0, 100), (50.0, "chance"))
    plots.effect_chart([panel], tmp_path / "e.png")
    ax = seen["fig"].axes[0]
    assert ax.get_xlabel() == "prime length (ms)" and ax.get_ylabel() == "useful clips (%)" and ax.get_ylim() == (0, 100)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["chance", "a", "b"]
    bars = [c for c in ax.collections if len(c.get_segments())]
    assert sorted(tuple(np.round(s[:, 1], 3)) for c in bars for s in c.get_segments()) == [(5.0, 20.0), (20.0, 40.0), (40.0, 60.0)]


def test_spectrogram_scale_reads_zero_dbfs_for_a_full_scale_sine():
    t = np.arange(RATE_HZ // 4) / RATE_HZ
    db, freqs_khz, times_s = plots.spectrogram_dbfs(np.sin(2 * np.pi * 1000.0 * t), RATE_HZ)
    peak_bin = int(np.argmax(db.mean(axis=1)))
    assert freqs_khz[peak_bin] == pytest.approx(1.0, abs=freqs_khz[1])
    assert db.max() == pytest.approx(0.0, abs=0.1)
    assert freqs_khz[-1] == pytest.approx(8.0) and times_s[-1] < 0.25
    silent, _, _ = plots.spectrogram_dbfs(np.zeros(1024), RATE_HZ)
    assert (silent == plots.SPEC_FLOOR_DBFS).all()


def test_spectrogram_grid_has_units_a_colour_bar_and_the_prime_end(tmp_path, monkeypatch):
    seen = _capture(monkeypatch)
    wave = np.random.default_rng(0).normal(0, 0.1, 4096)
    rows = [[plots.SpectrogramCell("real", wave, RATE_HZ), plots.SpectrogramCell("gen", wave, RATE_HZ, prime_seconds=0.04)]]
    plots.spectrogram_grid(rows, tmp_path / "s.png", columns=2)
    real_ax, gen_ax, bar = seen["fig"].axes
    assert real_ax.get_ylabel() == "frequency (kHz)" and real_ax.get_xlabel() == "time (s)" and bar.get_ylabel() == "dBFS"
    assert real_ax.get_ylim()[1] == pytest.approx(8.0) and real_ax.get_xlim()[1] == pytest.approx(4096 / RATE_HZ)
    assert [ln.get_xdata()[0] for ln in gen_ax.get_lines()] == [0.04]  # prime end marked
    assert real_ax.get_lines() == []
