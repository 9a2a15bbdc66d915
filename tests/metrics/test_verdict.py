"""The verdict rule: detector flags and footstep/p combine into useful/auto and useful/reason; memorisation's rule."""

import numpy as np
import pytest

from benchbox.metrics import prdc
from benchbox.metrics.verdict import VerdictConfig, close_threshold, expected_close_share, leave_one_out_close, realism, reason, verdicts


def test_reason_lists_flags_in_detector_order_then_not_footstep():
    assert reason({"transient/flag": 1, "dc/flag": 1}, False) == "dc+transient+not-footstep"
    assert reason({"click/flag": 1}, True) == "click"
    assert reason({"dc/flag": 0}, True) == "ok" and reason({}, None) == "ok"


def test_verdicts_threshold_and_nan_is_not_measured():
    useful, why = verdicts([{}, {}, {"silence/flag": 1}, {}, {"clip/flag": 1}], np.array([0.95, 0.5, 0.99, np.nan, 0.1]), 0.6)
    assert useful.tolist() == [1, 0, 0, 1, 0] and why == ["ok", "not-footstep", "silence", "ok", "clip+not-footstep"]
    assert verdicts([{}], np.array([0.6]), 0.6)[1] == ["ok"]  # the threshold itself passes
    useful, _ = verdicts([{}, {}], None, 0.6)
    assert useful.tolist() == [1, 1]


def test_close_threshold_closed_form():
    d = np.arange(1.0, 20.0)  # 19 held-out real distances 1..19; quantile 0.1 -> k = floor(0.1 * 20) = 2
    assert close_threshold(d[::-1], 0.1) == 2.0 and expected_close_share(19, 0.1) == pytest.approx(2 / 20)
    gen = np.array([0.5, 1.5, 2.5, 3.0])
    assert float(np.mean(gen < close_threshold(d, 0.1))) == 0.5
    assert close_threshold(np.array([3.0, 1.0]), 0.1) == 1.0 and expected_close_share(2, 0.1) == pytest.approx(1 / 3)  # k is at least 1
    assert close_threshold(np.array([]), 0.1) == float("-inf")


def test_leave_one_out_rate_of_exchangeable_real_clips_is_the_quantile():
    rng = np.random.default_rng(0)
    rates = [leave_one_out_close(rng.exponential(size=40), 0.1).mean() for _ in range(200)]
    assert abs(np.mean(rates) - expected_close_share(39, 0.1)) < 0.01  # 4/40 with no ties


def test_realism_uses_the_normalised_geometry():
    rng = np.random.default_rng(0)
    ref, gen = rng.normal(size=(30, 8)), rng.normal(size=(5, 8)) * 7.0  # same directions, 7x the length
    score, inside = realism(ref, gen, VerdictConfig())
    want = prdc.realism_score(prdc.l2_normalise(ref), prdc.l2_normalise(gen), k=3, keep_quantile=1.0)
    np.testing.assert_allclose(score, want)
    np.testing.assert_array_equal(inside, (want >= 1.0).astype(int))
    raw, _ = realism(ref, gen, VerdictConfig(normalise=False))
    assert raw.max() < score.min()  # unnormalised, the long vectors sit far outside every ball


def test_config_rejects_bad_values():
    with pytest.raises(ValueError):
        VerdictConfig(k=0)
    with pytest.raises(ValueError):
        VerdictConfig(keep_quantile=0.0)
    with pytest.raises(ValueError):
        VerdictConfig(footstep_min=1.5)
    with pytest.raises(ValueError):
        VerdictConfig(memorisation_quantile=0.0)


def test_nan_footstep_p_where_the_model_was_applied_fails_closed():
    p = np.array([np.nan, np.nan, 0.9])
    useful, why = verdicts([{}, {}, {}], p, 0.5, applied=np.array([True, False, True]))
    assert useful.tolist() == [0, 1, 1] and why == ["footstep-p-nan", "ok", "ok"]  # a too-short continuation (not applied) stays unmeasured
    assert verdicts([{"dc/flag": 1}], np.array([np.nan]), 0.5, applied=np.array([True]))[1] == ["dc+footstep-p-nan"]


def test_copy_p_value_is_the_beta_binomial_tail_computed_directly():
    """P(X >= c) for X ~ BetaBinomial(N, k, n + 1 - k), summed from the closed-form pmf
    C(N, x) B(x + k, N - x + n + 1 - k) / B(k, n + 1 - k) with log-gamma by hand."""
    from math import comb, exp, lgamma

    from benchbox.metrics.verdict import close_rank, copy_p_value

    def log_beta(a: float, b: float) -> float:
        return lgamma(a) + lgamma(b) - lgamma(a + b)

    n_heldout, n_clips, close = 41, 64, 14
    k = close_rank(n_heldout, 0.1)
    assert k == 4
    a, b = k, n_heldout + 1 - k
    want = sum(comb(n_clips, x) * exp(log_beta(x + a, n_clips - x + b) - log_beta(a, b)) for x in range(close, n_clips + 1))
    assert copy_p_value(close, n_clips, n_heldout, k) == pytest.approx(want, rel=1e-9)
    assert copy_p_value(0, n_clips, n_heldout, k) == pytest.approx(1.0)
    assert np.isnan(copy_p_value(65, n_clips, n_heldout, k)) and np.isnan(copy_p_value(3, n_clips, n_heldout, 0))


def test_copy_p_value_holds_its_level_on_sets_exchangeable_with_the_held_out_clips():
    """Simulated: n = 41 held-out and N = 256 generated distances from one distribution, the
    threshold redrawn each time. The exact test rejects at most about 5%; the binomial p that
    treats k / (n + 1) as known rejects several times that (about 23%)."""
    from scipy.stats import binom

    from benchbox.metrics.verdict import close_rank, close_threshold, copy_p_value, expected_close_share

    rng = np.random.default_rng(0)
    n_heldout, n_clips, trials = 41, 256, 2000
    k, e = close_rank(n_heldout, 0.1), expected_close_share(n_heldout, 0.1)
    exact = plain = 0
    for _ in range(trials):
        cut = close_threshold(rng.gamma(3.0, size=n_heldout), 0.1)
        close = int((rng.gamma(3.0, size=n_clips) < cut).sum())
        exact += copy_p_value(close, n_clips, n_heldout, k) < 0.05
        plain += binom.sf(close - 1, n_clips, e) < 0.05
    assert exact / trials < 0.065  # binomial noise on 2000 trials: sd 0.005 at 0.05
    assert plain / trials > 0.15
