"""Property-style checks: every metric on degenerate inputs returns the right value or a MetricError.

Degenerate sets: identical, constant, one clip, rank-deficient, very short, very loud.
Each case is drawn for several seeds and shapes (N < D and N > D take different routes).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from benchbox.errors import MetricError
from benchbox.metrics import fad as F
from benchbox.metrics.artifacts import ALL_KEYS, detect
from benchbox.score import diversity

SHAPES = [(3, 512), (8, 128), (20, 16), (200, 8)]  # (N, D): Gram route and covariance route
SEEDS = range(4)
RESAMPLES = 200


def _set(seed: int, n: int, d: int, scale: float = 0.5) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)) * scale  # (N, D)


def _direct_fad(a: np.ndarray, b: np.ndarray) -> float:
    """|mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrtm(S1 S2), eigenvalues of S1 S2 directly."""
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    roots = np.sqrt(np.clip(np.real(scipy.linalg.eigvals(s1 @ s2)), 0.0, None))
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(s1) + np.trace(s2) - 2.0 * roots.sum())


@pytest.mark.parametrize("n,d", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_identical_sets_score_zero_and_their_bootstrap_never_raises(n, d, seed):
    """The issue's case: X holds the same clips as Y; a resample can draw one multiset twice."""
    a = _set(seed, n, d)
    scale = float(np.trace(np.cov(a, rowvar=False)))
    assert F.fad(a, a.copy()) == pytest.approx(0.0, abs=1e-7 * scale)
    ci = F.bootstrap_ci(a, a.copy(), "fad", n=RESAMPLES, seed=seed)
    assert ci["value"] == pytest.approx(0.0, abs=1e-7 * scale)
    assert ci["lo"] == pytest.approx(0.0, abs=1e-7 * scale) and ci["lo"] <= ci["hi"]  # rounding may leave +1e-12, not exactly 0
    assert F.kad(a, a.copy()) <= 1e-12 + 1.0 / (n - 1)  # unbiased MMD^2 of one sample: ~0, bounded


@pytest.mark.parametrize("n,d", SHAPES)
def test_constant_sets_distance_is_the_squared_mean_gap(n, d):
    row = _set(1, 1, d)[0]
    a, b = np.tile(row, (n, 1)), np.tile(row + 0.25, (n, 1))
    assert F.fad(a, a.copy()) == pytest.approx(0.0, abs=1e-12 * (1.0 + float(row @ row)))  # a mean of equal rows may round
    assert F.fad(a, b) == pytest.approx(0.0625 * d, rel=1e-9)
    assert F.bootstrap_ci(a, b, "fad", n=50)["lo"] == pytest.approx(0.0625 * d, rel=1e-9)
    assert F.kad(a, a.copy()) == pytest.approx(0.0, abs=1e-12)
    assert diversity(a, max_clips=512, seed=0) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("metric", [F.fad, F.kad, lambda a, b: F.bootstrap_ci(a, b, "fad", n=10), lambda a, b: F.fad_inf(b, a)])
def test_one_clip_is_a_metric_error_not_a_crash(metric):
    with pytest.raises(MetricError, match="at least 2"):
        metric(_set(0, 1, 8), _set(1, 10, 8))
    assert math.isnan(diversity(_set(0, 1, 8), max_clips=512, seed=0))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("rank", [1, 3])
def test_rank_deficient_sets_match_the_direct_formula(seed, rank):
    basis = _set(seed, rank, 16)  # (rank, D): every row lies in this subspace
    a = _set(seed + 10, 40, rank) @ basis  # (40, D)
    b = _set(seed + 20, 30, rank) @ basis + 0.1  # (30, D)
    value = F.fad(a, b)
    assert value >= 0.0
    assert value == pytest.approx(_direct_fad(a, b), rel=1e-6, abs=1e-9)
    ci = F.bootstrap_ci(a, b, "fad", n=RESAMPLES, seed=seed)
    assert 0.0 <= ci["lo"] <= ci["hi"]


@pytest.mark.parametrize("n,d", SHAPES)
def test_very_loud_embeddings_scale_quadratically(n, d):
    a, b = _set(2, n, d), _set(3, n, d) + 0.5
    loud = 1e6
    assert F.fad(a * loud, b * loud) == pytest.approx(F.fad(a, b) * loud**2, rel=1e-6)
    assert F.kad(a * loud, b * loud) == pytest.approx(F.kad(a, b), rel=1e-6, abs=1e-12)  # bandwidth scales too
    assert F.bootstrap_ci(a * loud, a * loud, "fad", n=50)["lo"] == pytest.approx(0.0, abs=1e-9 * F.fad(a * loud, b * loud))


def test_a_genuinely_invalid_covariance_still_raises():
    """Only rounding is clamped: a non-PSD 'covariance' is a real failure."""
    with pytest.raises(MetricError, match="negative|positive semi-definite"):
        F.frechet_distance(np.zeros(2), np.diag([1.0, -5.0]), np.zeros(2), np.eye(2))


WAVES = {
    "one sample": np.array([0.5], dtype=np.float32),
    "two samples": np.array([0.5, -0.5], dtype=np.float32),
    "511 samples": np.random.default_rng(0).normal(0, 0.2, 511).astype(np.float32),
    "constant": np.full(4000, 0.3, dtype=np.float32),
    "silence": np.zeros(4000, dtype=np.float32),
    "full scale": np.where(np.arange(4000) % 100 < 50, 1.0, -1.0).astype(np.float32),
}


@pytest.mark.parametrize("rate_hz", [8000, 16000, 44100])
@pytest.mark.parametrize("name", list(WAVES))
def test_detectors_accept_any_length_and_level(name, rate_hz):
    out = detect(WAVES[name], rate_hz)
    assert set(ALL_KEYS) <= set(out)
    assert all(math.isfinite(out[k]) for k in ALL_KEYS if k not in ("periodicity/f0_hz", "line/hz"))  # NaN: no tone, no line
    assert out["dc/offset"] == pytest.approx(float(WAVES[name].astype(np.float64).mean()), abs=1e-6)
    if name == "silence":
        assert out["silence/flag"] == 1
    if name == "full scale":
        assert out["clip/flag"] == 1 and out["clip/max_run"] == 50


@pytest.mark.parametrize("embedder", ["mel", "aisfx"])
def test_embedders_accept_any_length_from_one_sample(embedder):
    """The mel embedder crashed in torch.stft below 512 samples; every length >= 1 embeds."""
    from benchbox.metrics.embedders import embed_waves, get_embedder

    emb = get_embedder(embedder)
    lengths = [1, 2, 399, 400, 511, 512, 513]
    waves = [np.random.default_rng(t).normal(0, 0.2, t).astype(np.float32) for t in lengths]
    out = embed_waves(waves, 16_000, emb)
    for t, e in zip(lengths, out):
        assert e.ndim == 2 and e.shape[0] >= 1 and e.shape[1] == emb.dim, t
        assert np.isfinite(e).all(), t
    # zero-padding is what the docstring promises: at the embedder's rate a short clip embeds as its padded self
    short = waves[2][:5]
    padded = np.pad(short, (0, emb.min_samples - len(short)))
    both = embed_waves([short, padded], emb.sample_rate_hz, emb)
    assert np.allclose(both[0], both[1], atol=1e-5)
