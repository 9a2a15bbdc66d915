"""benchmarks/nn1_anatomy.py: nearest distances and the split of the 1-NN accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from benchbox.metrics import prdc, twosample
from tests.benchmark_helpers import load_benchmark


@pytest.fixture(scope="module")
def anatomy():
    return load_benchmark("nn1_anatomy")


def test_nearest_matches_a_direct_loop(anatomy):
    rng = np.random.default_rng(0)
    a, b = prdc.l2_normalise(rng.normal(size=(7, 5))), prdc.l2_normalise(rng.normal(size=(4, 5)))
    direct = [min(np.linalg.norm(x - y) for y in b) for x in a]
    np.testing.assert_allclose(anatomy.nearest(a, b, same=False), direct, rtol=1e-6, atol=1e-6)
    direct_same = [min(np.linalg.norm(a[i] - a[j]) for j in range(len(a)) if j != i) for i in range(len(a))]
    np.testing.assert_allclose(anatomy.nearest(a, a, same=True), direct_same, rtol=1e-6, atol=1e-6)


def test_a_tight_offset_cluster_is_right_on_every_generated_clip(anatomy):
    """The pattern of the GAN's 45-minute clips: generated clips nearer each other than any real one."""
    rng = np.random.default_rng(1)
    real = prdc.l2_normalise(rng.normal(size=(20, 8)))
    centre = prdc.l2_normalise(rng.normal(size=(1, 8)))
    gen = prdc.l2_normalise(centre + 0.05 * rng.normal(size=(64, 8)))
    test = twosample.nn1_test(real, gen, permutations=0)
    assert test["gen_accuracy"] == 1.0
    assert np.median(anatomy.nearest(gen, gen, True)) < np.median(anatomy.nearest(gen, real, False))
    assert anatomy.spread(np.arange(11.0)) == {"median": 5.0, "q10": 1.0, "q90": 9.0}
