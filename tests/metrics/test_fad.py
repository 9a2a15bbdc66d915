"""FAD/KAD maths against closed forms, plus the bootstrap, FAD-inf and error paths."""

from __future__ import annotations

import numpy as np
import pytest

from benchbox.errors import MetricError
from benchbox.metrics import fad as F


def gaussian(rng, n, mean, std):
    return rng.normal(size=(n, len(std))) * np.asarray(std) + np.asarray(mean)


def test_identical_gaussians_have_zero_distance(rng):
    a = rng.normal(size=(200, 16))
    mu, sigma = F.stats(a)
    assert F.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)
    assert F.fad(a, a) == pytest.approx(0.0, abs=1e-9)


def test_diagonal_gaussians_match_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([0.5, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    got = F.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    assert got == pytest.approx(expected, rel=1e-10)


def test_fad_of_samples_matches_stats_route_and_is_symmetric(rng):
    a, b = gaussian(rng, 40, [0] * 64, [1] * 64), gaussian(rng, 50, [0.3] * 64, [1.5] * 64)  # N < D: singular covariances
    direct = F.fad(a, b)
    via_stats = F.frechet_distance(*F.stats(a), *F.stats(b))
    assert direct == pytest.approx(via_stats, rel=1e-6)
    assert F.fad(b, a) == pytest.approx(direct, rel=1e-10)
    assert direct > 0


def test_fad_approaches_population_value_with_many_samples(rng):
    a, b = gaussian(rng, 20000, [0, 0], [1, 1]), gaussian(rng, 20000, [1, 0], [2, 1])
    assert F.fad(a, b) == pytest.approx(1.0 + 1.0, abs=0.1)  # |dmu|^2 + (2-1)^2


def test_running_stats_equal_batch_stats(rng):
    a = rng.normal(size=(103, 8)) * 5 + 100  # large offset: naive sums would lose digits
    running = F.RunningStats()
    for start in range(0, 103, 17):
        running.update(a[start : start + 17])
    mu, sigma = F.stats(a)
    got_mu, got_sigma = running.result()
    np.testing.assert_allclose(got_mu, mu, rtol=1e-12)
    np.testing.assert_allclose(got_sigma, sigma, rtol=1e-9)
    assert running.n == 103


def test_pool_clips_means_frames_one_row_per_clip():
    clips = [np.ones((3, 4)), np.arange(8.0).reshape(2, 4), np.full(4, 2.0)]
    pooled = F.pool_clips(clips)
    assert pooled.shape == (3, 4)
    np.testing.assert_allclose(pooled[1], [2, 3, 4, 5])
    np.testing.assert_allclose(pooled[2], 2.0)
    with pytest.raises(MetricError, match="different embedding dimensions"):
        F.pool_clips([np.ones((1, 4)), np.ones((1, 5))])


def test_kad_identical_near_zero_and_positive_when_shifted(rng):
    a, a2 = rng.normal(size=(150, 8)), rng.normal(size=(150, 8))
    same = F.kad(a, a2)
    shifted = F.kad(a, a2 + 1.0)
    assert abs(same) < 0.01
    assert shifted > 20 * max(abs(same), 1e-4)
    assert F.kad(a, a2 + 1.0, bandwidth=2.0) != pytest.approx(shifted)  # the bandwidth is used
    h = F.reference_bandwidth(a2 + 1.0)
    assert F.kad(a, a2 + 1.0, bandwidth=h) == pytest.approx(shifted)  # the default is the reference's median
    assert F.kad(a2 + 1.0, a, bandwidth=h) == pytest.approx(shifted)  # symmetric at one bandwidth


def test_reference_bandwidth_is_the_reference_median_distance():
    ref = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0], [0.0, 4.0]])  # distinct distances 3, 4, 5, 3, 5 (one 0 left out)
    assert F.reference_bandwidth(ref) == pytest.approx(4.0)
    assert F.reference_bandwidth(np.ones((5, 3))) == 1.0  # every clip the same: any h gives MMD 0
    with pytest.raises(MetricError, match="bandwidth must be finite"):
        F.kad(ref, ref, bandwidth=0.0)


def test_kad_is_monotone_when_junk_moves_away_at_the_reference_bandwidth():
    """The reviewer's case: with a pooled median the bandwidth grew with the junk's distance and
    KAD fell as the junk moved farther away; with the reference's median it never falls."""
    rng = np.random.default_rng(1)
    real, gen, junk = rng.normal(size=(20, 64)), rng.normal(size=(32, 64)), rng.normal(size=(24, 64))

    def with_junk_at(offset: float) -> np.ndarray:
        moved = gen.copy()
        moved[:24] = junk + offset  # 24 of 32 clips are junk, `offset` away in every dimension
        return moved

    offsets = [1.0, 2.0, 5.0, 10.0, 30.0]
    values = [F.kad(with_junk_at(o), real) for o in offsets]
    assert all(later >= earlier - 1e-9 for earlier, later in zip(values, values[1:]))
    assert values[0] < values[1] < values[2]  # and it does grow until the kernel saturates
    pooled = [F.kad(with_junk_at(o), real, bandwidth=F.reference_bandwidth(np.concatenate([with_junk_at(o), real]))) for o in (10.0, 30.0)]
    assert pooled[1] < pooled[0] - 0.005  # the old pooled median: farther junk scored closer


def test_two_rows_against_one_reference_share_the_bandwidth(rng):
    real = rng.normal(size=(20, 8))
    close, off = rng.normal(size=(30, 8)), rng.normal(size=(12, 8)) * 3.0 + 2.0
    h = F.reference_bandwidth(real)
    for gen in (close, off):
        assert F.kad(gen, real) == pytest.approx(F.kad(gen, real, bandwidth=h), rel=1e-12)
        assert F.bootstrap_ci(gen, real, "kad", n=20)["value"] == pytest.approx(F.kad(gen, real, bandwidth=h), rel=1e-12)


def test_bootstrap_ci_is_seeded_and_contains_estimate(rng):
    a, b = gaussian(rng, 60, [0] * 32, [1] * 32), gaussian(rng, 70, [0.2] * 32, [1.2] * 32)
    first = F.bootstrap_ci(a, b, "fad", n=200, seed=3)
    again = F.bootstrap_ci(a, b, "fad", n=200, seed=3)
    other = F.bootstrap_ci(a, b, "fad", n=200, seed=4)
    assert first == again
    assert first != other
    assert first["value"] == pytest.approx(F.fad(a, b))
    assert first["lo"] < first["value"] < first["hi"]
    assert first["bias"] > 0  # resampling with replacement inflates FAD


@pytest.mark.parametrize(("n1", "n2", "dim"), [(12, 9, 20), (30, 25, 5)])  # Gram path (N <= D) and D-space path
def test_bootstrap_fast_fad_path_equals_naive_resampling(rng, n1, n2, dim):
    a, b = rng.normal(size=(n1, dim)) + 3.0, rng.normal(size=(n2, dim)) + 3.5
    idx_a, idx_b = rng.integers(0, n1, size=(5, n1)), rng.integers(0, n2, size=(5, n2))
    counts_a = np.stack([np.bincount(r, minlength=n1) for r in idx_a]).astype(float)
    counts_b = np.stack([np.bincount(r, minlength=n2) for r in idx_b]).astype(float)
    fast = F._bootstrap_fad(a, b, counts_a, counts_b)
    naive = [F.frechet_distance(*F.stats(a[ia]), *F.stats(b[ib])) for ia, ib in zip(idx_a, idx_b)]
    np.testing.assert_allclose(fast, naive, rtol=1e-6)


def test_bootstrap_kad_leaves_out_pairs_of_copies(rng):
    """Each resample's KAD equals the unbiased MMD^2 over the distinct clips drawn, pairs of copies left out."""
    a, b = rng.normal(size=(9, 3)), rng.normal(size=(7, 3)) + 0.5
    counts_a = np.array([[3, 0, 1, 1, 2, 0, 1, 0, 1], [1] * 9], dtype=float)
    counts_b = np.array([[0, 2, 2, 1, 1, 0, 1], [1] * 7], dtype=float)
    h = 1.7
    fast = F._bootstrap_kad(a, b, counts_a, counts_b, h)
    kaa, kbb, kab = F.kernels(a, b, h)
    for r, (wa, wb) in enumerate(zip(counts_a, counts_b)):
        def within(k, w):
            pairs = [(u, v) for u in range(len(w)) for v in range(len(w)) if u != v]
            return sum(w[u] * w[v] * k[u, v] for u, v in pairs) / sum(w[u] * w[v] for u, v in pairs)
        cross = wa @ kab @ wb / (wa.sum() * wb.sum())
        assert fast[r] == pytest.approx(within(kaa, wa) + within(kbb, wb) - 2.0 * cross, rel=1e-12)
    assert fast[1] == pytest.approx(F.kad(a, b, bandwidth=h), rel=1e-12)  # every clip once: the estimate


def test_bootstrap_kad_and_callable(rng):
    a, b = rng.normal(size=(40, 4)), rng.normal(size=(40, 4)) + 0.7
    ci = F.bootstrap_ci(a, b, "kad", n=100, seed=0)
    assert ci["lo"] < ci["value"] < ci["hi"] and ci["value"] > 0
    mean_gap = F.bootstrap_ci(a, b, lambda x, y: float(np.linalg.norm(x.mean(0) - y.mean(0))), n=100)
    assert mean_gap["lo"] < mean_gap["value"] < mean_gap["hi"]
    with pytest.raises(MetricError, match="unknown bootstrap metric"):
        F.bootstrap_ci(a, b, "bleu")


def test_fad_inf_regression_on_synthetic_bias(rng):
    a = rng.normal(size=(400, 64))
    b = rng.normal(size=(400, 64)) + 0.25  # population FAD = 64 * 0.25^2 = 4
    result = F.fad_inf(a, b, seed=0)
    assert result["r2"] > 0.95  # the finite-set bias of FAD is linear in 1/N
    assert result["slope"] > 0
    assert 4.0 < result["intercept"] < F.fad(a, b)  # removes set b's bias, not a's
    assert abs(result["intercept"] - 4.0) < 0.5 * abs(F.fad(a, b) - 4.0)
    assert F.fad_inf(a, b, seed=0) == result
    with pytest.raises(MetricError, match="distinct subset sizes"):
        F.fad_inf(a, b, sizes=[50])


def test_fewer_than_two_clips_is_an_error(rng):
    with pytest.raises(MetricError, match="at least 2"):
        F.fad(rng.normal(size=(1, 4)), rng.normal(size=(5, 4)))
    with pytest.raises(MetricError, match="at least 2"):
        F.kad(rng.normal(size=(5, 4)), rng.normal(size=(1, 4)))


def test_nan_embeddings_are_an_error(rng):
    a = rng.normal(size=(5, 4))
    a[2, 1] = np.nan
    with pytest.raises(MetricError, match="NaN"):
        F.fad(a, rng.normal(size=(5, 4)))
    with pytest.raises(MetricError, match="NaN"):
        F.stats(a)


def test_mismatched_dims_and_non_psd_are_errors(rng):
    with pytest.raises(MetricError, match="dimensions differ"):
        F.fad(rng.normal(size=(5, 4)), rng.normal(size=(5, 3)))
    bad = np.diag([1.0, -5.0])
    with pytest.raises(MetricError, match="not positive semi-definite"):
        F.frechet_distance(np.zeros(2), bad, np.zeros(2), np.eye(2))


def test_kad_survives_a_set_of_identical_clips():
    """A generator stuck on silence gives identical embeddings: KAD must score it, not fail."""
    rng = np.random.default_rng(0)
    stuck = np.zeros((12, 8))
    real = rng.normal(size=(5, 8)) + 3.0
    assert F.reference_bandwidth(real) > 0
    assert F.kad(stuck, real) > 0.1
    assert F.kad(stuck, stuck.copy()) == pytest.approx(0.0, abs=1e-12)


def test_reference_bandwidth_ignores_copies_even_when_most_pairs_are_copies(rng):
    """12 copies of one clip and 3 others: 66 of the 105 pairs are copies. Through |x|^2 + |y|^2 - 2xy a
    copy reads ~1e-12, not 0, so the median fell on a copy and the bandwidth collapsed to ~1e-6."""
    from scipy.spatial.distance import pdist

    base = 5.0 * rng.standard_normal((1, 512))
    others = 5.0 * rng.standard_normal((3, 512))
    ref = np.concatenate([np.repeat(base, 12, axis=0), others]).astype(np.float32)  # embeddings are float32
    distinct = pdist(np.concatenate([base, others]))  # the distances a copy-free reference would have
    h = F.reference_bandwidth(ref)
    assert h > 0.5 * distinct.min()
    every = pdist(ref)
    assert h == pytest.approx(np.median(every[every > 0]), rel=1e-9)
