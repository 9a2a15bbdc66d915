"""Run-level tests (benchbox.study.units) against direct computations."""

import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from benchbox.errors import MetricError
from benchbox.study import units
from benchbox.study.units import permutation_p, run_values, runs_text, sign_p, signed_rank_p


def test_run_values_average_each_runs_clips():
    clips = pd.DataFrame({"run": ["a", "a", "a", "b", "b"], "x": [1, 0, 1, 0, np.nan]})
    v = run_values(clips, "x")
    assert v.to_dict() == {"a": pytest.approx(2 / 3), "b": 0.0}
    with pytest.raises(MetricError):
        run_values(clips, "missing")


def test_run_counts_count_each_runs_scored_clips_and_drop_runs_without_any():
    clips = pd.DataFrame({"run": ["b", "a", "a", "b", "b", "c", "a"], "flag": [1, 0, 1, np.nan, 1, np.nan, "x"]})
    counts = units.run_counts(clips, "flag")
    assert list(counts.index) == ["a", "b"]  # sorted; c has no scored clip
    assert counts.loc["a"].tolist() == [1, 2] and counts.loc["b"].tolist() == [2, 2]  # "x" and NaN leave n
    with pytest.raises(MetricError):
        units.run_counts(clips, "missing")


def test_permutation_p_matches_enumerating_the_splits_by_hand():
    a, b = np.array([0.6, 0.7, 0.65]), np.array([0.1, 0.0, 0.3, 0.62, 0.05])
    pooled = np.concatenate([a, b])
    obs = abs(a.mean() - b.mean())
    hits = 0
    for idx in combinations(range(8), 3):
        rest = [i for i in range(8) if i not in idx]
        hits += abs(pooled[list(idx)].mean() - pooled[rest].mean()) >= obs - 1e-12
    assert permutation_p(a, b) == pytest.approx(hits / math.comb(8, 3))
    assert permutation_p(np.array([1.0, 1.0, 1.0]), np.zeros(6)) == pytest.approx(1 / 84)  # the perfect split alone (3 vs 6 has no mirror)
    assert permutation_p(np.ones(4), np.zeros(4)) == pytest.approx(2 / 70)  # 4 vs 4: the split and its mirror
    assert permutation_p(np.array([0.9]), np.array([0.1])) == 1.0  # one run a side: no evidence
    assert permutation_p(np.array([]), np.array([0.1])) == 1.0
    assert permutation_p(np.array([np.nan, 0.5]), np.array([0.2, 0.3])) == pytest.approx(1 / 3)  # the NaN run left out: 1 vs 2 runs


def test_permutation_p_samples_when_there_are_too_many_splits(monkeypatch):
    monkeypatch.setattr(units, "EXACT_SPLITS", 10)
    monkeypatch.setattr(units, "SAMPLED_SPLITS", 4000)
    a, b = np.array([1.0, 1.0, 1.0]), np.zeros(6)
    p = permutation_p(a, b)
    assert p == permutation_p(a, b)  # seeded
    assert abs(p - 1 / 84) < 0.006  # close to the exact 0.0119


def test_sign_p_drops_ties_and_matches_the_binomial():
    p, above, below = sign_p(np.array([0.1, 0.2, 0.25, 0.05, 0.3]), 0.25)
    assert (above, below) == (1, 3)
    assert p == pytest.approx(2 * (1 + 4) / 2 ** 4)  # P(X <= 1) of Bin(4, 1/2), doubled
    assert sign_p(np.array([0.25, 0.25]), 0.25) == (1.0, 0, 0)


def test_runs_vs_real_p_counts_a_run_only_when_fisher_separates_it_from_the_real_count():
    from scipy.stats import binomtest, fisher_exact

    from benchbox.study.units import runs_vs_real_p

    flagged = {"a": 0, "b": 2, "c": 40, "d": 45, "e": 50, "f": 60}  # of 256 each; real 2 of 206
    clips = pd.DataFrame([{"run": r, "flag": int(i < k)} for r, k in flagged.items() for i in range(256)])
    clips.loc[0, "flag"] = np.nan  # a clip without a value is left out of its run's n
    p, above, below, same = runs_vs_real_p(clips, "flag", 2, 206)
    direct = [fisher_exact([[k, 256 - k], [2, 204]])[1] for k in flagged.values()]
    assert (above, below, same) == (sum(q < 0.05 for q in direct), 0, sum(q >= 0.05 for q in direct)) == (4, 0, 2)
    assert p == pytest.approx(binomtest(4, 4, 0.5).pvalue)
    assert runs_vs_real_p(clips[clips["run"].isin(["a", "b"])], "flag", 2, 206) == (1.0, 0, 0, 2)  # nothing differs: p = 1
    with pytest.raises(MetricError):
        runs_vs_real_p(clips, "missing", 2, 206)


def test_signed_rank_p_reports_n_after_dropping_zeros():
    p, n, direction = signed_rank_p(np.array([0.0, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5]))
    assert n == 5 and p == pytest.approx(2 / 32) and direction == 1  # exact: all five positive
    assert signed_rank_p(np.zeros(4)) == (1.0, 0, 0)
    _, _, down = signed_rank_p(np.array([0.1, -0.2, -0.3, -0.4]))
    assert down == -1  # rank sums 1 vs 9


def test_the_side_a_paired_finding_favours_comes_from_the_differences_tested():
    """Seven runs at 0 and six positive: the median of all 13 is 0, but every run that moved moved up."""
    from benchbox.study.seed_findings import REPRODUCED, _paired

    verdict, test = _paired(pd.Series([0.0] * 7 + [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), seed_says_positive=True)
    assert verdict == REPRODUCED and "6 runs with a non-zero difference (of 13)" in test


def test_runs_text_lists_few_runs_and_summarises_many():
    assert runs_text(pd.Series({"a": 0.5, "b": 0.125})) == "2 runs: 50.0%, 12.5%"
    assert runs_text(pd.Series({str(i): i / 10 for i in range(8)})) == "8 runs: median 35.0% (0.0-70.0%)"
    assert runs_text(pd.Series(dtype=float)) == "no runs"


def test_smallest_p_is_each_tests_p_on_the_most_extreme_runs_and_matches_its_formula():
    """The exact tests' floors: 1 / C(Ra + Rb, Ra) for the permutation test (2 / C when Ra = Rb: the
    mirrored split is as extreme), 2 / 2**R for the two-sided sign and signed-rank tests."""
    from math import comb

    from benchbox.study.units import smallest_p

    for a, b in ((3, 6), (1, 2), (2, 5), (3, 1)):
        assert smallest_p("permutation", a, b) == pytest.approx(1 / comb(a + b, a), rel=1e-9)
    for a in (1, 2, 4):
        assert smallest_p("permutation", a, a) == pytest.approx(min(1.0, 2 / comb(2 * a, a)), rel=1e-9)
    for r in (1, 3, 4, 8):
        assert smallest_p("sign", r) == pytest.approx(min(1.0, 2 / 2**r), rel=1e-9)
        assert smallest_p("signed_rank", r) == pytest.approx(min(1.0, 2 / 2**r), rel=1e-9)
    assert smallest_p("sign", 0) == smallest_p("permutation", 0, 3) == 1.0
    with pytest.raises(ValueError, match="unknown test"):
        smallest_p("t", 3)


def test_tarone_k_matches_its_definition_by_direct_search():
    """K is the smallest k with at most k floors under alpha / k (Tarone 1990), checked against a brute
    force over every k and against hand cases; never above the plain Bonferroni count."""
    from benchbox.study.units import tarone_k

    assert tarone_k([]) == 1
    assert tarone_k([1.0, 1.0, 0.001]) == 1  # two comparisons can never succeed
    assert tarone_k([0.001, 0.001, 0.001]) == 3
    assert tarone_k([0.02, 0.02, 1.0]) == 2  # k = 1: two floors under 0.05; k = 2: two under 0.025
    assert tarone_k([0.0286, 0.0286]) == 2  # both can reach 0.025
    assert tarone_k([0.0286, 0.03, 1 / 3]) == 2  # k = 1: two floors under 0.05 (too many); k = 2: none under 0.025
    rng = np.random.default_rng(0)
    for _ in range(200):
        floors = list(rng.choice([1e-4, 0.01, 0.02, 0.03, 0.1, 1.0], size=rng.integers(1, 7)))
        direct = next(k for k in range(1, len(floors) + 1) if sum(f < 0.05 / k for f in floors) <= k)
        assert tarone_k(floors) == direct <= len(floors)
