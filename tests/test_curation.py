import numpy as np
import pandas as pd

from benchbox.curation import curated, curated_mask


def test_drops_the_bottom_40_and_top_5_percent():
    logprob = np.arange(100.0)[::-1]  # clip i has log-likelihood 99 - i
    keep = curated_mask(logprob)
    assert keep.sum() == 55
    assert set(np.flatnonzero(keep)) == set(range(5, 60))  # log-likelihoods 40 .. 94 stay


def test_small_groups_and_missing_likelihoods():
    assert curated_mask([3.0, 1.0, 2.0]).tolist() == [False, False, True]  # n=3: drop floor(1.2) = 1 low, ceil(0.15) = 1 high
    assert not curated_mask([1.0, np.nan, 2.0]).any()  # no likelihood: not curated ("n/a")
    assert curated_mask([]).shape == (0,)


def test_curation_is_per_group():
    frame = pd.DataFrame({"cell": ["a"] * 20 + ["b"] * 20, "logprob_mean": list(range(20)) + list(range(100, 120))})
    keep = curated(frame, ["cell"])
    assert keep[:20].sum() == keep[20:].sum() == 11
    assert not curated(frame.drop(columns="logprob_mean"), ["cell"]).any()
