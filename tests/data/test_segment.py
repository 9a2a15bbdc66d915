import numpy as np
import pytest

from benchbox.data.segment import StepParams, cut_clip, find_steps, rms_db
from tests.data.helpers import RATE_HZ, burst, recording

PARAMS = StepParams(sample_rate_hz=RATE_HZ)


def test_three_steps_found_at_their_onsets(rng):
    onsets = [0.1, 0.6, 1.15]
    steps = find_steps(recording(rng, onsets, 1.6), PARAMS)
    assert [s.onset for s in steps] == pytest.approx([int(t * RATE_HZ) for t in onsets], abs=RATE_HZ // 1000)
    assert all(0.1 < s.seconds(RATE_HZ) < 0.3 for s in steps)
    assert steps[0].limit == steps[1].onset


def test_heel_and_toe_are_one_step(rng):
    # the toe strike 60 ms after the heel must not start a second step
    assert len(find_steps(burst(rng), PARAMS)) == 1


def test_step_in_noise_floor_is_found(rng):
    wave = recording(rng, [0.3], 0.8) + (0.003 * rng.standard_normal(int(0.8 * RATE_HZ))).astype(np.float32)
    steps = find_steps(wave, PARAMS)
    assert len(steps) == 1 and abs(steps[0].onset - int(0.3 * RATE_HZ)) <= 2 * RATE_HZ // 1000


def test_all_silence_has_no_steps():
    assert find_steps(np.zeros(RATE_HZ, dtype=np.float32), PARAMS) == []


def test_cut_clip_places_onset_and_fades(rng):
    wave = np.zeros(RATE_HZ * 2, dtype=np.float32)
    wave[4000:] = 0.1 * rng.standard_normal(len(wave) - 4000)  # a sound longer than the clip
    (step,) = find_steps(wave, PARAMS)
    clip = cut_clip(wave, step, clip_samples=8192, onset_samples=160, sample_rate_hz=RATE_HZ)
    assert clip.shape == (8192,)
    assert not clip[:160].any() and clip[160] != 0
    assert np.array_equal(clip[160:1000], wave[4000:4840])
    assert abs(clip[-1]) < 1e-6 and np.abs(clip[-40:]).max() < 0.05  # faded out, no click at the cut


def test_rms_db_closed_form():
    assert rms_db(np.full(100, 0.1)) == pytest.approx(-20.0)
    assert rms_db(np.zeros(10)) == -200.0
