"""The closed-form baselines against direct numpy computations on toy corpora."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchbox.audio import QUANT_CLASSES, SILENCE_CODE, decode
from benchbox.generators import registry
from benchbox.generators.lpc import bin_edges, laplace_bin_probs
from benchbox.nll import next_sample_loss

C = QUANT_CLASSES


def _corpus(seed: int, n: int = 5, t: int = 300) -> torch.Tensor:
    steps = torch.randint(-2, 3, (n, t), generator=torch.Generator().manual_seed(seed))
    return (SILENCE_CODE + steps.cumsum(1)).clamp(0, C - 1)  # (N, T) a random walk over codes


def _model(name: str, train: torch.Tensor, **config):
    model = registry.build(name, config).to(torch.float64)
    model.fit(train, "mulaw")
    return model


def _inputs(codes: np.ndarray) -> np.ndarray:
    return np.concatenate([[SILENCE_CODE], codes[:-1]])


def test_bigram_nll_is_the_add_alpha_count_table():
    train, test = _corpus(0), _corpus(1, n=2)
    alpha = 0.5
    model = _model("ngram", train, order=1, alpha=alpha, smoothing="add")
    counts = np.zeros((C, C))
    for clip in train.numpy():
        for prev, nxt in zip(_inputs(clip), clip):
            counts[prev, nxt] += 1
    table = (counts + alpha) / (counts.sum(1, keepdims=True) + C * alpha)
    direct = -np.mean([math.log(table[p, x]) for clip in test.numpy() for p, x in zip(_inputs(clip), clip)])
    loss, _ = next_sample_loss(model, test, amp=False)
    assert float(loss) == pytest.approx(direct, rel=1e-6)  # next_sample_loss scores in float32


def test_interpolated_trigram_backs_off_through_every_order():
    train, test = _corpus(2), _corpus(3, n=2)
    alpha = 0.1
    model = _model("ngram", train, order=2, alpha=alpha, smoothing="interpolate")
    uni, bi, tri = np.zeros(C), {}, {}
    for clip in train.numpy():
        ctx = np.concatenate([[SILENCE_CODE, SILENCE_CODE], clip])  # two silence tokens of left context
        for t, x in enumerate(clip):
            uni[x] += 1
            bi.setdefault(ctx[t + 1], np.zeros(C))[x] += 1
            tri.setdefault((ctx[t], ctx[t + 1]), np.zeros(C))[x] += 1
    p0 = (uni + alpha) / (uni.sum() + C * alpha)
    total = 0.0
    for clip in test.numpy():
        ctx = np.concatenate([[SILENCE_CODE, SILENCE_CODE], clip])
        for t, x in enumerate(clip):
            c1 = bi.get(ctx[t + 1], np.zeros(C))
            p1 = (c1 + C * alpha * p0) / (c1.sum() + C * alpha)
            c2 = tri.get((ctx[t], ctx[t + 1]), np.zeros(C))
            p2 = (c2 + C * alpha * p1) / (c2.sum() + C * alpha)
            total -= math.log(p2[x])
    loss, _ = next_sample_loss(model, test, amp=False)
    assert float(loss) == pytest.approx(total / test.numel(), rel=1e-6)  # next_sample_loss scores in float32


def test_four_gram_fits_and_beats_the_bigram_on_its_training_data():
    train = _corpus(4, n=8, t=600)
    bigram, fourgram = _model("ngram", train, order=1, alpha=0.01), _model("ngram", train, order=3, alpha=0.01)
    assert float(next_sample_loss(fourgram, train, False)[0]) < float(next_sample_loss(bigram, train, False)[0])


def test_laplace_bins_sum_to_one_and_match_the_cdf():
    centres = decode(torch.arange(C), "mulaw").double().numpy()
    lo, hi = bin_edges(centres)
    mu, b = np.array([0.0, 0.31, -0.9, 0.999]), np.array([1e-4, 0.02, 0.3, 0.001])
    p = laplace_bin_probs(mu, b, lo, hi)  # (4, C)
    assert p.sum(1) == pytest.approx(np.ones(4), abs=1e-12)
    cdf = lambda y, m, s: np.where(y < m, 0.5 * np.exp((y - m) / s), 1 - 0.5 * np.exp(-(y - m) / s))  # noqa: E731
    c = 140  # a finite bin: CDF difference computed directly
    assert p[1, c] == pytest.approx(cdf(hi[c], 0.31, 0.02) - cdf(lo[c], 0.31, 0.02), rel=1e-9, abs=1e-15)


def test_lpc_nll_matches_a_direct_sample_loop():
    train, test = _corpus(5, n=6, t=400), _corpus(6, n=1, t=120)
    model = _model("lpc", train, order=4)
    a, beta, s_min, eps = model.coef.numpy(), float(model.beta), float(model.min_scale), model.config.eps
    centres = decode(torch.arange(C), "mulaw").double().numpy()
    lo, hi = bin_edges(centres)
    clip = test[0].numpy()
    x = centres[_inputs(clip)]
    past, mu_prev, scale, total = np.zeros(4), 0.0, s_min, 0.0
    for t in range(len(clip)):
        scale = beta * scale + (1 - beta) * abs(x[t] - mu_prev)
        past = np.concatenate([[x[t]], past[:-1]])
        mu = float(past @ a)
        b = max(scale, s_min)
        prob = laplace_bin_probs(np.array([mu]), np.array([b]), lo, hi)[0, clip[t]]
        total -= math.log((1 - eps) * prob + eps / C)
        mu_prev = mu
    loss, _ = next_sample_loss(model, test, amp=False)
    assert float(loss) == pytest.approx(total / len(clip), rel=1e-6)


def test_lpc_recovers_the_taps_of_an_autoregressive_process():
    rng = np.random.default_rng(0)
    wave = np.zeros((4, 4000))
    for t in range(2, wave.shape[1]):
        wave[:, t] = 1.6 * wave[:, t - 1] - 0.8 * wave[:, t - 2] + 0.03 * rng.standard_normal(4)
    codes = torch.as_tensor(np.clip(np.round(wave * 128), -128, 127) + 128, dtype=torch.long)  # linear codes
    model = registry.build("lpc", {"order": 2}).to(torch.float64)
    model.fit(codes, "linear")
    assert model.coef.numpy() == pytest.approx([1.6, -0.8], abs=0.02)


def test_closed_form_models_have_nothing_to_train():
    for name in ("ngram", "lpc"):
        model = registry.build(name, {})
        assert not model.trainable and model.num_parameters() == 0
