"""benchmarks/category_temporal.py: its time-structure features on clips whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from tests.benchmark_helpers import load_benchmark

RATE = 16_000


def _clicks(at_ms: list[float], n: int = 8192, decay_ms: float = 8.0, seed: int = 0) -> np.ndarray:
    """(n,) decaying noise impulses starting at ``at_ms``, the first the loudest."""
    rng = np.random.default_rng(seed)
    wave = np.zeros(n)
    t = np.arange(n) / RATE * 1000
    for i, ms in enumerate(at_ms):
        on = t >= ms
        wave[on] += (0.5 if i == 0 else 0.4) * rng.standard_normal(on.sum()) * np.exp(-(t[on] - ms) / decay_ms)
    return wave


def test_a_heel_toe_pair_shows_two_onsets_and_autocorrelation_at_their_interval():
    bench = load_benchmark("category_temporal")
    one, two = bench.temporal_features(_clicks([100.0])), bench.temporal_features(_clicks([100.0, 180.0]))
    names = list(bench.NAMES)
    assert len(one) == len(two) == len(names)
    assert one[names.index("onset peaks")] == 1 and two[names.index("onset peaks")] == 2
    assert two[names.index("second peak / first")] > 0.4 > one[names.index("second peak / first")]
    ac = names.index("onset autocorrelation 20-150 ms")
    assert two[ac] > one[ac] + 0.3  # the 80 ms interval lies in the heel-toe lags


def test_drops_and_band_shares_match_a_direct_reading():
    bench = load_benchmark("category_temporal")
    t = np.arange(8192) / RATE
    tone = np.sin(2 * np.pi * 1000 * t) * np.exp(-t / 0.05)  # 1 kHz, -8.7 dB per 50 ms (20 log10 e per tau)
    tone[:800] = 0  # onset at 50 ms
    f = bench.temporal_features(tone)
    names = list(bench.NAMES)
    assert f[names.index("share 300-1500 Hz at peak")] > 0.99
    per_ms = 20 * np.log10(np.e) / 50  # dB per ms of the envelope's power
    for ms in bench.DROPS_MS[:3]:
        assert f[names.index(f"drop {ms} ms (dB)")] == pytest.approx(per_ms * ms, abs=1.5)
    assert np.all(np.isfinite(bench.temporal_features(np.zeros(8192))))
