"""The families study's questions on synthetic score tables (no training)."""

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


def test_diffusion_clearly_better_is_reproduced():
    clips = pd.concat([_clips("specdiff-cpu_x", 64, 40), _clips("sashimi-cpu_mulaw_do0", 64, 3)])
    (row,) = family_question(clips, _families(clips))
    assert row["verdict"] == "reproduced (favours diffusion)"


def test_autoregression_clearly_better_is_not_reproduced():
    clips = pd.concat([_clips("specdiff-cpu_x", 64, 2), _clips("sashimi-cpu_mulaw_do0", 64, 40)])
    (row,) = family_question(clips, _families(clips))
    assert row["verdict"] == "not reproduced (favours autoregressive)"


def test_too_few_clips_is_inconclusive_even_with_a_big_gap():
    clips = pd.concat([_clips("specdiff-cpu_x", 16, 16), _clips("sashimi-cpu_mulaw_do0", 16, 0)])
    (row,) = family_question(clips, _families(clips))
    assert row["verdict"] == "inconclusive at this n" and "under 32" in row["test"]


def test_gan_row_appears_only_when_scored_and_is_corrected():
    clips = pd.concat([_clips("specdiff-cpu_x", 64, 30), _clips("sashimi-cpu_mulaw_do0", 64, 30), _clips("hifiwavegan-cpu_x", 64, 30)])
    rows = family_question(clips, _families(clips))
    assert [r["question"] for r in rows] == ["family: diffusion beats autoregressive", "family: diffusion beats gan"]
    assert all(r["verdict"] == "inconclusive at this n" and "Bonferroni" in r["test"] for r in rows)


def test_backbone_and_representation():
    clips = pd.concat([_clips("sashimi-diffwave-cpu_a", 64, 40), _clips("diffwave-cpu_a", 64, 2), _clips("specdiff-cpu_a", 64, 5)])
    backbone = {"sashimi-diffwave-cpu_a": "sashimi", "diffwave-cpu_a": "wavenet"}
    representation = {"sashimi-diffwave-cpu_a": "raw", "diffwave-cpu_a": "raw", "specdiff-cpu_a": "spectrogram"}
    bb, rep = backbone_question(clips, backbone, representation)
    assert bb["verdict"] == "reproduced (favours sashimi)"
    assert rep["verdict"] == "not reproduced (favours raw)"  # 5/64 spectrogram vs 42/128 raw
    clips2 = pd.concat([_clips("sashimi-diffwave-cpu_a", 64, 1), _clips("diffwave-cpu_a", 64, 1), _clips("specdiff-cpu_a", 64, 50)])
    _, rep2 = backbone_question(clips2, backbone, representation)
    assert rep2["verdict"] == "reproduced (favours spectrogram)"


def test_per_family_findings_mark_missing_axes_na():
    clips = pd.concat([_clips("hifiwavegan-cpu_x", 40, 4), _clips("sashimi-cpu_mulaw_do0", 40, 4, prime_ms=20.0)])
    rows = per_family_findings(clips, pd.DataFrame(columns=["run", "kind"]), __import__("pathlib").Path("/nonexistent"), _families(clips))
    gan = {r["finding"][:2]: r["verdict"] for r in rows if r["family"] == "gan"}
    assert gan["5."] == "n/a" and gan["6."] == "n/a"
    assert gan["1."] == "reproduced"  # 4/40 useful: CI below 25%


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

    clips = pd.concat([_clips("specdiff-cpu_mulaw", 64, 40), _clips("sashimi-cpu_mulaw_do0", 64, 3)])
    proto = SimpleNamespace(families={"specdiff-cpu": "diffusion", "sashimi-cpu": "autoregressive"},
                            backbones={}, representations={"specdiff-cpu": "spectrogram"})
    text = "\n".join(family_markdown(clips, pd.DataFrame(columns=["run", "kind"]), tmp_path, proto))
    assert "| family: diffusion beats autoregressive | **reproduced (favours diffusion)** |" in text
    assert "| diffusion | `specdiff-cpu_mulaw/specdiff-cpu_mulaw/0.0/" in text  # the listening rule's picks (run/path)
    smoke = "\n".join(family_markdown(clips, pd.DataFrame(columns=["run", "kind"]), tmp_path, proto, smoke="procedural corpus"))
    assert "reproduced (favours" not in smoke and "smoke test: not evidence" in smoke
    assert family_markdown(clips, pd.DataFrame(), tmp_path, SimpleNamespace(families={}, backbones={}, representations={})) == []
