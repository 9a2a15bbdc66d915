"""benchmarks/nn1_splits.py: the per-split 1-NN accuracies against a brute-force count."""

import numpy as np
import pytest

from tests.benchmark_helpers import load_benchmark


@pytest.fixture(scope="module")
def ns():
    return load_benchmark("nn1_splits")


def brute_nn1(real: np.ndarray, gen: np.ndarray) -> float:
    """Balanced share of clips whose nearest other clip (Euclidean) is from their own set."""
    x = np.concatenate([real, gen])
    labels = np.r_[np.zeros(len(real)), np.ones(len(gen))]
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    same = labels[d.argmin(axis=1)] == labels
    return 0.5 * (same[labels == 0].mean() + same[labels == 1].mean())


def test_split_accuracies_match_a_brute_force_count_and_tell_the_splits_apart(ns):
    rng = np.random.default_rng(0)
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    gen = unit(rng.normal(size=(30, 4)) + np.array([3.0, 0, 0, 0]))
    near = unit(rng.normal(size=(12, 4)) + np.array([3.0, 0, 0, 0]))  # drawn like gen
    far = unit(rng.normal(size=(12, 4)) - np.array([3.0, 0, 0, 0]))  # another distribution
    acc = ns.split_accuracies(gen, {"val": far, "test": near})
    assert acc["val"] == pytest.approx(brute_nn1(far, gen), abs=1e-9) and acc["val"] == pytest.approx(1.0)
    assert acc["test"] == pytest.approx(brute_nn1(near, gen), abs=1e-9) and acc["test"] < 0.8
