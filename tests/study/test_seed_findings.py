import json

import numpy as np
import pandas as pd

from benchbox.study.seed_findings import INCONCLUSIVE, NOT_REPRODUCED, NOT_TESTED, REPRODUCED, SMOKE, UNDECIDABLE, all_findings, findings_markdown, minmax_finding, six_findings
from benchbox.stats import wilson_interval
from benchbox.study.analysis import rate_text


def _clips(n_best_useful=2, n_last_useful=30, silence_do05=28, dc=20, run="r", sha_last="b", n=32):
    rows = []
    for ckpt, useful_k in (("best", n_best_useful), ("last", n_last_useful)):
        for i in range(n):
            rows.append({"run": run, "checkpoint": ckpt, "checkpoint_sha256": "a" if ckpt == "best" else sha_last,
                         "prime_ms": [0, 10, 20, 40][i % 4], "dropout": 0.0, "cont/useful/auto": int(i < useful_k),
                         "cont/dc/flag": int(i < dc), "cont/periodicity/flag": 0, "cont/silence/flag": 0})
    for i in range(n):
        rows.append({"run": run + "_do05", "checkpoint": "best", "checkpoint_sha256": "c", "prime_ms": 0, "dropout": 0.5,
                     "cont/useful/auto": 0, "cont/dc/flag": 0, "cont/periodicity/flag": 0, "cont/silence/flag": int(i < silence_do05)})
    return pd.DataFrame(rows)


def _floor(n=21, dc_rate=0.0):
    return pd.DataFrame([{"kind": "floor", "n": n, "dc/flag_rate": dc_rate, "periodicity/flag_rate": 0.0}])


def _log(path, vals):
    path.mkdir(parents=True)
    (path / "log.jsonl").write_text("".join(json.dumps({"step": i, "bits/val": v, "bits/train": 5 - i}) + "\n" for i, v in enumerate(vals)))


def _study(n_runs=6, best_useful=2, last_useful=11, dc=20, silence_do05=28, n=32):
    """``n_runs`` runs ``r0``... like :func:`_clips` (distinct best and last), each with a dropout-0.5 twin."""
    return pd.concat([_clips(best_useful, last_useful, silence_do05, dc, run=f"r{i}", sha_last=f"b{i}", n=n) for i in range(n_runs)])


def test_each_finding_is_decided_over_runs(tmp_path):
    for i in range(6):
        _log(tmp_path / f"r{i}", [5.0, 4.0, 4.5])  # val minimum then rise while train keeps falling
    found = {f["finding"][0]: f for f in six_findings(_study(), _floor(), tmp_path)}
    assert found["1"]["verdict"] == REPRODUCED  # 12 runs, every one under 25% useful: sign test p = 2 / 2**12
    assert "12 below, 0 above, p = 0.000488" in found["1"]["test"]
    assert found["2"]["verdict"] == REPRODUCED  # 6 runs with DC flags above the real 0/21, 6 at it (left out)
    assert "6 above" in found["2"]["test"] and "0/21" in found["2"]["test"]
    assert found["3"]["verdict"] == INCONCLUSIVE and "ruled out" not in found["3"]["test"]  # no clip is periodic, but 32-clip runs
    assert found["4"]["verdict"] == NOT_REPRODUCED  # last beats best in all 6 runs: signed-rank p = 2 / 64
    assert "6 runs with a non-zero difference" in found["4"]["test"] and "6 of 6 runs" in found["4"]["estimate"]
    assert found["6"]["verdict"] == REPRODUCED  # 6 dropout-0.5 runs, each 28/32 silent
    few = {f["finding"][0]: f for f in six_findings(_study(n_runs=2), _floor(), tmp_path)}
    assert few["1"]["verdict"] == UNDECIDABLE and few["4"]["verdict"] == UNDECIDABLE  # 4 runs / 2 pairs cannot decide
    assert "with 4 runs no outcome gives p under 0.125" in few["1"]["test"] and "with 2 runs no outcome gives p under 0.5" in few["4"]["test"]
    assert six_findings(_study(last_useful=30), _floor(), tmp_path)[0]["verdict"] == INCONCLUSIVE  # half the runs at 50%


def test_presence_findings_compare_with_every_real_clip_not_the_val_clips(tmp_path):
    """A detector that fires on ~1% of real clips and ~1% of generated ones shows no effect. Against
    the val clips' 0/21 read as exactly 0, every run with a flag counted as 'above' (finding 3 read
    reproduced on the seed study); against the rate on every real clip (real/, scorer version 11),
    each run tested against the real count by Fisher's exact test, no run differs."""
    def study(flagged):
        return pd.DataFrame([{"run": f"r{r}", "checkpoint": "best", "checkpoint_sha256": f"a{r}", "prime_ms": 0, "dropout": 0.0,
                              "cont/useful/auto": 0, "cont/dc/flag": int(i < k), "cont/periodicity/flag": int(i < k), "cont/silence/flag": 0}
                             for r, k in enumerate(flagged) for i in range(256)])

    clips = study([0, 0, 1, 2, 3, 3, 3, 5])  # flagged clips of 256 per run: 0-2% around the real 1%
    real = {"real/n": 206, "real/periodicity/flag_rate": 2 / 206, "real/dc/flag_rate": 0.0}
    every = {f["finding"][0]: f for f in six_findings(clips, _floor().assign(**real), tmp_path)}
    assert every["3"]["verdict"] == INCONCLUSIVE  # 0/256 is not 'below' 2/206 either (Fisher p = 0.2)
    assert "0 below, 0 above, 8 not different, p = 1" in every["3"]["test"]
    assert "every real clip of the reference, all splits: 1.0% [0.3, 3.5] (2/206)" in every["3"]["test"]
    val_only = {f["finding"][0]: f for f in six_findings(clips, _floor(), tmp_path)}  # scores before version 11
    assert val_only["3"]["verdict"] == INCONCLUSIVE and "the real val clips of the floor row: 0.0% [0.0, 15.5] (0/21)" in val_only["3"]["test"]
    one_each = {f["finding"][0]: f for f in six_findings(study([1] * 8), _floor().assign(**real), tmp_path)}
    assert one_each["2"]["verdict"] == INCONCLUSIVE and "0 below, 0 above, 8 not different" in one_each["2"]["test"]  # 1/256 vs 0/206
    many = {f["finding"][0]: f for f in six_findings(study([30] * 8), _floor().assign(**real), tmp_path)}
    assert many["2"]["verdict"] == REPRODUCED and "0 below, 8 above, 0 not different, p = 0.00781" in many["2"]["test"]
    fewer = {f["finding"][0]: f for f in six_findings(study([0] * 8), _floor().assign(**{**real, "real/dc/flag_rate": 30 / 206}), tmp_path)}
    assert fewer["2"]["verdict"] == NOT_REPRODUCED and "8 below, 0 above" in fewer["2"]["test"]  # real clips flagged more often
    # floor rows of runs left at version 10 (no real/ value) do not hide a version-11 run's real rate
    mixed = pd.concat([_floor().assign(**{"real/n": np.nan, "real/periodicity/flag_rate": np.nan, "real/dc/flag_rate": np.nan}),
                       _floor().assign(**real)], ignore_index=True)
    assert "(2/206)" in {f["finding"][0]: f for f in six_findings(clips, mixed, tmp_path)}["3"]["test"]


def test_findings_count_runs_not_clips(tmp_path):
    """One run with many clips is one observation: a clip-level test would call 2/640 'below 25%' at p < 1e-100."""
    one = _clips(1, 1, 28, 20, run="r", sha_last="b", n=320)
    found = {f["finding"][0]: f for f in six_findings(one, _floor(), tmp_path)}
    assert found["1"]["verdict"] == UNDECIDABLE and "2 below, 0 above" in found["1"]["test"]  # r and r_do05: p >= 0.5 whatever they show
    assert found["6"]["verdict"] == UNDECIDABLE  # one dropout-0.5 run, however silent


def test_identical_checkpoints_are_not_tested_and_small_n_is_undecidable(tmp_path):
    """Best and last the same weights: no test ran, so the verdict says so ("not tested", with
    the reason), never "inconclusive at this n", which would promise that more clips decide it."""
    clips = _clips(n_best_useful=1, n_last_useful=2, sha_last="a", silence_do05=3, n=8)
    found = {f["finding"][0]: f for f in six_findings(clips, _floor(), tmp_path)}
    assert found["4"]["verdict"] == NOT_TESTED and found["4"]["test"].startswith("not tested: best and last are the same weights")
    assert found["6"]["verdict"] == UNDECIDABLE  # one dropout-0.5 run (3/8 silent): a sign test over one run
    assert minmax_finding(clips) is None
    text = "\n".join(findings_markdown(all_findings(clips, _floor(), tmp_path)))
    assert "no scored `_minmax` run yet" in text and text.count("| **") == 6
    assert "| **not tested** |" in text and "**not tested** (the study holds nothing this test can use (the test column says why)" in text
    assert "would change it" not in text


def test_a_finding_without_its_runs_reads_not_tested(tmp_path):
    """No dropout-0.5 run: finding 6 is not tested (the reason in its test text), not inconclusive."""
    clips = _clips()
    found = {f["finding"][0]: f for f in six_findings(clips[clips["dropout"] < 0.5], _floor(), tmp_path)}
    assert found["6"]["verdict"] == NOT_TESTED and found["6"]["test"] == "not tested: no dropout-0.5 run scored"


def test_a_smoke_test_study_decides_nothing(tmp_path):
    """Smoke-test studies keep the estimates but every verdict reads 'smoke test: not evidence'."""
    _log(tmp_path / "r", [5.0, 4.0, 4.5])
    rows = all_findings(_clips(n_last_useful=11), _floor(), tmp_path, smoke="the dataset is the procedural corpus")
    assert {r["verdict"] for r in rows} == {SMOKE} and "13/96" in rows[0]["estimate"]
    text = "\n".join(findings_markdown(rows, "the dataset is the procedural corpus"))
    assert "reproduced" not in text.lower() and "inconclusive" not in text and "procedural corpus" in text
    assert "ruled out" not in text  # finding 3 (0 sines) would read "ruled out" in a study


def test_minmax_pairs_are_compared_on_dc_flags_per_pair_of_runs():
    frames = []
    for i in range(6):
        plain = _clips(dc=2 + i, run=f"s{i}_linear_do0")
        scaled = _clips(dc=30, run=f"s{i}_linear_do0_minmax")
        frames += [plain, scaled[scaled["run"] == f"s{i}_linear_do0_minmax"]]
    found = minmax_finding(pd.concat(frames))
    assert found["verdict"] == "supported" and "min-max" in found["estimate"] and "6 runs with a non-zero difference" in found["test"]
    one = minmax_finding(pd.concat(frames[:2]))
    assert one["verdict"] == UNDECIDABLE  # one pair of runs


def _cells(kad_diff, recall_diff, n_runs=8):
    """Group rows: per run and checkpoint an unprimed cell and 20/40 ms cells offset by the given differences."""
    rows = [{"kind": "floor", "n": 21, "dc/flag_rate": 0.0, "periodicity/flag_rate": 0.0}]
    for r in range(n_runs):
        for ckpt in ("best", "last"):
            base = 0.2 + 0.01 * r
            rows.append({"kind": "generated", "run": f"r{r}", "checkpoint": ckpt, "prime_ms": 0, "cont/kad/aisfx": base, "cont/recall/aisfx": 0.3})
            for p in (20, 40):
                rows.append({"kind": "generated", "run": f"r{r}", "checkpoint": ckpt, "prime_ms": p,
                             "cont/kad/aisfx": base + kad_diff + 0.001 * p, "cont/recall/aisfx": 0.3 + recall_diff})
    return pd.DataFrame(rows)


def test_priming_is_decided_on_paired_continuation_kad(tmp_path):
    clips = _clips()
    lower = {f["finding"][0]: f for f in six_findings(clips, _cells(-0.05, -0.1), tmp_path)}["5"]
    assert lower["verdict"] == REPRODUCED and "8 runs with a non-zero difference (of 8)" in lower["test"] and "-0.0" in lower["estimate"]
    assert "(continuation) vs 0 ms" in lower["estimate"] and "not one scale" in lower["estimate"]
    higher = {f["finding"][0]: f for f in six_findings(clips, _cells(+0.05, 0.0), tmp_path)}["5"]
    assert higher["verdict"] == NOT_REPRODUCED
    few = {f["finding"][0]: f for f in six_findings(clips, _cells(-0.05, 0.0, n_runs=1), tmp_path)}["5"]
    assert few["verdict"] == UNDECIDABLE and "1 runs with a non-zero difference" in few["test"]
    zeros = {f["finding"][0]: f for f in six_findings(clips, _cells(-0.05, 0.0), tmp_path)}["5"]
    assert "diversity: Wilcoxon signed-rank p = 1, 0 runs with a non-zero difference (of 8)" in zeros["test"]  # n after zeros


def test_priming_estimate_puts_each_useful_rate_beside_the_real_clips_on_its_scale(tmp_path):
    """With the floor row's floor@<ms>ms/useful/ columns (the held-out real clips whole and cut where
    20 and 40 ms primes end), the estimate quotes them; older scores keep the pointer to the docs."""
    cells = _cells(-0.05, -0.1)
    for ms, (k, n) in {0: (35, 41), 20: (33, 41), 40: (31, 41)}.items():
        stem = f"floor@{float(ms):g}ms/useful/"
        p, lo, hi = wilson_interval(k, n)
        cells.loc[cells["kind"] == "floor", [stem + "auto_rate", stem + "auto_lo", stem + "auto_hi", stem + "n"]] = [p, lo, hi, n]
    found = {f["finding"][0]: f for f in six_findings(_clips(), cells, tmp_path)}["5"]
    want = f"the held-out real clips read whole {rate_text(35, 41)}, cut at 20 ms {rate_text(33, 41)}, cut at 40 ms {rate_text(31, 41)}"
    assert want in found["estimate"] and "85.4%" in found["estimate"] and "docs/verdict.md" not in found["estimate"]
    old = {f["finding"][0]: f for f in six_findings(_clips(), _cells(-0.05, -0.1), tmp_path)}["5"]
    assert "real clips read lower cut after the onset, docs/verdict.md" in old["estimate"]


def test_paired_cells_are_one_per_run():
    """A run is one pair: its checkpoints' and its 20 and 40 ms cells' values are averaged (a run
    whose best and last hold the same weights counts its best cells only)."""
    from benchbox.study.seed_findings import _paired_cells

    cells = _cells(-0.05, 0.0, n_runs=2)
    cells.loc[(cells["run"] == "r1") & (cells["checkpoint"] == "last") & (cells["prime_ms"] > 0), "cont/kad/aisfx"] += 0.1
    every = _paired_cells(cells, "cont/kad/aisfx").set_index("run")
    assert list(every.index) == ["r0", "r1"]
    diff = every["primed"] - every["unprimed"]
    assert abs(diff["r0"] - -0.02) < 1e-9  # -0.05 + 0.001 x mean(20, 40)
    assert abs(diff["r1"] - (-0.02 + 0.05)) < 1e-9  # r1's last cells moved by 0.1: half of it in the run's mean
    best_only = _paired_cells(cells, "cont/kad/aisfx", distinct=["r0"]).set_index("run")
    assert abs((best_only["primed"] - best_only["unprimed"])["r1"] - -0.02) < 1e-9  # r1's best = last: best cells only


def _with_spans(cells: pd.DataFrame, span_offset: float) -> pd.DataFrame:
    """The unprimed cells also scored on each primed span (scorer version 10): the whole clip's KAD
    plus ``span_offset``, the recall unchanged."""
    cells = cells.copy()
    unprimed = (cells["kind"] == "generated") & (cells["prime_ms"] == 0)
    for ms in (20, 40):
        cells.loc[unprimed, f"span@{ms}ms/kad/aisfx"] = cells.loc[unprimed, "cont/kad/aisfx"] + span_offset + 0.001 * ms
        cells.loc[unprimed, f"span@{ms}ms/recall/aisfx"] = cells.loc[unprimed, "cont/recall/aisfx"]
    return cells


def test_priming_compares_each_prime_with_the_unprimed_clips_on_its_own_span(tmp_path):
    """With span columns, a primed cell is paired with the unprimed cell's KAD on the same span:
    primes 0.05 below the whole clips but 0.05 above the unprimed clips' same span is *not* more
    fidelity (the old whole-clip pairing read it as reproduced)."""
    from benchbox.study.seed_findings import _paired_spans

    clips = _clips()
    cells = _with_spans(_cells(-0.05, 0.0), span_offset=-0.10)
    pairs = _paired_spans(cells, "kad/aisfx").set_index("run")
    assert len(pairs) == 8 and np.allclose(pairs["primed"] - pairs["unprimed"], 0.05)  # (-0.05 + 0.001 p) - (-0.10 + 0.001 p)
    found = {f["finding"][0]: f for f in six_findings(clips, cells, tmp_path)}["5"]
    assert found["verdict"] == NOT_REPRODUCED and "same span and kernel" in found["metric"]
    old = {f["finding"][0]: f for f in six_findings(clips, _cells(-0.05, 0.0), tmp_path)}["5"]
    assert old["verdict"] == REPRODUCED and "not one scale" in old["metric"]  # scores before version 10 fall back
    one_prime = cells.drop(columns=["span@40ms/kad/aisfx"])
    only20 = _paired_spans(one_prime, "kad/aisfx").set_index("run")
    assert np.allclose(only20["primed"] - only20["unprimed"], 0.05)  # the 40 ms cells have no partner: 20 ms alone


def test_minmax_ablation_runs_are_not_counted_in_the_six_findings(tmp_path):
    """A `_minmax` run is the loader ablation, not a run of the grid: adding one (every clip DC-flagged
    and useless) must change no count of findings 1-6, while the min-max finding still sees it."""
    grid = _study(n_runs=3, dc=0)
    scaled = _clips(n_best_useful=0, n_last_useful=0, dc=32, run="r0_minmax", sha_last="m")
    scaled = scaled[scaled["run"] == "r0_minmax"]
    alone = six_findings(grid, _floor(), tmp_path)
    mixed = six_findings(pd.concat([grid, scaled]), _floor(), tmp_path)
    assert [(f["verdict"], f["estimate"], f["test"]) for f in mixed] == [(f["verdict"], f["estimate"], f["test"]) for f in alone]
    assert "6 below" in mixed[0]["test"]  # 3 runs and their dropout-0.5 twins; not 7
    assert minmax_finding(pd.concat([grid, scaled]))["estimate"].startswith("min-max")
    with_minmax = "\n".join(findings_markdown(all_findings(pd.concat([grid, scaled]), _floor(), tmp_path)))
    assert "count the grid's runs only" in with_minmax  # the report says why its counts differ from other sections'
    assert "count the grid's runs only" not in "\n".join(findings_markdown(all_findings(grid, _floor(), tmp_path)))


def test_priming_pairs_cells_by_their_sampling_settings_and_names_runs_without_spans(tmp_path):
    """Two unprimed cells per (run, checkpoint) (a top-p sweep), rows shuffled: each primed cell pairs
    with the unprimed cell of its own top-p; a run scored before version 10 (no span values) is named."""
    from benchbox.study.seed_findings import _paired_spans

    parts = []
    for top_p, offset in ((1.0, 0.0), (0.9, 1.0)):
        cells = _with_spans(_cells(-0.05, 0.0, n_runs=3), span_offset=-0.10)
        cells["top_p"] = top_p
        for col in [c for c in cells.columns if "kad" in c]:
            cells[col] += offset  # the top-p 0.9 cells sit 1.0 higher on every KAD: a cross-pairing would show it
        parts.append(cells)
    both = pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=0)
    pairs = _paired_spans(both, "kad/aisfx").set_index("run")
    assert len(pairs) == 3 and np.allclose(pairs["primed"] - pairs["unprimed"], 0.05)
    old = both.copy()
    old.loc[old["run"] == "r2", ["span@20ms/kad/aisfx", "span@40ms/kad/aisfx"]] = np.nan
    found = {f["finding"][0]: f for f in six_findings(_clips(), old, tmp_path)}["5"]
    assert "left out" in found["metric"] and "r2" in found["metric"] and "(of 2)" in found["test"]


def test_priming_pairs_cells_whose_sampling_setting_is_n_a_and_skips_ambiguous_ones(tmp_path):
    """A run whose sampling_steps is n/a (NaN: every autoregressive run) was dropped by the pairing's
    group-by, so finding 5 fell back to whole clips though the span scores were there; NaN and the
    neutral value are one cell, as in the scores. A duplicated unprimed cell pairs with nothing."""
    from benchbox.study.seed_findings import _paired_spans

    cells = _with_spans(_cells(-0.05, 0.0, n_runs=3), span_offset=-0.10)
    cells["sampling_steps"] = np.nan
    cells["temperature"] = np.where(cells["prime_ms"] == 0, 1.0, np.nan)  # neutral 1.0 on one side, n/a on the other
    pairs = _paired_spans(cells, "kad/aisfx").set_index("run")
    assert len(pairs) == 3 and np.allclose(pairs["primed"] - pairs["unprimed"], 0.05)
    found = {f["finding"][0]: f for f in six_findings(_clips(), cells, tmp_path)}["5"]
    assert "same span and kernel" in found["metric"]
    doubled = pd.concat([cells, cells[(cells["run"] == "r0") & (cells["prime_ms"] == 0)]], ignore_index=True)
    assert sorted(_paired_spans(doubled, "kad/aisfx")["run"]) == ["r1", "r2"]


def test_an_absent_effect_is_ruled_out_only_when_every_run_rules_it_out_alone(tmp_path):
    """No clip is a sine. Twelve runs of 32 clips pool to 384 clips (Wilson upper bound 1.0%), but
    no single run's clips (0/32: upper bound 10.7%) rule sines out, so neither does the study; with
    96 clips a run (0/96: 3.8%, direct: z^2 / (n + z^2)) each run does."""
    z2 = 1.959963984540054 ** 2
    assert z2 / (32 + z2) > 0.05 > z2 / (96 + z2)
    small = {f["finding"][0]: f for f in six_findings(_study(n=32), _floor(), tmp_path)}
    big = {f["finding"][0]: f for f in six_findings(_study(n=96), _floor(), tmp_path)}
    assert small["3"]["verdict"] == INCONCLUSIVE and "ruled out" not in small["3"]["test"]
    assert big["3"]["verdict"] == NOT_REPRODUCED and "ruled out for these runs" in big["3"]["test"]
    one_flag = _study(n=96)
    one_flag.iloc[0, one_flag.columns.get_loc("cont/periodicity/flag")] = 1  # one sine anywhere: no longer ruled out
    assert "ruled out" not in {f["finding"][0]: f for f in six_findings(one_flag, _floor(), tmp_path)}["3"]["test"]
