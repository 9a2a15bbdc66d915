import numpy as np
import pandas as pd
import pytest

from benchbox.study.analysis import overall_rate, paired_comparison, rate_table, study_answers


def _clips():
    rows = []
    for ckpt, useful in (("best", [1, 1, 0, 0]), ("last", [1, 0, 0, 0])):
        for prime in (0, 40):
            for u in useful:
                rows.append({"run": "r1", "generator": "g", "quantisation": "mulaw", "dropout": 0.0, "checkpoint": ckpt,
                             "prime_ms": prime, "useful/auto": u, "silence/flag": 1 - u, "dc/flag": 0, "dc/offset": 0.01})
    return pd.DataFrame(rows)


def _groups():
    return pd.DataFrame([
        {"run": "r1", "checkpoint": "best", "prime_ms": 0, "quantisation": "mulaw", "fad/aisfx": 2.0, "diversity/aisfx": 1.0},
        {"run": "r1", "checkpoint": "last", "prime_ms": 0, "quantisation": "mulaw", "fad/aisfx": 3.0, "diversity/aisfx": 1.2},
        {"run": "r1", "checkpoint": "best", "prime_ms": 40, "quantisation": "mulaw", "fad/aisfx": 1.0, "diversity/aisfx": 0.5},
        {"run": "r1", "checkpoint": "last", "prime_ms": 40, "quantisation": "mulaw", "fad/aisfx": 0.5, "diversity/aisfx": 0.4},
    ])


def test_rate_table_wilson():
    t = rate_table(_clips(), "checkpoint").set_index("checkpoint")
    assert t.loc["best", "k"] == 4 and t.loc["best", "n"] == 8 and t.loc["best", "rate"] == 0.5
    assert t.loc["last", "rate"] == pytest.approx(0.25)
    # Wilson 95% for 4/8 (hand-computed): [0.2152, 0.7848]
    assert t.loc["best", "lo"] == pytest.approx(0.2152, abs=1e-3) and t.loc["best", "hi"] == pytest.approx(0.7848, abs=1e-3)
    assert overall_rate(_clips())["k"] == 6


def test_paired_comparison_counts_wins():
    res = paired_comparison(_groups(), "checkpoint", "best", "last", "fad/aisfx", ["run", "prime_ms"])
    assert res["pairs"] == 2 and res["runs"] == 1 and (res["wins"], res["losses"]) == (1, 0)  # r1's mean difference: -0.25
    assert res["mean_diff"] == pytest.approx(((2 - 3) + (1 - 0.5)) / 2)
    assert res["p_value"] == pytest.approx(1.0)


def test_paired_comparison_tests_over_runs_not_cells():
    """Eight cells of one run where best wins every time are one observation (sign test p = 1), not
    eight (p = 2/256); six runs each winning on average give p = 2/64."""
    rows = [{"run": f"r{r}", "checkpoint": c, "prime_ms": pm, "kad": (1.0 if c == "best" else 2.0) + pm}
            for r in range(6) for pm in range(8) for c in ("best", "last")]
    one = paired_comparison(pd.DataFrame(rows[:16]), "checkpoint", "best", "last", "kad", ["run", "prime_ms"])
    assert (one["pairs"], one["runs"], one["wins"]) == (8, 1, 1) and one["p_value"] == pytest.approx(1.0)
    six = paired_comparison(pd.DataFrame(rows), "checkpoint", "best", "last", "kad", ["run", "prime_ms"])
    assert (six["pairs"], six["runs"], six["wins"]) == (48, 6, 6) and six["p_value"] == pytest.approx(2 / 64)


def test_study_answers_has_every_question():
    ans = study_answers(_clips(), _groups())
    assert ans["fad_metric"] == "fad/aisfx"
    assert set(ans) >= {"best_vs_last", "priming", "dropout", "artefacts", "quantisation", "overall_useful"}
    silence = ans["dropout"]["silence"]
    assert silence["rate"].iloc[0] == pytest.approx(10 / 16)
    prime = ans["priming"]["fad"].set_index("prime_ms")
    assert prime.loc[40, "mean"] == pytest.approx(0.75)
    assert ans["artefacts_real"] == {}  # no floor row: no real rate, and the table has no real column


def test_artefact_table_sets_each_detector_beside_its_rate_on_every_real_clip():
    """The report's detector table shows the real clips' rate (the floor row's real/<d>/flag_rate over
    real/n, scorer version 11; else the val clips) beside the generated rate, as findings 2 and 3 compare."""
    from benchbox.study.questions import answers_markdown

    floor = {"kind": "floor", "n": 21, "dc/flag_rate": 0.0, "silence/flag_rate": 0.0, "real/n": 206, "real/dc/flag_rate": 0.0,
             "real/silence/flag_rate": 3 / 206}
    groups = pd.concat([_groups().assign(kind="generated"), pd.DataFrame([floor])], ignore_index=True)
    ans = study_answers(_clips(), groups)
    assert ans["artefacts_real"]["silence/flag"] == (3, 206, "every real clip of the reference, all splits")
    text = "\n".join(answers_markdown(ans))
    assert "| `silence/flag` | 62.5% [38.6, 81.5] (10/16) | 1.5% [0.5, 4.2] (3/206) |" in text
    assert "Real clips: the rate on every real clip of the reference, all splits." in text
    from benchbox.study.questions import PRIMED_USEFUL_CAVEAT

    priming = text.split("### Does 20/40 ms priming", 1)[1].split("### Does dropout", 1)[0]
    assert PRIMED_USEFUL_CAVEAT in priming  # the useful rate per prime: continuation vs whole clip, said where it is printed
    old = study_answers(_clips(), groups.drop(columns=["real/n", "real/dc/flag_rate", "real/silence/flag_rate"]))
    assert old["artefacts_real"]["silence/flag"] == (0, 21, "the real val clips of the floor row")
    # one detector without a real/ rate falls back to the val clips, and its cell says so
    mixed = study_answers(_clips(), groups.drop(columns=["real/silence/flag_rate"]))
    assert "| `silence/flag` | 62.5% [38.6, 81.5] (10/16) | 0.0% [0.0, 15.5] (0/21) (the real val clips of the floor row) |" in "\n".join(answers_markdown(mixed))
    # a malformed floor row (a rate above 1) is passed over, not turned into 3 of 2 clips
    bad = pd.concat([groups.assign(**{"real/silence/flag_rate": 1.5}).tail(1), groups.tail(1)], ignore_index=True)
    assert study_answers(_clips(), bad)["artefacts_real"]["silence/flag"] == (3, 206, "every real clip of the reference, all splits")



def test_the_useful_rate_per_prime_sits_beside_the_real_clips_cut_at_the_same_sample():
    """The priming question's useful table gives each prime the floor's floor@<ms>ms/useful (the held-out real
    clips cut there; 0 ms: whole), from the first floor row that has it; a dash where the scores lack it."""
    from benchbox.score_floor import floor_useful_keys
    from benchbox.study.questions import PRIMED_USEFUL_CAVEAT, answers_markdown

    new = {"kind": "floor", "n": 21, **dict(zip(floor_useful_keys(0), (35 / 41, 0.7156, 0.9312, 41))),
           **dict(zip(floor_useful_keys(40), (31 / 41, 0.6066, 0.8618, 41)))}
    old = {"kind": "floor", "n": 21}  # a run left at scores written before these columns
    groups = pd.concat([_groups().assign(kind="generated"), pd.DataFrame([old, new])], ignore_index=True)
    text = "\n".join(answers_markdown(study_answers(_clips(), groups)))
    priming = text.split("### Does 20/40 ms priming", 1)[1].split("### Does dropout", 1)[0]
    assert "| prime_ms | rate [95% CI] (k/n) | real clips cut there (val + test) |" in priming
    assert "| 0.0 | 37.5% [13.7, 69.4] (3/8) | 85.4% [71.6, 93.1] (35/41) |" in priming
    assert "| 40.0 | 37.5% [13.7, 69.4] (3/8) | 75.6% [60.7, 86.2] (31/41) |" in priming
    assert PRIMED_USEFUL_CAVEAT in priming and "floor@<ms>ms/useful/auto_rate" in PRIMED_USEFUL_CAVEAT
    without = pd.concat([_groups().assign(kind="generated"), pd.DataFrame([old])], ignore_index=True)
    lines = "\n".join(answers_markdown(study_answers(_clips(), without)))
    assert "| 40.0 | 37.5% [13.7, 69.4] (3/8) | - |" in lines and "| 0.0 | 37.5% [13.7, 69.4] (3/8) | - |" in lines
    assert "| 40.0 | 37.5% [13.7, 69.4] (3/8) | - |" in "\n".join(answers_markdown(study_answers(_clips(), _groups())))  # no floor row at all


def test_same_span_table_pairs_each_prime_with_the_unprimed_cells_on_its_span():
    """A prime's mean continuation KAD sits beside the unprimed cells' KAD on that span, only over
    the (run, checkpoint) cells that have both; a run without an unprimed cell adds nothing."""
    from benchbox.study.analysis import same_span_table
    from benchbox.study.questions import same_span_lines

    rows = []
    for run, base in (("a", 0.2), ("b", 0.4)):
        rows.append({"run": run, "checkpoint": "best", "prime_ms": 0, "cont/kad/aisfx": base, "span@20ms/kad/aisfx": base + 0.1})
        rows.append({"run": run, "checkpoint": "best", "prime_ms": 20, "cont/kad/aisfx": base - 0.05})
    rows.append({"run": "c", "checkpoint": "best", "prime_ms": 20, "cont/kad/aisfx": 9.0})  # no unprimed partner
    table = same_span_table(pd.DataFrame(rows), "kad/aisfx")
    assert list(table["prime_ms"]) == [20.0] and int(table["cells"].iloc[0]) == 2
    assert table["primed"].iloc[0] == pytest.approx((0.15 + 0.35) / 2) and table["unprimed"].iloc[0] == pytest.approx((0.3 + 0.5) / 2)
    assert "| 20 | 0.25 | 0.4 | -0.15 | 2 |" in same_span_lines({"kad/aisfx": table})
    assert same_span_table(pd.DataFrame(rows).drop(columns=["span@20ms/kad/aisfx"]), "kad/aisfx").empty  # scores before version 10


def test_rate_table_widens_pooled_runs_and_leaves_unscored_clips_out():
    """Two runs at 100% and 0% are two observations, not 100 clips (design effect 50). A clip without a verdict (NaN) counts in neither k nor n."""
    from benchbox.stats import wilson_interval
    from benchbox.study.analysis import overall_rate, rate_table

    clips = pd.DataFrame({"run": ["a"] * 50 + ["b"] * 50 + ["b"], "g": "x",
                          "cont/useful/auto": [1.0] * 50 + [0.0] * 50 + [np.nan]})
    (row,) = rate_table(clips, "g", "cont/useful/auto").to_dict("records")
    assert (row["k"], row["n"], row["runs"]) == (50, 100, 2) and row["deff"] == pytest.approx(50.0)
    assert row["lo"] < 0.05 and row["hi"] > 0.95  # two observations (and 1 degree of freedom): nearly nothing is known
    one = overall_rate(clips[clips["run"] == "a"], "cont/useful/auto")
    assert one["runs"] == 1 and (one["lo"], one["hi"]) == pytest.approx(wilson_interval(50, 50)[1:], abs=1e-12)
