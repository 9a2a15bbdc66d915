"""Artefact detectors against closed forms, plus the calibration gates on the dev data."""

import math

import numpy as np
import pytest

from benchbox import config as cfg
from benchbox.errors import ConfigError
from benchbox.metrics.artifacts import ALL_KEYS, FLAG_KEYS, DetectorConfig, detect
from tests.benchmark_helpers import load_benchmark

RATE_HZ = 16_000
CLIP_SAMPLES = 8192


def _t(n=CLIP_SAMPLES, rate=RATE_HZ):
    return np.arange(n) / rate


def footstep(rng, rate=RATE_HZ, n=CLIP_SAMPLES, peak=0.5):
    """Impulse + noise with a 40 ms exponential decay and a short 120 Hz modal ring."""
    t = _t(n, rate)
    onset = int(0.010 * rate)
    env = np.where(t >= onset / rate, np.exp(-(t - onset / rate) / 0.040), 0.0)
    ring = np.where(t >= onset / rate, np.exp(-(t - onset / rate) / 0.025), 0.0) * np.sin(2 * np.pi * 120 * t)
    x = env * rng.normal(size=n) + 0.5 * ring
    x[onset] += 3.0
    return (peak * x / np.abs(x).max()).astype(np.float32)


def test_detect_returns_every_key(rng):
    out = detect(footstep(rng), RATE_HZ)
    assert set(out) == set(ALL_KEYS)


def test_real_like_footstep_passes_every_detector(rng):
    out = detect(footstep(rng), RATE_HZ)
    assert {k: out[k] for k in FLAG_KEYS} == {k: 0 for k in FLAG_KEYS}
    assert out["useful/auto"] == 1
    assert out["transient/crest_db"] > 10.0


def test_pure_dc_has_known_offset():
    out = detect(np.full(CLIP_SAMPLES, 0.25, dtype=np.float32), RATE_HZ)
    assert out["dc/offset"] == pytest.approx(0.25, abs=1e-7)
    assert out["dc/offset_rel"] == pytest.approx(1.0, abs=1e-7)
    assert out["dc/flag"] == 1 and out["useful/auto"] == 0


def test_small_offset_on_a_footstep_is_flagged(rng):
    x = footstep(rng) + 0.01
    out = detect(x, RATE_HZ)
    assert out["dc/offset"] == pytest.approx(float(np.mean(x, dtype=np.float64)), rel=1e-6)
    assert out["dc/flag"] == 1


@pytest.mark.parametrize("f_hz,rate", [(440.0, RATE_HZ), (100.0, RATE_HZ), (100.0, 44_100), (57.0, RATE_HZ)])
def test_sine_gives_its_f0_and_is_flagged(f_hz, rate):
    x = 0.5 * np.sin(2 * np.pi * f_hz * _t(rate * CLIP_SAMPLES // RATE_HZ, rate))
    out = detect(x, rate)
    assert out["periodicity/f0_hz"] == pytest.approx(f_hz, abs=2.0)
    assert out["periodicity/strength"] > 0.9
    assert out["periodicity/flag"] == 1
    assert out["transient/flag"] == 1  # crest of a sine is 3 dB


def test_hum_mixed_into_a_footstep_is_flagged(rng):
    x = footstep(rng)
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    out = detect(x + 0.5 * rms * math.sqrt(2) * np.sin(2 * np.pi * 150.0 * _t() + 0.3), RATE_HZ)
    assert out["periodicity/flag"] == 1
    assert out["periodicity/f0_hz"] == pytest.approx(150.0, abs=2.0)


def test_silence_is_flagged():
    out = detect(np.zeros(CLIP_SAMPLES, dtype=np.float32), RATE_HZ)
    assert out["silence/fraction"] == 1.0
    assert out["silence/rms_dbfs"] < -100.0
    assert out["silence/flag"] == 1 and out["useful/auto"] == 0
    assert math.isnan(out["periodicity/f0_hz"]) and out["periodicity/flag"] == 0


def test_clipped_square_is_flagged():
    square = np.clip(4.0 * np.sign(np.sin(2 * np.pi * 50.0 * _t() + 0.1)), -1.0, 1.0)
    out = detect(square, RATE_HZ)
    assert out["clip/max_run"] == RATE_HZ // 100  # half a 50 Hz period at the rail
    assert out["clip/fraction"] == 1.0
    assert out["clip/flag"] == 1


def test_single_full_scale_peak_is_not_clipping(rng):
    x = footstep(rng, peak=1.0)
    out = detect(x, RATE_HZ)
    assert out["clip/max_run"] <= 2 and out["clip/flag"] == 0


def test_stationary_noise_has_no_transient(rng):
    out = detect(0.1 * rng.normal(size=CLIP_SAMPLES), RATE_HZ)
    assert out["transient/env_ratio_db"] < 4.0
    assert out["transient/flag"] == 1


def test_nan_is_flagged_and_other_values_stay_finite(rng):
    x = footstep(rng).astype(np.float64)
    x[100] = np.nan
    x[200] = np.inf
    out = detect(x, RATE_HZ)
    assert out["nan/flag"] == 1 and out["useful/auto"] == 0
    assert all(math.isfinite(out[k]) for k in ("dc/offset", "silence/rms_dbfs", "transient/crest_db"))


def test_detectors_agree_across_sample_rates(rng):
    from benchbox.audio import resample

    x = footstep(rng)
    a, b = detect(x, RATE_HZ), detect(resample(x, RATE_HZ, 48_000), 48_000)
    assert {k: a[k] for k in FLAG_KEYS} == {k: b[k] for k in FLAG_KEYS}
    assert a["transient/crest_db"] == pytest.approx(b["transient/crest_db"], abs=1.5)


def test_thresholds_come_from_config():
    config = cfg.from_dict(DetectorConfig, cfg.parse_overrides(["dc_offset_flag_above=0.5", "dc_offset_rel_flag_above=2"]))
    out = detect(np.full(CLIP_SAMPLES, 0.25), RATE_HZ, config)
    assert out["dc/flag"] == 0


def test_bad_config_is_a_one_line_error():
    with pytest.raises(ConfigError, match="unknown config key 'dc_thresh'"):
        cfg.from_dict(DetectorConfig, {"dc_thresh": 1})
    with pytest.raises(ConfigError, match="clip_level"):
        cfg.from_dict(DetectorConfig, {"clip_level": 1.5})


def _calibration_module():
    return load_benchmark("calibrate_detectors")


@pytest.mark.slow
def test_calibration_gates_hold_on_dev_data(dev_data, tmp_path):
    cal = _calibration_module()
    clips, rate = cal.real_clips(dev_data, None, tmp_path)
    subset = clips[::2]  # every other clip keeps the test near 15 s
    result = cal.calibrate(subset, rate, quantised=False)
    n = result["n"]
    assert n >= 50
    for key in FLAG_KEYS:
        assert result["fpr"]["real"][key] <= cal.MAX_FPR * n, (key, result["fpr"]["real"])
    for name, hits in result["recall"].items():
        assert hits >= cal.MIN_RECALL * n, (name, hits, n)


# ------------------------------------------------------------------ clicks, flat tops


def _click_ratio_loop(x, w, g):
    """Direct definition: |x[t]| over the max |x| within w samples, the guard band left out."""
    out = np.empty(len(x))
    for t in range(len(x)):
        ctx = [abs(x[u]) for u in range(t - w, t + w + 1) if 0 <= u < len(x) and abs(u - t) > g]
        out[t] = abs(x[t]) / max(max(ctx, default=0.0), 1e-3)  # the -60 dBFS silence floor
    return out


@pytest.mark.parametrize("rate,guard", [(RATE_HZ, 1), (RATE_HZ, 0), (44_100, 2)])
def test_click_ratio_matches_a_direct_loop(rng, rate, guard):
    from benchbox.metrics.artifacts import click_ratio

    x = rng.normal(size=400) * np.exp(-np.arange(400) / 150.0)
    x[:20] = 0.0  # digital silence at the start: context of zeros
    config = DetectorConfig(click_guard_samples=guard)
    w = max(guard + 1, round(config.click_context_ms * rate / 1000))
    np.testing.assert_allclose(click_ratio(x, rate, config), _click_ratio_loop(x, w, guard), rtol=1e-12)


def test_isolated_impulses_in_noise_are_counted_as_click_events(rng):
    x = 0.02 * rng.normal(size=CLIP_SAMPLES)
    x[1000] = 0.6
    x[3000], x[3001] = -0.5, -0.45  # two adjacent samples: one event
    out = detect(x, RATE_HZ)
    assert out["click/count"] == 2 and out["click/flag"] == 1 and out["useful/auto"] == 0
    assert out["click/max_ratio"] > 4.0


def test_an_impulse_in_digital_silence_has_a_finite_ratio_and_is_a_click():
    x = np.zeros(CLIP_SAMPLES)
    x[1000] = 0.5
    out = detect(x, RATE_HZ)
    assert out["click/count"] == 1 and out["click/max_ratio"] == pytest.approx(0.5 / 1e-3)  # measured against the -60 dBFS floor


def test_a_click_below_the_floor_is_not_counted(rng):
    x = 0.001 * rng.normal(size=CLIP_SAMPLES)
    x[1000] = 0.02  # -34 dBFS: under the -30 dBFS floor
    out = detect(x, RATE_HZ)
    assert out["click/count"] == 0 and out["click/flag"] == 0


def test_a_steep_onset_after_digital_silence_is_not_a_click(rng):
    t = _t()
    x = np.zeros(CLIP_SAMPLES)
    on = 200
    x[on:] = np.exp(-(t[on:] - t[on]) / 0.03) * rng.normal(size=CLIP_SAMPLES - on)
    x = 0.9 * x / np.abs(x).max()
    out = detect(x, RATE_HZ)
    assert out["click/flag"] == 0 and out["click/max_ratio"] < 4.0


def test_a_loud_smooth_low_frequency_peak_is_not_clipping():
    x = 0.995 * np.sin(2 * np.pi * 60.0 * _t()) * np.exp(-_t() / 0.5)  # >= 0.95 for ~20 samples at its first crest
    out = detect(x, RATE_HZ)
    assert out["clip/fraction"] > 0.0
    assert out["clip/max_run"] <= 2 and out["clip/flag"] == 0


def test_a_run_of_mu_law_top_codes_is_clipping(rng):
    import torch

    from benchbox.audio import decode

    codes = torch.full((CLIP_SAMPLES,), 128, dtype=torch.long)
    codes[100:140] = torch.randint(0, 256, (40,))
    codes[500:505] = 255  # five top codes in a row: decode to 0.957
    x = decode(codes, "mulaw").numpy()
    out = detect(x, RATE_HZ)
    assert out["clip/max_run"] == 5 and out["clip/flag"] == 1


def test_a_clipped_plateau_is_found_beside_a_higher_overshoot():
    """Runs were measured at the clip's own peak, so one sample above a clipped plateau hid it."""
    x = np.clip(1.5 * np.sin(2 * np.pi * 150.0 * _t()), -0.96, 0.96) * np.exp(-_t() / 0.2)
    x[:200] = np.clip(1.5 * np.sin(2 * np.pi * 150.0 * _t()[:200]), -0.96, 0.96)  # a clipped onset
    x[5] = 0.99  # one overshooting sample elsewhere
    out = detect(x, RATE_HZ)
    assert out["clip/max_run"] >= 3 and out["clip/flag"] == 1


@pytest.mark.parametrize(("key", "value", "valid"), [
    ("dc_offset_flag_above", -1, "> 0"),  # abs(mean) >= -1: every clip flagged
    ("dc_offset_flag_above", 0, "> 0"),
    ("silence_fraction_flag_above", float("nan"), "> 0"),
    ("transient_crest_db_flag_below", -3, ">= 0"),
    ("click_count_flag_above", 0, ">= 1"),
    ("silence_floor_dbfs", 6, "<= 0 dBFS"),
])  # fmt: skip
def test_a_meaningless_detector_threshold_is_a_config_error(key, value, valid):
    with pytest.raises(ConfigError, match=rf"invalid config in \[detectors\]: {key} must be {valid}, got "):
        cfg.from_dict(DetectorConfig, {key: value}, where="detectors.")


def test_every_detector_threshold_has_a_range_and_the_defaults_pass():
    import dataclasses

    from benchbox.metrics import artifacts

    ranged = artifacts.POSITIVE_FIELDS + artifacts.NON_NEGATIVE_FIELDS + artifacts.COUNT_FIELDS + artifacts.DBFS_FIELDS
    thresholds = {f.name for f in dataclasses.fields(DetectorConfig) if "_flag_" in f.name}
    assert thresholds - {"click_ratio_flag_above", "burstwall_floor_share_flag_above", "burstwall_sounding_share_flag_above",
                         "line_contrast_db_flag_above"} <= set(ranged)  # those four: checked in __post_init__, or any value is a contrast
    DetectorConfig()
    DetectorConfig(dc_offset_flag_above=1.0, periodicity_strength_flag_above=2.0)  # past every value: the detector is off, allowed
