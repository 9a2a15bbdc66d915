"""Embedding cache keyed by the content of the decoded audio, never by file name.

Legend: F frames of one clip, D embedding dimension, N clips.

Layout under ``cache_dir``::

    <embedder>-<version>/ab/abcdef....npy          one clip's (F, D) float32 embeddings
    <embedder>-<version>/stats/cd/cdef....npz      mean (D,), cov (D, D), n of a clip set

A clip's key is ``benchbox.runs.sha256_audio`` of its decoded mono waveform at the
rate it was decoded at (for a 16 kHz clip, the same hash as the ``sha256`` column of
``scores/clips.csv``). The embedder resamples that wave deterministically to its own
rate, so the key fixes the embedder's input while a cache hit costs no resampling. A
clip regenerated in place with new samples gets a new key and can never pick up a
stale embedding. The embedder's ``version`` (which covers its preprocessing and
weights) is part of the folder name, so changing either starts a fresh cache. Set statistics are keyed by the sorted list of clip keys. Every file is
written atomically; an unreadable file counts as a miss and is rewritten.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from benchbox.errors import MetricError
from benchbox.runs import atomic_write_bytes

HASH_FANOUT_CHARS = 2  # ab/abcdef...: at most 256 files per folder level
STATS_FOLDER = "stats"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._+-]+$")
_READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile)


def set_key(content_hashes: Iterable[str]) -> str:
    """Key of a set of clips: sha256 over the sorted clip keys (order-free, duplicates count)."""
    return hashlib.sha256("\n".join(sorted(content_hashes)).encode()).hexdigest()


class EmbeddingCache:
    """Per-clip embeddings and per-set statistics of one embedder version."""

    def __init__(self, cache_dir: str | Path, embedder_name: str, version: str):
        folder = f"{embedder_name}-{version}"
        if not _SAFE_NAME.match(folder):
            raise MetricError(f"embedder name/version {folder!r} is not a safe folder name", hint="use letters, digits and . _ + - only")
        self.root = Path(cache_dir) / folder

    def _path(self, key: str, *parts: str, suffix: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{16,}", key):
            raise MetricError(f"cache key {key!r} is not a hex content hash", hint="key clips by benchbox.runs.sha256_audio")
        return self.root.joinpath(*parts, key[:HASH_FANOUT_CHARS], key + suffix)

    def path_for(self, content_hash: str) -> Path:
        return self._path(content_hash, suffix=".npy")

    def get(self, content_hash: str) -> np.ndarray | None:
        """The cached (F, D) embeddings of one clip, or None on a miss."""
        path = self.path_for(content_hash)
        try:
            return np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except _READ_ERRORS:  # a torn or foreign file: recompute and overwrite
            return None

    def put(self, content_hash: str, embedding: np.ndarray) -> Path:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(embedding, dtype=np.float32), allow_pickle=False)
        return atomic_write_bytes(self.path_for(content_hash), buf.getvalue())

    def stats_path(self, content_hashes: Iterable[str]) -> Path:
        return self._path(set_key(content_hashes), STATS_FOLDER, suffix=".npz")

    def get_stats(self, content_hashes: Iterable[str]) -> tuple[np.ndarray, np.ndarray, int] | None:
        """Cached (mean (D,), cov (D, D), n) of a clip set, or None on a miss."""
        try:
            with np.load(self.stats_path(content_hashes), allow_pickle=False) as data:
                return data["mean"], data["cov"], int(data["n"])
        except FileNotFoundError:
            return None
        except _READ_ERRORS:
            return None

    def put_stats(self, content_hashes: Iterable[str], mean: np.ndarray, cov: np.ndarray, n: int) -> Path:
        buf = io.BytesIO()
        np.savez(buf, mean=np.asarray(mean, dtype=np.float64), cov=np.asarray(cov, dtype=np.float64), n=np.int64(n))
        return atomic_write_bytes(self.stats_path(content_hashes), buf.getvalue())
