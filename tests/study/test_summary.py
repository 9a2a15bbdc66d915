"""benchbox.study.summary: the quality axis counts every detector the scorer runs."""

import pandas as pd
import pytest

from benchbox.metrics.artifacts import DETECTORS
from benchbox.study.summary import WHAT_IT_SOUNDS_LIKE, artefact_free


def _clips(prefix: str) -> pd.DataFrame:
    """Four clips: clean, flagged by burstwall only, by wall only, by dc only."""
    rows = []
    for only in (None, "burstwall", "wall", "dc"):
        rows.append({f"{prefix}{d}/flag": int(d == only) for d in DETECTORS})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("prefix", ["cont/", ""])
def test_a_clip_flagged_by_any_scorer_detector_is_not_artefact_free(prefix):
    clips = _clips(prefix)
    direct = int((clips[[f"{prefix}{d}/flag" for d in DETECTORS]].sum(axis=1) == 0).sum())
    assert artefact_free(clips) == (direct, 4) == (1, 4)


def test_every_detector_clip_is_counted_one_at_a_time():
    for d in DETECTORS:
        clips = pd.DataFrame([{f"cont/{e}/flag": int(e == d) for e in DETECTORS}])
        assert artefact_free(clips) == (0, 1), d


def test_every_detector_has_words_for_the_sound_lines():
    assert set(DETECTORS) <= set(WHAT_IT_SOUNDS_LIKE)
