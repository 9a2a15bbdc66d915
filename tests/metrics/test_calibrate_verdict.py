"""benchmarks/calibrate_verdict.py helpers: gates, the verdict of known clips, negatives are what they claim."""

import numpy as np
import pandas as pd
import pytest

from benchbox.metrics.artifacts import detect
from tests.benchmark_helpers import load_benchmark


@pytest.fixture(scope="module")
def cal():
    return load_benchmark("calibrate_verdict")


def test_gates_and_cells(cal):
    assert cal.gate(np.array([1] * 9 + [0]), "footstep") == "pass" and cal.gate(np.array([1] * 8 + [0] * 2), "footstep") == "**FAIL**"
    assert cal.gate(np.array([1] + [0] * 9), "non-footstep") == "pass" and cal.gate(np.array([1] + [0] * 9), "failure") == "**FAIL**"
    assert cal.gate(np.array([]), "failure") == "-" and cal.gate(np.array([1]), "-") == "-"
    assert cal.rate_cell(np.array([1, 0, 0, 0])).startswith("25.0% (1/4) [")
    assert cal.reasons_cell(["ok", "click", "click", "not-footstep"]) == "click 2, not-footstep 1"


def test_judge_names_the_detector_and_the_category(cal):
    t = np.arange(8192) / 16000
    step = (0.3 * np.exp(-t / 0.03) * np.random.default_rng(0).normal(size=8192)).astype(np.float32)
    useful, why = cal.judge([step, step + 0.05], np.array([0.9, 0.1]), 0.5)
    assert useful.tolist() == [1, 0] and why == ["ok", "dc+not-footstep"]


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
    assert all(np.abs(x).max() > 3 * np.sqrt(np.mean(x**2)) for x in neg["noise bursts"])  # bursts, not a stationary wall


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
