"""The embedding cache: keyed by decoded content, never stale, set statistics cached."""

from __future__ import annotations

import numpy as np
import pytest

from benchbox.audio import load_audio, write_wav
from benchbox.errors import MetricError
from benchbox.metrics import embedders as E
from benchbox.metrics import fad as F
from benchbox.metrics.cache import EmbeddingCache, set_key
from benchbox.runs import sha256_audio

RATE_HZ = 16_000
CLIP_SAMPLES = 8192


def clip(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=CLIP_SAMPLES) * np.exp(-np.arange(CLIP_SAMPLES) / 2000.0) * 0.3).astype(np.float32)


@pytest.mark.parametrize("embedder", ["mel", "aisfx"])
def test_regenerated_clip_never_reuses_stale_embedding(tmp_path, embedder):
    path, cache_dir = tmp_path / "samples" / "clip_0000.wav", tmp_path / "cache"
    write_wav(path, clip(0), RATE_HZ)
    first = E.embed_files([path], embedder, cache_dir=cache_dir)[0]
    assert len(list(cache_dir.rglob("*.npy"))) == 1
    write_wav(path, clip(1), RATE_HZ)  # regenerated in place: same name, new audio
    second = E.embed_files([path], embedder, cache_dir=cache_dir)[0]
    fresh = E.embed_files([path], embedder, cache_dir=None)[0]
    assert not np.allclose(first, second)
    np.testing.assert_allclose(second, fresh, rtol=1e-5, atol=1e-6)
    assert len(list(cache_dir.rglob("*.npy"))) == 2


def test_cache_hit_reads_the_file_keyed_by_content(tmp_path):
    path, cache_dir = tmp_path / "a.wav", tmp_path / "cache"
    write_wav(path, clip(2), RATE_HZ)
    emb = E.get_embedder("mel")
    E.embed_files([path], emb, cache_dir=cache_dir)
    key = sha256_audio(load_audio(path, RATE_HZ), RATE_HZ)  # decoded at the file's own rate
    cached = EmbeddingCache(cache_dir, emb.name, emb.version)
    stored = cached.path_for(key)
    assert stored == cache_dir / f"mel-{emb.version}" / key[:2] / f"{key}.npy"
    np.save(stored, np.full((1, emb.dim), 7.0, dtype=np.float32))  # prove the hit is read, not recomputed
    assert np.all(E.embed_files([path], emb, cache_dir=cache_dir)[0] == 7.0)
    copy = write_wav(tmp_path / "renamed.wav", load_audio(path, RATE_HZ), RATE_HZ)  # same content, new name
    assert np.all(E.embed_files([copy], emb, cache_dir=cache_dir)[0] == 7.0)
    stored.write_bytes(b"torn")  # a corrupt entry is a miss and gets rewritten
    assert not np.all(E.embed_files([path], emb, cache_dir=cache_dir)[0] == 7.0)
    assert cached.get(key) is not None


def test_stats_cache_keyed_by_sorted_content_hashes(tmp_path):
    paths = [write_wav(tmp_path / f"c{i}.wav", clip(10 + i), RATE_HZ) for i in range(5)]
    cache_dir = tmp_path / "cache"
    mean, cov, n = E.embed_stats(paths, "mel", cache_dir=cache_dir)
    rows = F.pool_clips(E.embed_files(paths, "mel"))
    ref_mean, ref_cov = F.stats(rows)
    assert n == 5
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-6)
    np.testing.assert_allclose(cov, ref_cov, rtol=1e-5, atol=1e-8)
    assert len(list(cache_dir.rglob("stats/*/*.npz"))) == 1
    again = E.embed_stats(list(reversed(paths)), "mel", cache_dir=cache_dir)  # order does not matter
    np.testing.assert_array_equal(again[1], cov)
    assert len(list(cache_dir.rglob("stats/*/*.npz"))) == 1
    write_wav(paths[0], clip(99), RATE_HZ)  # one clip regenerated -> a new set key
    changed = E.embed_stats(paths, "mel", cache_dir=cache_dir)
    assert not np.allclose(changed[0], mean)
    assert len(list(cache_dir.rglob("stats/*/*.npz"))) == 2


def test_set_key_and_bad_keys():
    assert set_key(["b" * 64, "a" * 64]) == set_key(["a" * 64, "b" * 64])
    assert set_key(["a" * 64]) != set_key(["a" * 64, "a" * 64])
    with pytest.raises(MetricError, match="not a hex content hash"):
        EmbeddingCache("/tmp", "mel", "1").path_for("../../etc/passwd")
    with pytest.raises(MetricError, match="not a safe folder name"):
        EmbeddingCache("/tmp", "mel", "../x")


def test_resampled_clip_is_keyed_at_its_own_rate(tmp_path):
    """A 16 kHz file embedded by aisfx (44.1 kHz) is keyed by its 16 kHz content."""
    path, cache_dir = write_wav(tmp_path / "a.wav", clip(3), RATE_HZ), tmp_path / "cache"
    emb = E.get_embedder("aisfx")
    out = E.embed_files([path], emb, cache_dir=cache_dir)[0]
    key = sha256_audio(load_audio(path, RATE_HZ), RATE_HZ)
    np.testing.assert_array_equal(EmbeddingCache(cache_dir, emb.name, emb.version).get(key), out)
    from_wave = E.embed_waves([load_audio(path, RATE_HZ)], RATE_HZ, emb, cache_dir=cache_dir)[0]
    np.testing.assert_array_equal(from_wave, out)  # same content as an array: a cache hit
