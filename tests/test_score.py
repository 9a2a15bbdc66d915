"""score_run on tiny fake runs and folders, with the mel embedder."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from benchbox.audio import load_audio, write_wav
from benchbox.data.dataset import clip_sha256, load_dataset
from benchbox.errors import DataError, MetricError
from benchbox.metrics import category
from benchbox.metrics.artifacts import DETECTORS
from benchbox.runs import sha256_audio
from benchbox.score import FLOOR_GROUP, GROUP_COLUMNS, ScoreConfig, diversity, score_run
from benchbox.stats import wilson_interval
from tests.score_helpers import CLIPS_PER_GROUP, RATE_HZ, make_dataset, make_run, rewrite_clip, sine, step

BOOTSTRAP = 50


@pytest.fixture
def setup(tmp_path, rng):
    data = make_dataset(tmp_path / "data", rng)
    run = make_run(tmp_path / "run", data, rng)
    return run, data, ScoreConfig(cache_dir=str(tmp_path / "cache"))


def _score(path, config, **kw):
    kw.setdefault("embedders", ("mel",))
    return score_run(path, bootstrap=BOOTSTRAP, config=config, **kw)


def test_run_writes_every_file_with_the_documented_columns(setup):
    run, _, config = setup
    result = _score(run, config)
    out = run / "scores"
    for name in ("clips.csv", "groups.csv", "scores.json", "skipped.csv", "score_config.toml", "versions.json"):
        assert (out / name).is_file(), name
    groups = pd.read_csv(out / "groups.csv", keep_default_na=False, na_values=[""])
    expected = {"group", "kind", "n", *GROUP_COLUMNS, "fad/mel", "fad/mel/lo", "fad/mel/hi", "kad/mel", "kad/mel/lo", "kad/mel/hi",
                "diversity/mel", "useful/auto_rate", "useful/auto_lo", "useful/auto_hi", *(f"{d}/flag_rate" for d in DETECTORS)}
    assert expected <= set(groups.columns)
    assert list(groups["group"]) == list(result.groups["group"])
    assert groups["kind"].tolist() == ["generated", "generated", FLOOR_GROUP]
    assert sorted(groups["prime_ms"].dropna().astype(int)) == [0, 100]
    clips = pd.read_csv(out / "clips.csv")
    assert len(clips) == 2 * CLIPS_PER_GROUP
    assert list(clips.columns[:2]) == ["path", "sha256"] and "logprob_mean" in clips.columns and "useful/auto" in clips.columns


def test_group_values_match_the_clips(setup):
    run, _, config = setup
    result = _score(run, config)
    for row in result.groups[result.groups["kind"] == "generated"].to_dict("records"):
        assert row["n"] == CLIPS_PER_GROUP
        assert row["periodicity/flag_rate"] == pytest.approx(1 / CLIPS_PER_GROUP)  # one sine per group
        # The rate is the group's own clips' verdicts (the category model decides the steps;
        # the sine is flagged whatever it says), with a Wilson CI computed directly.
        cell = result.clips[result.clips["prime_ms"] == row["prime_ms"]]
        assert len(cell) == CLIPS_PER_GROUP and int(cell["useful/auto"].sum()) <= CLIPS_PER_GROUP - 1
        p, lo, hi = wilson_interval(int(cell["useful/auto"].sum()), CLIPS_PER_GROUP)
        assert (row["useful/auto_rate"], row["useful/auto_lo"], row["useful/auto_hi"]) == pytest.approx((p, lo, hi))
        assert row["fad/mel/lo"] <= row["fad/mel"] <= row["fad/mel/hi"]
        assert row["diversity/mel"] > 0
    floor = result.groups[result.groups["group"] == FLOOR_GROUP].iloc[0]
    assert floor["n"] == 4 and floor["quality/artefact_free_rate"] == 1.0  # real steps raise no flag
    generated_fad = result.groups[result.groups["kind"] == "generated"]["fad/mel"]
    assert (generated_fad > floor["fad/mel"]).all()  # a sine in every group moves it away from real


def test_floor_row_carries_each_detectors_rate_on_every_real_clip(setup):
    """real/<detector>/flag_rate is the rate over every clip of the reference, all splits (what
    findings 2 and 3 compare with); the floor's own rates stay the val clips'. A sine written into one
    train clip and one test clip shows up in the real rate and not in the val rate."""
    from benchbox.progress import no_progress
    from benchbox.score import REAL_N, detect_clips

    run, data, config = setup
    ds = load_dataset(data)
    for split in ("train", "test"):
        rewrite_clip(data, ds.clip_paths(split)[0], sine(90.0))
    floor = _score(run, config).groups.set_index("group").loc[FLOOR_GROUP]
    every = ds.clip_paths()
    table = pd.DataFrame({"path": [str(p) for p in every], "abs_path": every, **{c: "" for c in GROUP_COLUMNS}})
    direct, _ = detect_clips(table, config.detectors, no_progress)
    assert floor[REAL_N] == len(every) == len(ds.manifest) and floor["n"] == len(ds.clip_paths("val"))
    for name in DETECTORS:
        assert floor[f"real/{name}/flag_rate"] == pytest.approx(direct[f"{name}/flag"].mean()), name
    assert floor["real/periodicity/flag_rate"] == pytest.approx(2 / len(every)) and floor["periodicity/flag_rate"] == 0.0


def test_clip_hash_is_the_decoded_content_hash(setup):
    run, _, config = setup
    result = _score(run, config)
    row = result.clips.iloc[0]
    wave, rate = sf.read(run / row["path"], dtype="float32")
    assert row["sha256"] == sha256_audio(wave, rate)
    assert row["sha256"] == clip_sha256(run / row["path"])  # what freshness re-reads it as


def test_scores_json_is_strict_json_and_config_is_recorded(setup):
    run, data, config = setup
    _score(run, config)
    doc = json.loads((run / "scores" / "scores.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    assert doc["embedders"] == ["mel"] and doc["bootstrap"] == BOOTSTRAP and doc["reference"] == str(data)
    assert doc["groups"][-1]["group"] == FLOOR_GROUP
    toml = (run / "scores" / "score_config.toml").read_text()
    assert "[detectors]" in toml and "clip_level" in toml


def test_same_seed_same_scores(setup):
    run, _, config = setup
    a = _score(run, config, seed=3).groups
    b = _score(run, config, seed=3).groups
    pd.testing.assert_frame_equal(a, b)


def test_plain_folder_with_mixed_rates_is_resampled_not_refused(tmp_path, rng):
    data = make_dataset(tmp_path / "data", rng)
    clips = tmp_path / "clips"
    for i, rate in enumerate((16_000, 22_050, 44_100, 16_000)):
        write_wav(clips / f"c{i}.wav", step(rng, rate_hz=rate, n=rate // 4), rate)
    result = _score(clips, ScoreConfig(cache_dir=str(tmp_path / "cache")), reference=data)
    assert sorted(result.clips["sample_rate_hz"].unique()) == [16_000, 22_050, 44_100]
    row = result.groups.iloc[0]
    assert row["generator"] == "clips" and row["n"] == 4 and math.isfinite(row["fad/mel"])


def test_corrupt_wav_is_skipped_and_listed(setup):
    run, _, config = setup
    bad = run / "samples" / "best" / "prime0" / "clip_0001.wav"
    bad.write_bytes(b"RIFF not really a wav")
    result = _score(run, config)
    skipped = pd.read_csv(run / "scores" / "skipped.csv")
    assert skipped["path"].tolist() == ["samples/best/prime0/clip_0001.wav"]
    assert "cannot decode" in skipped["reason"][0]
    assert len(result.clips) == 2 * CLIPS_PER_GROUP - 1
    assert any("1 clip(s) could not be decoded" in w for w in result.warnings)


def test_nan_clip_is_flagged_and_kept_out_of_every_embedding_metric(tmp_path, rng):
    """One rule for a clip with NaN samples: in n, the nan flag and the useful rate; in no embedding
    metric, whole clip or cont/ (which repeats the whole clip for an unprimed group): the group's
    embedding columns are those of the same group without it."""
    data = make_dataset(tmp_path / "data", rng)
    with_nan, without = tmp_path / "with_nan", tmp_path / "without"
    for i in range(6):
        wave = step(rng)
        write_wav(with_nan / f"c{i}.wav", wave, RATE_HZ)
        write_wav(without / f"c{i}.wav", wave, RATE_HZ)
    bad = step(rng)
    bad[50:60] = np.nan
    sf.write(with_nan / "nan.wav", bad, RATE_HZ, subtype="FLOAT")
    config = ScoreConfig(cache_dir=str(tmp_path / "cache"))
    result, clean = _score(with_nan, config, reference=data, name="g"), _score(without, config, reference=data, name="g")
    clips = result.clips.set_index("path")
    assert clips.loc["nan.wav", "nan/flag"] == 1 and clips["nan/flag"].drop("nan.wav").eq(0).all()
    assert clips.loc["nan.wav", "useful/auto"] == 0 and clips.loc["nan.wav", "useful/reason"] == "nan"
    assert math.isnan(clips.loc["nan.wav", "footstep/p"]) and math.isnan(clips.loc["nan.wav", "realism/mel"])  # never embedded
    row, want = result.groups.iloc[0], clean.groups.iloc[0]
    assert row["n"] == 7 and want["n"] == 6 and row["nan/flag_rate"] == pytest.approx(1 / 7)
    assert row["embedding/left_out"] == 1 and want["embedding/left_out"] == 0
    assert row["useful/auto_rate"] == pytest.approx(want["useful/auto_rate"] * 6 / 7)  # counted in the rate, and failed
    measured = [c for c in want.index if c.split("/")[0] in ("fad", "kad", "precision", "recall", "density", "coverage", "nn1", "memorisation", "diversity")]
    assert {"fad/mel", "kad/mel", "nn1/mel", "precision/mel", "memorisation/mel/closer_share"} <= set(measured)
    for col in measured:
        assert row[col] == pytest.approx(want[col], nan_ok=True), col
        if col.split("/")[0] != "diversity":
            assert row[f"cont/{col}"] == pytest.approx(row[col], nan_ok=True), col  # unprimed: cont/ is the whole clip
    assert any("1 clip(s) with NaN or inf samples left out" in w for w in result.warnings)


def test_empty_folder_is_a_data_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no clips to score"):
        score_run(tmp_path / "empty", embedders=())


def test_reference_with_one_test_clip_is_a_metric_error(tmp_path, rng):
    data = make_dataset(tmp_path / "data", rng, counts={"train": 2, "val": 2, "test": 1})
    run = make_run(tmp_path / "run", data, rng)
    with pytest.raises(MetricError, match="'test' split has 1 clip"):
        _score(run, ScoreConfig(cache_dir=str(tmp_path / "cache")))


def test_a_reference_edited_after_import_is_refused_naming_the_clip(tmp_path, rng):
    """Scores against an edited reference were ranked beside scores against the original: only
    its manifest.csv was hashed."""
    from benchbox.audio import write_wav

    data = make_dataset(tmp_path / "data", rng)
    run = make_run(tmp_path / "run", data, rng)
    write_wav(data / "clips" / "test_001.wav", step(rng), RATE_HZ)
    with pytest.raises(DataError, match=r"1 reference clip\(s\) are missing, unreadable or hold other audio.*test_001\.wav") as e:
        _score(run, ScoreConfig(cache_dir=str(tmp_path / "cache")))
    assert "rebuild the dataset" in e.value.hint
    assert not (run / "scores").exists()
    (data / "clips" / "test_001.wav").unlink()
    with pytest.raises(DataError, match=r"1 reference clip\(s\) are missing \(first: .*test_001\.wav\)"):
        _score(run, ScoreConfig(cache_dir=str(tmp_path / "cache")))


def test_a_run_whose_manifest_is_gone_is_refused_not_scored_as_a_folder(setup):
    """Without samples/manifest.csv a run read as a plain folder: 'no reference dataset' though config.toml
    names it, and with --reference its primed clips were scored whole, into ./results/<name>/scores."""
    run, data, config = setup
    (run / "samples" / "manifest.csv").unlink()
    for reference in (None, data):
        with pytest.raises(DataError) as e:
            _score(run, config, reference=reference)
        assert str(run / "samples" / "manifest.csv") in e.value.message and "is missing" in e.value.message
        assert e.value.hint == f"re-run `benchbox generate {run}` to write its clips and their manifest anew"
    assert not (run / "scores").exists()


def test_folder_without_reference_needs_one_unless_detectors_only(tmp_path, rng):
    clips = tmp_path / "clips"
    write_wav(clips / "a.wav", step(rng), RATE_HZ)
    write_wav(clips / "b.wav", sine(), RATE_HZ)
    with pytest.raises(DataError, match="no reference dataset"):
        score_run(clips, embedders=("mel",))
    result = score_run(clips, embedders=())
    verdict = result.clips.set_index("path")
    assert verdict.loc["b.wav", "useful/auto"] == 0 and "periodicity" in verdict.loc["b.wav", "useful/reason"]
    # the step raises no artefact flag: only the category model can reject it, and then it says so
    assert verdict.loc["a.wav", "useful/reason"] in {"ok", "not-footstep"}
    assert verdict.loc["a.wav", "useful/auto"] == (verdict.loc["a.wav", "useful/reason"] == "ok")
    assert "fad/mel" not in result.groups.columns


def test_negative_bootstrap_is_refused(setup):
    run, _, config = setup
    with pytest.raises(MetricError, match="--bootstrap"):
        score_run(run, bootstrap=-1, config=config)


def test_diversity_closed_form():
    assert diversity(np.array([[0.0, 0.0], [3.0, 4.0]]), max_clips=10, seed=0) == pytest.approx(5.0)
    tri = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert diversity(tri, max_clips=10, seed=0) == pytest.approx((1 + 1 + math.sqrt(2)) / 3)
    assert math.isnan(diversity(np.zeros((1, 4)), max_clips=10, seed=0))


def test_detectors_only_run_judges_the_real_floor_with_the_clips_verdict(setup):
    """--embedder "" drops the embedding metrics, not the category fit: the generated clips get
    footstep/p, so the floor row's useful rate must come from the same verdict (it was the flags alone)."""
    run, data, config = setup
    result = score_run(run, embedders=(), config=config)
    floor = result.groups.set_index("group").loc[FLOOR_GROUP]
    assert floor["n"] == 4 and not any(c.startswith("fad/") for c in result.groups.columns)
    flags = [floor[f"{name}/flag_rate"] for name in DETECTORS]  # the quality axis is measured from the flags alone
    assert all(f == 0.0 for f in flags) and floor["quality/artefact_free_rate"] == pytest.approx(1.0)
    assert floor["cont/quality/artefact_free_rate"] == pytest.approx(1.0)
    model = category.load_model()
    val = [load_audio(p, RATE_HZ) for p in load_dataset(data).clip_paths("val")]
    p = category.footstep_probability(val, RATE_HZ, model, cache_dir=Path(config.cache_dir))  # a direct computation
    assert floor["footstep/p_mean"] == pytest.approx(p.mean(), abs=1e-6)
    assert floor["useful/auto_rate"] == pytest.approx(np.mean(p >= model.threshold))  # no flags: useful = a footstep
    assert result.clips["footstep/p"].notna().all()


def test_a_failing_score_leaves_every_earlier_output_byte_identical(setup, monkeypatch):
    """skipped.csv used to be rewritten before the failure, so scores/ mixed two runs."""
    import benchbox.score_distances as distances_module

    run, _, config = setup
    _score(run, config)
    before = {p.name: p.read_bytes() for p in (run / "scores").iterdir()}
    (run / "samples" / "best" / "prime0" / "clip_0001.wav").write_bytes(b"RIFF not really a wav")  # changes skipped.csv

    def broken(*args, **kwargs):
        raise MetricError("embedder exploded", hint="-")

    monkeypatch.setattr(distances_module, "embed_sets", broken)
    with pytest.raises(MetricError, match="embedder exploded"):
        _score(run, config)
    assert {p.name: p.read_bytes() for p in (run / "scores").iterdir()} == before
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []  # no staging folder left
