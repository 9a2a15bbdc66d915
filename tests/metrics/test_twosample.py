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
    assert plain > 0.85 and abs(got["accuracy"] - 0.5) < 0.1  # chance, not the majority class's share


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


def test_ties_split_the_vote_so_the_order_of_the_sets_does_not_matter():
    """Identical clips (a generator that falls silent) tie as nearest neighbours; breaking the
    tie by index would always hand it to whichever set is listed first."""
    rng = np.random.default_rng(10)
    silent = np.full((1, 4), 0.5)
    real = np.vstack([rng.normal(size=(14, 4)), silent, silent])
    gen = np.vstack([rng.normal(size=(4, 4)), np.repeat(silent, 12, axis=0)])
    a, b = T.nn1_test(real, gen, permutations=199), T.nn1_test(gen, real, permutations=199)
    assert a["accuracy"] == pytest.approx(b["accuracy"]) and a["accuracy"] > 0.6 and a["p"] < 0.05
    # each of the 12 silent generated clips has 13 tied neighbours, 11 of them generated
    assert a["gen_accuracy"] == pytest.approx((12 * 11 / 13 + sum(_own_set_share(gen[i], real, gen) for i in range(4))) / 16)


def _own_set_share(point, real, gen):
    """Share of a generated clip's nearest others (ties included) that are generated: brute force."""
    others = [(math.dist(point, q), 0) for q in real] + [(math.dist(point, q), 1) for q in gen if q is not point and not np.array_equal(q, point)]
    best = min(d for d, _ in others)
    tied = [lab for d, lab in others if d <= best * (1 + 1e-9) + 1e-12]
    return sum(tied) / len(tied)


def test_rejection_rate_under_the_null_stays_near_its_level():
    """Two sets from one distribution, 200 times: p < 0.05 in about 5% of them, not 20%."""
    rejected = 0
    for seed in range(200):
        real, gen = _sets(1000 + seed, 20, 16, 0.0, dim=3)
        rejected += T.nn1_test(real, gen, permutations=99, seed=seed)["p"] < 0.05
    assert rejected / 200 <= 0.10
