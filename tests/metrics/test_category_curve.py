"""benchmarks/category_curve.py: subsampling keeps whole source files of the training side only."""

import numpy as np
import pytest

from tests.benchmark_helpers import load_benchmark


@pytest.fixture(scope="module")
def cc():
    return load_benchmark("category_curve")


def toy():
    """Packages a, b, c (10 files of 2 clips each) plus 6 synthetic rows; the class in feature 0."""
    pk = np.array(["a"] * 20 + ["b"] * 20 + ["c"] * 20 + ["synthetic"] * 6)
    sources = np.array([f"{p}/{i // 2}" for p, i in zip(pk, np.arange(len(pk)) % 20)])
    y = np.array([int(s.split("/")[1]) % 2 for s in sources[:60]] + [0] * 6)
    x = np.random.default_rng(0).normal(size=(66, 3)) + 3.0 * y[:, None] * np.array([1.0, 0.0, 0.0])
    return x, y, pk, sources


def test_subsampled_keeps_whole_files_of_the_training_side_and_every_synthetic_row(cc):
    x, y, pk, sources = toy()
    for held, train, _ in cc.fc.lopo_splits(pk):
        kept = cc.subsampled(train, sources, pk, 0.5, np.random.default_rng(1))
        assert held not in set(pk[kept])
        assert set(np.flatnonzero(pk == "synthetic")) <= set(kept)
        files = set(sources[kept]) - set(sources[pk == "synthetic"])
        assert len(files) == 10  # half of the 20 training files
        assert all(np.isin(np.flatnonzero(sources == f), kept).all() for f in files)  # every clip of a drawn file


def test_curve_ends_at_the_full_fit_and_pairs_score_each_package(cc):
    x, y, pk, sources = toy()
    curve = dict(cc.share_curve(x, y, pk, sources, draws=2))
    assert len(curve[1.0]) == 1 and len(curve[0.25]) == 2
    full = np.full(len(y), np.nan)
    for _, tr, te in cc.fc.lopo_splits(pk):
        full[te] = cc.probe_scores(x, y, tr, te)
    real = pk != "synthetic"
    assert curve[1.0][0] == pytest.approx(cc.cat.auc(full[real], y[real]))
    pairs = cc.package_pairs(x, y, pk)
    assert sorted((a, b) for a, b, _, _ in pairs) == [("a", "b"), ("a", "c"), ("b", "a"), ("b", "c"), ("c", "a"), ("c", "b")]
    assert all(0.9 < one <= 1.0 and 0.9 < both <= 1.0 for _, _, one, both in pairs)  # a separable toy
