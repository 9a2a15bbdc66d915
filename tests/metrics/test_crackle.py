"""The crackle and burstwall detectors (scorer version 7): each fires on its failure, stays silent on
a toy step, and flips exactly at its threshold."""

import dataclasses

import numpy as np
import pytest

from benchbox.metrics import failures
from benchbox.metrics.artifacts import FLAG_KEYS, DetectorConfig, detect
from benchbox.metrics.steadiness import burstwall, crackle
from benchbox.metrics.verdict import verdicts
from tests.metrics.test_artifacts import CLIP_SAMPLES, RATE_HZ, _t, footstep

CONFIG = DetectorConfig()
FRAME = int(CONFIG.crackle_frame_ms * RATE_HZ / 1000)  # 160 samples


def _db(x: float) -> float:
    return 10.0 ** (x / 20.0)


def framed(levels_db: list[float]) -> np.ndarray:
    """A 1 kHz sine whose RMS is exactly ``levels_db[i]`` dBFS in 10 ms frame i (10 whole periods a frame)."""
    sine = np.sqrt(2) * np.sin(2 * np.pi * 1000.0 * np.arange(FRAME) / RATE_HZ)  # (FRAME,) unit RMS
    return np.concatenate([_db(level) * sine for level in levels_db])


def onsets_clip(k: int, n_frames: int = CLIP_SAMPLES // FRAME) -> np.ndarray:
    """A loud first frame (-6 dBFS), then a floor at -50 dBFS with ``k`` one-frame rises to -40 dBFS."""
    levels = [-6.0] + [-50.0] * (n_frames - 1)
    for i in range(k):
        levels[3 + 4 * i] = -40.0
    return framed(levels)


def crackling(rng, step_ms=40.0, rate_hz=50.0):
    """A toy step faded out after ``step_ms`` (5 ms decay), over white noise 55 dB under it with short noise bursts 25 dB over that."""
    t, cut = _t(), step_ms / 1000
    x = footstep(rng).astype(np.float64) * np.where(t < cut, 1.0, np.exp(-(t - cut) / 0.005))
    floor = _db(-55.0) * np.abs(x).max()
    x += floor * rng.normal(size=CLIP_SAMPLES)
    for start in rng.integers(0, CLIP_SAMPLES - 80, size=int(rate_hz * CLIP_SAMPLES / RATE_HZ)):
        x[start : start + 80] += _db(25.0) * floor * rng.normal(size=80) * np.exp(-np.arange(80) / 40)
    return x


def hiss_with_burst(rng, at_s=0.3, over_db=20.0, decay_db_per_s=0.0):
    """White noise at -40 dBFS for the whole clip (optionally decaying), one 10 ms noise burst ``over_db`` over it at ``at_s``."""
    t = _t()
    x = _db(-40.0) * rng.normal(size=CLIP_SAMPLES) * 10.0 ** (-decay_db_per_s * t / 20)
    i = int(at_s * RATE_HZ)
    x[i : i + 160] += _db(-40.0 + over_db) * rng.normal(size=160)
    return x


def test_toy_step_passes_both(rng):
    x = footstep(rng).astype(np.float64)
    assert crackle(x, RATE_HZ, CONFIG)["crackle/flag"] == 0
    assert burstwall(x, RATE_HZ, CONFIG)["burstwall/flag"] == 0


def test_a_crackling_floor_after_a_step_is_crackle(rng):
    out = crackle(crackling(rng), RATE_HZ, CONFIG)
    assert out["crackle/flag"] == 1
    assert out["crackle/rate_hz"] == pytest.approx(out["crackle/onsets"] / (CLIP_SAMPLES / RATE_HZ))


@pytest.mark.parametrize("k", [7, 8])
def test_crackle_flips_at_its_rate(k):
    """0.512 s of clip: 7 onsets are 13.7 per second (under 15), 8 are 15.6 (over)."""
    out = crackle(onsets_clip(k), RATE_HZ, CONFIG)
    assert out["crackle/onsets"] == k
    assert out["crackle/flag"] == int(k / (CLIP_SAMPLES / RATE_HZ) >= CONFIG.crackle_rate_hz_flag_above)
    assert out["crackle/flag"] == (k == 8)


def test_crackle_thresholds_are_honoured():
    x = onsets_clip(8)
    assert crackle(x, RATE_HZ, dataclasses.replace(CONFIG, crackle_rise_db=10.5))["crackle/onsets"] == 0  # rises are 10 dB
    assert crackle(x, RATE_HZ, dataclasses.replace(CONFIG, crackle_quiet_db=40.0))["crackle/onsets"] == 0  # -40 is 34 dB under -6
    assert crackle(x, RATE_HZ, dataclasses.replace(CONFIG, crackle_window_db=40.0))["crackle/onsets"] == 0  # the floor is 44 dB under


def test_onsets_near_the_loudest_frame_and_out_of_silence_are_not_crackle():
    loud = framed([-6.0, -12.0] * 25)  # a step re-hitting within 10 dB of its loudest: 25 rises of 6 dB
    assert crackle(loud, RATE_HZ, CONFIG)["crackle/onsets"] == 0
    sparse = np.zeros(CLIP_SAMPLES)
    for i in range(0, 50, 4):  # bursts out of digital silence: their rise starts below crackle_floor_dbfs
        sparse[i * FRAME : (i + 1) * FRAME] = framed([-40.0])
    sparse[:FRAME] = framed([-6.0])
    assert crackle(sparse, RATE_HZ, CONFIG)["crackle/onsets"] == 0


def test_crackle_of_silence_is_zero():
    assert crackle(np.zeros(CLIP_SAMPLES), RATE_HZ, CONFIG) == {"crackle/onsets": 0, "crackle/rate_hz": 0.0, "crackle/flag": 0}


def test_a_hiss_with_a_late_burst_is_a_burstwall(rng):
    out = burstwall(hiss_with_burst(rng), RATE_HZ, CONFIG)
    assert out["burstwall/flag"] == 1 and out["burstwall/count"] == 1
    assert out["burstwall/floor_share"] > 0.9 and out["burstwall/sounding_share"] == 1.0
    assert out["burstwall/max_db"] > CONFIG.burstwall_rise_db


def test_a_burst_at_the_onset_or_a_decaying_floor_is_not(rng):
    assert burstwall(hiss_with_burst(rng, at_s=0.05), RATE_HZ, CONFIG)["burstwall/count"] == 0  # a step's own onset
    decaying = burstwall(hiss_with_burst(rng, decay_db_per_s=60.0), RATE_HZ, CONFIG)  # 30 dB over the clip
    assert decaying["burstwall/count"] == 1 and decaying["burstwall/floor_share"] < CONFIG.burstwall_floor_share_flag_above
    assert decaying["burstwall/flag"] == 0


def test_burstwall_flips_at_its_rise(rng):
    x = hiss_with_burst(rng, over_db=20.0)
    top = burstwall(x, RATE_HZ, CONFIG)["burstwall/max_db"]
    assert burstwall(x, RATE_HZ, dataclasses.replace(CONFIG, burstwall_rise_db=top - 0.1))["burstwall/flag"] == 1
    assert burstwall(x, RATE_HZ, dataclasses.replace(CONFIG, burstwall_rise_db=top + 0.1))["burstwall/flag"] == 0


def test_burstwall_of_silence_or_a_short_sound_is_silent(rng):
    assert burstwall(np.zeros(CLIP_SAMPLES), RATE_HZ, CONFIG)["burstwall/flag"] == 0
    x = hiss_with_burst(rng)
    x[int(0.2 * RATE_HZ) :] = 0.0  # sound for 40% of the clip, burst cut away
    assert burstwall(x, RATE_HZ, CONFIG)["burstwall/sounding_share"] < CONFIG.burstwall_sounding_share_flag_above


def test_reasons_name_crackle_and_burstwall(rng):
    waves = [crackling(rng), hiss_with_burst(rng)]
    flags = [{k: v for k, v in detect(w, RATE_HZ).items() if k in FLAG_KEYS} for w in waves]
    useful, why = verdicts(flags, np.array([0.9, 0.9]), 0.5)
    assert useful.tolist() == [0, 0]
    assert why == ["crackle", "burstwall"]


def _toy_real(rng, n=8):
    return np.stack([footstep(rng, peak=p) for p in np.linspace(0.2, 0.8, n)])


def test_each_version7_kind_is_caught_by_its_detector(rng):
    drawn = failures.negatives(_toy_real(rng), np.random.default_rng(3), n=20)
    rate = {kind: np.mean([detect(x, RATE_HZ)[f"{name}/flag"] for x in drawn[kind]])
            for kind, name in (("step+crackle", "crackle"), ("noise wall+late bursts", "burstwall"))}
    assert rate["step+crackle"] >= 0.9 and rate["noise wall+late bursts"] >= 0.9


def test_version7_kinds_leave_the_earlier_draws_unchanged(rng, monkeypatch):
    real = _toy_real(rng)
    before = failures.negatives(real, np.random.default_rng(0), n=5)
    for helper in ("_crackle", "_wall_with_bursts"):
        monkeypatch.setattr(failures, helper, lambda *a, **k: np.zeros(CLIP_SAMPLES))
    after = failures.negatives(real, np.random.default_rng(0), n=5)
    assert failures.KINDS[10:] == ("step+crackle", "noise wall+late bursts")
    for kind in failures.KINDS[:10]:
        np.testing.assert_array_equal(before[kind], after[kind])


def test_a_floor_far_under_the_clip_is_not_a_burstwall(rng):
    """A clean step over a dither floor 80 dB down (a diffusion model's quiet tail): inaudible, whatever pops out of it."""
    t = _t()
    step = footstep(rng).astype(np.float64) * np.where(t < 0.03, 1.0, np.exp(-(t - 0.03) / 0.005))  # gone by 0.1 s
    x = step + hiss_with_burst(rng) * _db(-45.0)  # floor at -85 dBFS under a 0.5-peak step
    out = burstwall(x, RATE_HZ, CONFIG)
    assert out["burstwall/count"] == 1 and out["burstwall/floor_share"] >= CONFIG.burstwall_floor_share_flag_above
    assert out["burstwall/floor_depth_db"] > CONFIG.burstwall_floor_depth_db_flag_below and out["burstwall/flag"] == 0
    assert burstwall(x, RATE_HZ, dataclasses.replace(CONFIG, burstwall_floor_depth_db_flag_below=90.0))["burstwall/flag"] == 1
