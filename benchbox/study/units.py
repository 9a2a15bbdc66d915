"""Run-level tests: for a claim about generators, the unit of evidence is the run, not the clip.

Legend: R runs; a run's rate is the mean of a 0/1 clip column over its clips (best and last
checkpoints, every cell asked for, together); a paired difference is one number per run.

Clips of one run share its weights, so they are not independent draws of "a diffusion model",
"a best-val checkpoint" or "a top-p 0.95 sampler". A clip-level test (Fisher's exact test on
pooled clips, McNemar on pooled clip pairs) answers "do these particular runs' clips differ?";
read as a claim about a family or a setting it counts every clip as a new model and reports
p-values such as 1e-112 from three runs. Every study finding therefore reduces its clips to
one value per run first, then tests across runs (the cluster-level analysis of clustered data;
Donner and Klar, *Design and Analysis of Cluster Randomization Trials*, 2000):

* :func:`permutation_p` -- two independent sets of runs: the exact permutation test of the
  difference of their mean rates (every split of the pooled runs, Fisher-Pitman);
* :func:`sign_p` -- one set of runs against a fixed rate: the exact sign test (runs above vs
  below it; runs exactly at it are left out);
* :func:`runs_vs_real_p` -- one set of runs against a rate measured on real clips: each run
  against the real count by Fisher's exact test, then the exact sign test over the runs that
  differ from it (those that do not are left out, like ties);
* :func:`signed_rank_p` -- one paired difference per run: the two-sided Wilcoxon signed-rank
  test (scipy, exact when it can be), zero differences left out and the n reported after that.

With few runs the smallest attainable p is large (3 runs against 6: 1/84; 4 against 4: 1/35; a sign test
over 4 runs: 1/8), so most single-seed findings read "inconclusive at this n": that is what a
handful of trained models can show, whatever the number of clips. Where even the most extreme
outcome could not reach the level (:func:`smallest_p`, after any Bonferroni factor), the verdict
says so: "undecidable with these runs" (more runs, not more clips, would decide it).
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd

from benchbox.errors import MetricError

EXACT_SPLITS = 200_000  # permutation_p enumerates every split up to this many, else samples
SAMPLED_SPLITS = 100_000


def smallest_p(test: str, *runs: int) -> float:
    """The smallest p ``test`` can give with these run counts: its p on the most extreme data.
    ``"permutation"`` (:func:`permutation_p`; ``runs`` = Ra, Rb), ``"sign"`` (:func:`sign_p`, and
    :func:`runs_vs_real_p`'s sign test; R) or ``"signed_rank"`` (:func:`signed_rank_p`; R). 1.0
    when a side has no run. At or above the level a question is decided at, no outcome of these
    runs can decide it (3 runs: the sign test's 0.25; 1 run against 2: 1/3), however many clips
    each holds. ValueError for another test name."""
    if not runs or min(runs) < 1:
        return 1.0
    if test == "permutation":
        a, b = runs
        return permutation_p(np.arange(a) + a + b, np.arange(b))  # every value of a above every value of b
    if test == "sign":
        return sign_p(np.ones(runs[0]), 0.0)[0]
    if test == "signed_rank":
        return signed_rank_p(np.arange(1.0, runs[0] + 1))[0]
    raise ValueError(f"unknown test {test!r}")


def tarone_k(floors: list[float], alpha: float = 0.05) -> int:
    """Tarone's modified Bonferroni factor for comparisons whose smallest attainable p-values
    are ``floors`` (:func:`smallest_p`, one per comparison, uncorrected): the smallest K >= 1
    with at most K comparisons able to reach p < alpha / K. A comparison that no outcome could
    make significant at alpha / K spends none of the level, so K counts only those that can
    (Tarone, "A modified Bonferroni method for discrete data", Biometrics 46, 1990). Each
    comparison is then tested at p * K < alpha; those with floor * K >= alpha are undecidable.
    Never above ``len(floors)`` (the plain Bonferroni factor); 1 for an empty list."""
    m = len(floors)
    for k in range(1, m + 1):
        if sum(f < alpha / k for f in floors) <= k:
            return k
    return max(1, m)


def run_values(clips: pd.DataFrame, value: str, by: str = "run") -> pd.Series:
    """(R,) mean of ``value`` per level of ``by`` (a run), NaN clips left out; runs with no
    finite value dropped. Raises :class:`MetricError` when a column is missing."""
    missing = {value, by} - set(clips.columns)
    if missing:
        raise MetricError(f"run_values: no column {sorted(missing)}", hint="pass the clips.csv rows of a scored study")
    v = pd.to_numeric(clips[value], errors="coerce")
    return v.groupby(clips[by].astype(str), sort=True).mean().dropna()


def run_counts(clips: pd.DataFrame, value: str, by: str = "run") -> pd.DataFrame:
    """(R, 2) ``sum`` (clips with 0/1 ``value`` == 1) and ``count`` (clips with a value) per level
    of ``by`` (a run), index sorted; NaN clips left out of both, runs with no value dropped.
    The one per-run count behind :func:`runs_vs_real_p`, the "ruled out" rule and the design-effect
    intervals. Raises :class:`MetricError` when a column is missing."""
    missing = {value, by} - set(clips.columns)
    if missing:
        raise MetricError(f"run_counts: no column {sorted(missing)}", hint="pass the clips.csv rows of a scored study")
    v = pd.to_numeric(clips[value], errors="coerce")
    keep = v.notna()
    counts = v[keep].groupby(clips.loc[keep, by].astype(str), sort=True).agg(["sum", "count"])
    return counts.astype({"sum": int, "count": int})


def permutation_p(a: np.ndarray, b: np.ndarray, *, seed: int = 0) -> float:
    """Two-sided exact permutation p of mean(a) - mean(b) for two independent sets of run
    values ((Ra,) and (Rb,)): the share of the C(Ra + Rb, Ra) splits of the pooled values whose
    |difference of means| is at least the observed one (the observed split counts, so p >= one
    over the number of splits). Beyond ``EXACT_SPLITS`` splits, ``SAMPLED_SPLITS`` random ones
    (seeded) with the (1 + hits) / (1 + draws) estimate. NaN values are left out; an empty side:
    p = 1 (no evidence)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]  # a run with no finite value is no observation
    if a.size == 0 or b.size == 0:
        return 1.0
    pooled, na = np.concatenate([a, b]), a.size
    observed = abs(a.mean() - b.mean()) - 1e-12 * max(1.0, float(np.abs(pooled).max()))
    total = pooled.sum()

    def gap(idx: np.ndarray) -> np.ndarray:  # |mean of the chosen runs - mean of the rest|, (S,)
        chosen = pooled[idx].sum(axis=-1)
        return np.abs(chosen / na - (total - chosen) / (pooled.size - na))

    if math.comb(pooled.size, na) <= EXACT_SPLITS:
        idx = np.array(list(combinations(range(pooled.size), na)))
        return float(np.mean(gap(idx) >= observed))
    rng = np.random.default_rng(seed)
    idx = np.argsort(rng.random((SAMPLED_SPLITS, pooled.size)), axis=1)[:, :na]
    return float((1 + np.sum(gap(idx) >= observed)) / (1 + SAMPLED_SPLITS))


def sign_p(values: np.ndarray, threshold: float) -> tuple[float, int, int]:
    """``(p, above, below)``: the two-sided exact sign test (binomial, p = 0.5) of (R,) run values
    against ``threshold``; values equal to it are left out. No value off it: p = 1."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    above, below = int(np.sum(v > threshold)), int(np.sum(v < threshold))
    if above + below == 0:
        return 1.0, above, below
    from scipy.stats import binomtest

    return float(binomtest(above, above + below, 0.5).pvalue), above, below


def runs_vs_real_p(clips: pd.DataFrame, value: str, real_k: int, real_n: int, *, alpha: float = 0.05, by: str = "run") -> tuple[float, int, int, int]:
    """``(p, above, below, same)``: do the runs flag 0/1 column ``value`` more (or less) often than
    ``real_k`` of ``real_n`` real clips? Each run's count k of n (NaN clips left out) is compared
    with the real count by the two-sided Fisher exact test; a run counts ``above`` (``below``) when
    p < ``alpha`` and its rate is higher (lower), else ``same``. ``p``: the exact sign test
    (binomial, 0.5) of above against below, 1 when no run differs. Both samples' noise is
    counted: a run with 0 of 256 clips flagged is not "below" 2 of 206 real clips (Fisher p =
    0.2), as it would be against the real rate taken as exact or as an interval alone. The runs
    share one real sample, so the per-run tests are not independent: read p as descriptive of
    these runs against this reference."""
    from scipy.stats import binomtest, fisher_exact

    counts = run_counts(clips, value, by)
    above = below = same = 0
    for k, n in zip(counts["sum"], counts["count"]):
        differs = real_n > 0 and fisher_exact([[k, n - k], [real_k, real_n - real_k]])[1] < alpha
        rate, real = k / n, (real_k / real_n if real_n else math.nan)
        above += int(differs and rate > real)
        below += int(differs and rate < real)
        same += int(not differs)
    p = 1.0 if above + below == 0 else float(binomtest(above, above + below, 0.5).pvalue)
    return p, above, below, same


def signed_rank_p(diffs: np.ndarray) -> tuple[float, int, int]:
    """``(p, n, direction)``: two-sided Wilcoxon signed-rank p of (R,) paired differences (scipy;
    exact for small n without ties), with the zero differences left out first; ``n`` is the count
    left; ``direction`` the sign of the positive minus the negative rank sum of those n (+1: the
    differences lean positive, -1 negative, 0 balanced), so the side the test found is read from
    the same differences it tested (a median over zeros could point the other way). No non-zero
    difference: ``(1.0, 0, 0)``."""
    d = np.asarray(diffs, float)
    d = d[np.isfinite(d) & (d != 0)]
    if d.size == 0:
        return 1.0, 0, 0
    from scipy.stats import rankdata, wilcoxon

    ranks = rankdata(np.abs(d))
    lean = float(ranks[d > 0].sum() - ranks[d < 0].sum())
    return float(wilcoxon(d).pvalue), int(d.size), int(np.sign(lean))


def runs_text(rates: pd.Series, *, listed: int = 6) -> str:
    """``"3 runs: 92.6%, 1.6%, 0.8%"`` for up to ``listed`` runs (highest first), else
    ``"12 runs: median 4.1% (0.0-52.3%)"``; ``"no runs"`` for none."""
    if rates.empty:
        return "no runs"
    r = rates.sort_values(ascending=False) * 100
    word = "run" if len(r) == 1 else "runs"
    if len(r) <= listed:
        return f"{len(r)} {word}: " + ", ".join(f"{v:.1f}%" for v in r)
    return f"{len(r)} {word}: median {r.median():.1f}% ({r.min():.1f}-{r.max():.1f}%)"


def pooled_text(flags: pd.Series) -> str:
    """The pooled clip count, with no interval (clips of one run are not independent):
    ``"13.0% of clips (125/960)"``."""
    k, n = int(pd.to_numeric(flags, errors="coerce").fillna(0).sum()), int(flags.count())
    return f"{100 * k / n:.1f}% of clips ({k}/{n})" if n else "no clips"
