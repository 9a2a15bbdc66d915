"""benchmarks/fit_category.py: leave-one-package-out never mixes packages; the prosfx reading is a probability."""

import numpy as np
import pytest

from tests.benchmark_helpers import load_benchmark


@pytest.fixture(scope="module")
def fit():
    return load_benchmark("fit_category")


def test_lopo_splits_never_mix_packages(fit):
    packages = np.array(["0ad", "ufoai", "0ad", "minetest", "ufoai", "minetest", "0ad"])
    splits = fit.lopo_splits(packages)
    assert [held for held, _, _ in splits] == ["0ad", "minetest", "ufoai"]
    for held, train, test in splits:
        assert set(packages[test]) == {held} and held not in set(packages[train])
        assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(packages)))


def test_lopo_scores_come_from_probes_that_never_saw_the_package(fit):
    rng = np.random.default_rng(0)
    packages = np.repeat(["a", "b", "c"], 20)
    y = np.tile(np.repeat([0, 1], 10), 3)
    x = rng.normal(size=(60, 3)) + y[:, None]
    x[packages == "c"] += 100.0  # a package far from the others: its scores must not reflect it being seen
    scores = fit.lopo_scores(x, y, packages, 0.1)
    assert np.isfinite(scores).all()
    table = fit.lopo_table(scores, y, packages, np.arange(60).astype(str), 0.0)
    assert [r["held out"] for r in table] == ["a", "b", "c", "pooled"]


def test_prosfx_reading_is_a_probability(fit):
    p = fit.prosfx_p33(np.random.default_rng(0).normal(size=(4, 512)).astype(np.float32))
    assert p.shape == (4,) and ((p >= 0) & (p <= 1)).all()


def test_paired_auc_gain_is_zero_for_the_same_scores_and_positive_for_better_ones(fit):
    rng = np.random.default_rng(1)
    y = np.tile([0, 1], 30)
    groups = np.repeat(np.arange(20), 3).astype(str)
    noisy = y + rng.normal(scale=1.0, size=60)
    assert fit.paired_auc_gain(noisy, noisy, y, groups) == (0.0, 0.0, 0.0)
    gain, lo, hi = fit.paired_auc_gain(y + rng.normal(scale=0.1, size=60), noisy, y, groups)
    assert gain > 0 and 0 < lo <= gain <= hi
