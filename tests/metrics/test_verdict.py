"""The verdict rule: detector flags and realism combine into useful/auto and useful/reason."""

import numpy as np
import pytest

from benchbox.metrics import prdc
from benchbox.metrics.verdict import VerdictConfig, realism, reason, verdicts


def test_reason_lists_flags_in_detector_order_then_unrealistic():
    assert reason({"transient/flag": 1, "dc/flag": 1}, False) == "dc+transient+unrealistic"
    assert reason({"dc/flag": 0}, True) == "ok" and reason({}, None) == "ok"


def test_verdicts_threshold_and_nan_is_not_measured():
    config = VerdictConfig(realism_min=0.9)
    useful, why = verdicts([{}, {}, {"silence/flag": 1}, {}], np.array([0.95, 0.5, 2.0, np.nan]), config)
    assert useful.tolist() == [1, 0, 0, 1] and why == ["ok", "unrealistic", "silence", "ok"]
    useful, _ = verdicts([{}, {}], None, config)
    assert useful.tolist() == [1, 1]


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
