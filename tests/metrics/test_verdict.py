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
