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
