"""k-NN manifold metrics: realism per clip, precision / recall / density / coverage per set.

Legend: Nr real (reference) clips, Ng generated clips, D embedding dimension, k the
neighbour rank, R bootstrap resamples.

Pure numpy (no torch, no benchbox imports except ``benchbox.errors``). Every function
takes pooled clip embeddings, one (N, D) row per clip, compared with Euclidean distance.

The real manifold is the union of balls B(r_i, rho_k(r_i)) around each real clip,
where rho_k(r_i) is the distance from r_i to its k-th nearest *other* real clip
(Kynkäänniemi et al. 2019, "Improved precision and recall metric for assessing
generative models"). Balls are closed (``<=``), so a clip that repeats a real clip
is inside even when duplicates give a radius of 0.

Copies and ties are decided with an explicit tolerance, so that every CPU decides
them alike: two embeddings closer than ``COPY_RTOL`` times the larger norm of the
set are the same clip (distance exactly 0), and a distance within that tolerance of
a ball's radius is on the ball (inside). Without it a copy sits at 0 on one machine
and at ~1e-7 on another (the rounding of ``|x|^2 + |y|^2 - 2 x.y`` depends on the BLAS
kernel, and float32 embeddings of one clip differ by ~1e-7 between batches), which
turns a realism of inf into 2e6.

* **inside** (per generated clip g): g lies in at least one real ball.
* **realism** (per generated clip; Kynkäänniemi et al. 2019, eq. 5):
  ``max_i rho_k(r_i) / |g - r_i|`` over the real clips whose radius is at most the
  ``keep_quantile`` quantile of the radii (the paper keeps the smaller half, 0.5, so
  outliers with huge balls cannot vouch for anything). >= 1 means inside a kept ball;
  the larger, the deeper inside.
* **precision** = share of generated clips inside the real manifold; **recall** =
  share of real clips inside the generated manifold (balls of the generated clips'
  own k-NN radii). **density** = (1 / (k Ng)) sum_j #{i : g_j in B(r_i)}; **coverage**
  = share of real clips whose own ball holds at least one generated clip (Naeem et al.
  2020, "Reliable fidelity and diversity metrics for generative models"). For two sets
  from one distribution density is ~1 and coverage is about
  :func:`expected_coverage` (Naeem et al., Lemma 2), which is well below 1 for tens of clips.
"""

from __future__ import annotations

import numpy as np

from benchbox.errors import MetricError

DEFAULT_K = 3
REALISM_KEEP_QUANTILE = 0.5
PRDC_KEYS = ("precision", "recall", "density", "coverage")
DEFAULT_LEVEL = 0.95
# Distances below COPY_RTOL * (largest embedding norm) are rounding, not difference: float32
# embeddings of one clip differ by ~1e-7 relative, distinct recordings by ~1e-2 or more.
COPY_RTOL = 1e-5


def _check(emb: np.ndarray, name: str, min_rows: int) -> np.ndarray:
    emb = np.asarray(emb, dtype=np.float64)
    if emb.ndim != 2:
        raise MetricError(f"{name}: expected an (N, D) array of clip embeddings, got shape {emb.shape}", hint="pool frame embeddings with fad.pool_clips() first")
    if emb.shape[0] < min_rows:
        raise MetricError(f"{name}: {emb.shape[0]} clip(s); k-NN radii with k={min_rows - 1} need at least {min_rows}", hint="use a smaller k or more reference clips")
    if not np.isfinite(emb).all():
        raise MetricError(f"{name}: embeddings contain NaN or inf", hint="check the clips for NaN and re-embed them")
    return emb


def l2_normalise(emb: np.ndarray) -> np.ndarray:
    """Rows of ``emb`` (N, D) scaled to unit length (zero rows stay zero): cosine geometry.

    benchbox's verdict compares directions, not lengths: aisfx has no loudness
    normalisation, so the length of a clip's embedding mostly tracks its level, and a
    quiet real step would otherwise sit outside a loud reference's balls.
    """
    emb = np.asarray(emb, dtype=np.float64)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)  # (N, 1)
    return emb / np.where(norms > 0.0, norms, 1.0)


def copy_tolerance(*sets: np.ndarray) -> float:
    """The distance below which two rows of these (N, D) sets are one clip: COPY_RTOL x the largest norm."""
    norms = [float(np.sqrt(np.max(np.sum(np.square(s), axis=1)))) for s in sets if len(s)]
    return COPY_RTOL * max(norms, default=0.0)


def pairwise_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Euclidean distances (Nx, Ny) between the rows of x (Nx, D) and y (Ny, D).

    Distances within :func:`copy_tolerance` are exactly 0 (copies), on every CPU.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    sq = np.sum(x**2, axis=1)[:, None] + np.sum(y**2, axis=1)[None, :] - 2.0 * x @ y.T  # (Nx, Ny)
    dist = np.sqrt(np.clip(sq, 0.0, None))  # (Nx, Ny)
    dist[dist <= copy_tolerance(x, y)] = 0.0
    return dist


def within(dist: np.ndarray, radii: np.ndarray, tolerance: float) -> np.ndarray:
    """``dist <= radii`` with ties decided by ``tolerance`` (a distance that close to a radius is on the ball)."""
    return dist <= radii + tolerance


def knn_radii(emb: np.ndarray, k: int = DEFAULT_K) -> np.ndarray:
    """(N,) distance from each row of ``emb`` (N, D) to its k-th nearest other row."""
    if k < 1:
        raise MetricError(f"k must be >= 1, got {k}", hint=f"use e.g. k={DEFAULT_K}")
    emb = _check(emb, "reference set", k + 1)
    dist = pairwise_distances(emb, emb)  # (N, N)
    np.fill_diagonal(dist, np.inf)  # a clip is not its own neighbour
    return np.partition(dist, k - 1, axis=1)[:, k - 1]  # (N,)


def _pair(real: np.ndarray, gen: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    real = _check(real, "real set", k + 1)
    gen = _check(gen, "generated set", 1)
    if real.shape[1] != gen.shape[1]:
        raise MetricError(f"embedding dimensions differ: real D={real.shape[1]}, generated D={gen.shape[1]}", hint="embed both sets with the same embedder")
    return real, gen, knn_radii(real, k)


def inside_manifold(real: np.ndarray, gen: np.ndarray, *, k: int = DEFAULT_K) -> np.ndarray:
    """(Ng,) 1 where a generated clip lies in some real clip's k-NN ball, else 0."""
    real, gen, radii = _pair(real, gen, k)
    return within(pairwise_distances(gen, real), radii[None, :], copy_tolerance(real, gen)).any(axis=1).astype(np.int64)  # (Ng,)


def realism_score(real: np.ndarray, gen: np.ndarray, *, k: int = DEFAULT_K, keep_quantile: float = REALISM_KEEP_QUANTILE) -> np.ndarray:
    """(Ng,) realism score of each generated clip (Kynkäänniemi et al. 2019, eq. 5).

    Only real clips with radius <= the ``keep_quantile`` quantile of the radii vouch
    (1.0 keeps them all). A generated clip equal to a kept real clip scores ``inf``. A clip
    on the edge of a kept ball (within the tie tolerance) scores at least 1, so with
    ``keep_quantile=1.0`` realism >= 1 is exactly :func:`inside_manifold` on every CPU.
    """
    if not 0.0 < keep_quantile <= 1.0:
        raise MetricError(f"keep_quantile must be in (0, 1], got {keep_quantile}", hint="use 0.5 as in the paper, or 1.0 to keep every ball")
    real, gen, radii = _pair(real, gen, k)
    kept = within(radii, np.quantile(radii, keep_quantile), copy_tolerance(real))  # (Nr,)
    dist = pairwise_distances(gen, real[kept])  # (Ng, Nk)
    with np.errstate(divide="ignore"):
        ratio = np.where(dist > 0.0, radii[kept][None, :] / np.where(dist > 0.0, dist, 1.0), np.inf)  # (Ng, Nk)
    on_ball = within(dist, radii[kept][None, :], copy_tolerance(real, gen))  # (Ng, Nk): ties decided as inside_manifold does
    return np.where(on_ball, np.maximum(ratio, 1.0), ratio).max(axis=1)  # >= 1 exactly when inside a kept ball


def prdc_indicators(real: np.ndarray, gen: np.ndarray, *, k: int = DEFAULT_K) -> dict[str, np.ndarray]:
    """Per-clip terms whose means are the four metrics.

    Returns ``precision`` (Ng,) 0/1, ``density`` (Ng,) count of real balls holding g_j
    divided by k, ``recall`` (Nr,) 0/1 and ``coverage`` (Nr,) 0/1. Needs Ng >= k + 1
    for the generated clips' own radii (recall).
    """
    real, gen, radii_real = _pair(real, gen, k)
    radii_gen = knn_radii(gen, k) if gen.shape[0] > k else None
    if radii_gen is None:
        raise MetricError(f"generated set: {gen.shape[0]} clip(s); recall with k={k} needs at least {k + 1}", hint="generate more clips or use a smaller k")
    dist = pairwise_distances(gen, real)  # (Ng, Nr)
    tol = copy_tolerance(real, gen)
    in_real = within(dist, radii_real[None, :], tol)  # (Ng, Nr): g_j in B(r_i)
    return {
        "precision": in_real.any(axis=1).astype(np.float64),
        "density": in_real.sum(axis=1) / float(k),
        "recall": within(dist, radii_gen[:, None], tol).any(axis=0).astype(np.float64),
        "coverage": in_real.any(axis=0).astype(np.float64),
    }


def prdc(real: np.ndarray, gen: np.ndarray, *, k: int = DEFAULT_K) -> dict[str, float]:
    """Precision, recall, density and coverage of ``gen`` (Ng, D) against ``real`` (Nr, D)."""
    return {key: float(v.mean()) for key, v in prdc_indicators(real, gen, k=k).items()}


def prdc_bootstrap(real: np.ndarray, gen: np.ndarray, *, k: int = DEFAULT_K, n: int = 1000, seed: int = 0, level: float = DEFAULT_LEVEL) -> dict[str, float]:
    """:func:`prdc` with percentile bootstrap CIs: ``<metric>``, ``<metric>/lo``, ``<metric>/hi``.

    The k-NN radii are fixed from the full sets; each resample redraws the clips whose
    terms are averaged (generated clips for precision/density, real clips for
    recall/coverage). Resampling the radii too would put duplicate clips at distance 0
    and shrink every ball. So the interval covers the choice of clips being judged,
    not the uncertainty of the manifold estimate itself: read it as a lower bound.
    """
    if not 0.0 < level < 1.0 or n < 1:
        raise MetricError(f"bootstrap needs 0 < level < 1 and n >= 1, got level={level}, n={n}", hint="use e.g. level=0.95, n=1000")
    terms = prdc_indicators(real, gen, k=k)
    rng = np.random.default_rng(seed)
    tail = (1.0 - level) / 2.0
    out: dict[str, float] = {}
    for key in PRDC_KEYS:
        values = terms[key]  # (N,)
        idx = rng.integers(0, len(values), size=(n, len(values)))  # (R, N)
        lo, hi = np.quantile(values[idx].mean(axis=1), [tail, 1.0 - tail])
        out.update({key: float(values.mean()), f"{key}/lo": float(lo), f"{key}/hi": float(hi)})
    return out


def expected_coverage(n_real: int, n_gen: int, k: int = DEFAULT_K) -> float:
    """Coverage expected when both sets come from one distribution (Naeem et al. 2020, Lemma 2).

    ``1 - prod_{i=1..k} (Nr - i) / (Nr + Ng - i)``: 0.85 for Nr = 20, Ng = 16, k = 3.
    """
    if n_real <= k or n_gen < 1:
        raise MetricError(f"expected_coverage needs n_real > k and n_gen >= 1, got {n_real}, {n_gen}, k={k}", hint="use more clips or a smaller k")
    ratio = np.prod([(n_real - i) / (n_real + n_gen - i) for i in range(1, k + 1)])
    return float(1.0 - ratio)


def nearest(gen: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest training clip of each generated clip: ``(distance (Ng,), index (Ng,))``.

    The memorisation check of benchbox (in the spirit of the authenticity of Alaa et
    al. 2022, "How faithful is your synthetic data?"): a generated clip much closer to
    a training clip than held-out real clips are is a likely copy.
    """
    gen, train = _check(gen, "generated set", 1), _check(train, "training set", 1)
    if gen.shape[1] != train.shape[1]:
        raise MetricError(f"embedding dimensions differ: generated D={gen.shape[1]}, training D={train.shape[1]}", hint="embed both sets with the same embedder")
    dist = pairwise_distances(gen, train)  # (Ng, Nt)
    idx = dist.argmin(axis=1)
    return dist[np.arange(len(idx)), idx], idx
