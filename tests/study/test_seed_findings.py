import json

import pandas as pd

from benchbox.study.seed_findings import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, SMOKE, all_findings, findings_markdown, minmax_finding, six_findings


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


def test_each_finding_is_decided_from_the_counts(tmp_path):
    _log(tmp_path / "r", [5.0, 4.0, 4.5])  # val minimum then rise while train keeps falling
    found = {f["finding"][0]: f for f in six_findings(_clips(n_last_useful=11), _floor(), tmp_path)}
    assert found["1"]["verdict"] == REPRODUCED  # 13/96 useful: the CI [8.1, 21.8] lies below 25%
    assert six_findings(_clips(n_last_useful=30), _floor(), tmp_path)[0]["verdict"] == INCONCLUSIVE  # 32/96: CI spans 25%
    assert found["2"]["verdict"] == REPRODUCED  # 20/64 + 0/32 DC flags vs 0/21 real clips
    assert found["3"]["verdict"] == NOT_REPRODUCED  # 0/96 periodic: CI below 5%
    some = _clips(n_last_useful=11)
    some.loc[:2, "cont/periodicity/flag"] = 1  # 3 sines: present, but not above the real clips at this n
    assert six_findings(some, _floor(), tmp_path)[2]["verdict"] == INCONCLUSIVE
    assert found["4"]["verdict"] == NOT_REPRODUCED and "1 of 1 runs" in found["4"]["estimate"]  # last is better here
    assert found["6"]["verdict"] == REPRODUCED  # 28/32 silent at dropout 0.5


def test_identical_checkpoints_are_not_compared_and_small_n_is_inconclusive(tmp_path):
    clips = _clips(n_best_useful=1, n_last_useful=2, sha_last="a", silence_do05=3, n=8)
    found = {f["finding"][0]: f for f in six_findings(clips, _floor(), tmp_path)}
    assert found["4"]["verdict"] == INCONCLUSIVE and found["4"]["test"] == "not tested"
    assert found["6"]["verdict"] == INCONCLUSIVE  # 3/8 silent: the CI spans 50%
    assert minmax_finding(clips) is None
    text = "\n".join(findings_markdown(all_findings(clips, _floor(), tmp_path)))
    assert "no scored `_minmax` run yet" in text and text.count("| **") == 6


def test_a_smoke_test_study_decides_nothing(tmp_path):
    """Smoke-test studies keep the estimates but every verdict reads 'smoke test: not evidence'."""
    _log(tmp_path / "r", [5.0, 4.0, 4.5])
    rows = all_findings(_clips(n_last_useful=11), _floor(), tmp_path, smoke="the dataset is the procedural corpus")
    assert {r["verdict"] for r in rows} == {SMOKE} and "13/96" in rows[0]["estimate"]
    text = "\n".join(findings_markdown(rows, "the dataset is the procedural corpus"))
    assert "reproduced" not in text.lower() and "inconclusive" not in text and "procedural corpus" in text
    assert "ruled out" not in text  # finding 3 (0 sines) would read "ruled out" in a study


def test_minmax_pair_is_compared_on_dc_flags():
    plain = _clips(dc=2, run="s_linear_do0")
    scaled = _clips(dc=30, run="s_linear_do0_minmax")
    scaled = scaled[scaled["run"] == "s_linear_do0_minmax"]
    found = minmax_finding(pd.concat([plain, scaled]))
    assert found["verdict"] == "supported" and "min-max" in found["estimate"]


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
    assert lower["verdict"] == REPRODUCED and "8 paired model states" in lower["test"] and "-0.0" in lower["estimate"]  # 8 runs, best = last weights
    higher = {f["finding"][0]: f for f in six_findings(clips, _cells(+0.05, 0.0), tmp_path)}["5"]
    assert higher["verdict"] == NOT_REPRODUCED
    few = {f["finding"][0]: f for f in six_findings(clips, _cells(-0.05, 0.0, n_runs=1), tmp_path)}["5"]
    assert few["verdict"] == INCONCLUSIVE and "1 paired model states" in few["test"]


def test_paired_cells_are_one_per_model_state():
    """A run whose best and last hold the same weights counts once, and its 20 and 40 ms cells
    (which share one unprimed cell) are one pair: the mean of the two against the unprimed cell."""
    from benchbox.study.seed_findings import _paired_cells

    cells = _cells(-0.05, 0.0, n_runs=2)
    every = _paired_cells(cells, "cont/kad/aisfx")
    assert len(every) == 4  # 2 runs x 2 checkpoints, 20 and 40 ms averaged
    assert ((every["primed"] - every["unprimed"]).round(6) == -0.02).all()  # -0.05 + 0.001 x mean(20, 40)
    assert len(_paired_cells(cells, "cont/kad/aisfx", distinct=["r0"])) == 3  # r1's best = last: once
