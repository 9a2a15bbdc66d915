"""The families study's questions on synthetic score tables (no training)."""

from pathlib import Path

import pandas as pd

from benchbox.study.family_findings import (
    backbone_question, families_of_runs, family_question, listen_examples, per_family_findings,
)

PRESETS = {"sashimi-cpu": "autoregressive", "sashimi-diffwave-cpu": "diffusion", "specdiff-cpu": "diffusion",
           "diffwave-cpu": "diffusion", "hifiwavegan-cpu": "gan"}


def _clips(run: str, n: int, useful: int, prime_ms: float = 0.0, dropout: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"run": run, "path": [f"{run}/{prime_ms}/{i:03d}.wav" for i in range(n)],
                         "checkpoint": "best", "prime_ms": prime_ms, "dropout": dropout,
                         "cont/useful/auto": [1.0] * useful + [0.0] * (n - useful),
                         "cont/footstep/p": [i / n for i in range(n)],
                         "cont/dc/flag": 0.0, "cont/periodicity/flag": 0.0, "cont/silence/flag": 0.0})


def _families(clips):
    return families_of_runs(sorted(clips["run"].unique()), PRESETS)


def test_longest_preset_names_the_family():
    got = families_of_runs(["sashimi-diffwave-cpu_best", "sashimi-cpu_mulaw_do0", "ngram_mulaw_do0"], PRESETS)
    assert got == {"sashimi-diffwave-cpu_best": "diffusion", "sashimi-cpu_mulaw_do0": "autoregressive"}


def _runs(preset: str, useful: list[int], n: int = 64) -> pd.DataFrame:
    """One run of ``preset`` per entry of ``useful`` (its useful clips of ``n``)."""
    return pd.concat([_clips(f"{preset}_s{i}", n, k) for i, k in enumerate(useful)])


def _families_of(clips):
    return families_of_runs(sorted(clips["run"].unique()), PRESETS)


def test_diffusion_clearly_better_is_reproduced_over_runs():
    clips = pd.concat([_runs("specdiff-cpu", [40, 38, 44, 41]), _runs("sashimi-cpu", [3, 5, 2, 4])])
    (row,) = family_question(clips, _families_of(clips))
    assert row["verdict"] == "reproduced (favours diffusion)"
    assert "exact permutation p = 0.0286 over runs (4 vs 4)" in row["test"]  # 2 of the C(8, 4) = 70 splits are as extreme
    assert "4 runs: 68.8%, 64.1%, 62.5%, 59.4%" in row["estimate"]


def test_one_run_a_side_is_never_a_family_claim_however_many_clips():
    """The clip-level Fisher p is astronomically small, but one run against one run decides nothing: the
    verdict says no outcome of these runs could (undecidable), not that more clips might (inconclusive at this n)."""
    clips = pd.concat([_clips("specdiff-cpu_x", 640, 400), _clips("sashimi-cpu_mulaw_do0", 640, 30)])
    (row,) = family_question(clips, _families_of(clips))
    assert row["verdict"] == "undecidable with these runs" and "exact permutation p = 1 over runs (1 vs 1)" in row["test"]
    assert "with 1 vs 1 runs no outcome gives p under 1" in row["test"]
    assert "clip-level Fisher p = " in row["test"] and "these runs' clips only" in row["test"]


def test_one_good_run_does_not_carry_a_family():
    """Diffusion's pooled rate is high because one of its runs is; the run rates overlap the other family's."""
    clips = pd.concat([_runs("specdiff-cpu", [60, 1, 0]), _runs("sashimi-cpu", [0, 0, 2, 1, 0, 1])])
    (row,) = family_question(clips, _families_of(clips))
    assert row["verdict"] == "inconclusive at this n"


def test_autoregression_clearly_better_is_not_reproduced():
    clips = pd.concat([_runs("specdiff-cpu", [2, 1, 3, 0]), _runs("sashimi-cpu", [40, 41, 39, 44])])
    (row,) = family_question(clips, _families_of(clips))
    assert row["verdict"] == "not reproduced (favours autoregressive)"


def test_too_few_clips_is_not_tested_even_with_a_big_gap():
    clips = pd.concat([_clips("specdiff-cpu_x", 16, 16), _clips("sashimi-cpu_mulaw_do0", 16, 0)])
    (row,) = family_question(clips, _families(clips))
    assert row["verdict"] == "not tested" and "not tested: a side has under 32" in row["test"]


def test_gan_row_appears_only_when_scored_and_is_corrected():
    clips = pd.concat([_runs("specdiff-cpu", [30, 31]), _runs("sashimi-cpu", [30, 29]), _runs("hifiwavegan-cpu", [30, 30])])
    rows = family_question(clips, _families_of(clips))
    assert [r["question"] for r in rows] == ["family: diffusion beats autoregressive (unprimed clips)", "family: diffusion beats gan (unprimed clips)"]
    assert all(r["verdict"] == "undecidable with these runs" for r in rows)  # 2 vs 2 runs: 1/3 at best
    four = pd.concat([_runs("specdiff-cpu", [40, 38, 44, 41]), _runs("sashimi-cpu", [3, 5, 2, 4]), _runs("hifiwavegan-cpu", [3, 4, 2, 5])])
    rows = family_question(four, _families_of(four), "top-p 1, 50 steps")
    assert rows[0]["question"] == "family: diffusion beats autoregressive (unprimed clips, top-p 1, 50 steps)"
    assert all("p = 0.0571 over runs (4 vs 4) (Bonferroni x2, Tarone's rule: 0 of 2 comparisons can reach p < 0.025)" in r["test"]
               and r["verdict"] == "undecidable with these runs" for r in rows)  # 1/35 each: both under 0.05, neither under 0.025


def test_a_comparison_that_cannot_succeed_spends_none_of_the_level():
    """Tarone's rule: diffusion's 4 runs against the GAN's one can give p = 1/5 at best, so that
    comparison is undecidable and the one against autoregression keeps the whole level (x1)."""
    clips = pd.concat([_runs("specdiff-cpu", [40, 38, 44, 41]), _runs("sashimi-cpu", [3, 5, 2, 4]), _runs("hifiwavegan-cpu", [3])])
    ar, gan = family_question(clips, _families_of(clips))
    assert ar["verdict"] == "reproduced (favours diffusion)" and "p = 0.0286 over runs (4 vs 4) (Bonferroni x1, Tarone's rule: 1 of 2 comparisons can reach p < 0.05)" in ar["test"]
    assert gan["verdict"] == "undecidable with these runs"


def test_each_comparison_is_tested_once_under_tarones_rule(monkeypatch):
    """Tarone's factor needs every comparison's floor before any row is read: the tests still run once each."""
    import benchbox.study.family_findings as ff

    ran = []
    monkeypatch.setattr(ff, "permutation_p", lambda a, b, real=ff.permutation_p: ran.append(1) or real(a, b))
    clips = pd.concat([_runs("specdiff-cpu", [40, 38, 44, 41]), _runs("sashimi-cpu", [3, 5, 2, 4]), _runs("hifiwavegan-cpu", [3])])
    assert len(family_question(clips, _families_of(clips))) == 2 and len(ran) == 2


def test_the_family_question_compares_unprimed_clips_only():
    """Primed cells exist for the AR runs only (a GAN has no prime capability): they stay out of the run rates."""
    primed = pd.concat([_clips(f"sashimi-cpu_s{i}", 64, 64, prime_ms=20.0) for i in range(4)])  # all useful, but primed
    clips = pd.concat([_runs("specdiff-cpu", [40, 38, 44, 41]), _runs("sashimi-cpu", [3, 5, 2, 4]), primed])
    (row,) = family_question(clips, _families_of(clips))
    assert row["verdict"] == "reproduced (favours diffusion)" and "4 runs: 6.2%, 4.7%, 3.1%, 7.8%" not in row["estimate"]
    assert "autoregressive 5.5% of clips (14/256)" in row["estimate"]


def test_backbone_and_representation():
    clips = pd.concat([_runs("sashimi-diffwave-cpu", [40, 42, 39, 41]), _runs("diffwave-cpu", [2, 1, 3, 2]),
                       _runs("specdiff-cpu", [5, 4, 6, 5])])
    runs = sorted(clips["run"].unique())
    backbone = {r: ("sashimi" if r.startswith("sashimi") else "wavenet") for r in runs if not r.startswith("specdiff")}
    representation = {r: ("spectrogram" if r.startswith("specdiff") else "raw") for r in runs}
    bb, rep = backbone_question(clips, backbone, representation)
    assert bb["verdict"] == "undecidable with these runs"  # 4 vs 4 runs: p = 0.029 at best, x2 (Bonferroni) = 0.057
    assert "p = 0.0571" in bb["test"]
    assert rep["verdict"] == "inconclusive at this n"  # spectrogram's runs sit between raw's two kinds
    one = backbone_question(pd.concat([_clips("sashimi-diffwave-cpu_a", 64, 60), _clips("diffwave-cpu_a", 64, 1)]),
                            {"sashimi-diffwave-cpu_a": "sashimi", "diffwave-cpu_a": "wavenet"}, {})[0]
    assert one["verdict"] == "undecidable with these runs"  # one run a side


def test_per_family_findings_mark_missing_axes_na():
    gans = pd.concat([_clips(f"hifiwavegan-cpu_s{i}", 40, 4) for i in range(6)])
    clips = pd.concat([gans, _clips("sashimi-cpu_mulaw_do0", 40, 4, prime_ms=20.0)])
    rows = per_family_findings(clips, pd.DataFrame(columns=["run", "kind"]), __import__("pathlib").Path("/nonexistent"), _families(clips))
    gan = {r["finding"][:2]: r["verdict"] for r in rows if r["family"] == "gan"}
    assert gan["5."] == "n/a" and gan["6."] == "n/a"
    assert gan["1."] == "reproduced"  # 6 runs, each 10% useful: all below 25%, sign test p = 2 / 64
    ar = {r["finding"][:2]: r["verdict"] for r in rows if r["family"] == "autoregressive"}
    assert ar["1."] == "undecidable with these runs"  # one run: a sign test over one run cannot decide


def test_listen_examples_take_the_10th_50th_90th_percentile_by_footstep_p():
    clips = _clips("specdiff-cpu_x", 21, 11)  # useful: p = 0..10/21, rejected: 11..20/21
    picks = listen_examples(clips, _families(clips))["diffusion"]
    assert [p["cont/footstep/p"] for p in picks["useful"]] == [1 / 21, 5 / 21, 9 / 21]  # indices round(q * 10)
    assert [p["cont/footstep/p"] for p in picks["rejected"]] == [12 / 21, 15 / 21, 19 / 21]  # indices 1, 4 (half to even), 8
    none = listen_examples(_clips("specdiff-cpu_x", 4, 0), PRESETS | {"specdiff-cpu_x": "diffusion"})["diffusion"]
    assert none["useful"] == [] and len(none["rejected"]) == 3
    one = listen_examples(_clips("specdiff-cpu_x", 2, 1), PRESETS | {"specdiff-cpu_x": "diffusion"})["diffusion"]
    assert len(one["useful"]) == 1  # a set of one clip: that clip, once


def test_the_report_section_reads_the_protocols_tables_and_smoke_decides_nothing(tmp_path):
    from types import SimpleNamespace

    from benchbox.study.family_findings import family_markdown

    clips = pd.concat([_runs("specdiff-cpu", [40, 38, 44, 41]), _runs("sashimi-cpu", [3, 5, 2, 4])])
    from benchbox.study.protocol import load_protocol

    sweep = load_protocol(Path(__file__).resolve().parents[2] / "protocols" / "footsteps-families-cpu.toml")  # top-p 1.0/0.95, 50/25 steps
    proto = SimpleNamespace(families={"specdiff-cpu": "diffusion", "sashimi-cpu": "autoregressive"},
                            backbones={}, representations={"specdiff-cpu": "spectrogram"}, sweep=sweep.sweep, generate=sweep.generate)
    text = "\n".join(family_markdown(clips, pd.DataFrame(columns=["run", "kind"]), tmp_path, proto))
    assert "| family: diffusion beats autoregressive (unprimed clips, top-p 1, 50 steps) | **reproduced (favours diffusion)** |" in text
    assert "| diffusion | `specdiff-cpu_s" in text  # the listening rule's picks (run/path)
    assert "decided over **runs**, not clips" in text
    # "not tested" means one thing in both sections: the seed's said more clips or runs would not change it, this one's was "a side under 32 clips"
    assert "**not tested**: the study holds nothing this test can use (the test column says why), here a side with under 32 clips" in text
    assert "the seed's findings below use every cell at the reference sampling setting (top-p 1, 50 steps), primed ones too" in text
    smoke = "\n".join(family_markdown(clips, pd.DataFrame(columns=["run", "kind"]), tmp_path, proto, smoke="procedural corpus"))
    assert "reproduced (favours" not in smoke and "smoke test: not evidence" in smoke
    assert family_markdown(clips, pd.DataFrame(), tmp_path, SimpleNamespace(families={}, backbones={}, representations={})) == []


def test_the_seed_findings_of_a_families_study_are_decided_on_its_autoregressive_runs():
    """Diffusion's and the baselines' runs would otherwise count in finding 1 ("fewer than 25% useful")."""
    from types import SimpleNamespace

    from benchbox.study.family_findings import seed_scope

    clips = pd.concat([_runs("specdiff-cpu", [60, 61]), _runs("sashimi-cpu", [3, 5, 2]), _clips("ngram_mulaw", 64, 0)])
    groups = pd.DataFrame({"run": ["specdiff-cpu_s0", "sashimi-cpu_s0", "sashimi-cpu_s0"], "kind": ["generated", "generated", "floor"]})
    proto = SimpleNamespace(families={**PRESETS, "ngram": "baseline"}, backbones={}, representations={})
    got, cells, note = seed_scope(clips, groups, proto)
    assert set(got["run"]) == {"sashimi-cpu_s0", "sashimi-cpu_s1", "sashimi-cpu_s2"} and note == "autoregressive runs (3 of 6)"
    assert list(cells["kind"]) == ["generated", "floor"] and set(cells["run"]) == {"sashimi-cpu_s0"}
    assert seed_scope(clips, groups, SimpleNamespace(families={}))[0] is clips  # no families table: every run
    only_ar = clips[clips["run"].str.startswith("sashimi")]
    assert seed_scope(only_ar, groups, proto)[2] == ""  # nothing left out: no note


def test_the_tarone_note_counts_the_comparisons_that_can_reach_the_level_not_the_factor():
    """Floors 1 and 1/3 (one run against one; 1 vs 2): K = 1, and none of the two can reach 0.05."""
    clips = pd.concat([_clips("sashimi-diffwave-cpu_a", 64, 60), _clips("diffwave-cpu_a", 64, 1), _clips("specdiff-cpu_a", 64, 50),
                       _clips("diffwave-cpu_b", 64, 2)])
    runs = sorted(clips["run"].unique())
    backbone = {r: ("sashimi" if r.startswith("sashimi") else "wavenet") for r in runs if not r.startswith("specdiff")}
    representation = {r: ("spectrogram" if r.startswith("specdiff") else "raw") for r in runs}
    for row in backbone_question(clips, backbone, representation):
        assert row["verdict"] == "undecidable with these runs" and "Tarone's rule: 0 of 2 comparisons can reach p < 0.05" in row["test"]


def test_the_quality_axis_counts_the_detectors_and_nothing_else():
    """A flag column that is not an artefact detector's (say a future `cont/foo/flag`) does not make a clip
    an artefact; every detector's flag does, each on its own."""
    from benchbox.metrics.artifacts import DETECTORS
    from benchbox.study.family_findings import _artefact_free

    rows = [{f"cont/{d}/flag": int(d == flagged) for d in DETECTORS} for flagged in DETECTORS]
    rows.append({**{f"cont/{d}/flag": 0 for d in DETECTORS}, "cont/foo/flag": 1})
    got = _artefact_free(pd.DataFrame(rows))
    assert list(got) == [0.0] * len(DETECTORS) + [1.0]
