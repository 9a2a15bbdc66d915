"""The report's verdict section: identical weights, KAD ranking against the floor, copies, reasons."""

import numpy as np
import pandas as pd
import pytest

from benchbox.study.analysis import study_answers
from benchbox.study.findings import INDISTINGUISHABLE, identical_weights, kad_ranking, memorisation_lines, two_sample_lines, useful_by, verdict_markdown


def _groups():
    base = {"quantisation": "mulaw", "dropout": 0.0, "checkpoint": "best"}
    rows = [
        {"kind": "floor", "run": "r1", "group": "floor", "n": 20, "cont/kad/aisfx": 0.0, "cont/kad/aisfx/lo": -0.05, "cont/kad/aisfx/hi": 0.05,
         "cont/memorisation/aisfx/closer_share": 0.5, "cont/memorisation/aisfx/closer_lo": 0.3, "cont/memorisation/aisfx/closer_hi": 0.7,
         "cont/nn1/aisfx": 0.52, "cont/nn1/aisfx/p": 0.41},
        {"kind": "generated", "run": "r1", "group": "a", "n": 16, "prime_ms": 0, **base, "cont/kad/aisfx": 0.5, "cont/kad/aisfx/lo": 0.4, "cont/kad/aisfx/hi": 0.6,
         "cont/memorisation/aisfx/closer_share": 1.0, "cont/memorisation/aisfx/closer_lo": 0.8, "cont/memorisation/aisfx/closer_hi": 1.0,
         "cont/memorisation/aisfx/expected_share": 0.1,
         "cont/nn1/aisfx": 0.91, "cont/nn1/aisfx/p": 0.001, "cont/useful/auto_rate": 0.25},
        {"kind": "generated", "run": "r1", "group": "b", "n": 16, "prime_ms": 40, **base, "cont/kad/aisfx": 0.03, "cont/kad/aisfx/lo": 0.01, "cont/kad/aisfx/hi": 0.09,
         "cont/memorisation/aisfx/closer_share": 0.4, "cont/memorisation/aisfx/closer_lo": 0.2, "cont/memorisation/aisfx/closer_hi": 0.6,
         "cont/memorisation/aisfx/expected_share": 0.3,
         "cont/nn1/aisfx": 0.6, "cont/nn1/aisfx/p": 0.2, "cont/useful/auto_rate": 0.5},
    ]
    return pd.DataFrame(rows)


def _clips():
    rows = []
    for run, shas in (("same", ("x", "x")), ("diff", ("y", "z"))):
        for ckpt, sha in zip(("best", "last"), shas):
            for i in range(4):
                ok = i < 2
                rows.append({"run": run, "path": f"samples/{ckpt}/{i}.wav", "generator": "sashimi", "checkpoint": ckpt, "checkpoint_sha256": sha,
                             "prime_ms": 0, "quantisation": "mulaw", "dropout": 0.0, "cont/useful/auto": int(ok),
                             "cont/useful/reason": "ok" if ok else "not-footstep", "useful/auto": 1, "silence/flag": 0, "cont/footstep/p": 0.9 if ok else 0.3})
    return pd.DataFrame(rows)


def test_identical_weights_are_found_and_left_out_of_the_test():
    clips = _clips()
    assert identical_weights(clips) == [("same", "x")]
    groups = pd.DataFrame([{"kind": "generated", "run": r, "checkpoint": c, "prime_ms": 0, "quantisation": "mulaw", "dropout": 0.0, "fad/aisfx": f}
                           for r, c, f in (("same", "best", 1.0), ("same", "last", 1.0), ("diff", "best", 1.0), ("diff", "last", 2.0))])
    ans = study_answers(clips, groups, "aisfx")
    assert ans["identical_runs"] == [("same", "x")] and ans["best_vs_last"]["fad"]["pairs"] == 1
    assert ans["useful_metric"] == "cont/useful/auto" and ans["overall_useful"]["k"] == 8


def test_kad_ranking_marks_rows_whose_ci_overlaps_the_floor():
    lines = kad_ranking(_groups(), "aisfx")
    a, b = lines[3], lines[5]  # a (whole clip, KAD 0.5) under the whole-clip floor; b (40 ms prime, 0.03) in its own span
    assert "| b |" in b and INDISTINGUISHABLE in b  # no span floor in these scores: the whole clip's (-0.05, 0.05)
    assert "| a |" in a and "differs" in a and "0.5 [0.4, 0.6]" in a
    assert a.endswith("| 0.91 (p = 0.001) |") and lines[2].endswith("| 0.52 (p = 0.41) |")  # the floor row
    assert "no span floor" in lines[4]


def test_kad_ranking_ranks_each_span_apart_and_compares_with_its_own_floor():
    """b's KAD (0.03) is lower than a's (0.5), but on another span and kernel: both rank 1, and b's
    floor mark uses the 40 ms span floor when the scores carry it."""
    lines = kad_ranking(_groups(), "aisfx")
    assert lines[3].startswith("| whole clip | 1 | r1 |") and lines[5].startswith("| after a 40 ms prime | 1 | r1 |")
    groups = _groups()
    groups.loc[groups["kind"] == "floor", ["floor@40ms/kad/aisfx", "floor@40ms/kad/aisfx/lo", "floor@40ms/kad/aisfx/hi"]] = [0.5, 0.45, 0.55]
    lines = kad_ranking(groups, "aisfx")
    assert "0.5 [0.45, 0.55]" in lines[4] and "no span floor" not in lines[4]
    assert "| b |" in lines[5] and "differs (CI)" in lines[5]  # misses the span floor, though it overlaps the whole clip's


def test_kad_ranking_reads_a_floor_row_read_back_as_text():
    """A groups table read with dtype=str: the span floor is found and printed as numbers, as from
    numbers (it raised a TypeError, then a ValueError, on text)."""
    groups = _groups()
    groups.loc[groups["kind"] == "floor", ["floor@40ms/kad/aisfx", "floor@40ms/kad/aisfx/lo", "floor@40ms/kad/aisfx/hi"]] = [0.5, 0.45, 0.55]
    as_numbers = kad_ranking(groups, "aisfx")
    floor = groups["kind"] == "floor"
    text = groups.astype(object)
    for column in [c for c in groups.columns if c.startswith(("kad/", "fad/", "floor@"))]:
        text.loc[floor, column] = str(groups.loc[floor, column].iloc[0])
    assert kad_ranking(text, "aisfx") == as_numbers and "0.5 [0.45, 0.55]" in as_numbers[4]


def test_kad_ranking_calls_an_overlapping_row_separated_when_the_1nn_test_tells_it_apart():
    groups = _groups()
    groups.loc[groups["group"] == "b", "cont/nn1/aisfx/p"] = 0.01
    b = kad_ranking(groups, "aisfx")[5]
    assert "| b |" in b and "differs (1-NN test)" in b and INDISTINGUISHABLE not in b


def test_two_sample_lines_count_separable_groups_and_name_the_floor():
    lines = two_sample_lines(_groups(), "aisfx")
    assert "Real val clips: 0.52 (p = 0.41, n = 20)." in lines[0]
    # BH over p = (0.001, 0.2): adjusted 0.002 and 0.2, so one discovery either way
    assert lines[1].startswith("1 of 2 groups differ from real at p < 0.05 (1 with Benjamini-Hochberg adjusted p < 0.05, ")
    assert "; 1 of them still have clips" in lines[1]
    groups = _groups()
    groups.loc[groups["group"] == "b", "cont/nn1/aisfx/p"] = 0.04  # both under 0.05 raw; BH: 0.002 -> 0.04, 0.04 -> 0.04
    assert "2 of 2 groups differ" in two_sample_lines(groups, "aisfx")[1] and "(2 with Benjamini-Hochberg" in two_sample_lines(groups, "aisfx")[1]
    groups.loc[groups["group"] == "b", "cont/nn1/aisfx/p"] = 0.03
    groups.loc[groups["group"] == "a", "cont/nn1/aisfx/p"] = 0.045  # BH: both adjusted to 0.045
    assert "(2 with" in two_sample_lines(groups, "aisfx")[1]
    groups.loc[groups["group"] == "b", "cont/nn1/aisfx/p"] = 0.3
    groups.loc[groups["group"] == "a", "cont/nn1/aisfx/p"] = 0.04  # raw: one under 0.05; BH: 0.08, none
    line = two_sample_lines(groups, "aisfx")[1]
    assert line.startswith("1 of 2 groups differ") and "(0 with Benjamini-Hochberg" in line
    assert two_sample_lines(_groups().drop(columns=["cont/nn1/aisfx", "cont/nn1/aisfx/p"]), "aisfx") == []  # older scores


def test_memorisation_flags_only_groups_whose_lower_bound_exceeds_the_real_share():
    lines = memorisation_lines(_groups(), "aisfx")
    flagged = [ln for ln in lines if "**copies**" in ln]
    assert len(flagged) == 1 and " a:" in flagged[0] and "(n = 16; p = 1e-16" in flagged[0]  # 16 of 16 at 0.1: 0.1**16


def test_memorisation_flags_control_the_false_discovery_rate_over_groups():
    """72 cells copying nothing: each has a 2.5% chance of a Wilson lower bound above the real share, so the
    old rule flagged about two; the BH-adjusted binomial p flags none. The p is the binomial tail by hand."""
    from math import comb

    from benchbox.study.findings import copy_p_values

    want = sum(comb(32, j) * 0.1**j * 0.9 ** (32 - j) for j in range(8, 33))  # P(X >= 8), X ~ Bin(32, 0.1)
    assert copy_p_values(pd.Series([8 / 32]), pd.Series([32]), pd.Series([0.1]))[0] == pytest.approx(want, rel=1e-9)
    rng = np.random.default_rng(0)
    k = rng.binomial(32, 0.1, size=72)
    groups = pd.DataFrame({"kind": "generated", "run": [f"r{i}" for i in range(72)], "group": "g", "n": 32,
                           "cont/memorisation/aisfx/closer_share": k / 32, "cont/memorisation/aisfx/expected_share": 0.1,
                           "cont/memorisation/aisfx/closer_lo": 0.0, "cont/memorisation/aisfx/closer_hi": 1.0})
    assert not any("**copies**" in ln for ln in memorisation_lines(groups, "aisfx"))
    groups.loc[0, "cont/memorisation/aisfx/closer_share"] = 20 / 32  # one cell that copies: still found among 72
    flagged = [ln for ln in memorisation_lines(groups, "aisfx") if "**copies**" in ln]
    assert len(flagged) == 1 and "r0 " in flagged[0]


def test_useful_by_names_reasons_and_the_section_names_n_and_ci():
    lines = useful_by(_clips(), "generator")
    assert "50.0%" in lines[2] and "(8/16; 2 runs, deff 1.0)" in lines[2] and "not-footstep 8" in lines[2]
    text = "\n".join(verdict_markdown(_clips(), _groups(), "aisfx"))
    assert "Rejected clips" in text and "not-footstep (8)" in text and "(0.30)" in text
    assert "**sashimi**: 50.0% [" in text and "(8/16; 2 runs, deff 1.0) of its clips pass every artefact detector but are `not-footstep`" in text


def test_memorisation_uses_the_exact_shared_threshold_test_when_the_scores_record_heldout_n():
    """40 of 256 clips close against 4 / 42 (n = 41 held-out clips): the binomial p (0.0013) would
    flag it, the beta-binomial p (0.12, every clip sharing one threshold) does not; 80 of 256 is
    flagged by both. Without heldout_n (older scores) the binomial p and its warning stay."""
    from scipy.stats import betabinom

    from benchbox.study.findings import copy_p_values

    key = "cont/memorisation/aisfx/"
    groups = pd.DataFrame({"kind": "generated", "run": ["r0", "r1"], "group": "g", "n": 256,
                           key + "closer_share": [40 / 256, 80 / 256], key + "expected_share": 4 / 42, key + "heldout_n": 41,
                           key + "closer_lo": 0.0, key + "closer_hi": 1.0})
    p = copy_p_values(groups[key + "closer_share"], groups["n"], groups[key + "expected_share"], groups[key + "heldout_n"])
    assert p[0] == pytest.approx(betabinom.sf(39, 256, 4, 38), rel=1e-9) and 0.1 < p[0] < 0.15
    lines = memorisation_lines(groups, "aisfx")
    flagged = [ln for ln in lines if "**copies**" in ln]
    assert len(flagged) == 1 and "r1 " in flagged[0] and "beta-binomial" in lines[0] and "re-score" not in lines[0]
    old = groups.drop(columns=[key + "heldout_n"])
    lines = memorisation_lines(old, "aisfx")
    assert len([ln for ln in lines if "**copies**" in ln]) == 2 and "re-score for the exact test" in lines[0]


def test_detector_misses_widen_the_interval_for_runs_as_every_pooled_rate_does():
    """7/64, 15/64, 3/64 and 2/64 clips `not-footstep` only, over four runs: the interval is
    clustered_wilson's (design effect over runs), not the clip-level Wilson of 27/256."""
    from benchbox.stats import clustered_wilson, wilson_interval
    from benchbox.study.findings import detector_misses

    rows = []
    for r, missed in enumerate((7, 15, 3, 2)):
        rows += [{"generator": "wavenet", "run": f"r{r}", "cont/useful/reason": "not-footstep" if i < missed else "click"} for i in range(64)]
    line = detector_misses(pd.DataFrame(rows))[0]
    p, lo, hi, deff = clustered_wilson([7, 15, 3, 2], [64] * 4)
    assert f"{100 * p:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}] (27/256; 4 runs, deff {deff:.1f})" in line and deff > 2
    _, plain_lo, _ = wilson_interval(27, 256)
    assert f"[{100 * plain_lo:.1f}," not in line


def test_the_copy_test_counts_only_the_clips_memorisation_judged():
    """A group of 8 embedded clips (2 close) and 24 NaN clips: the share is 2/8, so the test is 2 of 8
    trials, not round(0.25 x 32) = 8 of 32 (which would read p = 0.065 instead of 0.19 and, with more
    NaN clips, flag a group that copies nothing). From memorisation/<e>/n, else n - embedding/left_out."""
    from scipy.stats import betabinom

    from benchbox.study.findings import judged_clips

    key = "cont/memorisation/aisfx/"
    base = {"kind": "generated", "group": "g", "n": 32, key + "closer_share": 0.25, key + "expected_share": 2 / 21,
            key + "heldout_n": 20, key + "closer_lo": 0.0, key + "closer_hi": 1.0}
    recorded = pd.DataFrame([{**base, "run": "r0", key + "n": 8}])
    derived = pd.DataFrame([{**base, "run": "r1", "embedding/left_out": 24}])
    for groups in (recorded, derived):
        assert judged_clips(groups, key + "closer_share").tolist() == [8]
        lines = memorisation_lines(groups, "aisfx")
        assert "n = 8 per group" in lines[-1] and not any("**copies**" in ln for ln in lines)
    want = betabinom.sf(1, 8, 2, 19)
    from benchbox.study.findings import copy_p_values

    assert copy_p_values(recorded[key + "closer_share"], judged_clips(recorded, key + "closer_share"), recorded[key + "expected_share"],
                         recorded[key + "heldout_n"])[0] == pytest.approx(want, rel=1e-9)
    # a group with no memorisation measured (every clip NaN) does not make the others' exact test read as old scores
    blank = pd.DataFrame([{**base, "run": "r2", key + "n": 8}, {"kind": "generated", "run": "r3", "group": "h", "n": 4}])
    lines = memorisation_lines(blank, "aisfx")
    assert "beta-binomial" in lines[0] and "re-score" not in lines[0] and "n = 8 per group tested" in lines[-1]


def test_the_floor_memorisation_share_is_labelled_as_the_held_out_clips_check():
    """The floor's share is leave-one-out over val + test (k / n by construction), not the val clips' rate."""
    key = "cont/memorisation/aisfx/"
    groups = pd.concat([_groups(), pd.DataFrame([{"kind": "floor", "run": "r2", "group": "floor", "n": 21}])], ignore_index=True)
    groups.loc[0, key + "heldout_n"] = 40
    line = memorisation_lines(groups, "aisfx")[0]
    assert "Real held-out clips (val + test), each against the others: 0.5 [0.3, 0.7] (n = 41, k / n by construction" in line
    assert "Real val clips" not in line


def test_the_copy_method_text_counts_exact_and_older_groups_and_untested_boards_say_so():
    key = "cont/memorisation/aisfx/"
    base = {"kind": "generated", "group": "g", "n": 16, key + "closer_share": 0.0, key + "expected_share": 4 / 42,
            key + "closer_lo": 0.0, key + "closer_hi": 0.2}
    mixed = pd.DataFrame([{**base, "run": "new", key + "heldout_n": 41}, {**base, "run": "old"}])
    line = memorisation_lines(mixed, "aisfx")[0]
    assert "for the 1 group(s) whose scores record `heldout_n`" in line and "for the other 1" in line
    none = pd.DataFrame([{"kind": "generated", "run": "r", "group": "g", "n": 4, key + "closer_share": np.nan}])
    assert memorisation_lines(none, "aisfx")[-1].startswith("No group could be tested")
