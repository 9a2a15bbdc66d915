"""benchmarks/envelope_vs_real.py: its KS statistic and BH adjustment against direct computations."""

from __future__ import annotations

import numpy as np
import pytest

from benchbox.metrics.category_features import ENVELOPE_NAMES
from tests.benchmark_helpers import load_benchmark


def test_compare_gives_the_largest_ecdf_gap_and_bh_adjusted_p_per_statistic():
    bench = load_benchmark("envelope_vs_real")
    rng = np.random.default_rng(0)
    e = len(ENVELOPE_NAMES)
    real = rng.normal(size=(40, e))
    gen = rng.normal(size=(25, e))
    gen[:, 0] += 3.0  # one statistic shifted far: it alone should separate
    rows = bench.compare(real, gen)
    assert [r["statistic"] for r in rows] == list(ENVELOPE_NAMES)
    for j, row in enumerate(rows):
        grid = np.sort(np.concatenate([real[:, j], gen[:, j]]))
        ecdf = lambda x: np.searchsorted(np.sort(x), grid, side="right") / len(x)  # noqa: E731
        assert row["ks_d"] == pytest.approx(np.max(np.abs(ecdf(real[:, j]) - ecdf(gen[:, j]))), abs=1e-12)
        assert row["real"][1] == pytest.approx(np.median(real[:, j]))
    p = np.array([r["p"] for r in rows])
    order = np.argsort(p)
    direct = np.minimum.accumulate((p[order] * e / np.arange(1, e + 1))[::-1])[::-1]  # step-up BH, by hand
    adjusted = np.empty(e)
    adjusted[order] = np.minimum(direct, 1.0)
    assert [r["p_bh"] for r in rows] == pytest.approx(adjusted.tolist(), rel=1e-9)
    assert rows[0]["p_bh"] < 1e-6 and min(r["p_bh"] for r in rows[1:]) > 0.01


def test_gate_floor_zeroes_only_the_samples_under_the_level():
    bench = load_benchmark("gate_floor")
    wave = np.array([0.0, 1e-5, -2e-4, 3e-4, -0.5, 2.5e-4], dtype=np.float32)
    out, n = bench.gate(wave, 2.6e-4)
    assert out.tolist() == pytest.approx([0.0, 0.0, 0.0, 3e-4, -0.5, 0.0]) and n == 3  # the 0.0 was already silent
    assert wave[1] == pytest.approx(1e-5)  # the input is left as it was
