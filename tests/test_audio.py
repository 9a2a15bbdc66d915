import math

import numpy as np
import pytest
import soundfile as sf
import torch

from benchbox import audio
from benchbox.errors import AudioError


@pytest.mark.parametrize("scheme", audio.SCHEMES)
def test_codes_of_closed_form_points(scheme):
    codes = audio.encode(torch.tensor([0.0, -1.0, 1.0, -5.0, 5.0]), scheme)
    assert codes.tolist() == [128, 0, 255, 0, 255]
    assert audio.decode(torch.tensor([audio.SILENCE_CODE]), scheme).item() == 0.0
    assert audio.decode(torch.tensor([0]), scheme).item() == pytest.approx(-1.0, abs=1e-6)


def test_top_code_values():
    assert audio.decode(torch.tensor([255]), "linear").item() == pytest.approx(127 / 128)
    expected = (256 ** (127 / 128) - 1) / 255
    assert audio.decode(torch.tensor([255]), "mulaw").item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("scheme", audio.SCHEMES)
def test_monotonic_and_all_codes_used(scheme):
    x = torch.linspace(-1, 1, 100_001)
    codes = audio.encode(x, scheme)
    assert (codes[1:] >= codes[:-1]).all()
    assert set(codes.tolist()) == set(range(256))
    dec = audio.decode(torch.arange(256), scheme)
    assert (dec[1:] > dec[:-1]).all()


def test_round_trip_error_bounds():
    x = torch.linspace(-1, 127 / 128, 200_001)
    lin = (audio.decode(audio.encode(x, "linear"), "linear") - x).abs().max().item()
    assert lin <= 1 / 256 + 1e-6
    # mu-law: half a step in companded space times the largest slope dx/dy at |x| = 1.
    top = audio.decode(torch.tensor([255]), "mulaw").item()
    xm = torch.linspace(-1, top, 200_001)
    mu_bound = 0.5 / 128 * math.log(256) * 256 / 255
    mu = (audio.decode(audio.encode(xm, "mulaw"), "mulaw") - xm).abs().max().item()
    assert mu_bound / 2 < mu <= mu_bound + 1e-6
    # near silence mu-law is finer than linear
    small = torch.linspace(-0.01, 0.01, 1001)
    err_mu = (audio.decode(audio.encode(small, "mulaw"), "mulaw") - small).abs().max()
    err_lin = (audio.decode(audio.encode(small, "linear"), "linear") - small).abs().max()
    assert err_mu < err_lin / 5


def test_unknown_scheme():
    with pytest.raises(AudioError, match="unknown quantisation"):
        audio.encode(torch.zeros(3), "alaw")


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT"])
def test_read_any_bit_depth_and_channels(tmp_path, subtype):
    t = np.arange(22050) / 22050
    sine = 0.5 * np.sin(2 * np.pi * 440 * t)
    stereo = np.stack([sine, sine], axis=1)
    path = tmp_path / f"x_{subtype}.wav"
    sf.write(path, stereo, 22050, subtype=subtype)
    wave = audio.load_audio(path, 16000)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) - 16000) <= 1
    assert np.abs(wave).max() == pytest.approx(0.5, abs=0.02)


def test_downmix_averages_unless_the_channels_cancel(tmp_path):
    rng = np.random.default_rng(0)
    step = (0.3 * rng.normal(size=16000)).astype(np.float32)
    other = (0.1 * rng.normal(size=16000)).astype(np.float32)
    np.testing.assert_allclose(audio.downmix(np.stack([step, other], axis=1)), (step + other) / 2, rtol=1e-6)
    anti = np.stack([step, -0.9 * step], axis=1)  # anti-phase: the mean is 20 dB down
    np.testing.assert_array_equal(audio.downmix(anti), step)
    path = tmp_path / "anti.wav"
    sf.write(path, anti, 16000, subtype="FLOAT")
    assert np.sqrt(np.mean(audio.load_audio(path, 16000) ** 2)) == pytest.approx(np.sqrt(np.mean(step**2)), rel=1e-3)
    one_sided = np.stack([step, np.zeros_like(step)], axis=1)  # a silent second channel: still the mean
    np.testing.assert_allclose(audio.downmix(one_sided), step / 2, rtol=1e-6)
    mono = step[:, None]
    np.testing.assert_array_equal(audio.downmix(mono), step)
    silent = np.zeros((100, 2), np.float32)
    np.testing.assert_array_equal(audio.downmix(silent), np.zeros(100, np.float32))


@pytest.mark.parametrize("fmt,ext", [("OGG", "ogg"), ("FLAC", "flac")])
def test_read_compressed(tmp_path, fmt, ext):
    x = 0.3 * np.sin(2 * np.pi * 200 * np.arange(16000) / 16000)
    path = tmp_path / f"x.{ext}"
    sf.write(path, x, 16000, format=fmt)
    assert len(audio.load_audio(path)) == 16000


def test_write_wav_is_16bit_and_atomic(tmp_path):
    path = tmp_path / "out.wav"
    audio.write_wav(path, np.array([0.0, 0.5, -1.0], dtype=np.float32))
    info = sf.info(path)
    assert info.subtype == "PCM_16" and info.samplerate == audio.PROJECT_SAMPLE_RATE_HZ
    assert list(tmp_path.iterdir()) == [path]
    back, _ = sf.read(path)
    assert back[2] == -1.0
    with pytest.raises(AudioError, match="NaN"):
        audio.write_wav(path, np.array([np.nan], dtype=np.float32))
    with pytest.raises(AudioError, match="refusing to clip: samples reach 2"):  # was silently clipped to -1
        audio.write_wav(path, np.array([0.0, 0.5, -2.0], dtype=np.float32))
    assert sf.read(path)[0].shape == (3,)  # the earlier file survives
    assert np.array_equal(audio.as_written(back.astype(np.float32)), back.astype(np.float32))


@pytest.mark.parametrize(
    "content,match",
    [(b"", "empty file"), (b"this is not audio at all", "cannot decode"), (b"RIFF\x24\x00\x00\x00WAVEfmt ", "cannot decode")],
)
def test_bad_files(tmp_path, content, match):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=match) as e:
        audio.load_audio(path)
    assert str(path) in e.value.message


def test_nan_file(tmp_path):
    path = tmp_path / "nan.wav"
    sf.write(path, np.array([0.0, np.nan, 0.1], dtype=np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        audio.load_audio(path)


def test_mono_sha256_is_the_hash_tags_scores_and_manifests_share(tmp_path):
    """One rule for a clip's content hash: the rate as text then the channels' float32 mean (checked
    directly, not through the library), equal to the dataset's cached clip_sha256; NaN samples are
    refused by default (the review skips such a clip) and hashed with finite=False (as clip_sha256 does)."""
    import hashlib

    from benchbox.data.dataset import clip_sha256

    rng = np.random.default_rng(3)
    pcm = rng.integers(-32768, 32768, size=(1000, 2), dtype=np.int16)  # (T, C)
    for name, data in (("mono.wav", pcm[:, :1]), ("stereo.wav", pcm)):
        sf.write(tmp_path / name, data, 22_050, subtype="PCM_16")
        mono = (data.astype(np.float64) / 32768.0).mean(axis=1).astype("<f4")  # (T,), exact: a sum of two int16 fits float32
        assert audio.mono_sha256(tmp_path / name) == hashlib.sha256(b"22050" + mono.tobytes()).hexdigest() == clip_sha256(tmp_path / name), name
    wave = np.zeros(1000, np.float32)
    wave[10] = np.nan
    sf.write(tmp_path / "nan.wav", wave, 16_000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN or inf"):
        audio.mono_sha256(tmp_path / "nan.wav")
    assert audio.mono_sha256(tmp_path / "nan.wav", finite=False) == clip_sha256(tmp_path / "nan.wav") is not None
