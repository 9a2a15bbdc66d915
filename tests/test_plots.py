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


def test_curves_in_bits_with_dashed_baselines(tmp_path, monkeypatch):
    seen = _capture(monkeypatch)
    log = _log(tmp_path / "log.jsonl", [{"step": 2, "loss/train": 2 * math.log(2), "loss/val": 3 * math.log(2), "baseline/ngram": 7.5},
                                        {"step": 4, "loss/train": math.log(2), "loss/val": 2 * math.log(2)}])
    plots.plot_curves(log, tmp_path / "curves.png", baselines={"baseline/lpc": 6.0})
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    nll = seen["fig"].axes[0]
    assert "bits" in nll.get_ylabel()
    lines = {ln.get_label(): ln for ln in nll.get_lines()}
    assert "loss/train" not in lines  # a bits axis labelled with the nats key
    assert list(lines["bits/train"].get_ydata()) == pytest.approx([2.0, 1.0])  # nats -> bits
    assert lines["bits/train"].get_marker() == "o"  # a short run draws its points
    for name, bits in (("baseline/ngram", 7.5), ("baseline/lpc", 6.0)):
        assert lines[name].get_linestyle() == "--" and list(lines[name].get_ydata()) == [bits, bits]
    assert nll.get_xlim()[0] == 0


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
    assert real_ax.get_ylabel() == "kHz" and real_ax.get_xlabel() == "s" and bar.get_ylabel() == "dBFS"
    assert real_ax.get_ylim()[1] == pytest.approx(8.0) and real_ax.get_xlim()[1] == pytest.approx(4096 / RATE_HZ)
    assert [ln.get_xdata()[0] for ln in gen_ax.get_lines()] == [0.04]  # prime end marked
    assert real_ax.get_lines() == []
