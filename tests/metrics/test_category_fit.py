"""benchbox.metrics.category_fit / category_eval: a toy pair of datasets is separated when judged on
held-out groups, groups never mix between fit and test, and bad inputs are refused before anything is written."""

import errno
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from benchbox.errors import DataError, MetricError, StorageError
from benchbox.metrics import category as cat
from benchbox.metrics import category_eval as ce
from benchbox.metrics.category_features import FEATURE_RATE_HZ
from benchbox.metrics.category_fit import LOGO, TEST_SPLIT, VAL_SPLIT, fit_category
from tests.category_helpers import make_class, toy_pair, tone
from tests.score_helpers import step

FAST = {"embedder": "mel", "synthetic_per_kind": 2}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    pos, neg = toy_pair(root, np.random.default_rng(0))
    result = fit_category(positives=pos, negatives=neg, out=root / "models" / "toy.json", cache_dir=root / "cache", **FAST)
    return root, pos, neg, result


def test_the_fitted_model_separates_an_easy_toy_set_on_held_out_groups(toy):
    _, _, _, result = toy
    assert result.evaluation == LOGO and [r["group"] for r in result.table] == ["a", "b", "c", "pooled"]
    assert all(r["auc"] > 0.9 for r in result.table)
    pooled = result.table[-1]
    assert (pooled["positives"], pooled["negatives"]) == (18, 18)  # the synthetic negatives are never tested
    assert pooled["positives_accepted"] / pooled["positives"] - pooled["negatives_accepted"] / pooled["negatives"] > 0.8
    assert result.counts == {"positives": 18, "negatives": 18, "synthetic": 10}


def test_the_model_file_loads_and_names_its_embedder_data_and_threshold(toy):
    _, _, _, result = toy
    model = cat.load_model(result.model_path)
    assert model == result.model and (model.format, model.embedder, model.feature_set) == (cat.CATEGORY_FORMAT, "mel", "mel_norm")
    assert model.threshold in ce.THRESHOLD_GRID and len(model.data_sha256) == 64 and model.l2 == 0.03
    report = result.report_path.read_text()
    assert result.report_path == result.model_path.with_suffix(".md") and f"| pooled | {result.table[-1]['auc']:.3f} [" in report and "mel_norm" in report
    events = [json.loads(line)["event"] for line in result.log_path.read_text().splitlines()]
    assert events[:2] == ["start", "features"] and events[-1] == "written"


def test_the_feature_is_the_level_normalised_embedding_direction(toy):
    """``<e>_norm`` is level-free and a unit vector: the same clip at a fifth of the level gets the same features."""
    wave = step(np.random.default_rng(3))
    loud, quiet = cat.clip_features([wave, wave * 0.2], 16_000, "mel_norm")
    np.testing.assert_allclose(quiet, loud, atol=1e-4)
    assert np.linalg.norm(loud) == pytest.approx(1.0, abs=1e-6)


def test_logo_splits_never_mix_groups_and_skip_train_only_clips():
    groups = np.array(["a", "b", "a", "syn", "c", "b", "syn"])
    train_only = groups == "syn"
    splits = ce.logo_splits(groups, train_only)
    assert [held for held, _, _ in splits] == ["a", "b", "c"]
    for held, train, test in splits:
        assert set(groups[test]) == {held} and held not in set(groups[train])
        assert set(np.flatnonzero(train_only)) <= set(train.tolist())
        assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(groups)))


def test_each_held_out_probability_comes_from_a_fit_that_never_saw_its_group(monkeypatch):
    rng = np.random.default_rng(1)
    groups = np.repeat(["a", "b", "c"], 12)
    y = np.tile(np.repeat([0, 1], 6), 3)
    split = np.tile(["train", "train", "train", "train", "val", "val"], 6)
    x = rng.normal(size=(36, 4)) + y[:, None]
    seen = []
    real_fit = ce.fit_masked

    def spy(x_, y_, split_, sha_, mask, **kw):
        seen.append(set(groups[mask].tolist()))
        return real_fit(x_, y_, split_, sha_, mask, **kw)

    monkeypatch.setattr(ce, "fit_masked", spy)
    p = ce.logo_probability(x, y, split, np.array([f"h{i}" for i in range(36)]), groups, np.zeros(36, bool), feature_set="envelope", l2=0.1)
    assert seen == [{"b", "c"}, {"a", "c"}, {"a", "b"}] and np.isfinite(p).all()


def test_the_models_data_hash_is_its_train_and_val_clips_with_their_labels_and_splits():
    y = np.repeat([0, 1], 8)
    split = np.tile(["train", "train", "val", "test"], 4)
    x = np.random.default_rng(2).normal(size=(16, 4)) + y[:, None]
    sha = np.array([f"h{i}" for i in range(16)])

    def digest(y_=y, split_=split, sha_=sha) -> str:
        return ce.fit_masked(x, y_, split_, sha_, np.ones(16, bool), feature_set="envelope", l2=0.1, threshold=0.5, seed=0).data_sha256

    seen = split != "test"
    assert digest() == cat.data_hash(sha[seen], y[seen], split[seen])
    assert digest(y_=np.where(np.arange(16) == 0, 1, y)) != digest()  # clip 0 (train) relabelled
    assert digest(split_=np.where(np.arange(16) == 1, "val", split)) != digest()  # clip 1 moved from train to val
    assert digest(sha_=np.where(np.arange(16) == 3, "other", sha)) == digest()  # a test clip: the fit never saw it


def test_fewer_than_two_groups_with_both_classes_fall_back_to_the_test_split_calibrated_on_val(tmp_path, rng):
    pos = make_class(tmp_path / "pos", rng, step, groups=("a",))
    neg = make_class(tmp_path / "neg", rng, tone, groups=("a", "b"))
    result = fit_category(positives=pos, negatives=neg, out=tmp_path / "m.json", cache_dir=tmp_path / "cache", **FAST)
    assert result.evaluation == TEST_SPLIT and [r["group"] for r in result.table] == [TEST_SPLIT, "pooled"]
    assert result.table[-1]["positives"] == 1 and result.table[-1]["negatives"] == 2  # the test split: 1 clip per group and class
    assert "evaluated on the test split" in result.notes[0] and "calibrates the model (Platt) and chooses its threshold" in result.notes[0]
    assert "the test split; the val split calibrates (Platt) and chooses the threshold" in result.report_path.read_text()


def test_without_a_test_split_of_both_classes_the_val_split_does_all_three_and_says_so(tmp_path, rng):
    pos = make_class(tmp_path / "pos", rng, step, groups=("a",), per_split={"train": 3, "val": 2})
    neg = make_class(tmp_path / "neg", rng, tone, groups=("a", "b"))
    result = fit_category(positives=pos, negatives=neg, out=tmp_path / "m.json", cache_dir=tmp_path / "cache", **FAST)
    assert result.evaluation == VAL_SPLIT and [r["group"] for r in result.table] == [VAL_SPLIT, "pooled"] and result.table[-1]["positives"] == 2
    note = result.notes[0]
    assert "evaluated on the val split" in note and "calibrates the model (Platt), chooses its threshold and is evaluated on" in note and "optimistic" in note
    assert "val split, which also calibrates (Platt) and chooses the threshold" in result.report_path.read_text()


def test_a_fold_that_cannot_be_fitted_is_skipped_with_a_note(tmp_path, rng):
    """Group b's positives have no val clips: leaving a out cannot be calibrated, so a is not evaluated (this was a hard error)."""
    neg = make_class(tmp_path / "neg", rng, tone)
    pos = make_class(tmp_path / "pa", rng, step, groups=("a",))
    make_class(tmp_path / "pb", rng, step, groups=("b",), per_split={"train": 3, "test": 1})
    rows = pd.concat([pd.read_csv(tmp_path / "pa" / "manifest.csv"), pd.read_csv(tmp_path / "pb" / "manifest.csv")])
    for f in (tmp_path / "pb" / "clips").iterdir():
        f.rename(tmp_path / "pa" / "clips" / f.name)
    rows.to_csv(pos / "manifest.csv", index=False)
    result = fit_category(positives=pos, negatives=neg, out=tmp_path / "out" / "m.json", cache_dir=tmp_path / "cache", **FAST)
    assert result.evaluation == LOGO and [r["group"] for r in result.table] == ["b", "pooled"]
    assert any("group 'a' is not evaluated" in n and "no positive clips in the val split" in n for n in result.notes)


def test_a_group_with_one_class_stays_on_the_training_side_and_is_said(tmp_path, rng):
    pos = make_class(tmp_path / "pos", rng, step, groups=("a", "b"))
    neg = make_class(tmp_path / "neg", rng, tone, groups=("a", "b", "z"))
    result = fit_category(positives=pos, negatives=neg, out=tmp_path / "m.json", cache_dir=tmp_path / "cache", **FAST)
    assert result.evaluation == LOGO and [r["group"] for r in result.table] == ["a", "b", "pooled"]
    assert "z" in result.notes[0] and "only one class" in result.notes[0]


def _empty(root):
    make_class(root, np.random.default_rng(0), step, groups=("a",))
    pd.read_csv(root / "manifest.csv").iloc[:0].to_csv(root / "manifest.csv", index=False)
    return root


@pytest.mark.parametrize("case, match", [
    ("empty", "no clips"),
    ("same", "same dataset"),
    ("no val", "no clips in its val split"),
    ("not a dataset", "not a benchbox dataset"),
])  # fmt: skip
def test_unusable_data_is_one_data_error(tmp_path, rng, case, match):
    pos, neg = toy_pair(tmp_path, rng)
    if case == "empty":
        pos = _empty(tmp_path / "empty")
    elif case == "same":
        neg = pos
    elif case == "no val":
        pos = make_class(tmp_path / "noval", rng, step, per_split={"train": 3, "test": 1})
    elif case == "not a dataset":
        (tmp_path / "wavs").mkdir()
        neg = tmp_path / "wavs"
    with pytest.raises(DataError, match=match) as e:
        fit_category(positives=pos, negatives=neg, out=tmp_path / "out" / "m.json", cache_dir=tmp_path / "cache", **FAST)
    assert e.value.hint
    assert not (tmp_path / "out" / "m.json").exists()


def test_bad_outputs_and_embedders_are_refused_before_anything_is_read(tmp_path, rng):
    pos, neg = toy_pair(tmp_path, rng)
    kw = {"positives": pos, "negatives": neg, "cache_dir": tmp_path / "cache", **FAST}
    with pytest.raises(DataError, match="inside the dataset"):
        fit_category(out=pos / "model.json", **kw)
    with pytest.raises(DataError, match="not a .json file"):
        fit_category(out=tmp_path / "model.md", **kw)
    (tmp_path / "old.json").write_text("{}")
    with pytest.raises(DataError, match="already exists") as e:
        fit_category(out=tmp_path / "old.json", **kw)
    assert "--overwrite" in e.value.hint and (tmp_path / "old.json").read_text() == "{}"
    with pytest.raises(MetricError, match="unknown embedder 'nope'"):
        fit_category(out=tmp_path / "m.json", **{**kw, "embedder": "nope"})
    with pytest.raises(MetricError, match="--weights is for the vggish"):
        fit_category(out=tmp_path / "m.json", weights=tmp_path / "w.pth", **kw)
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "m.log.jsonl").exists()


def test_model_and_report_are_published_together(tmp_path, rng, monkeypatch):
    """A disk that fills while the report is written leaves neither file (nor a previous pair half-replaced)."""
    import os

    pos, neg = toy_pair(tmp_path, rng)
    out = tmp_path / "m.json"
    out.write_text("old model")
    out.with_suffix(".md").write_text("old report")
    out.with_suffix(".log.jsonl").write_text("old log\n")
    calls = []
    real_fsync = os.fsync

    def full(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StorageError):
        fit_category(positives=pos, negatives=neg, out=out, overwrite=True, cache_dir=tmp_path / "cache", **FAST)
    assert out.read_text() == "old model" and out.with_suffix(".md").read_text() == "old report"
    assert out.with_suffix(".log.jsonl").read_text() == "old log\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["m.json", "m.log.jsonl", "m.md"]  # no temporary left behind


def test_a_failed_fit_leaves_an_earlier_log_and_an_existing_log_needs_overwrite(tmp_path, rng, monkeypatch):
    pos, neg = toy_pair(tmp_path, rng)
    out = tmp_path / "m.json"
    out.with_suffix(".log.jsonl").write_text("old log\n")
    kw = {"positives": pos, "negatives": neg, "out": out, "cache_dir": tmp_path / "cache", **FAST}
    with pytest.raises(DataError, match="m.log.jsonl already exists") as e:
        fit_category(**kw)
    assert "--overwrite" in e.value.hint

    def broken(*a, **k):
        raise MetricError("evaluation broke")

    monkeypatch.setattr(ce, "evaluation_rows", broken)  # after the log has started
    with pytest.raises(MetricError, match="evaluation broke"):
        fit_category(**kw, overwrite=True)
    assert out.with_suffix(".log.jsonl").read_text() == "old log\n" and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["m.log.jsonl"]  # the temporary log is removed
    monkeypatch.undo()
    result = fit_category(**kw, overwrite=True)
    events = [json.loads(line)["event"] for line in result.log_path.read_text().splitlines()]
    assert events[0] == "start" and events[-1] == "written" and "evaluation" in events


def test_format_1_is_read_with_its_embedder_and_unknown_formats_are_refused(tmp_path):
    raw = json.loads(cat.MODEL_PATH.read_text())
    assert raw["format"] == 3 and raw["framing"] == "centre"
    old = {k: v for k, v in raw.items() if k not in ("embedder", "framing")} | {"format": 1}  # format 1 names no embedder
    (tmp_path / "old.json").write_text(json.dumps(old))
    read = cat.load_model(tmp_path / "old.json")
    assert read == replace(cat.load_model(), framing="native")  # fitted before format 3: aisfx's native framing
    assert read.embedder == "aisfx" and read.feature_set == "aisfx_norm" and read.format == 3
    (tmp_path / "future.json").write_text(json.dumps({**raw, "format": 99}))
    with pytest.raises(MetricError, match="unknown category model format 99"):
        cat.load_model(tmp_path / "future.json")


@pytest.mark.parametrize("kw, match", [
    ({"l2": float("nan")}, "--l2 must be a finite number >= 0, got nan"),
    ({"l2": float("inf")}, "--l2 must be a finite number >= 0, got inf"),
    ({"l2": -1.0}, "--l2 must be a finite number >= 0"),
    ({"seed": -1}, "--seed must be >= 0, got -1"),
])  # fmt: skip
def test_non_finite_penalties_and_negative_seeds_are_refused_before_anything_is_read(tmp_path, kw, match):
    with pytest.raises(MetricError, match=match) as e:
        fit_category(positives=tmp_path / "pos", negatives=tmp_path / "neg", out=tmp_path / "m.json", **{**FAST, **kw})
    assert e.value.hint and not (tmp_path / "m.json").exists() and not (tmp_path / "m.log.jsonl").exists()


@pytest.mark.parametrize("change", [{"sample_rate_hz": 8000}, {"clip_samples": 2048}])
def test_datasets_at_other_rates_or_clip_lengths_are_refused_naming_both(tmp_path, rng, change):
    pos, neg = toy_pair(tmp_path, rng)
    info = json.loads((neg / "dataset.json").read_text())
    (neg / "dataset.json").write_text(json.dumps({**info, **change}))
    with pytest.raises(DataError, match="could tell them apart by the recording chain") as e:
        fit_category(positives=pos, negatives=neg, out=tmp_path / "m.json", cache_dir=tmp_path / "cache", **FAST)
    msg = e.value.message
    assert f"--positives {pos}" in msg and f"--negatives {neg}" in msg and f"at {info['sample_rate_hz']} Hz" in msg and "--set sample_rate_hz" in e.value.hint
    assert f"{change.get('sample_rate_hz', info['sample_rate_hz'])} Hz" in msg and not (tmp_path / "m.json").exists()


def test_youden_ties_take_the_middle_of_the_tied_range():
    y = np.array([0, 0, 1, 1])
    assert ce.choose_threshold(np.array([0.01, 0.02, 0.98, 0.99]), y) == 0.5  # every grid value 0.05 ... 0.95 separates: the middle, not 0.05
    assert ce.choose_threshold(np.array([0.1, 0.2, 0.6, 0.7]), y) == 0.4  # ties 0.25 ... 0.6: mean 0.425, nearest grid value (lower on the exact tie)
    assert ce.choose_threshold(np.array([0.1, 0.42, 0.47, 0.9]), y) == 0.45  # one best value stays itself


def test_a_user_group_called_synthetic_stays_apart_from_the_synthetic_negatives(tmp_path, rng, monkeypatch):
    pos, neg = toy_pair(tmp_path, rng, groups=("a", "b", "synthetic"))
    masks = []
    real_fit = ce.fit_masked

    def spy(x_, y_, split_, sha_, mask, **kw):
        masks.append(mask.copy())
        return real_fit(x_, y_, split_, sha_, mask, **kw)

    monkeypatch.setattr(ce, "fit_masked", spy)
    result = fit_category(positives=pos, negatives=neg, out=tmp_path / "m.json", cache_dir=tmp_path / "cache", **FAST)
    assert [r["group"] for r in result.table] == ["a", "b", "synthetic", ce.POOLED] and result.evaluation == LOGO
    n_synth = result.counts["synthetic"]
    assert len(masks) == 4 and all(m[-n_synth:].all() for m in masks)  # every fold, holding out the user's "synthetic" too, trains with them
    assert result.table[2]["negatives"] == result.table[0]["negatives"]  # the held-out "synthetic" group is the user's clips alone


def test_the_report_gives_counts_per_split_platt_rate_versions_and_warns_on_a_low_auc(toy, tmp_path):
    from dataclasses import replace

    from benchbox import __version__
    from benchbox.metrics.category_fit import report_markdown
    from benchbox.score import SCORER_VERSION

    root, pos, neg, result = toy
    text = result.report_path.read_text()
    m = result.model
    assert "| positives | 9 | 6 | 3 |" in text and "| negatives | 9 | 6 | 3 |" in text and "| synthetic | 10 | 0 | 0 |" in text
    assert f"slope a = {m.platt_a:.6g}, intercept b = {m.platt_b:.6g}" in text and "4096 samples at 16000 Hz" in text
    assert f"benchbox {__version__} (scorer version {SCORER_VERSION})" in text and " UTC |" in text
    assert result.split_counts["positives"] == {"test": 3, "train": 9, "val": 6} and result.sample_rate_hz == 16000
    assert "Warning: the pooled AUC" not in text  # the toy is separated; it is small, though (next test)
    low = replace(result, table=[*result.table[:-1], {**result.table[-1], "auc": 0.7}])
    assert "**Warning: the pooled AUC is 0.700, below 0.8" in report_markdown(low, positives=pos, negatives=neg, synthetic_per_kind=2)


def test_too_few_clips_of_a_class_in_train_val_or_the_evaluated_set_is_warned_of(toy):
    """A fit on a handful of clips read AUC 1.000 [1.000, 1.000] with no warning: now the report, the CLI and --json
    say which class is short where (the toy: 9 train, 6 val and 18 evaluated clips of each class)."""
    from benchbox.metrics.category_fit import (MIN_EVALUATED_PER_CLASS, MIN_TRAIN_PER_CLASS, MIN_VAL_PER_CLASS, fit_warnings, report_markdown,
                                               small_sample_warning)

    root, pos, neg, result = toy
    warning = small_sample_warning(result)
    assert warning.startswith("too few clips to trust this model (positives 9 train, 6 val, 18 evaluated; negatives 9 train, 6 val, 18 evaluated;")
    assert "the val split sets its Platt calibration, the evaluated clips" in warning  # leave-one-group-out: the threshold is not val's
    assert f"**Warning: {warning}**" in result.report_path.read_text() and fit_warnings(result) == [warning]
    enough = {"train": MIN_TRAIN_PER_CLASS, "val": MIN_VAL_PER_CLASS, "test": 0}
    big = replace(result, split_counts={**result.split_counts, "positives": enough, "negatives": enough},
                  table=[*result.table[:-1], {**result.table[-1], "positives": MIN_EVALUATED_PER_CLASS, "negatives": MIN_EVALUATED_PER_CLASS}])
    assert small_sample_warning(big) is None and "Warning" not in report_markdown(big, positives=pos, negatives=neg, synthetic_per_kind=2)
    short = replace(big, evaluation=TEST_SPLIT, split_counts={**big.split_counts, "negatives": {**enough, "val": MIN_VAL_PER_CLASS - 1}})
    assert small_sample_warning(short).startswith(f"too few clips to trust this model (negatives {MIN_VAL_PER_CLASS - 1} val;")
    assert "Platt calibration and threshold" in small_sample_warning(short)


def test_the_small_sample_warning_reads_the_measured_auc(toy):
    """It said "an AUC of 1 says only that these clips were told apart" whatever the AUC, 0.3 included."""
    from benchbox.metrics.category_fit import small_sample_warning

    _, _, _, result = toy
    def with_auc(auc):
        return small_sample_warning(replace(result, table=[*result.table[:-1], {**result.table[-1], "auc": auc}]))

    assert "its AUC of 1.000 says only that these clips were told apart, not how others would be" in with_auc(1.0)
    low = with_auc(0.3)
    assert "its AUC of 0.300 says only that these clips were told apart poorly" in low and "AUC of 1" not in low
    assert "no AUC was measured" in with_auc(float("nan"))


def test_a_format_2_model_scores_with_the_native_framing_it_was_fitted_on_and_bad_framings_are_refused(tmp_path):
    raw = json.loads(cat.MODEL_PATH.read_text())
    (tmp_path / "v2.json").write_text(json.dumps({k: v for k, v in raw.items() if k != "framing"} | {"format": 2}))
    old, new = cat.load_model(tmp_path / "v2.json"), cat.load_model()
    rng = np.random.default_rng(3)
    t = np.arange(8192) / FEATURE_RATE_HZ
    waves = [(rng.normal(size=8192) * np.exp(-t / tau) * 0.3).astype(np.float32) for tau in (0.02, 0.05, 0.1)]
    native = cat.clip_features(waves, FEATURE_RATE_HZ, "aisfx_norm", framing="native")
    centre = cat.clip_features(waves, FEATURE_RATE_HZ, "aisfx_norm", framing="centre")
    np.testing.assert_allclose(cat.footstep_probability(waves, FEATURE_RATE_HZ, old), old.probability(native), atol=1e-6)
    np.testing.assert_allclose(cat.footstep_probability(waves, FEATURE_RATE_HZ, new), new.probability(centre), atol=1e-6)
    assert np.abs(native - centre).max() > 1e-3  # the two framings give other features, so the check above can fail
    for framing, embedder in (("stretch", "aisfx"), ("", "aisfx")):
        (tmp_path / "bad.json").write_text(json.dumps(raw | {"framing": framing, "embedder": embedder}))
        with pytest.raises(MetricError, match="framing"):
            cat.load_model(tmp_path / "bad.json")


@pytest.mark.parametrize("feature_set, legacy, fitted", [
    ("mel+aisfx_norm", "native", "centre"),  # the first embedder is mel, but the aisfx_norm part is framed
    ("envelope+aisfx_norm", "native", "centre"),
    ("envelope+aisfx", "", ""),  # a raw aisfx part is always embedded natively: no framing to record
    ("mel", "", ""),
])  # fmt: skip
def test_the_framing_follows_an_aisfx_norm_part_not_the_first_embedder(tmp_path, feature_set, legacy, fitted):
    d = cat.feature_dimension(feature_set)
    raw = {"feature_set": feature_set, "mean": [0.0] * d, "scale": [1.0] * d, "weights": [0.01] * d, "intercept": 0.0, "platt_a": 1.0,
           "platt_b": 0.0, "threshold": 0.5, "l2": 0.03, "seed": 0, "data_sha256": "0" * 64, "format": 2, "embedder": cat.feature_embedder(feature_set)}
    (tmp_path / "v2.json").write_text(json.dumps(raw))
    assert cat.load_model(tmp_path / "v2.json").framing == legacy
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, d)), np.repeat([0, 1], 20)
    model = cat.fit_model(x, y, x, y, feature_set=feature_set, l2=0.03, threshold=0.5, seed=0, data_sha256="0" * 64)
    assert model.framing == fitted
    (tmp_path / "v3.json").write_text(model.to_json())
    assert cat.load_model(tmp_path / "v3.json") == model
    if fitted:  # an aisfx_norm model may record any aisfx framing; one without the part none
        (tmp_path / "native.json").write_text(json.dumps(json.loads(model.to_json()) | {"framing": "native"}))
        assert cat.load_model(tmp_path / "native.json").framing == "native"
    else:
        (tmp_path / "bad.json").write_text(json.dumps(json.loads(model.to_json()) | {"framing": "centre"}))
        with pytest.raises(MetricError, match="framing"):
            cat.load_model(tmp_path / "bad.json")
