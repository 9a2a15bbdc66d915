"""benchmarks/abrupt_stop.py: the fall and body-spread cues of a clip, against a direct computation."""

import numpy as np
import pytest

from tests.benchmark_helpers import load_benchmark

RATE_HZ = 16000


@pytest.fixture(scope="module")
def ab():
    return load_benchmark("abrupt_stop")


def test_a_noise_block_cut_into_digital_silence_falls_far_and_a_decaying_step_does_not(ab):
    rng = np.random.default_rng(0)
    n = RATE_HZ // 2
    block = np.zeros(n)
    block[: int(0.2 * RATE_HZ)] = 0.3 * rng.standard_normal(int(0.2 * RATE_HZ))  # 200 ms of flat noise, then zeros
    fall, spread = ab.cues(block, RATE_HZ)
    assert fall > 150 and spread < 1.0  # from about -20 dB to the -200 dB floor of exact zeros; a flat body
    t = np.arange(n) / RATE_HZ
    step = 0.3 * rng.standard_normal(n) * np.exp(-t / 0.03)  # a step decaying 29 dB per 100 ms
    fall, spread = ab.cues(step, RATE_HZ)
    db = ab.frame_db(step, RATE_HZ)  # direct: the last frame within 30 dB of the peak, then the next three
    last = int(np.flatnonzero(db > db.max() - 30)[-1])
    assert fall == pytest.approx(db[last] - db[last + 1 : last + 4].min()) and fall < 10
    frame = RATE_HZ * 4 // 1000
    assert db[0] == pytest.approx(10 * np.log10(np.mean(step[:frame] ** 2) + 1e-20))
