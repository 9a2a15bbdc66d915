"""The wall, dropout and line detectors: each fires on its failure and stays silent on a toy step (8-bit quantised too, for dropout)."""

import dataclasses
import math

import numpy as np
import pytest

from benchbox.audio import quantise
from benchbox.metrics import failures
from benchbox.metrics.artifacts import FLAG_KEYS, DetectorConfig, detect
from benchbox.metrics.steadiness import dropout, line, wall
from benchbox.metrics.verdict import verdicts
from tests.metrics.test_artifacts import CLIP_SAMPLES, RATE_HZ, _t, footstep

CONFIG = DetectorConfig()


def _db(x: float) -> float:
    return 10.0 ** (x / 20.0)


def noise_wall(rng, level_db=-40.0, blip_db=20.0, f_hz=90.0):
    """White noise at ``level_db`` RMS for the whole clip plus two decaying low blips ``blip_db`` above it."""
    t = _t()
    x = _db(level_db) * rng.normal(size=CLIP_SAMPLES)
    for start in (0.1, 0.3):
        k = np.clip(t - start, 0.0, None)
        x += (t >= start) * _db(level_db + blip_db) * np.sqrt(2) * np.exp(-k / 0.03) * np.sin(2 * np.pi * f_hz * k)
    return x


def test_toy_step_passes_the_three_new_detectors(rng):
    x = footstep(rng).astype(np.float64)
    assert wall(x, RATE_HZ, CONFIG)["wall/flag"] == 0
    assert dropout(x, RATE_HZ, CONFIG)["dropout/flag"] == 0
    assert line(x, RATE_HZ, CONFIG)["line/flag"] == 0


def test_a_noise_wall_with_low_blips_is_a_wall(rng):
    out = wall(noise_wall(rng), RATE_HZ, CONFIG)
    assert out["wall/flag"] == 1
    assert out["wall/high_iqr_db"] < 2.0  # white noise in 20 ms frames: the high band barely moves
    assert out["wall/low_share"] > 0.8


def test_a_broadband_texture_is_not_a_wall(rng):
    """Steady noise whose loud moments are broadband (running on sand), not low blips."""
    x = 0.1 * rng.normal(size=CLIP_SAMPLES) * (1.0 + 0.5 * np.sin(2 * np.pi * 6 * _t()))
    out = wall(x, RATE_HZ, CONFIG)
    assert out["wall/low_share"] < 0.1 and out["wall/flag"] == 0


def test_wall_is_silent_on_digital_silence():
    out = wall(np.zeros(CLIP_SAMPLES), RATE_HZ, CONFIG)
    assert out == {"wall/high_contrast_db": 0.0, "wall/high_iqr_db": 0.0, "wall/low_share": 0.0, "wall/flag": 0}


def test_a_gap_inside_a_sustained_sound_is_a_dropout(rng):
    x = 0.2 * rng.normal(size=CLIP_SAMPLES)
    gap = slice(int(0.200 * RATE_HZ), int(0.230 * RATE_HZ))  # 30 ms of digital zero
    x[gap] = 0.0
    out = dropout(x, RATE_HZ, CONFIG)
    assert out["dropout/count"] == 1 and out["dropout/flag"] == 1
    assert 25.0 <= out["dropout/max_ms"] <= 40.0  # 5 ms frames: the gap, to a frame either side


def test_a_cut_that_never_comes_back_is_not_a_dropout(rng):
    x = footstep(rng).astype(np.float64)
    x[int(0.05 * RATE_HZ) :] = 0.0  # the importer's tail cut: abrupt, but the sound does not return
    assert dropout(x, RATE_HZ, CONFIG)["dropout/count"] == 0


def _step_with_quiet_tail(seed: int) -> np.ndarray:
    """A toy step over a rustle that fades from -34 dBFS through the last codes of 8-bit linear (1/128)."""
    rng = np.random.default_rng(seed)
    return footstep(rng).astype(np.float64) + 0.02 * np.exp(-_t() / 0.15) * rng.normal(size=CLIP_SAMPLES)


def test_a_quiet_tail_toggling_at_one_linear_code_is_not_a_dropout():
    """8-bit linear: the tail flips between digital zero and one code, so 5 ms frames fall to zero and come back."""
    linear = [quantise(_step_with_quiet_tail(seed), "linear").astype(np.float64) for seed in range(8)]
    assert all(dropout(x, RATE_HZ, CONFIG)["dropout/count"] == 0 for x in linear)
    unguarded = dataclasses.replace(CONFIG, dropout_floor_margin_db=-math.inf)  # the rule before the floor margin
    assert sum(dropout(x, RATE_HZ, unguarded)["dropout/flag"] for x in linear) >= 2


@pytest.mark.parametrize("scheme", [None, "linear", "mulaw"])
def test_a_gap_in_the_body_of_a_step_is_a_dropout_at_any_quantisation(scheme):
    for seed in range(4):
        x = _step_with_quiet_tail(seed)
        x[int(0.035 * RATE_HZ) : int(0.055 * RATE_HZ)] = 0.0  # 20 ms of digital zero, 25 ms after the onset
        if scheme:
            x = quantise(x, scheme).astype(np.float64)
        out = dropout(x, RATE_HZ, CONFIG)
        assert out["dropout/count"] >= 1 and out["dropout/flag"] == 1
        assert 15.0 <= out["dropout/max_ms"] <= 30.0


@pytest.mark.parametrize("f_hz", [1500.0, 4000.0, 6500.0])
def test_a_held_line_over_a_step_is_a_line(rng, f_hz):
    step = footstep(rng).astype(np.float64)
    x = step + 0.01 * np.sin(2 * np.pi * f_hz * _t())
    out = line(x, RATE_HZ, CONFIG)
    assert out["line/flag"] == 1
    assert out["line/hz"] == pytest.approx(f_hz, abs=RATE_HZ / 512)  # one 32 ms bin
    assert out["line/level_spread_db"] < 3.0


def test_a_ring_that_decays_with_the_step_is_not_a_line(rng):
    """A glass or metal step: a strong partial, but it fades with the step."""
    t = _t()
    x = footstep(rng).astype(np.float64) + 0.2 * np.exp(-t / 0.08) * np.sin(2 * np.pi * 2500.0 * t)
    out = line(x, RATE_HZ, CONFIG)
    assert out["line/contrast_db"] > CONFIG.line_contrast_db_flag_above  # it is a line while it lasts
    assert out["line/level_spread_db"] > CONFIG.line_level_spread_db_flag_below and out["line/flag"] == 0


def test_reasons_name_the_new_detectors(rng):
    waves = [noise_wall(rng), footstep(rng) + 0.01 * np.sin(2 * np.pi * 3000.0 * _t())]
    flags = [{k: v for k, v in detect(w, RATE_HZ).items() if k in FLAG_KEYS} for w in waves]
    useful, why = verdicts(flags, np.array([0.9, 0.1]), 0.5)
    assert useful.tolist() == [0, 0]
    assert why == ["wall+burstwall", "line+not-footstep"]  # the blip at 0.3 s is also a late burst over a steady floor


def _toy_real(rng, n=8):
    return np.stack([footstep(rng, peak=p) for p in np.linspace(0.2, 0.8, n)])


def test_each_new_failure_kind_is_caught_by_its_detector(rng):
    drawn = failures.negatives(_toy_real(rng), np.random.default_rng(3), n=20)
    rate = {kind: np.mean([detect(x, RATE_HZ)[f"{name}/flag"] for x in drawn[kind]])
            for kind, name in (("noise wall+faint blips", "wall"), ("step+dropouts", "dropout"), ("step+steady line", "line"))}
    assert rate["noise wall+faint blips"] == 1.0 and rate["step+steady line"] == 1.0
    assert rate["step+dropouts"] >= 0.8  # a gap late in a fast-decaying toy step may not come back within 20 dB


def test_new_kinds_leave_the_earlier_draws_unchanged(rng, monkeypatch):
    """They are drawn after the other kinds, so the category model's training negatives stay as they were."""
    real = _toy_real(rng)
    before = failures.negatives(real, np.random.default_rng(0), n=5)
    for helper in ("_wall_with_blips", "_dropouts", "_steady_line"):
        monkeypatch.setattr(failures, helper, lambda *a, **k: np.zeros(CLIP_SAMPLES))
    after = failures.negatives(real, np.random.default_rng(0), n=5)
    for kind in failures.KINDS[:7]:
        np.testing.assert_array_equal(before[kind], after[kind])
