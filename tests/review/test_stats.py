import math

import numpy as np
import pytest

from benchbox.errors import MetricError
from benchbox.review.session import open_session
from benchbox.review.stats import (
    RATE_COLUMNS,
    cohen_kappa,
    confusion_2x2,
    fleiss_kappa,
    group_rates,
    rater_agreement,
    load_tags,
    review_stats,
)


def test_cohen_kappa_hand_computed():
    a = [1, 1, 0, 0, 1, 0, 1, 1, 0, 1]
    b = [1, 0, 0, 0, 1, 1, 1, 1, 0, 0]
    # observed 7/10; a says 1 six times, b five times: expected 0.6*0.5 + 0.4*0.5 = 0.5
    assert cohen_kappa(a, b) == pytest.approx((0.7 - 0.5) / 0.5)
    assert cohen_kappa(a, a) == pytest.approx(1.0)
    assert math.isnan(cohen_kappa([1, 1], [1, 1]))  # chance agreement is 1: undefined
    with pytest.raises(MetricError, match="3 labels against 2"):
        cohen_kappa([1, 0, 1], [1, 0])


def test_fleiss_kappa_hand_computed():
    # 4 items, 3 raters, 2 categories. P_i = 1, 1, 1/3, 1/3 -> mean 2/3; p_j = 1/2, 1/2 -> Pe = 1/2.
    assert fleiss_kappa([[3, 0], [0, 3], [2, 1], [1, 2]]) == pytest.approx((2 / 3 - 0.5) / 0.5)
    # Fleiss (1971) worked example as tabulated on Wikipedia: 10 items, 14 raters -> 0.210
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    assert fleiss_kappa(table) == pytest.approx(0.2099, abs=5e-4)
    with pytest.raises(MetricError, match="same number"):
        fleiss_kappa([[2, 0], [1, 0]])


def test_confusion_2x2():
    assert confusion_2x2([True, True, False, False, True], [True, False, True, False, True]) == [[2, 1], [1, 1]]


def _tag_all(run, rater, decide, include_real=0):
    session = open_session(run, rater=rater, include_real=include_real, seed=3)
    for cid in session.ids:
        clip = session.clip(cid)
        session.tag(cid, decide(clip))
    return session


def test_group_rates_and_agreement(fake_run):
    # alice: sashimi useful, wavenet not; bob agrees except on one wavenet clip; carol calls all useful
    _tag_all(fake_run, "alice", lambda c: "useful" if c.is_real or c.groups["generator"] == "sashimi" else "not_useful", 2)
    seen = {"real": 0, "wavenet": 0}

    def bob(c):
        kind = "real" if c.is_real else c.groups["generator"]
        if kind in seen:
            seen[kind] += 1
        if kind == "real":
            return "useful" if seen["real"] == 2 else "not_useful"  # one of two real clips missed
        if kind == "wavenet":
            return "useful" if seen["wavenet"] == 1 else "not_useful"  # disagrees with alice once
        return "useful"

    _tag_all(fake_run, "bob", bob, 2)
    rates = group_rates(fake_run).set_index("generator")
    assert list(group_rates(fake_run).columns) == list(RATE_COLUMNS)
    assert rates.loc["sashimi", "n_human"] == 8 and rates.loc["sashimi", "useful/human_rate"] == 1.0
    assert rates.loc["wavenet", "useful/human_rate"] == pytest.approx(1 / 8)
    assert 0.0 < rates.loc["wavenet", "useful/human_lo"] < 1 / 8 < rates.loc["wavenet", "useful/human_hi"]

    two = rater_agreement(load_tags(fake_run))
    # 8 clips: alice 4 useful / 4 not; bob 5 useful / 3 not; 7 agree.
    # expected = 0.5*5/8 + 0.5*3/8 = 0.5 -> kappa = (7/8 - 0.5) / 0.5 = 0.75
    assert two["method"] == "cohen" and two["n_clips"] == 8 and two["kappa"] == pytest.approx(0.75)

    _tag_all(fake_run, "carol", lambda c: "useful", 2)
    three = rater_agreement(load_tags(fake_run))
    assert three["method"] == "fleiss" and three["n_clips"] == 8
    counts = np.array([[3, 0]] * 4 + [[2, 1]] + [[1, 2]] * 3)  # useful / not per clip
    assert three["kappa"] == pytest.approx(fleiss_kappa(counts))

    stats = review_stats(fake_run)
    real = {r["rater"]: r for r in stats["real"]}
    assert real["alice"]["called_useful"] == 2 and real["bob"]["called_useful"] == 1 and real["bob"]["n_real"] == 2


def test_auto_agreement_by_hash_only(fake_run):
    # useful/auto is 1 for clip_0000 and clip_0002 of each generator (see conftest)
    _tag_all(fake_run, "alice", lambda c: "useful" if c.source.endswith(("0000.wav", "0001.wav")) else "not_useful")
    auto = review_stats(fake_run)["auto"]
    assert auto["available"] and auto["n"] == 8
    # human useful: 0000 (auto 1), 0001 (auto 0); human not: 0002 (auto 1), 0003 (auto 0) -> per generator
    assert auto["confusion"] == [[2, 2], [2, 2]]
    assert auto["kappa"] == pytest.approx(0.0)

    scores_path = fake_run / "scores" / "clips.csv"
    import pandas as pd

    scores = pd.read_csv(scores_path)
    scores["sha256"] = "stale"  # scores of other audio at the same paths: never matched by path alone
    scores.to_csv(scores_path, index=False)
    auto = review_stats(fake_run)["auto"]
    assert auto["available"] is False and "no tagged clip matches" in auto["reason"]
    scores_path.unlink()
    assert review_stats(fake_run)["auto"]["available"] is False


def test_skips_and_missing_store(fake_run, tmp_path):
    assert group_rates(fake_run).empty
    session = open_session(fake_run, rater="alice")
    session.tag(session.ids[0], "skip")
    assert group_rates(fake_run).empty  # skips are not decisions
    assert review_stats(fake_run)["tags"]["skip"] == 1


def test_tags_of_regenerated_clips_are_set_aside_not_counted(fake_run):
    """After `generate` replaced the clips, tag stats reported the old tags (a rate of 1.0 from clips that were gone)."""
    import pandas as pd
    import soundfile as sf

    _tag_all(fake_run, "alice", lambda c: "useful", 2)
    before = review_stats(fake_run)
    assert before["tags"]["stale"] == 0 and before["tags"]["useful"] == 10
    manifest = pd.read_csv(fake_run / "samples" / "manifest.csv")
    sashimi = manifest[manifest["generator"] == "sashimi"]["path"].tolist()
    for rel in sashimi:  # regenerate: same paths, new audio
        wave, rate = sf.read(fake_run / rel, dtype="float32")
        sf.write(fake_run / rel, wave[::-1].copy(), rate, subtype="PCM_16")
    after = review_stats(fake_run)
    assert after["tags"]["stale"] == len(sashimi) == 4
    assert after["tags"]["total"] == after["tags"]["useful"] == 6  # 4 wavenet + 2 real still count
    assert {g["generator"] for g in after["groups"]} == {"wavenet"}
    assert after["auto"]["n"] == 4  # only the fresh wavenet tags meet their scores
    assert set(group_rates(fake_run)["generator"]) == {"wavenet"}
    assert len(load_tags(fake_run)) == 10  # nothing deleted from the database


def test_a_clip_regenerated_during_review_is_refused_not_tagged_or_served(fake_run):
    import soundfile as sf

    from benchbox.errors import ReviewError
    from benchbox.review.clips import wav_bytes

    session = open_session(fake_run, rater="alice")
    cid = session.ids[0]
    clip = session.clip(cid)
    assert wav_bytes(clip.path, clip.sha256)  # unchanged: served
    wave, rate = sf.read(clip.path, dtype="float32")
    sf.write(clip.path, wave * 0.5, rate, subtype="PCM_16")
    with pytest.raises(ReviewError, match="changed since the review started"):
        session.tag(cid, "useful")
    with pytest.raises(ReviewError, match="changed since the review started"):
        wav_bytes(clip.path, clip.sha256)
    assert load_tags(fake_run).empty


def test_a_clip_repeated_within_a_group_is_one_decision(fake_run):
    """Two byte-identical clips in one group are one clip to rate, and its decision is one trial of
    that group (it counted once per copy: 2 of 4 useful where the rater said 1 of 3)."""
    import shutil

    from benchbox.stats import wilson_interval

    group = fake_run / "samples" / "best" / "prime0"
    shutil.copyfile(group / "clip_0000.wav", group / "clip_0001.wav")
    repeated = open_session(fake_run, rater="alice", seed=3)
    assert repeated.total == 7
    _tag_all(fake_run, "alice", lambda c: "useful" if len(c.all_copies) == 2 else "not_useful")  # the repeated clip only
    rates = group_rates(fake_run).set_index("generator")
    assert rates.loc["sashimi", "n_human"] == 3 and rates.loc["wavenet", "n_human"] == 4
    assert (rates.loc["sashimi", "useful/human_rate"], rates.loc["sashimi", "useful/human_lo"], rates.loc["sashimi", "useful/human_hi"]) == pytest.approx(wilson_interval(1, 3))
    stats = review_stats(fake_run)
    assert stats["tags"]["total"] == 7 and [g["n_human"] for g in stats["groups"]] == [3, 4]
