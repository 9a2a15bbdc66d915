"""The study's sampling axes (reference cells, the sampling question, group keys) and the
families listening section (Opus copies, the figure, the players)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchbox.audio import write_wav
from benchbox.score import group_key, with_group_columns
from benchbox.study.family_findings import sampling_question
from benchbox.study.protocol import load_protocol
from benchbox.study.sampling import at_reference

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = ROOT / "protocols" / "footsteps-families-cpu.toml"
RATE_HZ, CLIP_SAMPLES = 16_000, 8192


def _clips(run: str, n: int, useful: int, **settings) -> pd.DataFrame:
    return pd.DataFrame({"run": run, "path": [f"samples/best/prime0/{run}-clip_{i:04d}.wav" for i in range(n)], "checkpoint": "best",
                         "prime_ms": 0.0, "dropout": 0.0, "cont/useful/auto": [1.0] * useful + [0.0] * (n - useful),
                         "cont/footstep/p": np.linspace(0, 1, n), "sample_rate_hz": RATE_HZ,
                         "temperature": np.nan, "top_p": np.nan, "sampling_steps": np.nan, **settings})


def test_group_keys_grow_only_away_from_the_neutral_setting():
    base = {"generator": "wavenet", "quantisation": "mulaw", "dropout": 0.0, "checkpoint": "best", "prime_ms": 0}
    assert group_key(base) == group_key({**base, "temperature": 1.0, "top_p": "1.0", "sampling_steps": 0}) == "wavenet/mulaw/0/best/0"
    assert group_key({**base, "top_p": 0.95}) == "wavenet/mulaw/0/best/0//0.95"
    assert group_key({**base, "top_p": np.nan, "sampling_steps": "25.0"}) == "wavenet/mulaw/0/best/0///25"
    old = pd.DataFrame({"group": ["a"], "prime_ms": [0]})  # a groups.csv scored before the sampling columns
    assert {"top_p", "sampling_steps", "temperature"} <= set(with_group_columns(old).columns)


def test_reference_cells_and_the_sampling_question():
    proto = load_protocol(FAMILIES)
    assert proto.sweep.sampling_axes(proto.generate) == {"temperature": (1.0,), "top_p": (1.0, 0.95), "sampling_steps": (50, 25)}
    ar = [f"sashimi-cpu_mulaw_do0_s{i}" for i in range(6)]  # six runs: a signed-rank test over runs can decide
    clips = pd.concat([
        *[_clips(r, 40, 4, top_p=1.0, temperature=1.0) for r in ar], *[_clips(r, 40, 36, top_p=0.95, temperature=1.0) for r in ar],
        _clips("specdiff-cpu_mulaw", 40, 20, sampling_steps=50.0), _clips("specdiff-cpu_mulaw", 40, 21, sampling_steps=25.0),
        _clips("hifiwavegan-cpu_mulaw", 40, 10),  # no sampling setting at all: n/a, at the reference
    ], ignore_index=True)
    ref = at_reference(clips, proto)
    assert len(ref) == 320 and set(ref["top_p"].dropna()) == {1.0} and set(ref["sampling_steps"].dropna()) == {50.0}
    family_of = {**{r: "autoregressive" for r in ar}, "specdiff-cpu_mulaw": "diffusion", "hifiwavegan-cpu_mulaw": "gan"}
    rows = {r["question"]: r for r in sampling_question(clips, family_of, proto)}
    assert set(rows) == {"sampling: top-p 0.95 beats top-p 1 (autoregressive)", "sampling: 50 steps beats 25 steps (diffusion)"}
    assert rows["sampling: top-p 0.95 beats top-p 1 (autoregressive)"]["verdict"].startswith("reproduced (favours top-p 0.95)")
    assert rows["sampling: 50 steps beats 25 steps (diffusion)"]["verdict"] == "undecidable with these runs"  # one diffusion run
    assert at_reference(clips.drop(columns=["top_p", "sampling_steps", "temperature"]), proto).shape[0] == len(clips)  # older tables


def test_the_sampling_question_pairs_clip_i_per_run_and_tests_over_runs():
    """Clip i of one cell is matched with clip i of the other (rows arrive shuffled; an unpartnered
    clip is left out). Each run's mean paired difference is one observation: one run with 8 vs 0
    discordant pairs is significant by McNemar over its clips (p = 2/256) but not evidence about
    the sampler; six such runs are (signed-rank p = 2/64)."""
    import math

    from benchbox.study.family_findings import clip_pairs

    proto = load_protocol(FAMILIES)

    def run(name):
        ref, alt = _clips(name, 64, 32, top_p=1.0), _clips(name, 65, 40, top_p=0.95)
        alt["cont/useful/auto"] = [1.0] * 40 + [0.0] * 25  # clips 0-31 useful in both, 32-39 only at top-p 0.95
        return ref, alt

    ref, alt = run("sashimi-cpu_mulaw_do0")
    clips = pd.concat([ref, alt], ignore_index=True).sample(frac=1.0, random_state=3)
    pairs = clip_pairs(clips[clips["top_p"] == 0.95], clips[clips["top_p"] == 1.0])
    assert len(pairs) == 64 and pairs["a"].sum() == 40 and pairs["b"].sum() == 32  # clip 64 has no partner
    (row,) = [r for r in sampling_question(clips, {"sashimi-cpu_mulaw_do0": "autoregressive"}, proto) if "top-p" in r["question"]]
    direct = 2 * sum(math.comb(8, k) for k in range(1)) / 2 ** 8  # two-sided exact binomial, 8 vs 0 discordant pairs
    assert f"clip-level exact McNemar p = {direct:.2g}" in row["test"] and row["verdict"] == "undecidable with these runs"  # one run
    assert "64 clip pairs in 1 runs" in row["estimate"] and "+12.5 points" in row["estimate"]
    six = pd.concat([part for i in range(6) for part in run(f"sashimi-cpu_mulaw_do0_s{i}")], ignore_index=True)
    (row,) = [r for r in sampling_question(six, {f"sashimi-cpu_mulaw_do0_s{i}": "autoregressive" for i in range(6)}, proto) if "top-p" in r["question"]]
    assert row["verdict"] == "reproduced (favours top-p 0.95)" and "p = 0.0312 over runs (6 with a non-zero difference)" in row["test"]
    unpaired = _clips("sashimi-cpu_mulaw_do0", 64, 32, top_p=0.95).assign(checkpoint="last")  # another checkpoint: no partners
    (row,) = [r for r in sampling_question(pd.concat([ref, unpaired]), {"sashimi-cpu_mulaw_do0": "autoregressive"}, proto) if "top-p" in r["question"]]
    assert row["verdict"] == "not tested" and "under 32 clip pairs" in row["test"]


@pytest.fixture
def study(tmp_path):
    """Two runs' clips on disk (a burst and a tone), picked by the listening rule."""
    from benchbox.study.family_findings import listen_examples

    t = np.arange(CLIP_SAMPLES) / RATE_HZ
    frames = []
    for run, useful in (("specdiff-cpu_mulaw", 3), ("sashimi-cpu_mulaw_do0", 0)):
        part = _clips(run, 4, useful)
        for i, rel in enumerate(part["path"]):
            write_wav(tmp_path / "runs" / run / rel, (0.3 * np.sin(2 * np.pi * 220 * (i + 1) * t) * np.exp(-8 * t)).astype(np.float32), RATE_HZ)
        frames.append(part)
    clips = pd.concat(frames, ignore_index=True)
    return tmp_path, listen_examples(clips, {"specdiff-cpu_mulaw": "diffusion", "sashimi-cpu_mulaw_do0": "autoregressive"})


def test_picked_clips_are_kept_small_drawn_and_played_even_without_the_originals(study):
    import shutil

    from benchbox.audio import load_audio
    from benchbox.study import listen

    out, picks = study
    kept = listen.keep_clips(out, picks)
    assert set(kept) == {"diffusion", "autoregressive"} and "useful" not in kept["autoregressive"]
    files, size = listen.kept_bytes(out)
    assert files == 3 + 1 + 3 and size < files * 4096  # Opus: a few kB a clip, not the 16 kB of a wav
    copy = kept["diffusion"]["useful"][0][1]
    first = copy.read_bytes()
    listen.keep_clips(out, picks)  # a re-run report writes the same bytes (no random Ogg serial, no version tag)
    assert copy.read_bytes() == first
    assert copy.suffix == ".ogg" and load_audio(copy, RATE_HZ).shape[0] >= CLIP_SAMPLES - 64  # decodes back to the clip's length
    assert listen.families_figure(out, kept, out / "figures" / "f.png").is_file()
    page = listen.families_html(kept)
    assert page.count('src="data:audio/ogg;base64,') == files and "rejected" in page
    text = "\n".join(listen.listen_markdown(out, kept, ("figures/f.png", out / "figures" / "f.png")))
    assert f"{files} Ogg/Opus files" in text and "KiB in all" in text
    shutil.rmtree(out / "runs")  # a committed study: the clips are gone, the copies stay
    again = listen.keep_clips(out, picks)
    assert listen.kept_bytes(out) == (files, size) and listen.families_figure(out, again, out / "figures" / "g.png").is_file()
    (out / "listen" / "diffusion" / "stale.ogg").write_bytes(b"x")
    listen.keep_clips(out, picks)
    assert not (out / "listen" / "diffusion" / "stale.ogg").exists()  # no pick names it


def test_the_report_decides_at_the_reference_setting_and_shows_each_familys_clips(tmp_path):
    """The committed seed study, given footstep/p scores, a top-p 0.95 copy of one run and its
    unprimed clips on disk: the report asks the sampling question, draws and plays the picks."""
    import shutil
    from types import SimpleNamespace

    from benchbox.study.report import write_report

    out = tmp_path / "study"
    shutil.copytree(ROOT / "results" / "footsteps-seed-cpu", out, ignore=shutil.ignore_patterns("report.*", "figures"))
    total = sum(len(pd.read_csv(csv)) for csv in (out / "runs").glob("*/scores/clips.csv"))  # the study's clips before the copies
    rng = np.random.default_rng(0)
    t = np.arange(CLIP_SAMPLES) / RATE_HZ
    for csv in sorted((out / "runs").glob("*/scores/clips.csv")):
        clips = pd.read_csv(csv).assign(**{"cont/footstep/p": lambda f: rng.uniform(size=len(f)), "top_p": 1.0})
        if csv.parts[-3] == "sashimi-cpu_mulaw_do0":
            other = clips.assign(top_p=0.95, path=clips["path"].str.replace("/prime", "/p95prime"))
            clips = pd.concat([clips, other], ignore_index=True)
        clips.to_csv(csv, index=False)
        for rel in clips[clips["prime_ms"] == 0]["path"]:
            write_wav(csv.parents[1] / rel, np.clip(0.3 * rng.standard_normal(CLIP_SAMPLES) * np.exp(-20 * t), -1, 1).astype(np.float32), RATE_HZ)
    sets = ['families={"sashimi-cpu" = "autoregressive", "wavenet-cpu" = "autoregressive"}', "sweep.top_p=[1.0, 0.95]"]
    proto = load_protocol(out / "protocol.toml", overrides=sets)
    write_report(SimpleNamespace(out=out, proto=proto, command="benchbox run x", protocol_path=None, data_dir=None))
    text, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert "| sampling: top-p 0.95 beats top-p 1 (autoregressive) |" in text
    assert f"({total} at the reference sampling setting)" in text and total >= 1024  # the seed findings never see the top-p 0.95 copies
    assert "figures/families-listen.png" in text and (out / "figures" / "families-listen.png").is_file()
    assert "#### The best 5 cells" in text and "figures/best-cells-listen.png" in text
    cells = len(list((out / "listen").glob("cell-*/*.ogg")))  # 3 a best cell whose clips are on disk (here: the unprimed)
    assert 0 < cells <= 15 and cells % 3 == 0 and len(list((out / "listen").glob("*/*.ogg"))) == 6 + cells
    assert f"{6 + cells} Ogg/Opus files" in text and page.count("data:audio/ogg;base64,") == 6 + cells
    assert "p95prime" not in text.split("### Listen before you believe")[1]  # the listening picks are reference clips


def test_without_a_category_model_the_picks_go_by_path_and_read_na(tmp_path):
    from benchbox.study import listen
    from benchbox.study.family_findings import listen_examples

    clips = _clips("specdiff-cpu_mulaw", 5, 0).drop(columns="cont/footstep/p").sample(frac=1.0, random_state=0)
    picks = listen_examples(clips, {"specdiff-cpu_mulaw": "diffusion"})["diffusion"]
    assert [p["path"] for p in picks["rejected"]] == [f"samples/best/prime0/specdiff-cpu_mulaw-clip_{i:04d}.wav" for i in (0, 2, 4)]
    assert listen._p(picks["rejected"][0]) == "n/a"


def test_best_cells_rank_by_useful_rate_without_the_baselines():
    from benchbox.study.family_findings import best_cells

    clips = pd.concat([_clips("specdiff-cpu_mulaw", 10, 9), _clips("sashimi-cpu_mulaw_do0", 10, 5), _clips("ngram_mulaw", 10, 10),
                       _clips("sashimi-cpu_mulaw_do0", 20, 10).assign(checkpoint="last")], ignore_index=True)
    family_of = {"specdiff-cpu_mulaw": "diffusion", "sashimi-cpu_mulaw_do0": "autoregressive", "ngram_mulaw": "baseline"}
    best = best_cells(clips, family_of, k=2)
    assert [(c["run"], c["checkpoint"]) for c in best] == [("specdiff-cpu_mulaw", "best"), ("sashimi-cpu_mulaw_do0", "last")]  # 0.5 tie: more clips first
    assert best[0]["useful"].startswith("90.0%") and len(best[0]["picks"]) == 3
