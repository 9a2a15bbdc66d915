"""The footstep category model: fixed outputs on toy sets, the artefact format, level-free features, AUC."""

import hashlib
import json
import math

import numpy as np
import pytest

from benchbox.errors import MetricError
from benchbox.metrics import category as cat
from benchbox.metrics.category_features import ENVELOPE_NAMES, FEATURE_RATE_HZ, FRAME_SAMPLES, NORM_RMS, envelope_features, level_normalise, mel_shape

TOY = cat.CategoryModel(feature_set="envelope", mean=[0.0] * 16, scale=[2.0] * 16, weights=[1.0] + [0.0] * 15, intercept=-1.0,
                        platt_a=0.5, platt_b=0.25, threshold=0.5, l2=0.1, seed=0, data_sha256="toy")


def test_toy_model_output_is_the_closed_form():
    x = np.zeros((3, 16))
    x[:, 0] = [0.0, 2.0, 10.0]
    z = x[:, 0] / 2.0 - 1.0  # standardised feature 0 times weight 1, plus the intercept
    want = 1.0 / (1.0 + np.exp(-(0.5 * z + 0.25)))
    np.testing.assert_allclose(TOY.probability(x), want, rtol=1e-12)


def test_model_round_trips_through_json_and_refuses_unknown_formats(tmp_path):
    path = tmp_path / "m.json"
    TOY.save(path)
    assert cat.load_model(path) == TOY
    raw = json.loads(path.read_text())
    path.write_text(json.dumps({**raw, "format": 99}))
    with pytest.raises(MetricError, match="unknown category model format"):
        cat.load_model(path)
    path.write_text("not json")
    with pytest.raises(MetricError, match="cannot read"):
        cat.load_model(path)
    with pytest.raises(MetricError, match="expects 16 features"):
        TOY.probability(np.zeros((1, 3)))


def test_fit_on_a_fixed_toy_set_separates_it_and_calibrates():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-1.0, 1.0, size=(60, 2)), rng.normal(1.0, 1.0, size=(60, 2))])
    y = np.repeat([0, 1], 60)
    model = cat.fit_model(x[::2], y[::2], x[1::2], y[1::2], feature_set="toy", l2=0.01, threshold=0.5, seed=0, data_sha256="x")
    p = model.probability(x[1::2])
    assert cat.auc(p, y[1::2]) > 0.85
    assert model.weights[0] > 0 and model.weights[1] > 0  # both coordinates point towards the positives
    assert abs(p[y[1::2] == 1].mean() - 0.76) < 0.1 and abs(p[y[1::2] == 0].mean() - 0.24) < 0.1


def test_fit_logistic_matches_the_closed_form_of_a_one_feature_problem():
    # x in {-1, +1}, P(y=1 | x=+1) = 0.8, P(y=1 | x=-1) = 0.2, no penalty: w = logit(0.8), b = 0
    x = np.array([1.0] * 5 + [-1.0] * 5)[:, None]
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 1])
    (w,), b = cat.fit_logistic(x, y, l2=0.0)
    assert w == pytest.approx(math.log(4.0), abs=1e-4) and b == pytest.approx(0.0, abs=1e-4)


def test_auc_closed_forms_and_ties():
    y = np.array([0, 0, 1, 1])
    assert cat.auc(np.array([0.1, 0.2, 0.3, 0.4]), y) == 1.0
    assert cat.auc(np.array([0.4, 0.3, 0.2, 0.1]), y) == 0.0
    assert cat.auc(np.ones(4), y) == 0.5
    a, lo, hi = cat.auc_bootstrap(np.array([0.1, 0.2, 0.3, 0.4]), y, n=50, seed=0, groups=np.array([0, 0, 1, 1]))
    assert a == 1.0 and lo <= a <= hi


def test_envelope_and_mel_features_are_level_free():
    rng = np.random.default_rng(1)
    t = np.arange(8192) / FEATURE_RATE_HZ
    wave = rng.normal(size=8192) * np.exp(-t / 0.05) * 0.5
    np.testing.assert_allclose(envelope_features(wave * 0.05), envelope_features(wave), rtol=1e-6, atol=1e-6)
    assert envelope_features(wave).shape == (len(ENVELOPE_NAMES),)
    mel = rng.normal(size=(2, 128))
    shifted = mel.copy()
    shifted[:, :64] += 3.0  # a gain adds the same log offset to every band mean
    np.testing.assert_allclose(mel_shape(shifted), mel_shape(mel), atol=1e-12)


def test_data_hash_covers_each_clips_label_and_split_in_any_row_order():
    sha, y, split = ["a" * 64, "b" * 64, "c" * 64], [1, 0, 0], ["train", "train", "val"]
    base = cat.data_hash(sha, y, split)
    lines = f"{'a' * 64}\t1\ttrain\n{'b' * 64}\t0\ttrain\n{'c' * 64}\t0\tval"  # the documented lines, sorted
    assert base == hashlib.sha256(lines.encode()).hexdigest()
    assert cat.data_hash(sha, [1, 1, 0], split) != base  # only a label differs
    assert cat.data_hash(sha, [0, 1, 0], split) != base  # two clips swap labels: same hashes, same label counts
    assert cat.data_hash(sha, y, ["train", "val", "val"]) != base  # only a split differs
    assert cat.data_hash(sha[::-1], y[::-1], split[::-1]) == base  # the row order does not count
    assert cat.data_hash(np.array(sha), np.array(y), np.array(split)) == base  # numpy columns hash as lists
    assert cat.data_hash(sha + sha[:1], y + y[:1], split + split[:1]) != base  # a duplicated clip does count
    with pytest.raises(MetricError, match="one label and one split per clip"):
        cat.data_hash(sha, y[:2], split)


def test_pitch_strength_tells_a_tone_from_noise():
    rng = np.random.default_rng(2)
    t = np.arange(8192) / FEATURE_RATE_HZ
    tone, noise = envelope_features(np.sin(2 * np.pi * 220 * t)), envelope_features(rng.normal(size=8192))
    i = ENVELOPE_NAMES.index("pitch_strength")
    assert tone[i] > 0.9 and noise[i] < 0.3


def test_shipped_model_loads_and_names_its_training_data():
    model = cat.load_model()
    assert model.format == cat.CATEGORY_FORMAT and len(model.data_sha256) == 64
    assert 0.0 < model.threshold < 1.0 and len(model.weights) == len(model.mean) == len(model.scale)


def test_level_normalise_sets_the_loudest_frame_and_removes_gain():
    rng = np.random.default_rng(3)
    t = np.arange(8192) / FEATURE_RATE_HZ
    wave = (rng.normal(size=8192) * np.exp(-t / 0.05) * 0.5).astype(np.float32)
    out = level_normalise(wave)
    frames = out[: len(out) // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES).astype(np.float64)
    assert np.sqrt((frames**2).mean(axis=1)).max() == pytest.approx(NORM_RMS, rel=1e-5)
    np.testing.assert_allclose(level_normalise(wave * 0.01), out, rtol=1e-5, atol=1e-7)
    assert not level_normalise(np.zeros(8192, np.float32)).any()  # silence stays silent, no division by zero


def test_aisfx_norm_part_is_level_free_and_required():
    rng = np.random.default_rng(4)
    t = np.arange(8192) / FEATURE_RATE_HZ
    wave = (rng.normal(size=8192) * np.exp(-t / 0.04) * 0.5).astype(np.float32)
    loud, quiet = cat.clip_features([wave, wave * 0.02], FEATURE_RATE_HZ, "aisfx_norm")
    np.testing.assert_allclose(quiet, loud, atol=1e-4)
    assert np.linalg.norm(loud) == pytest.approx(1.0, abs=1e-6)  # a direction
    plain_loud, plain_quiet = cat.clip_features([wave, wave * 0.02], FEATURE_RATE_HZ, "aisfx")
    assert np.abs(plain_loud - plain_quiet).max() > 1e-2  # why the input is normalised: aisfx's front end is not level-free
    with pytest.raises(MetricError, match="aisfx_norm"):
        cat.feature_matrix("aisfx_norm", envelope=np.zeros((1, 16)), mel=np.zeros((1, 128)), aisfx=np.zeros((1, 512)))


def test_shipped_model_rejects_a_hum_and_a_noise_wall():
    rng = np.random.default_rng(5)
    t = np.arange(8192) / FEATURE_RATE_HZ
    hum = 0.3 * np.sin(2 * np.pi * 100.0 * t) + 0.1 * np.sin(2 * np.pi * 200.0 * t)
    wall = 0.3 * rng.normal(size=8192)
    model = cat.load_model()
    p = cat.footstep_probability([hum.astype(np.float32), wall.astype(np.float32)], FEATURE_RATE_HZ, model)
    assert p.shape == (2,) and (p < model.threshold).all()


def test_aisfx_normalised_framing_defaults_to_the_shipped_one_and_native_differs():
    rng = np.random.default_rng(6)
    t = np.arange(8192) / FEATURE_RATE_HZ
    wave = (rng.normal(size=8192) * np.exp(-t / 0.04) * 0.5).astype(np.float32)
    assert cat.AISFX_FRAMING == "centre" and cat.load_model().framing == "centre"
    default = cat.aisfx_normalised([wave])
    np.testing.assert_allclose(cat.aisfx_normalised([wave], framing="centre"), default, atol=1e-6)
    loud, quiet = cat.aisfx_normalised([wave, wave * 0.02], framing="centre")
    np.testing.assert_allclose(quiet, loud, atol=1e-4)  # still level-free
    native = cat.aisfx_normalised([wave], framing="native")
    assert np.abs(loud - native[0]).max() > 1e-3  # the clip alone is embedded differently from the clip in silence
    with pytest.raises(MetricError, match="framing"):
        cat.aisfx_normalised([wave], framing="stretch")


@pytest.mark.parametrize("edit, problem", [
    ({"weights": [float("nan")] + [0.0] * 15}, "weights holds a non-finite value"),
    ({"mean": [0.0] * 15 + [float("inf")]}, "mean holds a non-finite value"),
    ({"scale": [0.0] * 16}, "scale must be > 0"),
    ({"threshold": 7}, r"threshold must be in \[0, 1\]"),
    ({"threshold": float("nan")}, "threshold must be a finite number"),
    ({"mean": [0.0] * 3}, "same length, got 3, 16 and 16"),
    ({"mean": [0.0] * 3, "scale": [1.0] * 3, "weights": [1.0] * 3}, "feature set 'envelope' has 16 features, but the model has 3 weights"),
    ({"platt_a": float("nan")}, "platt_a must be a finite number"),
    ({"platt_b": "x"}, "platt_b must be a finite number"),
    ({"weights": ["a"] * 16}, "weights must be a non-empty list of numbers"),
    ({"embedder": "mel"}, "embedder 'mel' does not match feature set 'envelope'"),
])
def test_a_corrupt_or_hand_edited_model_is_refused_naming_the_file(tmp_path, edit, problem):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({**json.loads(TOY.to_json()), **edit}))  # json writes NaN/Infinity, as a hand edit can
    with pytest.raises(MetricError, match=problem) as e:
        cat.load_model(path)
    assert str(path) in e.value.message and "benchbox category fit" in e.value.hint


def test_format_1_and_shipped_models_pass_validation():
    assert cat.model_problem(cat.load_model()) is None and cat.model_problem(TOY) is None
