"""benchmarks/mode_collapse.py: near-duplicate share on synthetic embeddings (a collapsed set
against a fresh draw of the training distribution), recall/coverage read from a groups row."""

import math

import numpy as np
import pytest

from benchbox.errors import MetricError
from benchbox.metrics import prdc
from tests.benchmark_helpers import load_benchmark

D = 32


@pytest.fixture(scope="module")
def mc():
    return load_benchmark("mode_collapse")


def _gauss(n: int, seed: int) -> np.ndarray:
    return prdc.l2_normalise(np.random.default_rng(seed).normal(size=(n, D)))


def test_collapsed_set_is_all_near_duplicates(mc):
    train = _gauss(165, 0)
    modes = _gauss(4, 1)  # 64 clips from 4 latents' worth of modes, each jittered far below the train spacing
    gen = prdc.l2_normalise(np.repeat(modes, 16, axis=0) + 1e-3 * np.random.default_rng(2).normal(size=(64, D)))
    out = mc.near_duplicates(gen, train)
    assert out["near_duplicates_count"] == 64 and out["near_duplicates"] == 1.0
    assert out["near_duplicates_lo"] > 0.9 and out["near_duplicate_distance"] > 0.1


def test_fresh_draw_of_the_training_distribution_has_few(mc):
    out = mc.near_duplicates(_gauss(64, 3), _gauss(165, 0))
    assert out["near_duplicates"] <= 0.1  # fewer clips than train: further apart than train's 5% point
    assert out["near_duplicates_lo"] <= out["near_duplicates"] <= out["near_duplicates_hi"]


def test_a_clip_is_not_its_own_neighbour(mc):
    x = np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 4.0]])
    np.testing.assert_allclose(mc.nearest_other(x), [5.0, 0.0, 0.0])


def test_errors(mc):
    with pytest.raises(MetricError, match="at least 2"):
        mc.near_duplicates(_gauss(1, 0), _gauss(10, 1))
    with pytest.raises(MetricError, match="dimension"):
        mc.near_duplicates(_gauss(5, 0), np.zeros((10, D + 1)))
    with pytest.raises(MetricError, match="quantile"):
        mc.near_duplicates(_gauss(5, 0), _gauss(10, 1), quantile=1.0)


def test_recall_coverage_from_a_groups_row(mc):
    group = {"n": 64, "recall/aisfx": 0.1, "recall/aisfx/lo": 0.0, "recall/aisfx/hi": 0.25, "coverage/aisfx": 0.2, "coverage/aisfx/lo": float("nan")}
    out = mc.recall_coverage(group, n_real=20)
    assert (out["recall"], out["recall_lo"], out["recall_hi"], out["coverage"]) == (0.1, 0.0, 0.25, 0.2)
    assert math.isnan(out["coverage_lo"]) and math.isnan(out["coverage_hi"])
    assert out["coverage_expected"] == pytest.approx(prdc.expected_coverage(20, 64))
