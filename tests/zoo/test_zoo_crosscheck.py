"""Cross-check benchbox's Fréchet maths against frechet-audio-distance (the zoo venv only).

Run with ``bash benchmarks/zoo_crosscheck.sh``. Skips in the main venv, where
``frechet_audio_distance`` is not installed. ``benchbox/metrics/fad.py`` is loaded by
file path so that only numpy/scipy (and ``benchbox.errors``) are needed, whatever
torch the zoo venv carries.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.zoo

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the zoo package must never reach a hub here
zoo = pytest.importorskip("frechet_audio_distance", reason="frechet-audio-distance is only in the zoo venv")

REPO = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-6


def load_fad_module():
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))  # for benchbox.errors (no third-party imports)
    spec = importlib.util.spec_from_file_location("benchbox_fad_by_path", REPO / "benchbox" / "metrics" / "fad.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reference_distance(mu1, sigma1, mu2, sigma2) -> float:
    # An instance without __init__: building one would load VGGish from a hub.
    obj = zoo.FrechetAudioDistance.__new__(zoo.FrechetAudioDistance)
    value = float(obj.calculate_frechet_distance(mu1, sigma1, mu2, sigma2))
    assert value != -1, "frechet_audio_distance signalled an error (-1)"
    return value


@pytest.mark.parametrize(("n", "dim", "shift"), [(400, 32, 0.3), (300, 128, 0.0), (1000, 128, 1.0)])
def test_fad_equals_frechet_audio_distance(n, dim, shift):
    fad = load_fad_module()
    assert "torch" not in fad.__dict__
    rng = np.random.default_rng(n + dim)
    a = rng.normal(size=(n, dim))
    b = rng.normal(size=(n, dim)) * rng.uniform(0.5, 1.5, size=dim) + shift
    mu1, sigma1 = fad.stats(a)
    mu2, sigma2 = fad.stats(b)
    expected = reference_distance(mu1, sigma1, mu2, sigma2)
    assert fad.frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=TOLERANCE, abs=TOLERANCE)
    assert fad.fad(a, b) == pytest.approx(expected, rel=TOLERANCE, abs=TOLERANCE)
    np.testing.assert_allclose(sigma1, np.cov(a, rowvar=False), rtol=1e-12)
