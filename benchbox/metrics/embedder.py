"""The :class:`Embedder` base class: one embedding model, batched by clip length.

Legend: B clips in a batch, T samples, F embedding frames, D embedding dimension.
``embedders.py`` (mel, aisfx, the registry) and ``vggish.py`` subclass it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchbox.errors import MetricError


class Embedder:
    """One embedding model. Subclasses set the class attributes and ``_forward``."""

    name: str = ""
    sample_rate_hz: int = 0
    min_samples: int = 1
    dim: int = 0
    version: str = "0"
    batch_size: int = 32

    def __init__(self) -> None:
        self._loaded = False

    def load(self) -> None:
        """Load weights and build the network; called once, on first use."""
        self._loaded = True

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        """(B, T) float32 of equal length -> (B, F, D) float32."""
        raise NotImplementedError

    def embed(self, wave: np.ndarray) -> np.ndarray:
        """(T,) float32 at ``sample_rate_hz`` -> (F, D) float32 frame embeddings."""
        return self.embed_batch([wave])[0]

    def embed_batch(self, waves: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Embed many clips; equal-length clips share one forward pass per batch."""
        if not self._loaded:
            self.load()
        prepared = [self._prepare(w, i) for i, w in enumerate(waves)]
        out: list[np.ndarray | None] = [None] * len(prepared)
        by_length: dict[int, list[int]] = {}
        for i, w in enumerate(prepared):
            by_length.setdefault(w.shape[0], []).append(i)
        for idx in by_length.values():
            for start in range(0, len(idx), self.batch_size):
                chunk = idx[start : start + self.batch_size]
                frames = self._forward(np.stack([prepared[i] for i in chunk]))  # (B, F, D)
                for i, emb in zip(chunk, frames):
                    out[i] = np.ascontiguousarray(emb, dtype=np.float32)
        return out  # type: ignore[return-value]

    def _prepare(self, wave: np.ndarray, index: int) -> np.ndarray:
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim != 1 or wave.shape[0] == 0:
            raise MetricError(f"clip {index}: expected a non-empty mono (T,) waveform, got shape {wave.shape}", hint="downmix to mono before embedding")
        if not np.isfinite(wave).all():
            raise MetricError(f"clip {index}: waveform contains NaN or inf", hint="check the generator output; NaN clips cannot be embedded")
        if wave.shape[0] < self.min_samples:
            wave = np.pad(wave, (0, self.min_samples - wave.shape[0]))  # (min_samples,)
        return wave
