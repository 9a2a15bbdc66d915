"""Small shared statistics: binomial confidence intervals for flag and usefulness rates, and a
row's standing against the real floor.

Legend: k successes out of n trials; p = k / n.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from benchbox.errors import MetricError



def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float, float]:
    """Wilson score interval for a binomial rate: ``(p, lo, hi)``.

    Unlike the normal (Wald) interval it stays inside [0, 1] and is sensible at k = 0
    or k = n. With ``n == 0`` there is no information: ``(nan, 0.0, 1.0)``.
    """
    if n < 0 or k < 0 or k > n:
        raise MetricError(f"wilson_interval: need 0 <= k <= n, got k={k}, n={n}", hint="count successes out of trials")
    if z <= 0:
        raise MetricError(f"wilson_interval: z must be positive, got {z}", hint="use z=1.96 for a 95% interval")
    if n == 0:
        return math.nan, 0.0, 1.0
    p = k / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom
    return p, max(0.0, centre - half), min(1.0, centre + half)


def clustered_wilson(k_runs, n_runs, z: float = 1.96) -> tuple[float, float, float, float]:
    """Wilson interval of a rate pooled over runs, widened for clips of one run being alike:
    ``(p, lo, hi, deff)``.

    ``k_runs``, ``n_runs``: (R,) successes and clips per run (runs with no clip left out). p is
    the pooled K / N. The design effect deff = 1 + (m - 1) ICC, with m = sum(n_i^2) / N the
    size-weighted mean run size and the intraclass correlation of the 0/1 outcomes by the
    one-way ANOVA estimator (Fleiss, *Statistical Methods for Rates and Proportions*, 1981;
    clipped to [0, 1]); the Wilson interval is then taken at the effective sample size N / deff
    (Korn and Graubard, *Survey Methodology* 24, 1998), times their degrees-of-freedom factor
    (z / t_{R-1})^2, since the variance rests on R runs. One run: the plain Wilson interval over
    its clips (a statement about that run). Runs whose rates differ no more than binomial noise
    would: deff = 1, and only the df factor widens it. Runs at 0% and 100%: deff = m, as if each
    run were one observation. A reviewer's simulation (256 clips a run, beta-distributed run
    rates, ICC 0.15) put the coverage of the mean rate at 0.68 / 0.75 / 0.81 for 2 / 3 / 4 runs
    without the df factor and 0.997 / 0.93 / 0.93 with it. MetricError for negative or
    inconsistent counts."""
    k = np.asarray(k_runs, float)
    n = np.asarray(n_runs, float)
    if k.shape != n.shape or np.any(k < 0) or np.any(k > n):
        raise MetricError("clustered_wilson: need 0 <= k_i <= n_i per run", hint="pass each run's successes and clips")
    keep = n > 0
    k, n = k[keep], n[keep]
    total, m_runs = float(n.sum()), int(n.size)
    if total == 0:
        return math.nan, 0.0, 1.0, 1.0
    p = float(k.sum() / total)
    deff = 1.0
    if m_runs > 1 and total > m_runs:
        rates = k / n
        msb = float(np.sum(n * (rates - p) ** 2) / (m_runs - 1))
        msw = float(np.sum(n * rates * (1 - rates)) / (total - m_runs))
        n0 = (total - float(np.sum(n**2)) / total) / (m_runs - 1)
        denom = msb + (n0 - 1) * msw
        icc = min(1.0, max(0.0, (msb - msw) / denom)) if denom > 0 else 0.0
        deff = 1.0 + (float(np.sum(n**2)) / total - 1.0) * icc
    n_eff = total / deff
    if m_runs > 1:  # Korn and Graubard's degrees-of-freedom step: the variance comes from R runs, not N clips
        from scipy.stats import norm, t

        n_eff *= (z / t.ppf(norm.cdf(z), m_runs - 1)) ** 2  # the t quantile at the normal's coverage of +-z
    z2 = z * z
    centre = (p + z2 / (2.0 * n_eff)) / (1.0 + z2 / n_eff)
    half = z * math.sqrt(p * (1.0 - p) / n_eff + z2 / (4.0 * n_eff * n_eff)) / (1.0 + z2 / n_eff)
    return p, max(0.0, centre - half), min(1.0, centre + half), deff


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value for paired 0/1 outcomes: a binomial test (p = 0.5) of
    ``only_a`` (pairs where only side a succeeded) among the ``only_a + only_b`` discordant pairs
    (scipy ``binomtest``). No discordant pair: no evidence, p = 1."""
    if only_a < 0 or only_b < 0:
        raise MetricError(f"mcnemar_exact: need counts >= 0, got {only_a}, {only_b}", hint="count the discordant pairs")
    if only_a + only_b == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(int(only_a), int(only_a + only_b), 0.5).pvalue)


def paired_difference_interval(only_a: int, only_b: int, n: int, z: float = 1.96) -> tuple[float, float, float]:
    """``(d, lo, hi)``: the difference of two paired rates, rate(a) - rate(b) = (only_a - only_b) / n
    over ``n`` pairs, with the Agresti-Min (2005) interval: the Wald interval for paired
    proportions after adding 1/2 to each of the four cells of the 2 x 2 table (so ``n + 2``
    pairs), clipped to [-1, 1]. ``n == 0``: ``(nan, -1.0, 1.0)``."""
    if min(only_a, only_b, n) < 0 or only_a + only_b > n:
        raise MetricError(f"paired_difference_interval: need 0 <= only_a + only_b <= n, got {only_a}, {only_b}, {n}", hint="count pairs")
    if n == 0:
        return math.nan, -1.0, 1.0
    a, b, m = only_a + 0.5, only_b + 0.5, n + 2.0
    centre = (a - b) / m
    half = z * math.sqrt(max(a + b - (a - b) ** 2 / m, 0.0)) / m
    return (only_a - only_b) / n, max(-1.0, centre - half), min(1.0, centre + half)


INDISTINGUISHABLE = "indistinguishable from real at this n"
SEPARATED = "differs (1-NN test)"
CI_ONLY = "overlaps the floor (1-NN test not measured)"
DIFFERS_CI = "differs (CI)"
CLOSER = "closer to the test clips than real clips are (copies of them?)"
TWO_SAMPLE_ALPHA = 0.05
CLOSER_ALPHA = 0.01  # the lower tail: p > 1 - CLOSER_ALPHA


def intervals_overlap(lo: float, hi: float, other_lo: float, other_hi: float) -> bool:
    """Whether the closed intervals [lo, hi] and [other_lo, other_hi] share a point; False
    when any end is NaN (an interval that was not measured overlaps nothing). Used to mark a
    row whose CI overlaps the real floor's as :data:`INDISTINGUISHABLE`."""
    ends = (lo, hi, other_lo, other_hi)
    if not all(_finite(e) for e in ends):
        return False
    return lo <= other_hi and other_lo <= hi


def vs_floor(lo: float, hi: float, floor_lo: float, floor_hi: float, nn1_p: float | None = None) -> str:
    """A row's standing against the real floor, from the CI of its ranking metric (KAD by
    default) and its 1-NN two-sample p-value.

    * :data:`DIFFERS_CI`: the CIs do not overlap (the row differs; ``""`` when either CI is
      missing, since nothing was compared);
    * :data:`SEPARATED`: they overlap, but the 1-NN test tells the clips from real ones
      (``nn1_p`` < :data:`TWO_SAMPLE_ALPHA`);
    * :data:`CLOSER`: they overlap and the 1-NN accuracy is in the permutation null's lowest
      :data:`CLOSER_ALPHA` (``nn1_p`` > 1 - CLOSER_ALPHA): each clip's nearest neighbour is a
      real test clip far more often than chance, as when a generator reproduces the test
      recordings (memorisation is measured against the train split only, so it would not say);
    * :data:`INDISTINGUISHABLE`: they overlap and the test does not separate them;
    * :data:`CI_ONLY`: they overlap and no test was measured (``nn1_p`` None or NaN: a group
      under 2 clips, or scores written before the test existed).

    CI overlap alone is a weak test at tens of clips (two wide intervals overlap even when
    the sets differ), so a row is only called indistinguishable when neither test separates it.
    """
    if not intervals_overlap(lo, hi, floor_lo, floor_hi):
        return DIFFERS_CI if all(_finite(v) for v in (lo, hi, floor_lo, floor_hi)) else ""
    if not _finite(nn1_p):
        return CI_ONLY
    if nn1_p < TWO_SAMPLE_ALPHA:
        return SEPARATED
    return CLOSER if nn1_p > 1 - CLOSER_ALPHA else INDISTINGUISHABLE


def two_sample_of(row: Mapping, embedder: str) -> tuple[float, float]:
    """``(nn1 accuracy, p)`` of one scores row in ``embedder``: the continuation's test
    (``cont/nn1/<e>``), or the whole clip's only for an unprimed row. A primed row's
    whole-clip test compares clips whose primes were cut from the very test clips they are
    compared with, so it would flatter the row; without a continuation test it gets NaN."""
    def num(key: str) -> float:
        return _number(row.get(key))

    acc, p = num(f"cont/nn1/{embedder}"), num(f"cont/nn1/{embedder}/p")
    if not math.isnan(acc):
        return acc, p
    prime = num("prime_ms")
    if math.isnan(prime) or prime == 0.0:
        return num(f"nn1/{embedder}"), num(f"nn1/{embedder}/p")
    return math.nan, math.nan


def nn1_text(accuracy: float, p: float) -> str:
    """``0.85 (p = 0.001)``: a 1-NN two-sample accuracy and its permutation p-value ("" when unmeasured)."""
    if not _finite(accuracy):
        return ""
    return f"{float(accuracy):.2f}" + (f" (p = {float(p):.2g})" if _finite(p) else "")


def _number(value) -> float:
    """``value`` as a float (numpy scalars and numeric text included); NaN when it is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _finite(value) -> bool:
    """Whether ``value`` is a finite number (numpy scalars included; None and text are not)."""
    return math.isfinite(_number(value))
