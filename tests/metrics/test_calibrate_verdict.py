"""benchmarks/calibrate_verdict.py helpers: folds never split a recording, negatives are what they claim."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchbox.metrics.artifacts import detect

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "calibrate_verdict.py"


@pytest.fixture(scope="module")
def cal():
    spec = importlib.util.spec_from_file_location("calibrate_verdict", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_folds_keep_each_recording_in_one_fold(cal):
    sources = pd.Series([f"rec{i % 13}" for i in range(60)])
    folds = cal.recording_folds(sources, seed=0)
    assert set(folds) == set(range(cal.FOLDS))
    for name in sources.unique():
        assert len(set(folds[sources == name])) == 1


def test_choose_realism_min_keeps_the_target_share(cal):
    values = np.linspace(0.5, 1.5, 200)
    threshold = cal.choose_realism_min(values)
    assert (values >= threshold).mean() >= cal.TARGET_KEEP
    assert threshold in values and (values >= threshold).mean() < cal.TARGET_KEEP + 0.01


def test_negatives_have_footstep_loudness_and_their_failure(cal):
    rng = np.random.default_rng(0)
    t = np.arange(8192) / 16000
    real = np.stack([0.3 * np.exp(-t / 0.03) * rng.normal(size=8192) for _ in range(5)]).astype(np.float32)
    neg = cal.negatives(real, rng)
    loud = {float(np.sqrt(np.mean(x**2))) for x in real}
    assert all(len(v) == cal.NEGATIVES_PER_KIND for v in neg.values())
    for x in neg["noise"]:
        assert min(abs(float(np.sqrt(np.mean(x**2))) - level) for level in loud) < 1e-6  # RMS drawn from the real clips
    assert all(detect(x, 16000)["dc/flag"] for x in neg["dc"])
    assert np.mean([detect(x, 16000)["clip/flag"] for x in neg["clipped"]]) >= 0.8  # a toy step may pass the rail only briefly
    assert all((np.abs(x) > 0).mean() < 0.02 for x in neg["silence+isolated clicks"])


def test_joint_space_has_unit_rows_made_of_both_halves(cal):
    rng = np.random.default_rng(1)
    emb = {"aisfx": rng.normal(size=(6, 5)) * 7.0, "mel": rng.normal(size=(6, 3))}
    joint = cal.space(emb, cal.JOINT_SPACE)
    assert joint.shape == (6, 8)
    np.testing.assert_allclose(np.linalg.norm(joint, axis=1), 1.0)
    np.testing.assert_allclose(joint[:, :5] * np.sqrt(2), emb["aisfx"] / np.linalg.norm(emb["aisfx"], axis=1, keepdims=True))
    assert cal.space(emb, "mel") is emb["mel"]


def test_sweep_recalibrates_every_rule_and_reports_each_gated_set(cal):
    rng = np.random.default_rng(2)
    n = 40
    folds = np.arange(n) % cal.FOLDS
    real = {"aisfx": rng.normal(size=(n, 6)) + 3.0, "mel": rng.normal(size=(n, 4)) + 3.0}
    far = {"aisfx": rng.normal(size=(10, 6)) - 3.0, "mel": rng.normal(size=(10, 4)) - 3.0}
    flags = {"real": [{"dc/flag": 0}] * n, "far": [{"dc/flag": 0}] * 10}
    rows = cal.sweep({"real": real, "far": far}, flags, folds, np.ones(n, bool), ["far"])
    assert len(rows) == 3 * len(cal.SWEEP_K) * len(cal.SWEEP_KEEP)
    for r in rows:
        useful, total, _ = r["held-out real"]
        assert total == int((~np.isin(folds, cal.CALIBRATION_FOLDS)).sum()) and useful / total >= 0.5
        assert r["far"][0] == 0  # a set on the other side of the space is never realistic
    text = cal.render_sweep(rows)
    assert text.count("\n") == len(rows) + 2 and "| aisfx+mel | 5 | 0.5 |" in text


def test_two_sample_tells_a_shifted_set_from_real(cal):
    rng = np.random.default_rng(3)
    real = rng.normal(size=(30, 4)) + np.array([5.0, 0, 0, 0])
    acc, p = cal.two_sample(real, rng.normal(size=(20, 4)) + np.array([0, 5.0, 0, 0]), seed=0)
    assert acc == 1.0 and p < 0.01
    acc, p = cal.two_sample(real, rng.normal(size=(20, 4)) + np.array([5.0, 0, 0, 0]), seed=0)
    assert acc < 0.75 and p > 0.01


def test_folder_clips_pools_every_folder_a_glob_matches(cal, tmp_path):
    import soundfile as sf

    for run, n in (("run_a", 2), ("run_b", 3)):
        folder = tmp_path / run / "samples" / "best" / "prime0"
        folder.mkdir(parents=True)
        for i in range(n):
            sf.write(folder / f"clip_{i}.wav", np.full(100, 0.1 * (i + 1), np.float32), 16000, subtype="FLOAT")
    clips = cal.folder_clips(str(tmp_path / "run_*" / "samples" / "*" / "prime0"))
    assert clips.shape == (5, cal.CLIP_SAMPLES) and (clips[:, 100:] == 0).all()  # zero-padded to T
    with pytest.raises(SystemExit, match="0 audio clip"):
        cal.folder_clips(str(tmp_path / "nothing_*"))
    (tmp_path / "run_c" / "samples" / "best" / "prime0").mkdir(parents=True)
    sf.write(tmp_path / "run_c" / "samples" / "best" / "prime0" / "only.wav", np.zeros(100, np.float32), 16000, subtype="FLOAT")
    with pytest.raises(SystemExit, match="1 audio clip.*at least 2"):
        cal.folder_clips(str(tmp_path / "run_c" / "samples" / "*" / "prime0"))
    (tmp_path / "run_c" / "samples" / "best" / "prime0" / "bad.wav").write_text("not audio")
    with pytest.raises(SystemExit, match="^error: .*bad.wav: cannot decode"):
        cal.folder_clips(str(tmp_path / "run_c" / "samples" / "*" / "prime0"))


def test_named_sets_needs_name_equals_glob(cal):
    assert cal.named_sets(["a b = x/*/y"], "--negative") == {"a b": "x/*/y"}
    for bad in ("no-equals", "=x", "name="):
        with pytest.raises(SystemExit, match="expected NAME=FOLDER_OR_GLOB"):
            cal.named_sets([bad], "--negative")
