"""benchmarks/category_variants.py and category_finetune.py: the measuring helpers never let a held-out package in."""

import numpy as np
import pytest
import torch

from tests.benchmark_helpers import load_benchmark


@pytest.fixture(scope="module")
def cv():
    return load_benchmark("category_variants")


@pytest.fixture(scope="module")
def ft():
    return load_benchmark("category_finetune")


def toy(shift_c: float = 0.0):
    """Three packages of 20 clips, 3 features, the class in the first; package c moved by ``shift_c``."""
    rng = np.random.default_rng(0)
    pk = np.repeat(["a", "b", "c"], 20)
    y = np.tile(np.repeat([0, 1], 10), 3)
    x = rng.normal(size=(60, 3)) + 2.0 * y[:, None] * np.array([1.0, 0.0, 0.0])
    x[pk == "c"] += shift_c
    return x, y, pk


def test_shift_delays_and_advances_with_zeros(cv):
    w = np.arange(1, 33, dtype=np.float32)
    late, early = cv.shift(w, 1.0), cv.shift(w, -1.0)  # 16 samples at 16 kHz
    assert len(late) == len(early) == 32
    assert (late[:16] == 0).all() and (late[16:] == w[:16]).all()
    assert (early[:16] == w[16:]).all() and (early[16:] == 0).all()


def test_framed_centres_in_silence_or_tiles(cv):
    spec = torch.arange(1, 7, dtype=torch.float32).reshape(1, 3, 2)  # (N, K, M)
    centred, tiled = cv.framed(spec, "centre", 8), cv.framed(spec, "tile", 8)
    assert centred.shape == tiled.shape == (1, 8, 2)
    assert (centred[0, 2:5] == spec[0]).all() and centred[0, :2].abs().sum() == 0 and centred[0, 5:].abs().sum() == 0
    assert (tiled[0, 3:6] == spec[0]).all() and (tiled[0, 6:] == spec[0, :2]).all()


def test_held_out_scores_never_see_their_own_package(cv):
    """Flipping package c's labels leaves the scores of c's clips unchanged: the fits that score them never saw c."""
    x, y, pk = toy(3.0)
    flipped = np.where(pk == "c", 1 - y, y)
    c = pk == "c"
    scorers = {
        "views": lambda labels: cv.lopo_views([x, x + 0.1], [x], labels, pk),
        "knn": lambda labels: cv.lopo_fit(x, labels, pk, cv.knn_ratio(3)),
        "nap": lambda labels: cv.lopo_fit(x, labels, pk, cv.nap(1, pk), standardise=False),
        "windows": lambda labels: cv.lopo_windows(np.stack([x, x + 0.1], axis=1), labels, pk)[1],
    }
    for name, score in scorers.items():
        s0, s1 = score(y), score(flipped)
        assert np.isfinite(s0).all(), name
        assert np.allclose(s0[c], s1[c]), name
        assert not np.allclose(s0[~c], s1[~c]), name  # the other packages' fits did train on c


def test_views_average_logits_and_windows_pool(cv):
    x, y, pk = toy()
    single = cv.lopo_views([x], [x], y, pk)
    assert np.allclose(single, cv.lopo_logistic(x, y, pk, cv.L2), atol=1e-6)
    windows = np.stack([x, x + 0.01], axis=1)  # (N, J, D)
    out_max, out_mean = cv.lopo_windows(windows, y, pk)
    assert (out_max >= out_mean - 1e-12).all() and cv.cat.auc(out_mean, y) > 0.8


def test_nuisance_projection_removes_a_package_offset(cv):
    x, y, pk = toy()
    x[pk == "a", 2] += 5.0  # package a sits apart along feature 2 in both classes
    score = cv.lopo_fit(x, y, pk, cv.nap(1, pk), standardise=False)
    assert np.isfinite(score).all() and cv.cat.auc(score, y) > 0.8


def test_finetune_augment_keeps_length_and_the_warm_start_is_the_probe(ft, cv):
    rng = np.random.default_rng(0)
    w = np.zeros(8192, np.float32)
    w[1000:1400] = rng.normal(size=400) * 0.3
    out = ft.augment(w, rng)
    assert out.shape == w.shape and np.isfinite(out).all()
    model = ft.TunedHead(cv.loaded_embedder())
    x = torch.from_numpy(rng.random((12, 256, 2, 12)).astype(np.float32))  # (N, C, K', M') third-block outputs
    y = np.repeat([0, 1], 6)
    model.warm_start(x, y)
    with torch.no_grad():
        e = model.embed(x).numpy()
    mean, scale = e.mean(axis=0), np.maximum(e.std(axis=0), 1e-6)
    w_, b_ = cv.cat.fit_logistic((e - mean) / scale, y, l2=cv.L2, weight=cv.cat.balanced_weights(y))
    assert np.allclose(model.logits(x), (e - mean) / scale @ w_ + b_, atol=1e-3)
