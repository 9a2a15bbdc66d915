"""The verdict on one clip, whole and past its prime (benchbox.score_clip_verdict)."""

import numpy as np
import pandas as pd
import pytest

from benchbox.errors import DataError
from benchbox.metrics.verdict import VerdictConfig
from benchbox.score_clip_verdict import CONT, check_prime_spans, prime_samples, set_verdict


def test_prime_samples():
    assert prime_samples(40, 16000) == 640 and prime_samples(0, 16000) == 0 and prime_samples(float("nan"), 16000) == 0


def test_set_verdict_fails_a_nan_footstep_p_closed_where_the_model_scored_it():
    clips = pd.DataFrame({"footstep/p": [np.nan, 0.9], CONT + "footstep/p": [np.nan, np.nan]})
    set_verdict(clips, VerdictConfig(), 0.5, {"": np.array([True, True]), CONT: np.array([True, False])})
    assert clips["useful/auto"].tolist() == [0, 1] and clips["useful/reason"].tolist() == ["footstep-p-nan", "ok"]
    assert clips[CONT + "useful/reason"].tolist() == ["footstep-p-nan", "ok"]  # the second continuation was too short to score
    bare = pd.DataFrame({"dc/flag": [0]})
    set_verdict(bare, VerdictConfig(), 0.5)  # no footstep/p column: the category was not measured; flags decide
    assert bare["useful/auto"].tolist() == [1]


def test_two_primes_ending_at_one_sample_are_refused_per_sample_rate():
    """Clips whose length only decoding tells (m4a) pass the manifest check; the scorer refuses
    10 and 10.01 ms at 16 kHz (both 160 samples: one span under two names) before any embedding."""
    table = pd.DataFrame({"prime_ms": [10, 0, "", 10.01], "sample_rate_hz": [16000] * 4})
    with pytest.raises(DataError, match=r"primed for 10 ms and 10.01 ms both start their continuation at sample 160 \(16000 Hz\)"):
        check_prime_spans(table)
    check_prime_spans(pd.DataFrame({"prime_ms": [10, "10.0", 1e1, 20], "sample_rate_hz": [16000] * 4}))  # one length, written three ways
    check_prime_spans(pd.DataFrame({"prime_ms": [10, 10.01], "sample_rate_hz": [16000, 48000]}))  # 160 and 480 samples: two spans
    for bad in ("inf", -5):  # a hand-edited run manifest: one clear error, not an OverflowError from the sample count
        with pytest.raises(DataError, match="not a finite length >= 0"):
            check_prime_spans(pd.DataFrame({"prime_ms": [10, bad], "sample_rate_hz": [16000] * 2}))
