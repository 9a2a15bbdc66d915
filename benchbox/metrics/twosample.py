"""1-NN two-sample test: can a nearest-neighbour classifier tell generated clips from real ones?

Legend: Nr real clips, Ng generated clips, N = Nr + Ng, D embedding dimension, R
label permutations.

Pool the two sets, and classify every clip by the set of its nearest *other* clip
(leave-one-out 1-NN; a clip with several equally near neighbours gets the share of
them from its own set). The **balanced accuracy** (the mean of the per-set accuracies,
so unequal set sizes cannot buy accuracy) is about 0.5 when the sets come from one
distribution and 1.0 when every clip's nearest neighbour is from its own set. A
permutation test gives its p-value: the nearest neighbours do not depend on the labels,
so the labels are shuffled R times over the same neighbour graph, and
``p = (1 + #{shuffled accuracy >= observed}) / (1 + R)`` (one-sided: separable).

Why a set test beside the per-clip verdict: a generator can make clips that each fall
inside some real clip's k-NN ball (``realism``) while sharing a signature no real clip
has (the same brightness, level or envelope). Per clip they pass; as a set the 1-NN
classifier finds them. Under the null the accuracy scatters around 0.5, and with tens
of clips it reaches down to about 0.3 by chance; only an accuracy far below that, with
many clips, says that generated clips sit closer to real ones than to each other, as
copies of the reference would. The test is one-sided (separable sets), so it never
flags copying; memorisation is measured separately.

Sources: Lopez-Paz & Oquab 2017, "Revisiting classifier two-sample tests" (ICLR), and
Xu et al. 2018, "An empirical study on evaluation metrics of generative adversarial
networks", who recommend leave-one-out 1-NN accuracy, beside the kernel MMD, among the
sample-based metrics they compared.

Pure numpy; Euclidean distance between the rows given (normalise them first for
cosine geometry, as the verdict does).
"""

from __future__ import annotations

import numpy as np

from benchbox.errors import MetricError
from benchbox.metrics.fad import MIN_CLIPS, check_embeddings
from benchbox.metrics.prdc import pairwise_distances

DEFAULT_PERMUTATIONS = 999
MIN_CLIPS_PER_SET = MIN_CLIPS  # 2: leave-one-out needs another clip of the same set to be right
TIE_RTOL, TIE_ATOL = 1e-9, 1e-12  # distances this close to a clip's minimum count as tied


def nearest_others(real: np.ndarray, gen: np.ndarray) -> np.ndarray:
    """(N, N) weights over each clip's nearest other clips, in the pooled order [real; gen].

    Row i spreads weight 1 evenly over every clip j != i at the minimum distance from i
    (within a relative tolerance of TIE_RTOL). Exact ties are common here: a generator
    that falls silent makes many identical clips. Splitting the vote keeps the neighbour
    weights independent of which set a clip is in, which the permutation test needs; a
    tie broken by index would always favour the set listed first.
    """
    real, gen = check_embeddings(real, "real set"), check_embeddings(gen, "generated set")  # 2-D, >= 2 clips, finite
    if real.shape[1] != gen.shape[1]:
        raise MetricError(f"embedding dimensions differ: real D={real.shape[1]}, generated D={gen.shape[1]}", hint="embed both sets with the same embedder")
    pooled = np.vstack([real, gen])  # (N, D)
    dist = pairwise_distances(pooled, pooled)  # (N, N)
    _, row_id = np.unique(pooled, axis=0, return_inverse=True)
    dist[row_id[:, None] == row_id[None, :]] = 0.0  # equal rows: exactly 0, not the ~1e-8 rounding of |x|^2 + |y|^2 - 2 x.y
    np.fill_diagonal(dist, np.inf)  # leave one out: a clip is not its own neighbour
    closest = dist.min(axis=1, keepdims=True)  # (N, 1)
    tied = dist <= closest * (1.0 + TIE_RTOL) + TIE_ATOL  # (N, N)
    return tied / tied.sum(axis=1, keepdims=True)


def _balanced_accuracy(labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(R,) balanced accuracy of labels (R, N) in {0, 1}; clip i is right by the share of its
    nearest-neighbour weight (``weights`` (N, N), rows summing to 1) on clips of its own set."""
    y = labels.astype(np.float64)  # (R, N)
    gen_share = y @ weights.T  # (R, N): weight of each clip's neighbours that are generated
    right = y * gen_share + (1.0 - y) * (1.0 - gen_share)  # (R, N)
    is_gen = labels.astype(bool)
    acc_gen = (right * is_gen).sum(axis=1) / is_gen.sum(axis=1)
    acc_real = (right * ~is_gen).sum(axis=1) / (~is_gen).sum(axis=1)
    return 0.5 * (acc_real + acc_gen)


def nn1_test(real: np.ndarray, gen: np.ndarray, *, permutations: int = DEFAULT_PERMUTATIONS, seed: int = 0) -> dict[str, float]:
    """Leave-one-out 1-NN two-sample test of ``gen`` (Ng, D) against ``real`` (Nr, D).

    Returns ``accuracy`` (balanced, in [0, 1]), ``real_accuracy`` and ``gen_accuracy``
    (share of each set whose nearest other clip is from the same set) and ``p`` (the
    permutation p-value of ``accuracy``, in (0, 1]; NaN with ``permutations=0``).
    Raises MetricError for sets under 2 clips, NaN rows or unequal dimensions, or a
    negative ``permutations``.
    """
    if permutations < 0:
        raise MetricError(f"permutations must be >= 0, got {permutations}", hint=f"use e.g. {DEFAULT_PERMUTATIONS}")
    weights = nearest_others(real, gen)
    n_real = np.asarray(real).shape[0]
    labels = np.zeros(len(weights), dtype=np.int8)
    labels[n_real:] = 1  # (N,): 0 real, 1 generated
    gen_share = weights @ labels  # (N,)
    right = np.where(labels == 1, gen_share, 1.0 - gen_share)  # (N,)
    observed = float(_balanced_accuracy(labels[None, :], weights)[0])
    out = {"accuracy": observed, "real_accuracy": float(right[:n_real].mean()), "gen_accuracy": float(right[n_real:].mean()), "p": float("nan")}
    if permutations:
        rng = np.random.default_rng(seed)
        shuffled = np.stack([rng.permutation(labels) for _ in range(permutations)])  # (R, N)
        null = _balanced_accuracy(shuffled, weights)  # (R,)
        out["p"] = float((1 + np.count_nonzero(null >= observed - 1e-12)) / (1 + permutations))
    return out
