"""prdc.py against brute-force loops over toy sets, and closed-form cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchbox.errors import MetricError
from benchbox.metrics import prdc as P


def _radius(points, i, k):
    d = sorted(math.dist(points[i], points[j]) for j in range(len(points)) if j != i)
    return d[k - 1]


def _brute(real, gen, k):
    rr = [_radius(real, i, k) for i in range(len(real))]
    rg = [_radius(gen, j, k) for j in range(len(gen))]
    inside = [any(math.dist(g, r) <= rr[i] for i, r in enumerate(real)) for g in gen]
    counts = [sum(math.dist(g, r) <= rr[i] for i, r in enumerate(real)) for g in gen]
    recall = [any(math.dist(r, g) <= rg[j] for j, g in enumerate(gen)) for r in real]
    coverage = [min(math.dist(r, g) for g in gen) <= rr[i] for i, r in enumerate(real)]
    return {
        "precision": np.mean(inside),
        "recall": np.mean(recall),
        "density": sum(counts) / (k * len(gen)),
        "coverage": np.mean(coverage),
        "inside": np.array(inside, dtype=int),
        "radii": np.array(rr),
    }


def _brute_realism(real, gen, k, keep):
    rr = np.array([_radius(real, i, k) for i in range(len(real))])
    cut = np.quantile(rr, keep)
    out = []
    for g in gen:
        out.append(max(rr[i] / math.dist(g, r) for i, r in enumerate(real) if rr[i] <= cut))
    return np.array(out)


@pytest.fixture
def toy():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(23, 5))
    gen = np.concatenate([rng.normal(size=(11, 5)), rng.normal(2.5, 0.5, size=(6, 5))])  # part on, part off the manifold
    return real, gen


@pytest.mark.parametrize("k", [1, 3, 5])
def test_prdc_matches_brute_force(toy, k):
    real, gen = toy
    want = _brute(real, gen, k)
    got = P.prdc(real, gen, k=k)
    for key in P.PRDC_KEYS:
        assert got[key] == pytest.approx(want[key], abs=1e-12), key
    np.testing.assert_allclose(P.knn_radii(real, k), want["radii"], rtol=1e-10)
    np.testing.assert_array_equal(P.inside_manifold(real, gen, k=k), want["inside"])


@pytest.mark.parametrize("keep", [0.5, 1.0])
def test_realism_matches_brute_force(toy, keep):
    real, gen = toy
    got = P.realism_score(real, gen, k=3, keep_quantile=keep)
    np.testing.assert_allclose(got, _brute_realism(real, gen, 3, keep), rtol=1e-10)
    if keep == 1.0:  # with every ball kept, realism >= 1 is exactly "inside"
        np.testing.assert_array_equal((got >= 1.0).astype(int), P.inside_manifold(real, gen, k=3))


def test_off_manifold_set_scores_low(toy):
    real, _ = toy
    far = real[:8] + 50.0
    m = P.prdc(real, far, k=3)
    assert m["precision"] == 0 and m["density"] == 0 and m["coverage"] == 0 and m["recall"] == 0
    assert (P.realism_score(real, far) < 0.2).all()


def test_copy_of_a_real_clip_is_inside_with_infinite_realism(toy):
    real, _ = toy
    radii = P.knn_radii(real, 3)
    i = int(np.argmin(radii))  # a clip whose ball the realism score keeps
    assert P.realism_score(real, real[i : i + 1])[0] == np.inf
    assert P.inside_manifold(real, real[i : i + 1])[0] == 1


def test_same_distribution_has_density_near_one_and_expected_coverage():
    rng = np.random.default_rng(0)
    cov, dens = [], []
    for _ in range(200):
        m = P.prdc(rng.normal(size=(20, 4)), rng.normal(size=(16, 4)), k=3)
        cov.append(m["coverage"])
        dens.append(m["density"])
    assert np.mean(cov) == pytest.approx(P.expected_coverage(20, 16, 3), abs=0.03)
    assert np.mean(dens) == pytest.approx(1.0, abs=0.1)


def test_expected_coverage_closed_form():
    assert P.expected_coverage(20, 16, 3) == pytest.approx(1 - (19 * 18 * 17) / (35 * 34 * 33))
    with pytest.raises(MetricError):
        P.expected_coverage(3, 16, 3)


def test_bootstrap_ci_brackets_value_and_is_seeded(toy):
    real, gen = toy
    a = P.prdc_bootstrap(real, gen, k=3, n=300, seed=1)
    b = P.prdc_bootstrap(real, gen, k=3, n=300, seed=1)
    assert a == b
    for key in P.PRDC_KEYS:
        assert a[f"{key}/lo"] <= a[key] <= a[f"{key}/hi"]
    assert a["precision/hi"] - a["precision/lo"] > 0.1  # 17 clips, 11 inside: a wide interval


def test_nearest_matches_argmin():
    rng = np.random.default_rng(5)
    train, gen = rng.normal(size=(30, 6)), rng.normal(size=(7, 6))
    dist, idx = P.nearest(gen, train)
    for j, g in enumerate(gen):
        d = [math.dist(g, t) for t in train]
        assert idx[j] == int(np.argmin(d)) and dist[j] == pytest.approx(min(d))


def test_errors():
    with pytest.raises(MetricError, match="at least 4"):
        P.knn_radii(np.zeros((3, 2)), 3)
    with pytest.raises(MetricError, match="dimensions"):
        P.prdc(np.zeros((5, 2)), np.zeros((5, 3)), k=1)
    with pytest.raises(MetricError, match="recall"):
        P.prdc(np.random.default_rng(0).normal(size=(9, 2)), np.ones((2, 2)), k=3)
    with pytest.raises(MetricError, match="NaN"):
        P.realism_score(np.full((5, 2), np.nan), np.zeros((1, 2)), k=1)


def _rounded(x: np.ndarray, seed: int = 9) -> np.ndarray:
    """``x`` as another CPU or batch might compute it: every entry off by ~1e-7 relative (float32 rounding)."""
    return x * (1.0 + 1e-7 * np.random.default_rng(seed).standard_normal(x.shape))


def test_a_copy_rounded_differently_is_still_a_copy(toy):
    real, _ = toy
    radii = P.knn_radii(real, 3)
    i = int(np.argmin(radii))
    copy = _rounded(real[i : i + 1])
    assert P.pairwise_distances(copy, real)[0, i] == 0.0
    assert P.realism_score(real, copy)[0] == np.inf  # not 1e6 on one CPU and inf on another
    assert P.nearest(copy, real)[0][0] == 0.0


def test_a_clip_on_a_ball_edge_is_inside_on_every_cpu(toy):
    real, _ = toy
    want = _brute(real, real, 1)  # exact: real[j] lies on the edge of the ball it sets the radius of
    for i in range(len(real)):
        j = min((m for m in range(len(real)) if m != i), key=lambda m: math.dist(real[i], real[m]))  # sets i's radius
        balls = sum(math.dist(real[j], r) <= want["radii"][m] for m, r in enumerate(real))
        assert balls >= 2  # its own ball, and real[i]'s ball at its edge
        for seed in range(5):  # rounding on either side of the radius
            gen = np.vstack([_rounded(real[j : j + 1], seed), real[:1] + 50.0])
            assert P.prdc_indicators(real, gen, k=1)["density"][0] == balls


def test_duplicate_rows_give_radius_zero_despite_rounding():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(6, 8))
    real = np.vstack([base, _rounded(base[:1])])  # real[6] repeats real[0]
    assert P.knn_radii(real, 1)[0] == 0.0 and P.knn_radii(real, 1)[6] == 0.0


def test_realism_at_least_one_is_inside_even_at_a_tie(toy):
    real, _ = toy
    radii = P.knn_radii(real, 3)
    rng = np.random.default_rng(4)
    agree = []
    for i in range(len(real)):  # a clip on the edge of each ball, in a random direction: a tie, decided by rounding
        u = rng.standard_normal(real.shape[1])
        g = (real[i] + radii[i] * u / np.linalg.norm(u))[None, :]
        realism = P.realism_score(real, g, k=3, keep_quantile=1.0)
        inside = P.inside_manifold(real, g, k=3)
        agree.append(int(realism[0] >= 1.0) == inside[0])
        assert inside[0] == 1  # on its ball's edge: inside, whatever the rounding
    assert all(agree)  # realism >= 1 exactly when inside, on every CPU
