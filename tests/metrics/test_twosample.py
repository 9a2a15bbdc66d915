"""twosample.py against a brute-force leave-one-out loop and its permutation null."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchbox.errors import MetricError
from benchbox.metrics import twosample as T


def _brute_accuracy(points: list, labels: list[int]) -> float:
    """Balanced leave-one-out 1-NN accuracy by plain loops."""
    right = {0: [], 1: []}
    for i, p in enumerate(points):
        others = [(math.dist(p, q), j) for j, q in enumerate(points) if j != i]
        _, j = min(others)  # ties: the lower index, as in the module
        right[labels[i]].append(labels[j] == labels[i])
    return 0.5 * (np.mean(right[0]) + np.mean(right[1]))


def _sets(seed: int, n_real: int, n_gen: int, shift: float, dim: int = 4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_real, dim)), rng.normal(size=(n_gen, dim)) + shift


@pytest.mark.parametrize("seed,n_real,n_gen,shift", [(0, 7, 5, 0.0), (1, 12, 4, 1.0), (2, 5, 9, 0.5), (3, 20, 20, 3.0)])
def test_accuracy_matches_a_brute_force_loop(seed, n_real, n_gen, shift):
    real, gen = _sets(seed, n_real, n_gen, shift)
    labels = [0] * n_real + [1] * n_gen
    got = T.nn1_test(real, gen, permutations=0)
    assert got["accuracy"] == pytest.approx(_brute_accuracy([*real, *gen], labels))
    assert math.isnan(got["p"])


def test_p_value_is_the_share_of_shuffles_at_least_as_accurate():
    real, gen = _sets(4, 9, 6, 0.7)
    points, labels = [*real, *gen], np.array([0] * 9 + [1] * 6, dtype=np.int8)
    got = T.nn1_test(real, gen, permutations=50, seed=11)
    rng = np.random.default_rng(11)  # the same shuffles, scored by the brute-force loop
    null = [_brute_accuracy(points, list(rng.permutation(labels))) for _ in range(50)]
    assert got["p"] == pytest.approx((1 + sum(a >= got["accuracy"] - 1e-12 for a in null)) / 51)


def test_separated_sets_are_found_and_one_distribution_is_not():
    real, gen = _sets(5, 30, 30, 6.0)
    far = T.nn1_test(real, gen, permutations=199)
    assert far["accuracy"] == 1.0 and far["p"] == pytest.approx(1 / 200)
    real, gen = _sets(6, 30, 30, 0.0)
    same = T.nn1_test(real, gen, permutations=199)
    assert 0.3 < same["accuracy"] < 0.7 and same["p"] > 0.05


def test_balanced_accuracy_ignores_set_sizes():
    """40 real clips and 3 generated ones from one distribution: a plain accuracy would be
    about 40/43 by calling everything real; the balanced one stays near 0.5."""
    real, gen = _sets(7, 40, 3, 0.0)
    got = T.nn1_test(real, gen, permutations=0)
    plain = (got["real_accuracy"] * 40 + got["gen_accuracy"] * 3) / 43
    assert got["accuracy"] == pytest.approx(0.5 * (got["real_accuracy"] + got["gen_accuracy"]))
    assert got["accuracy"] < plain


def test_copies_of_the_real_set_score_below_chance():
    """Generated clips that repeat real ones are each other's nearest neighbours across sets."""
    real, _ = _sets(8, 10, 2, 0.0)
    got = T.nn1_test(real, real + 1e-9, permutations=0)
    assert got["accuracy"] == 0.0


def test_bad_input_raises_typed_errors():
    real, gen = _sets(9, 5, 5, 0.0)
    with pytest.raises(MetricError, match="at least 2"):
        T.nn1_test(real, gen[:1])
    with pytest.raises(MetricError, match="dimensions differ"):
        T.nn1_test(real, gen[:, :3])
    with pytest.raises(MetricError, match="NaN"):
        T.nn1_test(real, np.where(gen > 1.0, np.nan, gen) if (gen > 1.0).any() else np.full_like(gen, np.nan))
    with pytest.raises(MetricError, match="permutations"):
        T.nn1_test(real, gen, permutations=-1)
