"""Realism, PRDC, memorisation and continuation columns of score_run, on clips whose parts are known."""

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from benchbox.audio import load_audio, write_wav
from benchbox.data.dataset import load_dataset
from benchbox.metrics import prdc, twosample
from benchbox.metrics.verdict import VerdictConfig
from benchbox.score import ScoreConfig, score_run
from tests.score_helpers import RATE_HZ, make_dataset, step

PRIME_MS = 100
P = PRIME_MS * RATE_HZ // 1000


def _write_run(root, rows):
    """A run folder with the given (prime_ms, group checkpoint, wave) clips."""
    records = []
    for i, (prime_ms, checkpoint, wave) in enumerate(rows):
        rel = f"samples/{checkpoint}/prime{prime_ms}/clip_{i:04d}.wav"
        write_wav(root / rel, wave, RATE_HZ)
        records.append({"path": rel, "generator": "wavenet", "quantisation": "mulaw", "dropout": 0.0, "checkpoint": checkpoint, "prime_ms": prime_ms})
    (root / "samples").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(records).to_csv(root / "samples" / "manifest.csv", index=False)
    return root


@pytest.fixture
def scored(tmp_path, rng):
    data = make_dataset(tmp_path / "data", rng, counts={"train": 6, "val": 5, "test": 6})
    ds = load_dataset(data)
    train = [load_audio(p) for p in ds.clip_paths("train")]
    test = [load_audio(p) for p in ds.clip_paths("test")]
    rows = []
    for i in range(5):  # primed group: a test prime followed by a training clip's continuation (a copy)
        rows.append((PRIME_MS, "copy", np.concatenate([test[i][:P], train[i][P:]])))
    for i in range(5):  # primed group: a real prime followed by silence (only the continuation is silent)
        rows.append((PRIME_MS, "silent", np.concatenate([test[i][:P], np.zeros(len(test[i]) - P, np.float32)])))
    for _ in range(5):  # unprimed group of fresh steps
        rows.append((0, "fresh", step(rng)))
    run = _write_run(tmp_path / "run", rows)
    config = ScoreConfig(cache_dir=str(tmp_path / "cache"), verdict=VerdictConfig(embedder="mel", realism_min=0.0))
    result = score_run(run, reference=data, embedders=("mel",), bootstrap=30, config=config)
    return result, ds, train, test


def test_continuation_detectors_see_only_the_continuation(scored):
    result, *_ = scored
    silent = result.clips[result.clips["checkpoint"] == "silent"]
    assert (silent["silence/flag"] == 0).all()  # the whole clip holds a real step
    assert (silent["cont/silence/flag"] == 1).all()  # its continuation is silence
    assert (silent["cont/useful/reason"].str.contains("silence")).all() and (silent["cont/useful/auto"] == 0).all()
    fresh = result.clips[result.clips["checkpoint"] == "fresh"]
    for col in ("silence/flag", "transient/crest_db", "useful/auto"):
        assert (fresh[f"cont/{col}"].to_numpy() == fresh[col].to_numpy()).all()  # unprimed: cont/ repeats the whole clip


def test_copied_continuation_is_found_by_memorisation(scored, tmp_path):
    result, ds, train, test = scored
    copy = result.clips[result.clips["checkpoint"] == "copy"]
    ids = [str(i) for i in ds.rows("train")["id"]]
    assert copy["cont/memorisation/mel/train_distance"].max() == pytest.approx(0.0, abs=1e-5)
    assert list(copy["cont/memorisation/mel/train_id"]) == ids[:5]
    assert (copy["memorisation/mel/train_distance"] > 1e-3).all()  # the whole clip carries a test prime
    row = result.groups.set_index("checkpoint").loc["copy"]
    assert row["cont/memorisation/mel/closer_share"] == 1.0 and row["cont/memorisation/mel/closer_lo"] > 0.5


def test_continuation_metrics_match_a_direct_computation(scored, tmp_path):
    from benchbox.metrics.embedders import embed_waves
    from benchbox.metrics.fad import pool_clips

    result, ds, train, test = scored
    copy = [np.concatenate([test[i][:P], train[i][P:]])[P:] for i in range(5)]
    emb = lambda waves: prdc.l2_normalise(pool_clips(embed_waves(waves, RATE_HZ, "mel")))  # noqa: E731
    gen, ref, tr = emb(copy), emb([w[P:] for w in test]), emb([w[P:] for w in train])
    row = result.groups.set_index("checkpoint").loc["copy"]
    want = prdc.prdc(ref, gen, k=3)
    for key in prdc.PRDC_KEYS:
        assert row[f"cont/{key}/mel"] == pytest.approx(want[key])
    clips = result.clips[result.clips["checkpoint"] == "copy"]
    np.testing.assert_allclose(clips["cont/realism/mel"], prdc.realism_score(tr, gen, k=3, keep_quantile=1.0), rtol=1e-6)
    assert "cont/fad/mel" in row and np.isfinite(row["cont/fad/mel"])
    test_nn1 = twosample.nn1_test(ref, gen, permutations=twosample.DEFAULT_PERMUTATIONS, seed=0)  # score_run's seed is 0
    assert row["cont/nn1/mel"] == pytest.approx(test_nn1["accuracy"]) and row["cont/nn1/mel/p"] == pytest.approx(test_nn1["p"])


def test_floor_row_carries_the_two_sample_test_of_real_val_against_real_test(scored):
    from benchbox.metrics.embedders import embed_waves
    from benchbox.metrics.fad import pool_clips

    result, ds, *_ = scored
    emb = lambda paths: prdc.l2_normalise(pool_clips(embed_waves([load_audio(p) for p in paths], RATE_HZ, "mel")))  # noqa: E731
    want = twosample.nn1_test(emb(ds.clip_paths("test")), emb(ds.clip_paths("val")), seed=0)
    floor = result.groups[result.groups["kind"] == "floor"].iloc[0]
    assert floor["nn1/mel"] == pytest.approx(want["accuracy"]) and floor["cont/nn1/mel/p"] == pytest.approx(want["p"])


def _constant_model(path, p_logit: float):
    """A category model on envelope features only whose footstep/p is sigmoid(p_logit) for every clip."""
    from benchbox.metrics.category import CategoryModel

    model = CategoryModel(feature_set="envelope", mean=[0.0] * 16, scale=[1.0] * 16, weights=[0.0] * 16, intercept=p_logit,
                          platt_a=1.0, platt_b=0.0, threshold=0.5, l2=0.0, seed=0, data_sha256="test")
    model.save(path)
    return str(path)


def test_verdict_needs_a_footstep_and_names_the_reason(tmp_path, rng):
    data = make_dataset(tmp_path / "data", rng, counts={"train": 6, "val": 5, "test": 6})
    noise = [(0.1 * rng.normal(size=4096)).astype(np.float32) for _ in range(2)]
    run = _write_run(tmp_path / "run", [(0, "a", step(rng)) for _ in range(3)] + [(0, "a", n) for n in noise])
    never = VerdictConfig(embedder="mel", category_model=_constant_model(tmp_path / "never.json", -5.0))
    clips = score_run(run, reference=data, embedders=("mel",), bootstrap=0, config=ScoreConfig(cache_dir=str(tmp_path / "cache"), verdict=never)).clips
    assert (clips["useful/auto"] == 0).all() and clips["footstep/p"].to_numpy() == pytest.approx(1 / (1 + np.exp(5.0)))
    assert set(clips["useful/reason"]) <= {"not-footstep", "transient+not-footstep"}
    always = VerdictConfig(embedder="mel", realism_min=1e9, category_model=_constant_model(tmp_path / "always.json", 5.0))
    res = score_run(run, reference=data, embedders=("mel",), bootstrap=0, config=ScoreConfig(cache_dir=str(tmp_path / "cache"), verdict=always))
    assert list(res.clips["useful/reason"])[:3] == ["ok"] * 3 and (res.clips["useful/auto"] == (res.clips["useful/reason"] == "ok")).all()
    assert (res.clips["in_distribution"] == 0).all()  # out of distribution does not fail a footstep
    row = res.groups[res.groups["kind"] == "generated"].iloc[0]
    assert row["footstep/share"] == 1.0 and row["quality/artefact_free_rate"] == pytest.approx(res.clips["useful/auto"].mean())
    floor = res.groups[res.groups["kind"] == "floor"].iloc[0]
    assert floor["useful/auto_rate"] == 1.0 and "precision/mel" in floor and "memorisation/mel/closer_share" in floor
    assert floor["memorisation/mel/expected_share"] == pytest.approx(1 / 11)  # 11 held-out real clips, leave-one-out: k = 1 of 10 + 1
    assert floor["memorisation/mel/heldout_n"] == 10 and row["memorisation/mel/heldout_n"] == 11  # val 5 + test 6; the copy test's n


def test_unprimed_continuation_memorisation_equals_the_whole_clips(scored):
    """An unprimed clip's continuation is the whole clip, so its group's cont/ memorisation must use the
    same held-out set (val + test) as the whole-clip columns, not the test split alone."""
    result, *_ = scored
    row = result.groups.set_index("checkpoint").loc["fresh"]
    for key in ("close_distance", "closer_share", "expected_share", "heldout_n"):
        assert row[f"cont/memorisation/mel/{key}"] == pytest.approx(row[f"memorisation/mel/{key}"], abs=1e-12), key
    primed = result.groups.set_index("checkpoint").loc["copy"]
    assert primed["cont/memorisation/mel/expected_share"] == pytest.approx(row["memorisation/mel/expected_share"], abs=1e-12)  # val + test at P too


def test_the_model_dropout_column_gets_no_continuation_twin(scored):
    """`dropout` is a group column (the model's dropout) and a detector's name: only the detector's
    `dropout/...` values are copied under cont/."""
    result, *_ = scored
    assert "dropout" in result.clips.columns and "cont/dropout" not in result.clips.columns
    assert "cont/dropout/flag" in result.clips.columns


def test_the_floor_is_measured_on_each_primed_span_with_that_spans_kernel(scored):
    """floor@<ms>ms/kad: real val vs real test, both from the prime's last sample on, with the bandwidth of the
    real test clips' same span, the kernel the primed rows of that span are measured with."""
    from benchbox.metrics import fad as F
    from benchbox.metrics.embedders import embed_waves
    from benchbox.metrics.fad import pool_clips

    result, ds, _, test = scored
    emb = lambda waves: pool_clips(embed_waves(waves, RATE_HZ, "mel"))  # noqa: E731
    val = [load_audio(p) for p in ds.clip_paths("val")]
    ref, real = emb([w[P:] for w in test]), emb([w[P:] for w in val])
    floor = result.groups[result.groups["kind"] == "floor"].iloc[0]
    key = f"floor@{PRIME_MS:g}ms/kad/mel"
    assert floor[key] == pytest.approx(F.kad(real, ref, bandwidth=F.reference_bandwidth(ref)), rel=1e-6, abs=1e-9)
    assert floor[key + "/lo"] <= floor[key] <= floor[key + "/hi"]
    assert f"floor@{PRIME_MS:g}ms/fad/mel" in floor and "floor@0ms/kad/mel" not in floor  # unprimed rows use the whole clip's
    # the useful rate's floor on the same span: the held-out clips (5 val + 6 test; with an embedder, the clips the scorer loaded)
    assert floor[f"floor@{PRIME_MS:g}ms/useful/n"] == floor["floor@0ms/useful/n"] == 11 and 0 <= floor[f"floor@{PRIME_MS:g}ms/useful/auto_rate"] <= 1


def test_an_unprimed_group_is_scored_on_each_primed_span_like_the_primed_groups(scored, tmp_path):
    """span@<ms>ms/: the unprimed clips from the prime's last sample on, against the test clips' same
    span with that span's kernel: the cut and kernel of the primed rows' cont/kad (finding 5 pairs them)."""
    from benchbox.metrics import fad as F
    from benchbox.metrics.embedders import embed_waves
    from benchbox.metrics.fad import pool_clips

    result, _, _, test = scored
    emb = lambda waves: pool_clips(embed_waves(waves, RATE_HZ, "mel"))  # noqa: E731
    fresh = result.clips[result.clips["checkpoint"] == "fresh"]
    gen = emb([load_audio(tmp_path / "run" / p)[P:] for p in fresh["path"]])
    ref = emb([w[P:] for w in test])
    rows = result.groups.set_index("checkpoint")
    key = f"span@{PRIME_MS:g}ms/kad/mel"
    assert rows.loc["fresh", key] == pytest.approx(F.kad(gen, ref, bandwidth=F.reference_bandwidth(ref)), rel=1e-6, abs=1e-9)
    assert rows.loc["fresh", key + "/lo"] <= rows.loc["fresh", key] <= rows.loc["fresh", key + "/hi"]
    want = prdc.prdc(prdc.l2_normalise(ref), prdc.l2_normalise(gen), k=3)
    assert rows.loc["fresh", f"span@{PRIME_MS:g}ms/recall/mel"] == pytest.approx(want["recall"])
    assert np.isfinite(rows.loc["fresh", f"span@{PRIME_MS:g}ms/fad/mel"])
    assert rows.loc[["copy", "silent"], key].isna().all()  # primed groups have their cont/ columns on that span
    copy = result.clips[result.clips["checkpoint"] == "copy"]
    primed = emb([load_audio(tmp_path / "run" / p)[P:] for p in copy["path"]])
    assert rows.loc["copy", "cont/kad/mel"] == pytest.approx(F.kad(primed, ref, bandwidth=F.reference_bandwidth(ref)), rel=1e-6, abs=1e-9)  # one kernel


def test_nan_clips_are_flagged_in_their_continuation_and_left_out_of_every_span(tmp_path, rng):
    """A primed clip with NaN in its continuation fails cont/ too (it was zeroed before the cont/
    detectors); NaN clips, primed or not, leave every group's embedding columns (whole, cont/, span@)
    as they are without them."""
    data = make_dataset(tmp_path / "data", rng, counts={"train": 6, "val": 5, "test": 6})
    rows = [(PRIME_MS, "primed", step(rng)) for _ in range(5)] + [(0, "fresh", step(rng)) for _ in range(5)]
    clean, dirty = _write_run(tmp_path / "clean", rows), _write_run(tmp_path / "dirty", rows)
    records = pd.read_csv(dirty / "samples" / "manifest.csv")
    for prime_ms, checkpoint in ((PRIME_MS, "primed"), (0, "fresh")):
        bad = step(rng)
        bad[P + 100 : P + 110] = np.nan  # in the continuation
        rel = f"samples/{checkpoint}/prime{prime_ms}/nan.wav"
        sf.write(dirty / rel, bad, RATE_HZ, subtype="FLOAT")
        records.loc[len(records)] = {**records[records["checkpoint"] == checkpoint].iloc[0].to_dict(), "path": rel}
    records.to_csv(dirty / "samples" / "manifest.csv", index=False)
    config = ScoreConfig(cache_dir=str(tmp_path / "cache"), verdict=VerdictConfig(embedder="mel", realism_min=0.0))
    got, want = (score_run(run, reference=data, embedders=("mel",), bootstrap=20, config=config) for run in (dirty, clean))
    nan_clips = got.clips[got.clips["path"].str.endswith("nan.wav")].set_index("checkpoint")
    assert nan_clips["cont/nan/flag"].eq(1).all() and nan_clips["cont/useful/auto"].eq(0).all()
    assert nan_clips["cont/useful/reason"].eq("nan").all() and nan_clips["cont/footstep/p"].isna().all()
    g, w = got.groups.set_index("group"), want.groups.set_index("group")
    assert (g["n"] - w["n"]).drop("floor").eq(1).all() and g.loc[w.index.drop("floor"), "embedding/left_out"].eq(1).all()
    embedding = [c for c in w.columns if c.removeprefix("cont/").split("/")[0] in ("fad", "kad", "precision", "recall", "density", "coverage", "nn1", "memorisation")
                 or c.startswith("span@")]
    assert f"span@{PRIME_MS:g}ms/kad/mel" in embedding and "cont/kad/mel" in embedding
    pd.testing.assert_frame_equal(g[embedding], w[embedding], check_exact=False, rtol=1e-6)


def test_nan_only_in_the_prime_fails_the_continuation_closed(tmp_path, rng):
    """A primed clip whose NaN samples lie in its prime: the continuation is finite (cont/nan/flag 0) but
    the clip is embedded nowhere, so the category model never hears it; it must fail closed
    (footstep-p-nan), not pass with a model that calls every clip a footstep. Its memorisation n leaves it out."""
    data = make_dataset(tmp_path / "data", rng, counts={"train": 6, "val": 5, "test": 6})
    run = _write_run(tmp_path / "run", [(PRIME_MS, "primed", step(rng)) for _ in range(4)])
    records = pd.read_csv(run / "samples" / "manifest.csv")
    bad = step(rng)
    bad[5:8] = np.nan  # inside the prime
    rel = f"samples/primed/prime{PRIME_MS}/nanprime.wav"
    sf.write(run / rel, bad, RATE_HZ, subtype="FLOAT")
    records.loc[len(records)] = {**records.iloc[0].to_dict(), "path": rel}
    records.to_csv(run / "samples" / "manifest.csv", index=False)
    always = VerdictConfig(embedder="mel", realism_min=0.0, category_model=_constant_model(tmp_path / "always.json", 5.0))
    res = score_run(run, reference=data, embedders=("mel",), bootstrap=0, config=ScoreConfig(cache_dir=str(tmp_path / "cache"), verdict=always))
    clip = res.clips[res.clips["path"].str.endswith("nanprime.wav")].iloc[0]
    assert clip["cont/nan/flag"] == 0 and clip["nan/flag"] == 1
    assert clip["cont/useful/auto"] == 0 and clip["cont/useful/reason"] == "footstep-p-nan"
    others = res.clips[~res.clips["path"].str.endswith("nanprime.wav")]
    assert others["cont/useful/reason"].eq("ok").all()  # the same model passes the clean continuations
    row = res.groups[res.groups["kind"] == "generated"].iloc[0]
    assert row["n"] == 5 and row["cont/memorisation/mel/n"] == 4


def test_a_short_clip_is_left_out_of_its_own_cut_and_named_and_other_groups_keep_their_continuations(tmp_path, rng):
    """One clip too short to embed past the prime, in another group: the long clips' group keeps every
    continuation metric it has alone (it used to lose them all, silently); the short clip's group has
    none, and the warning names it with its count."""
    data = make_dataset(tmp_path / "data", rng, counts={"train": 6, "val": 5, "test": 6})
    rows = [(PRIME_MS, "primed", step(rng)) for _ in range(6)]
    config = ScoreConfig(cache_dir=str(tmp_path / "cache"), verdict=VerdictConfig(embedder="mel", realism_min=0.0))
    both = score_run(_write_run(tmp_path / "run", rows + [(PRIME_MS, "other", step(rng)[: P + 500])]), reference=data, embedders=("mel",), bootstrap=0, config=config)
    alone = score_run(_write_run(tmp_path / "alone", rows), reference=data, embedders=("mel",), bootstrap=0, config=config)
    g, a = both.groups.set_index("checkpoint"), alone.groups.set_index("checkpoint")
    cont = [c for c in a.columns if c.startswith("cont/") and c.split("/")[1] in ("kad", "fad", "nn1", "recall", "coverage", "memorisation")]
    assert "cont/kad/mel" in cont and a.loc["primed", cont].notna().any()
    pd.testing.assert_series_equal(g.loc["primed", cont], a.loc["primed", cont], check_exact=False, rtol=1e-6, check_names=False)
    assert pd.isna(g.loc["other", "cont/kad/mel"])
    named = [w for w in both.warnings if "too short to embed" in w]
    other = g.loc["other", "group"] if "group" in g.columns else both.groups[both.groups["checkpoint"] == "other"]["group"].iloc[0]
    assert len(named) == 1 and "1 of 1 clip(s)" in named[0] and repr(other) in named[0]
    assert not any("too short" in w for w in alone.warnings)


def test_continuation_warnings_name_the_cause_and_an_all_nan_prime_keeps_its_span(tmp_path, rng):
    """A primed group of one clip, or of NaN clips only, lacks cont/ FAD/KAD for want of two embeddable
    clips, not because of the reference; an all-NaN primed group still opens its span (the unprimed
    group's span@ metrics and the floor's span are there, as before version 13); an unprimed group's
    clips too short for the span are named; a prime the reference cannot be cut at is named as such."""
    data = make_dataset(tmp_path / "data", rng, counts={"train": 6, "val": 5, "test": 6})
    config = ScoreConfig(cache_dir=str(tmp_path / "cache"), verdict=VerdictConfig(embedder="mel", realism_min=0.0))
    nan_step = lambda: np.where(np.arange(len(step(rng))) == 50, np.nan, step(rng))  # noqa: E731
    rows = ([(PRIME_MS, "single", step(rng))] + [(PRIME_MS, "nanonly", step(rng)) for _ in range(3)]
            + [(0, "fresh", step(rng)) for _ in range(5)] + [(0, "fresh", step(rng)[: P + 500]) for _ in range(2)])
    run = _write_run(tmp_path / "run", rows)
    records = pd.read_csv(run / "samples" / "manifest.csv")
    for _, r in records[records["checkpoint"] == "nanonly"].iterrows():  # rewritten as float WAVs holding a NaN
        sf.write(run / r["path"], nan_step(), RATE_HZ, subtype="FLOAT")
    res = score_run(run, reference=data, embedders=("mel",), bootstrap=0, config=config)
    g = res.groups.set_index("checkpoint")
    key = {c: g.loc[c, "group"] for c in ("single", "nanonly", "fresh")}
    for c in ("single", "nanonly"):
        said = [w for w in res.warnings if repr(key[c]) in w and "no continuation FAD/KAD" in w]
        assert len(said) == 1 and "could be embedded" in said[0] and "reference" not in said[0]
    floor = res.groups[res.groups["kind"] == "floor"].iloc[0]
    assert pd.notna(g.loc["fresh", f"span@{PRIME_MS:g}ms/kad/mel"]) and pd.notna(floor[f"floor@{PRIME_MS:g}ms/kad/mel"])
    assert any(repr(key["fresh"]) in w and "2 of 7 clip(s) too short for the 100 ms span" in w for w in res.warnings)
    # the all-NaN primed group alone still opens its span for the unprimed group and the floor
    lone = _write_run(tmp_path / "lone", [(PRIME_MS, "nanonly", step(rng)) for _ in range(3)] + [(0, "fresh", step(rng)) for _ in range(5)])
    for _, r in pd.read_csv(lone / "samples" / "manifest.csv").query("checkpoint == 'nanonly'").iterrows():
        sf.write(lone / r["path"], nan_step(), RATE_HZ, subtype="FLOAT")
    alone = score_run(lone, reference=data, embedders=("mel",), bootstrap=0, config=config).groups
    assert pd.notna(alone.set_index("checkpoint").loc["fresh", f"span@{PRIME_MS:g}ms/kad/mel"])
    assert pd.notna(alone[alone["kind"] == "floor"].iloc[0][f"floor@{PRIME_MS:g}ms/kad/mel"])
    # a prime the reference's 4096-sample clips cannot be cut at (200 ms = 3200 samples, 896 left < 1024)
    long_run = _write_run(tmp_path / "long", [(200, "long", step(rng, n=8000)) for _ in range(5)] + [(200, "long", step(rng, n=3500))])
    res = score_run(long_run, reference=data, embedders=("mel",), bootstrap=0, config=config)
    said = [w for w in res.warnings if "no continuation metrics after its 200 ms prime: a reference train/test clip is too short" in w]
    assert len(said) == 1 and not any("left out of its continuation metrics" in w for w in res.warnings)


def test_floor_span_of_names_the_span_floor_only_where_its_interval_is_finite():
    """The leaderboard's and the report's *vs floor* rule: a primed row compares with its own span's
    floor when the floor row holds a finite interval for it, else (None) with the whole clip's."""
    from benchbox.score_verdict import floor_span_key, floor_span_of

    key = floor_span_key(10, "kad", "aisfx")
    floor = {key: 0.1, key + "/lo": 0.05, key + "/hi": 0.2}
    assert floor_span_of(floor, 10.0, "kad", "aisfx") == key == "floor@10ms/kad/aisfx"
    assert floor_span_of(floor, 20, "kad", "aisfx") is None  # no span floor for 20 ms in these scores
    assert floor_span_of(floor, 10, "fad", "aisfx") is None  # nor for FAD
    assert floor_span_of(floor, 0, "kad", "aisfx") is None and floor_span_of(floor, float("nan"), "kad", "aisfx") is None
    assert floor_span_of({**floor, key + "/hi": float("nan")}, 10, "kad", "aisfx") is None  # half an interval is none
    assert floor_span_of({key + "/lo": "0.05", key + "/hi": "0.2"}, 10, "kad", "aisfx") == key  # read back from a CSV as text
