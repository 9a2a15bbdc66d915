"""Embedders: shapes, determinism, weights loading and their one-line errors."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from benchbox.audio import write_wav
from benchbox.errors import MetricError
from benchbox.metrics import embedders as E
from benchbox.metrics import vggish as V

FOOTSTEP_SAMPLES = 8192  # one 0.512 s clip at 16 kHz
RATE_HZ = 16_000


@pytest.fixture(scope="module")
def waves():
    rng = np.random.default_rng(1)
    envelope = np.exp(-np.arange(FOOTSTEP_SAMPLES) / 1500.0)
    return [(rng.normal(size=FOOTSTEP_SAMPLES) * envelope * 0.3).astype(np.float32) for _ in range(3)]


@pytest.fixture(scope="module")
def aisfx():
    emb = E.get_embedder("aisfx")
    emb.load()
    return emb


def test_registry_and_unknown_name():
    assert {"aisfx", "mel", "vggish"} <= set(E.EMBEDDERS)
    with pytest.raises(MetricError, match="unknown embedder 'openl3'") as info:
        E.get_embedder("openl3")
    assert "aisfx" in info.value.hint


def test_mel_needs_nothing_and_is_deterministic(waves):
    emb = E.get_embedder("mel")  # no load(), no weights: embed loads lazily
    first = emb.embed(waves[0])
    assert first.shape == (1, emb.dim) and first.dtype == np.float32
    np.testing.assert_array_equal(first, emb.embed(waves[0]))
    assert not np.allclose(first, emb.embed(waves[1]))
    long = np.tile(waves[0], 4)  # 2.048 s -> four 0.512 s blocks
    assert emb.embed(long).shape == (4, emb.dim)


def test_aisfx_loads_with_weights_only_and_embeds(aisfx, waves, monkeypatch):
    calls = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **kw: calls.append(kw) or real_load(*a, **kw))
    E.load_aisfx_state(E.aisfx_weights_path())
    assert calls and all(kw.get("weights_only") is True for kw in calls)
    clip = E.resample(waves[0], RATE_HZ, aisfx.sample_rate_hz)
    out = aisfx.embed(clip)
    assert out.shape == (1, 512) and np.isfinite(out).all()
    np.testing.assert_allclose(aisfx.embed(clip), out, rtol=1e-5, atol=1e-6)
    batch = aisfx.embed_batch([clip, E.resample(waves[1], RATE_HZ, aisfx.sample_rate_hz)])
    np.testing.assert_allclose(batch[0], out, rtol=1e-4, atol=1e-5)  # batching does not change a clip
    assert not np.allclose(batch[0], batch[1])


def test_aisfx_long_audio_is_cut_into_blocks(aisfx):
    rng = np.random.default_rng(0)
    seconds = 5
    out = aisfx.embed((rng.normal(size=aisfx.sample_rate_hz * seconds) * 0.1).astype(np.float32))
    frames = 1 + aisfx.sample_rate_hz * seconds // E.AISFX_HOP_SAMPLES
    assert out.shape == (1 + (frames - E.AISFX_BLOCK_FRAMES) // E.AISFX_BLOCK_HOP_FRAMES, 512)
    short = aisfx.embed(np.zeros(10, dtype=np.float32))  # padded to min_samples
    assert short.shape == (1, 512)


def test_aisfx_rejects_a_pickle_that_needs_arbitrary_globals(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"x": os.getcwd}, path)  # a global function: never allow-listed
    with pytest.raises(MetricError, match="cannot load aisfx weights"):
        E.load_aisfx_state(path)
    with pytest.raises(MetricError, match="aisfx weights not found"):
        E.load_aisfx_state(tmp_path / "missing.pth")


def test_bad_waves_are_one_line_errors(waves):
    emb = E.get_embedder("mel")
    with pytest.raises(MetricError, match="NaN"):
        emb.embed(np.full(1000, np.nan, dtype=np.float32))
    with pytest.raises(MetricError, match="mono"):
        emb.embed(np.zeros((2, 1000), dtype=np.float32))


def test_embed_files_resamples_to_the_embedder_rate(tmp_path, waves):
    path = write_wav(tmp_path / "a.wav", waves[0], RATE_HZ)
    from_file = E.embed_files([path], "mel", cache_dir=None)[0]
    from_wave = E.embed_waves([waves[0]], RATE_HZ, "mel")[0]
    np.testing.assert_allclose(from_file, from_wave, atol=0.05)  # 16-bit rounding only (log domain)
    seen = []
    E.embed_files([path, path], "mel", progress=lambda task, done, total, **kw: seen.append((task, done, total)))
    assert seen[-1] == ("embed mel", 2, 2)


@pytest.fixture(scope="module")
def vggish_weights(tmp_path_factory):
    """Random weights and PCA params saved in the torchvggish layout (~290 MB)."""
    folder = tmp_path_factory.mktemp("vggish")
    torch.manual_seed(0)
    state = V.VGGish().state_dict()
    assert any(k.startswith("features.") for k in state) and "embeddings.4.weight" in state
    torch.save(state, folder / V.VGGISH_WEIGHTS_NAME)
    q, _ = torch.linalg.qr(torch.randn(V.VGGISH_DIM, V.VGGISH_DIM))
    torch.save({"pca_eigen_vectors": q, "pca_means": torch.randn(V.VGGISH_DIM, 1)}, folder / "vggish_pca_params-00000000.pth")
    return folder


def test_vggish_loads_official_layout(vggish_weights, waves):
    emb = E.get_embedder("vggish", weights=vggish_weights)
    assert emb.pca_path is not None and emb.version.startswith("1-") and "pca" in emb.version
    out = emb.embed(waves[0])  # 0.512 s is padded to one 0.96 s patch
    assert out.shape == (1, V.VGGISH_DIM) and np.isfinite(out).all()
    np.testing.assert_allclose(emb.embed(waves[0]), out, rtol=1e-5, atol=1e-5)
    two_patches = emb.embed(np.tile(waves[0], 4))  # 2.048 s -> two whole patches
    assert two_patches.shape == (2, V.VGGISH_DIM)
    raw = E.get_embedder("vggish", weights=vggish_weights / V.VGGISH_WEIGHTS_NAME)
    raw.pca_path = None  # the same network without the PCA rotation
    raw.load()
    vectors, means = emb._pca
    rotated = (torch.from_numpy(raw.embed(waves[0])) - means.reshape(-1)) @ vectors.T
    np.testing.assert_allclose(out, rotated.numpy(), rtol=1e-4, atol=1e-4)


def test_vggish_missing_weights_names_the_file(tmp_path):
    with pytest.raises(MetricError, match=f"VGGish weights not found: {tmp_path / V.VGGISH_WEIGHTS_NAME}") as info:
        E.get_embedder("vggish", weights=tmp_path)
    assert "vggish-10086976.pth" in info.value.hint


def test_vggish_front_end_patch_shape_and_mel_matrix():
    mel = V.vggish_mel_matrix()
    assert mel.shape == (V.VGGISH_FFT_SIZE // 2 + 1, V.VGGISH_BANDS)
    assert np.all(mel[0] == 0) and np.all(mel.max(axis=0) > 0.5)  # DC dropped, every band has a peak
    freqs = np.linspace(0, V.VGGISH_RATE_HZ / 2, V.VGGISH_FFT_SIZE // 2 + 1)
    used = freqs[mel.sum(axis=1) > 0]
    assert used.min() >= V.VGGISH_LOW_HZ and used.max() <= V.VGGISH_HIGH_HZ
