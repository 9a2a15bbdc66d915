import math

import numpy as np
import pytest

from benchbox.errors import MetricError
from benchbox.stats import wilson_interval


def test_wilson_half_rate_matches_hand_computation():
    # p = 0.5, z^2 = 3.8416, denom = 1.38416, centre = 0.5,
    # half = 1.96 * sqrt(0.025 + 0.009604) / 1.38416 = 0.263411
    p, lo, hi = wilson_interval(5, 10)
    assert p == 0.5
    assert lo == pytest.approx(0.236589, abs=1e-5)
    assert hi == pytest.approx(0.763411, abs=1e-5)


def test_wilson_zero_successes_has_zero_lower_bound():
    # centre = half = 0.19208 / 1.38416 = 0.138771 -> [0, 0.277542]
    p, lo, hi = wilson_interval(0, 10)
    assert p == 0.0
    assert lo == pytest.approx(0.0, abs=1e-12)
    assert hi == pytest.approx(0.277542, abs=1e-5)


def test_wilson_all_successes_is_mirror_of_none():
    _, lo0, hi0 = wilson_interval(0, 10)
    p, lo, hi = wilson_interval(10, 10)
    assert p == 1.0
    assert lo == pytest.approx(1.0 - hi0, abs=1e-12)
    assert hi == pytest.approx(1.0, abs=1e-12)


def test_wilson_asymmetric_case():
    # k=8, n=20, p=0.4: denom = 1.19208, centre = (0.4 + 0.09604) / 1.19208 = 0.416113
    # half = 1.96 * sqrt(0.012 + 0.002401) / 1.19208 = 0.197310
    p, lo, hi = wilson_interval(8, 20)
    assert p == 0.4
    assert lo == pytest.approx(0.218803, abs=1e-5)
    assert hi == pytest.approx(0.613423, abs=1e-5)


def test_wilson_empty_is_uninformative():
    p, lo, hi = wilson_interval(0, 0)
    assert math.isnan(p) and (lo, hi) == (0.0, 1.0)


@pytest.mark.parametrize("k,n", [(-1, 5), (6, 5), (0, -1)])
def test_wilson_rejects_bad_counts(k, n):
    with pytest.raises(MetricError, match="0 <= k <= n"):
        wilson_interval(k, n)


def test_intervals_overlap_is_symmetric_and_nan_overlaps_nothing():
    from benchbox.stats import intervals_overlap

    assert intervals_overlap(0.0, 1.0, 0.5, 2.0) and intervals_overlap(0.5, 2.0, 0.0, 1.0)
    assert intervals_overlap(0.0, 1.0, 1.0, 2.0)  # a shared end counts
    assert not intervals_overlap(0.0, 1.0, 1.5, 2.0) and not intervals_overlap(1.5, 2.0, 0.0, 1.0)  # below or above the other
    assert not intervals_overlap(float("nan"), 1.0, 0.0, 1.0)


def test_vs_floor_needs_overlapping_cis_and_an_unseparated_two_sample_test():
    import numpy as np

    from benchbox.stats import CI_ONLY, DIFFERS_CI, INDISTINGUISHABLE, SEPARATED, vs_floor

    assert vs_floor(0.1, 0.3, 0.2, 0.4, 0.2) == INDISTINGUISHABLE
    assert vs_floor(0.1, 0.3, 0.2, 0.4, 0.001) == SEPARATED
    assert vs_floor(0.1, 0.3, 0.2, 0.4) == CI_ONLY  # no 1-NN test measured: not called indistinguishable
    assert vs_floor(0.1, 0.3, 0.2, 0.4, float("nan")) == CI_ONLY
    assert vs_floor(0.5, 0.6, 0.2, 0.4, 0.9) == DIFFERS_CI  # the CIs do not overlap: it differs whatever the test says
    assert vs_floor(float("nan"), 0.6, 0.2, 0.4) == ""  # nothing compared
    assert vs_floor(np.float32(0.1), 0.3, 0.2, 0.4, np.float32("nan")) == CI_ONLY  # numpy NaN is not a measured test


def test_vs_floor_calls_an_accuracy_far_below_chance_closer_than_real():
    from benchbox.stats import CLOSER, INDISTINGUISHABLE, vs_floor

    assert vs_floor(0.1, 0.3, 0.2, 0.4, 1.0) == CLOSER  # every permutation as good or better: each clip's neighbour is real
    assert vs_floor(0.1, 0.3, 0.2, 0.4, 0.995) == CLOSER
    assert vs_floor(0.1, 0.3, 0.2, 0.4, 0.98) == INDISTINGUISHABLE  # the lower tail is tested at 0.01, not 0.05


def test_two_sample_of_uses_the_whole_clip_only_for_unprimed_rows():
    from benchbox.stats import nn1_text, two_sample_of

    both = {"cont/nn1/aisfx": 0.8, "cont/nn1/aisfx/p": 0.01, "nn1/aisfx": 0.6, "nn1/aisfx/p": 0.2, "prime_ms": 40}
    assert two_sample_of(both, "aisfx") == (0.8, 0.01)
    whole = {"nn1/aisfx": 0.6, "nn1/aisfx/p": 0.2}
    assert two_sample_of({**whole, "prime_ms": 0}, "aisfx") == (0.6, 0.2) and two_sample_of({**whole, "prime_ms": ""}, "aisfx") == (0.6, 0.2)
    assert all(math.isnan(v) for v in two_sample_of({**whole, "prime_ms": 40}, "aisfx"))  # its whole clip holds a real prime
    assert nn1_text(0.8, 0.01) == "0.80 (p = 0.01)" and nn1_text(float("nan"), 0.5) == "" and nn1_text(0.5, float("nan")) == "0.50"


def test_mcnemar_exact_is_the_two_sided_binomial_test_of_the_discordant_pairs():
    import math

    from benchbox.stats import mcnemar_exact

    for only_a, only_b in ((8, 0), (3, 9), (10, 4), (1, 1)):
        n = only_a + only_b
        tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1)) / 2**n
        assert mcnemar_exact(only_a, only_b) == pytest.approx(min(1.0, 2 * tail), rel=1e-9)
        assert mcnemar_exact(only_b, only_a) == pytest.approx(mcnemar_exact(only_a, only_b), rel=1e-9)
    assert mcnemar_exact(0, 0) == 1.0
    with pytest.raises(MetricError):
        mcnemar_exact(-1, 2)


def test_paired_difference_interval_is_agresti_min():
    from benchbox.stats import paired_difference_interval

    d, lo, hi = paired_difference_interval(8, 0, 64)  # 1/2 added to each cell: 8.5 vs 0.5 of 66 pairs
    half = 1.96 * math.sqrt(9.0 - 8.0**2 / 66) / 66
    assert d == pytest.approx(0.125) and lo == pytest.approx(8 / 66 - half, abs=1e-12) and hi == pytest.approx(8 / 66 + half, abs=1e-12)
    assert lo == pytest.approx(0.0371, abs=1e-4) and hi == pytest.approx(0.2054, abs=1e-4)
    d, lo, hi = paired_difference_interval(0, 0, 40)  # no discordant pair: centred on 0, never a zero-width interval
    assert d == 0.0 and lo < 0 < hi and lo == pytest.approx(-hi)
    assert math.isnan(paired_difference_interval(0, 0, 0)[0])
    with pytest.raises(MetricError):
        paired_difference_interval(5, 6, 10)


def test_clustered_wilson_against_its_formula_and_limits():
    """Wilson at N / deff times (z / t_{R-1})^2 (Korn and Graubard), deff from the ANOVA ICC by hand:
    runs that agree have deff 1; runs at 0% and 100% have deff = the run size; one run is plain Wilson."""
    from scipy.stats import norm
    from scipy.stats import t as student

    from benchbox.stats import clustered_wilson, wilson_interval

    z = 1.96  # the function's default

    def tq(df):  # the t quantile at the normal's coverage of +-z
        return student.ppf(norm.cdf(z), df)

    def wilson_at(p, m):  # Wilson's interval at a real-valued sample size m
        centre, half = (p + z * z / (2 * m)) / (1 + z * z / m), z * (p * (1 - p) / m + z * z / (4 * m * m)) ** 0.5 / (1 + z * z / m)
        return max(0.0, centre - half), min(1.0, centre + half)

    p, lo, hi, deff = clustered_wilson([10, 10, 10], [50, 50, 50])
    assert deff == pytest.approx(1.0) and (lo, hi) == pytest.approx(wilson_at(0.2, 150 * (z / tq(2)) ** 2), abs=1e-9)
    p, lo, hi, deff = clustered_wilson([50, 0], [50, 50])
    assert p == 0.5 and deff == pytest.approx(50.0) and (lo, hi) == pytest.approx(wilson_at(0.5, 2 * (z / tq(1)) ** 2), abs=1e-9)
    k, n = np.array([40, 5, 20]), np.array([64, 64, 32])
    N, R, pbar = n.sum(), 3, k.sum() / n.sum()
    rates = k / n
    msb = (n * (rates - pbar) ** 2).sum() / (R - 1)
    msw = (n * rates * (1 - rates)).sum() / (N - R)
    n0 = (N - (n**2).sum() / N) / (R - 1)
    icc = (msb - msw) / (msb + (n0 - 1) * msw)
    want_deff = 1 + ((n**2).sum() / N - 1) * icc
    p, lo, hi, deff = clustered_wilson(k, n)
    assert deff == pytest.approx(want_deff, rel=1e-9) and 1 < deff < 64
    assert (lo, hi) == pytest.approx(wilson_at(pbar, N / want_deff * (z / tq(R - 1)) ** 2), abs=1e-9)
    plain = wilson_interval(int(k.sum()), int(N))
    assert lo < plain[1] and hi > plain[2]  # wider than counting clips as independent
    assert clustered_wilson([3], [10])[1:3] == pytest.approx(wilson_interval(3, 10)[1:], abs=1e-12)  # one run: its own Wilson
    with pytest.raises(MetricError):
        clustered_wilson([5], [4])
