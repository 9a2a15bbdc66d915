"""The per-clip usefulness verdict: **a footstep** with **no artefact flag**.

Legend: N clips.

``useful/auto`` = 1 when no detector of :mod:`benchbox.metrics.artifacts` fired and the
clip's ``footstep/p`` (:mod:`benchbox.metrics.category`: a probe fitted on real
footsteps and real non-footstep sound effects of three games) is at least the
threshold. ``useful/reason`` names what failed: the flagged detectors and/or
``not-footstep``, joined by ``+``; ``ok`` for a useful clip.

Realism against the training set (``realism/<e>``, ``in_distribution``) and
memorisation are reported beside the verdict and never decide it: a real footstep
from another game lies outside the training set's balls and is still usable. The
thresholds are calibrated in ``benchmarks/calibrate_verdict.py`` (``docs/verdict.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from benchbox.metrics.artifacts import DETECTORS
from benchbox.metrics import prdc
from benchbox.metrics.prdc import DEFAULT_K

USEFUL_KEY = "useful/auto"
REASON_KEY = "useful/reason"
IN_DISTRIBUTION_KEY = "in_distribution"
NOT_FOOTSTEP = "not-footstep"
NO_FOOTSTEP_P = "footstep-p-nan"  # the category model was applied and gave no probability: fails closed
OK = "ok"


@dataclass(frozen=True)
class VerdictConfig:
    """Rules of ``useful/auto`` and its side columns. Override with ``--set verdict.<key>=value``."""

    embedder: str = "aisfx"  # the space of realism / in_distribution and memorisation (must be a scored embedder)
    reference_split: str = "train"  # whose k-NN balls define "in distribution"
    k: int = DEFAULT_K
    keep_quantile: float = 1.0  # realism: only balls up to this radius quantile vouch (the paper: 0.5)
    normalise: bool = True  # k-NN metrics on L2-normalised embeddings (directions)
    realism_min: float = 0.937  # in_distribution = realism >= this (calibrated on the dev footsteps, docs/verdict.md)
    footstep_min: float = -1.0  # footstep/p threshold; < 0: the category model's own threshold
    category_model: str = ""  # path of a category model JSON; "": the shipped benchbox/metrics/footstep_model.json
    memorisation_quantile: float = 0.1  # a clip is "close" when nearer than this quantile of held-out real clips

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"verdict.k must be >= 1, got {self.k}")
        if not 0.0 < self.keep_quantile <= 1.0:
            raise ValueError(f"verdict.keep_quantile must be in (0, 1], got {self.keep_quantile}")
        if self.realism_min < 0.0:
            raise ValueError(f"verdict.realism_min must be >= 0, got {self.realism_min}")
        if self.footstep_min > 1.0:
            raise ValueError(f"verdict.footstep_min must be <= 1, got {self.footstep_min}")
        if not 0.0 < self.memorisation_quantile < 1.0:
            raise ValueError(f"verdict.memorisation_quantile must be in (0, 1), got {self.memorisation_quantile}")


def reason(flags: dict, footstep: bool | None, *, p_missing: bool = False) -> str:
    """What failed for one clip: flagged detectors then ``not-footstep`` (or ``footstep-p-nan``), or ``ok``.

    ``flags`` maps ``<detector>/flag`` to 0/1 (missing keys count as 0); ``footstep``
    None means the category was not measured (no aisfx embedder), which does not fail the clip;
    ``p_missing``: the category model was applied but gave NaN, which fails it.
    """
    failed = [name for name in DETECTORS if int(flags.get(f"{name}/flag", 0) or 0)]
    if p_missing:
        failed.append(NO_FOOTSTEP_P)
    elif footstep is False:
        failed.append(NOT_FOOTSTEP)
    return "+".join(failed) if failed else OK


def verdicts(flag_rows: list[dict], footstep_p: np.ndarray | None, threshold: float, *, applied: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """``(useful (N,) 0/1, reasons)`` for N clips from their detector flags and ``footstep/p`` (N,).

    ``applied`` (N,) bool marks the clips the category model was applied to: a NaN ``footstep/p``
    there fails the clip closed (``footstep-p-nan``: never useful). Elsewhere (``applied`` None, or
    False: e.g. a continuation too short to measure) a NaN means not measured and does not fail
    a clip. ``threshold`` is the footstep/p a clip needs.
    """
    out_useful, out_reason = [], []
    for i, flags in enumerate(flag_rows):
        footstep, missing = None, False
        if footstep_p is not None:
            value = float(footstep_p[i])
            footstep = None if math.isnan(value) else bool(value >= threshold)
            missing = footstep is None and applied is not None and bool(applied[i])
        why = reason(flags, footstep, p_missing=missing)
        out_reason.append(why)
        out_useful.append(int(why == OK))
    return np.asarray(out_useful, dtype=np.int64), out_reason


def realism(reference: np.ndarray, gen: np.ndarray, config: VerdictConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(realism score (Ng,), inside-manifold flag (Ng,))`` of ``gen`` (Ng, D) against ``reference`` (Nr, D).

    In the verdict's geometry (L2-normalised when ``config.normalise``), with its ``k``
    and ``keep_quantile``; see :mod:`benchbox.metrics.prdc`.
    """
    if config.normalise:
        reference, gen = prdc.l2_normalise(reference), prdc.l2_normalise(gen)
    score = prdc.realism_score(reference, gen, k=config.k, keep_quantile=config.keep_quantile)
    return score, prdc.inside_manifold(reference, gen, k=config.k)


def close_threshold(heldout_distances: np.ndarray, quantile: float) -> float:
    """The distance below which a clip counts as close to the training set.

    ``heldout_distances`` (n,): nearest-training-clip distances of held-out real clips.
    The threshold is their k-th smallest, k = max(1, floor(quantile (n + 1))), so a new
    real clip exchangeable with them is closer with probability exactly k / (n + 1) (its
    rank among n + 1 is uniform; ties aside): the memorisation share of real clips
    (:func:`expected_close_share`). With fewer than 1 / quantile - 1 held-out clips, k = 1
    and that share is 1 / (n + 1), above ``quantile``. -inf when there are none.
    """
    d = np.sort(np.asarray(heldout_distances, dtype=np.float64))
    return float(d[close_rank(len(d), quantile) - 1]) if len(d) else float("-inf")


def close_rank(n: int, quantile: float) -> int:
    """k = max(1, floor(quantile (n + 1))): which of n sorted held-out distances :func:`close_threshold` takes."""
    return max(1, int(math.floor(quantile * (n + 1))))


def expected_close_share(n_heldout: int, quantile: float) -> float:
    """k / (n + 1): the share of real clips that :func:`close_threshold` calls close."""
    return close_rank(n_heldout, quantile) / (n_heldout + 1) if n_heldout else math.nan


def copy_p_value(close: int, n_clips: int, n_heldout: int, rank: int) -> float:
    """One-sided exact p that a set of ``n_clips`` clips has ``close`` or more clips under
    :func:`close_threshold` of ``n_heldout`` held-out real clips, if its clips were exchangeable
    with them (not copying).

    Every clip of the set is judged against the same threshold, the k-th smallest (``rank``) of
    the n held-out distances (k = max(1, floor(quantile (n + 1))), :func:`close_rank`); its coverage U = F(d(k)) is
    Beta(k, n + 1 - k) for any continuous distance distribution F (the k-th order statistic of
    n uniforms), and given U the count is Binomial(n_clips, U). So the count is beta-binomial,
    BetaBinomial(n_clips, k, n + 1 - k), with mean n_clips k / (n + 1): the conformal p-value of
    a whole set (Vovk et al., *Algorithmic Learning in a Random World*, 2005; Bates et al.,
    "Testing for outliers with conformal p-values", Ann. Statist. 51, 2023, on the shared
    calibration set). A plain Binomial(n_clips, k / (n + 1)) treats the threshold as known and
    is anti-conservative: with n = 41 held-out clips and 256 generated it rejects 23% of
    exchangeable sets at the 5% level; this test rejects at most 5%. NaN unless
    0 <= close <= n_clips, n_clips >= 1 and 1 <= rank <= n_heldout."""
    from scipy.stats import betabinom

    if not (n_clips >= 1 and 1 <= rank <= n_heldout and 0 <= close <= n_clips):
        return math.nan
    return float(betabinom.sf(close - 1, n_clips, rank, n_heldout + 1 - rank))


def leave_one_out_close(heldout_distances: np.ndarray, quantile: float) -> np.ndarray:
    """(n,) 0/1: each held-out clip against the threshold of the other n - 1 (the floor's rate)."""
    d = np.asarray(heldout_distances, dtype=np.float64)
    return np.array([int(d[i] < close_threshold(np.delete(d, i), quantile)) for i in range(len(d))], dtype=np.int64)
