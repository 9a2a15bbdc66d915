"""benchmarks/category_chain.py: the spectral gate, the envelope swap, extras that never come from the
held-out package, and the per-package oracle thresholds against a direct computation."""

import numpy as np
import pytest
import torch

from tests.benchmark_helpers import load_benchmark


@pytest.fixture(scope="module")
def ch():
    return load_benchmark("category_chain")


def test_gate_silences_only_bins_under_the_gate(ch):
    mel = torch.tensor([[[1e-2, 1e-6], [1e-3, 1e-9]]], dtype=torch.float64)  # (N, K, M) mel power; loudest bin 1e-2
    spec = torch.log10(ch.AISFX_LOG_SCALE * mel + 1) / ch.AISFX_SPEC_MAX  # aisfx's front end
    out = ch.gated(spec, 50.0)  # floor 1e-7: 1e-9 goes, 1e-6 stays
    assert out[0, 1, 1] == 0
    assert torch.allclose(out[0, :, 0], spec[0, :, 0]) and torch.isclose(out[0, 0, 1], spec[0, 0, 1])
    assert torch.equal(ch.gated(spec, 100.0), spec)  # nothing is 100 dB down
    assert ch.gated(spec, 5.0)[0, 1, 0] == 0 and ch.gated(spec, 15.0)[0, 1, 0] == spec[0, 1, 0]  # the 1e-3 bin is 10 dB down


def test_envelope_is_the_frame_rms_with_peak_one(ch):
    t = np.arange(4096)
    wave = (np.sin(2 * np.pi * t / 16) * np.where(t < 2048, 0.5, 0.05)).astype(np.float32)
    env = ch.envelope(wave)
    assert env.shape == wave.shape and abs(env.max() - 1.0) < 1e-6
    assert np.allclose(env[100:1900], 1.0, atol=1e-3)  # RMS of a half-amplitude sine, scaled to the peak
    assert np.allclose(env[2200:4000], 0.1, atol=1e-3)  # 20 dB lower in the second half


def test_envelope_swap_borrows_only_from_the_other_class_of_the_same_package(ch):
    """Package 0ad's footsteps are silent after 2,048 samples, minetest's sound to the end: a 0ad
    non-footstep copy must go silent there, a minetest one must not."""
    n = 4096
    full, half = np.ones(n, np.float32), np.r_[np.ones(n // 2), np.zeros(n // 2)].astype(np.float32)
    waves = [full, full, half, half, full, full]  # 0ad: neg, neg, pos, pos; minetest: neg, pos
    y = np.array([0, 0, 1, 1, 0, 1])
    pk = np.array(["0ad", "0ad", "0ad", "0ad", "minetest", "minetest"])
    copies, packages = ch.envelope_swapped(waves, y, pk, 0)
    assert list(packages) == ["0ad", "0ad", "minetest"]
    assert all(np.abs(c[n // 2 + 200 :]).max() < 1e-6 for c in copies[:2])
    assert np.abs(copies[2][n // 2 + 200 :]).min() > 0.9


def test_extras_from_the_held_out_package_are_never_used(ch):
    """Flipping the labels of package c's extras leaves c's held-out scores unchanged; flipping a
    training package's extras changes them (the check can fail)."""
    rng = np.random.default_rng(0)
    pk = np.repeat(["0ad", "minetest", "ufoai"], 20)
    y = np.tile(np.repeat([0, 1], 10), 3)
    x = rng.normal(size=(60, 3)) + 2.0 * y[:, None] * np.array([1.0, 0.0, 0.0])
    xe = rng.normal(size=(30, 3))
    pe = np.repeat(["0ad", "minetest", "ufoai"], 10)
    base = ch.lopo_with_extra(x, y, pk, [(xe, pe, 0)])
    c = pk == "ufoai"
    flipped_c = ch.lopo_with_extra(x, y, pk, [(xe[pe != "ufoai"], pe[pe != "ufoai"], 0), (xe[pe == "ufoai"], pe[pe == "ufoai"], 1)])
    assert np.isfinite(base).all() and np.allclose(base[c], flipped_c[c])
    flipped_a = ch.lopo_with_extra(x, y, pk, [(xe[pe != "0ad"], pe[pe != "0ad"], 0), (xe[pe == "0ad"], pe[pe == "0ad"], 1)])
    assert not np.allclose(base[c], flipped_a[c])


def test_oracle_thresholds_match_a_direct_search(ch):
    """Each package separable at its own threshold but offset from the others: the per-package oracle
    accepts every footstep and no non-footstep, one global threshold cannot."""
    pk = np.repeat(["0ad", "minetest", "ufoai"], 4)
    y = np.tile([0, 0, 1, 1], 3)
    offset = np.repeat([0.0, 5.0, 10.0], 4)
    score = offset + np.tile([0.0, 1.0, 2.0, 3.0], 3)
    out = ch.oracle_thresholds(score, y, pk)
    assert all(out[p] == (1.0, 0.0) for p in ("0ad", "minetest", "ufoai")) and out["pooled"] == (1.0, 0.0)
    best = max((((score[y == 1] >= c).mean(), (score[y == 0] >= c).mean()) for c in np.unique(score)), key=lambda r: r[0] - r[1])
    assert out["global"] == best and best[1] > 0


def test_focal_gradient_matches_finite_differences_and_gamma_zero_is_the_log_loss(ch, monkeypatch):
    from scipy.optimize import check_grad

    from benchbox.metrics import category as cat

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), (rng.random(40) < 0.4).astype(float)
    weight = rng.random(40) + 0.5
    w0, b0 = cat.fit_logistic(x, y, l2=0.1, weight=weight)
    assert np.allclose(np.r_[ch.fit_focal(x, y, l2=0.1, gamma=0.0, weight=weight)], np.r_[w0, b0], atol=1e-5)
    captured = {}
    real_minimize = ch.minimize

    def spy(fun, x0, **kw):  # keep the objective the fit minimises
        captured["fun"] = fun
        return real_minimize(fun, x0, **kw)

    monkeypatch.setattr(ch, "minimize", spy)
    w2, b2 = ch.fit_focal(x, y, l2=0.1, gamma=2.0, weight=weight)
    assert not np.allclose(np.r_[w2, b2], np.r_[w0, b0], atol=1e-3)  # the focus changes the fit
    theta = rng.normal(size=4)
    z = x @ theta[:3] + theta[3]
    p_true = np.where(y > 0, 1 / (1 + np.exp(-z)), 1 / (1 + np.exp(z)))
    direct = (weight / weight.sum()) @ (-((1 - p_true) ** 2) * np.log(p_true)) + 0.05 * theta[:3] @ theta[:3]
    assert abs(captured["fun"](theta)[0] - direct) < 1e-10
    assert check_grad(lambda t: captured["fun"](t)[0], lambda t: captured["fun"](t)[1], theta) < 1e-5
