"""Audio embedders for FAD/KAD: a registry of small classes, plus cached batch embedding.

Legend: B batch of clips, T time in samples, F embedding frames of one clip, D
embedding dimension, K spectrogram frames, M mel bands.

An :class:`Embedder` maps a mono (T,) float32 waveform at its ``sample_rate_hz`` to
(F, D) frame embeddings. Heavy work (weights) happens in ``load()``, which
``embed`` calls on first use. Waves shorter than ``min_samples`` are zero-padded at
the end. ``version`` names the preprocessing and weights; it is part of every cache
key, so bump it whenever either changes.

* ``aisfx`` (default): the sound-effects CNN of Ma & Lerch (ISMIR 2022), weights from
  the ``aisfx`` wheel (CC BY 4.0), 512-d. Front end as the paper's Essentia code: 44.1
  kHz, 2048-sample Hann frames, 1024 hop, 96 HTK mel bands 0-22050 Hz with unit-sum
  filters on the power spectrum, log10(1e4 * mel + 1), divided by the paper's
  training maximum 9.4578. No loudness normalisation, so a quiet clip is not a loud one.
  Framing: audio of at least one block (100 frames, ~2.32 s) is cut into blocks with a
  50-frame hop, one embedding each, as in the paper. A shorter clip (a 0.5 s footstep)
  is embedded at its **native length** (F = 1): the network ends in a global max over
  time, so it accepts any length of >= 8 frames, and padding a footstep with ~1.8 s of
  zeros would mostly measure the padding (and cost 4x the compute). See
  ``tests/metrics/test_fad_acceptance.py`` for the comparison that chose this.
* ``mel``: no weights. 64-band log-mel at 16 kHz (25 ms window, 10 ms hop); each
  0.512 s block of frames becomes its per-band mean and standard deviation (128-d).
* ``vggish``: benchbox's VGGish (``benchbox.metrics.vggish``); needs user weights.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from benchbox.audio import read_audio, resample
from benchbox.errors import MetricError
from benchbox.metrics.embedder import Embedder
from benchbox.metrics.cache import EmbeddingCache
from benchbox.metrics.fad import RunningStats, pool_clips
from benchbox.metrics.vggish import VGGishEmbedder
from benchbox.progress import Progress, no_progress
from benchbox.runs import sha256_audio

DEFAULT_EMBEDDER = "aisfx"
EMBED_CHUNK_CLIPS = 64  # clips decoded, hashed and embedded together


# ------------------------------------------------------------------------- mel

MEL_RATE_HZ = 16_000
MEL_WINDOW_SAMPLES = 400  # 25 ms
MEL_HOP_SAMPLES = 160  # 10 ms
MEL_FFT_SIZE = 512
MEL_BANDS = 64
MEL_LOG_FLOOR = 1e-6
MEL_BLOCK_FRAMES = 49  # frames a 0.512 s clip holds: 1 + (8192 - 400) // 160


class MelEmbedder(Embedder):
    """Log-mel frame statistics: mean and std of each band per 0.512 s block."""

    name = "mel"
    sample_rate_hz = MEL_RATE_HZ
    min_samples = MEL_FFT_SIZE  # torch.stft (center=False) needs one full FFT frame; shorter clips are zero-padded
    dim = 2 * MEL_BANDS
    version = "1"
    batch_size = 256

    def load(self) -> None:
        import librosa

        fb = librosa.filters.mel(sr=MEL_RATE_HZ, n_fft=MEL_FFT_SIZE, n_mels=MEL_BANDS)  # (M, FFT/2+1)
        self._filters = torch.from_numpy(fb.astype(np.float32))
        self._window = torch.hann_window(MEL_WINDOW_SAMPLES, periodic=True)
        self._loaded = True

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(batch)  # (B, T)
        spec = torch.stft(x, MEL_FFT_SIZE, MEL_HOP_SAMPLES, MEL_WINDOW_SAMPLES, self._window, center=False, return_complex=True)
        logmel = torch.log(self._filters @ spec.abs().pow(2) + MEL_LOG_FLOOR).transpose(1, 2)  # (B, K, M)
        frames = logmel.shape[1]
        blocks = max(1, frames // MEL_BLOCK_FRAMES)
        size = frames if blocks == 1 else MEL_BLOCK_FRAMES
        chunks = logmel[:, : blocks * size].reshape(x.shape[0], blocks, size, MEL_BANDS)  # (B, F, K/F, M)
        std = chunks.std(dim=2, correction=0)
        return torch.cat([chunks.mean(dim=2), std], dim=-1).numpy()  # (B, F, 2M)


# ----------------------------------------------------------------------- aisfx

AISFX_RATE_HZ = 44_100
AISFX_FFT_SIZE = 2048
AISFX_HOP_SAMPLES = 1024
AISFX_BANDS = 96
AISFX_LOG_SCALE = 1e4  # Essentia "shift_scale_log": log10(1e4 * x + 1)
AISFX_SPEC_MAX = 9.457798957824707  # the paper's min-max normalisation (min 0)
AISFX_BLOCK_FRAMES = 100  # ~2.32 s
AISFX_BLOCK_HOP_FRAMES = 50
AISFX_MIN_FRAMES = 8  # three 2x2 max-pools in time
AISFX_WIDTHS = (64, 128, 256, 512)
AISFX_POOLS = (2, 2, 2, 1)
AISFX_WEIGHTS_PREFIX = "embedding_net."


class _ConvBlock(nn.Module):
    """Two 3x3 conv + batch-norm + ReLU layers, then a max-pool."""

    def __init__(self, c_in: int, c_out: int, pool: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))  # (B, C, K, M)
        return F.max_pool2d(x, self.pool) if self.pool > 1 else x


class AisfxNet(nn.Module):
    """The aisfx embedding CNN: four conv blocks, mean over mel, max over time."""

    def __init__(self) -> None:
        super().__init__()
        channels = (1, *AISFX_WIDTHS)
        for i, pool in enumerate(AISFX_POOLS):
            self.add_module(f"conv_block{i + 1}", _ConvBlock(channels[i], channels[i + 1], pool))

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        x = spec.unsqueeze(1).contiguous(memory_format=torch.channels_last)  # (B, 1, K, M)
        for i in range(len(AISFX_POOLS)):
            x = getattr(self, f"conv_block{i + 1}")(x)  # (B, C, K', M')
        return x.mean(dim=3).amax(dim=2)  # (B, 512)


def aisfx_weights_path() -> Path:
    """The checkpoint shipped inside the ``aisfx`` wheel (found without importing it)."""
    spec = importlib.util.find_spec("aisfx")
    if spec is None or not spec.submodule_search_locations:
        raise MetricError("the aisfx package is not installed", hint="pip install --no-deps aisfx==0.1.2")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / "checkpoint.pth"


def _aisfx_safe_globals() -> list:
    """The numpy types the aisfx pickle holds (its dataset table), allow-listed by name."""
    from numpy._core.multiarray import scalar

    return [(scalar, "numpy.core.multiarray.scalar"), np.dtype, np.dtypes.Int64DType, np.dtypes.Float64DType]


def load_aisfx_state(path: Path) -> dict[str, torch.Tensor]:
    """The embedding-net tensors of an aisfx checkpoint, loaded with weights_only=True."""
    if not path.is_file():
        raise MetricError(f"aisfx weights not found: {path}", hint="reinstall the wheel: pip install --no-deps --force-reinstall aisfx==0.1.2")
    try:
        with torch.serialization.safe_globals(_aisfx_safe_globals()):
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError, RuntimeError, EOFError ...
        raise MetricError(f"{path}: cannot load aisfx weights ({str(e).splitlines()[0][:120]})", hint="reinstall the aisfx wheel") from None
    state = loaded[0] if isinstance(loaded, tuple) else loaded
    return {k[len(AISFX_WEIGHTS_PREFIX) :]: v for k, v in state.items() if k.startswith(AISFX_WEIGHTS_PREFIX)}


class AisfxEmbedder(Embedder):
    """Ma & Lerch's sound-effects CNN (512-d); clips shorter than a block keep their length."""

    name = "aisfx"
    sample_rate_hz = AISFX_RATE_HZ
    min_samples = (AISFX_MIN_FRAMES - 1) * AISFX_HOP_SAMPLES
    dim = AISFX_WIDTHS[-1]
    batch_size = 32

    def __init__(self, weights: str | Path | None = None, framing: str = "native"):
        super().__init__()
        if framing not in ("native", "centre", "tile"):
            raise MetricError(f"unknown aisfx framing '{framing}'", hint="use native, centre or tile")
        self.weights = Path(weights) if weights is not None else None
        self.framing = framing
        self.version = f"1-{framing}" + ("" if weights is None else "-custom")

    def load(self) -> None:
        import librosa

        path = self.weights or aisfx_weights_path()
        net = AisfxNet()
        try:
            net.load_state_dict(load_aisfx_state(path))
        except RuntimeError as e:
            raise MetricError(f"{path}: weights do not fit the aisfx network ({str(e).splitlines()[0][:120]})", hint="use the checkpoint from the aisfx 0.1.2 wheel") from None
        self._net = net.eval().to(memory_format=torch.channels_last)  # ~1.5x faster CPU convs
        fb = librosa.filters.mel(sr=AISFX_RATE_HZ, n_fft=AISFX_FFT_SIZE, n_mels=AISFX_BANDS, fmin=0.0, fmax=AISFX_RATE_HZ / 2, htk=True, norm=1)
        self._filters = torch.from_numpy(fb.astype(np.float32))  # (M, FFT/2+1)
        self._window = torch.hann_window(AISFX_FFT_SIZE, periodic=False)
        self._loaded = True

    def spectrogram(self, batch: torch.Tensor) -> torch.Tensor:
        """(B, T) -> normalised log-mel (B, K, M), frames centred on multiples of the hop."""
        spec = torch.stft(batch, AISFX_FFT_SIZE, AISFX_HOP_SAMPLES, window=self._window, center=True, pad_mode="constant", return_complex=True)
        mel = self._filters @ spec.abs().pow(2)  # (B, M, K)
        return (torch.log10(AISFX_LOG_SCALE * mel + 1.0) / AISFX_SPEC_MAX).transpose(1, 2)  # (B, K, M)

    def _blocks(self, spec: torch.Tensor) -> torch.Tensor:
        """(B, K, M) -> (B, F, K', M): analysis blocks per clip (see module docstring)."""
        frames = spec.shape[1]
        if frames >= AISFX_BLOCK_FRAMES:
            return spec.unfold(1, AISFX_BLOCK_FRAMES, AISFX_BLOCK_HOP_FRAMES).transpose(2, 3)  # (B, F, 100, M)
        if self.framing == "centre":
            left = (AISFX_BLOCK_FRAMES - frames) // 2
            spec = F.pad(spec, (0, 0, left, AISFX_BLOCK_FRAMES - frames - left))  # (B, 100, M)
        elif self.framing == "tile":
            spec = spec.repeat(1, math.ceil(AISFX_BLOCK_FRAMES / frames), 1)[:, :AISFX_BLOCK_FRAMES]  # (B, 100, M)
        return spec.unsqueeze(1)  # (B, 1, K', M)

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            blocks = self._blocks(self.spectrogram(torch.from_numpy(batch)))  # (B, F, K', M)
            b, f = blocks.shape[:2]
            emb = self._net(blocks.reshape(b * f, *blocks.shape[2:]))  # (B*F, D)
        return emb.reshape(b, f, -1).numpy()  # (B, F, D)


# --------------------------------------------------------------------- registry

EMBEDDERS: dict[str, type[Embedder]] = {"aisfx": AisfxEmbedder, "mel": MelEmbedder}


def get_embedder(name: str, **kw) -> Embedder:
    """A new (not yet loaded) embedder by registry name; ``kw`` go to its constructor."""
    if name not in EMBEDDERS:
        raise MetricError(f"unknown embedder '{name}'", hint=f"use one of: {', '.join(sorted(EMBEDDERS))}")
    try:
        return EMBEDDERS[name](**kw)
    except TypeError as e:
        raise MetricError(f"embedder '{name}' does not take {sorted(kw)} ({e})", hint="check the embedder options") from None


def _make(embedder: str | Embedder, weights: Path | None) -> Embedder:
    if isinstance(embedder, Embedder):
        return embedder
    return get_embedder(embedder) if weights is None else get_embedder(embedder, weights=weights)


def _embed_cached(items: list[tuple[np.ndarray, int]], emb: Embedder, cache: EmbeddingCache | None) -> list[np.ndarray]:
    """Embed (wave, rate) items, reusing and filling the content-hash cache.

    The key is ``sha256_audio`` of the decoded mono wave at its own rate (which, with
    the embedder's fixed rate and resampler, determines the resampled input), so a
    cache hit costs a decode and a hash but no resampling.
    """
    keys = [sha256_audio(w, rate) for w, rate in items] if cache is not None else []
    out = [cache.get(k) for k in keys] if cache is not None else [None] * len(items)
    missing = [i for i, e in enumerate(out) if e is None]
    if missing:
        waves = [resample(items[i][0], items[i][1], emb.sample_rate_hz) for i in missing]
        for i, e in zip(missing, emb.embed_batch(waves)):
            if cache is not None:
                cache.put(keys[i], e)
            out[i] = e
    return out  # type: ignore[return-value]


def _decode(path: Path) -> tuple[np.ndarray, int]:
    data, rate = read_audio(path)  # (T, C)
    return data.mean(axis=1), rate  # (T,) mono at the file's rate


def _run(n: int, get_item, emb: Embedder, cache_dir: Path | None, progress: Progress | None) -> list[np.ndarray]:
    progress = progress or no_progress
    cache = None if cache_dir is None else EmbeddingCache(cache_dir, emb.name, emb.version)
    out: list[np.ndarray] = []
    task = f"embed {emb.name}"
    progress(task, 0, n)
    for start in range(0, n, EMBED_CHUNK_CLIPS):
        items = [get_item(i) for i in range(start, min(n, start + EMBED_CHUNK_CLIPS))]
        out.extend(_embed_cached(items, emb, cache))
        progress(task, len(out), n)
    return out


def embed_files(paths: Sequence[str | Path], embedder: str | Embedder = DEFAULT_EMBEDDER, *, cache_dir: Path | None = None, progress: Progress | None = None, weights: Path | None = None) -> list[np.ndarray]:
    """Decode each file, downmix, resample (soxr) to the embedder's rate and embed it.

    Returns one (F, D) array per clip. With ``cache_dir`` embeddings are cached by the
    hash of the decoded audio (see :mod:`benchbox.metrics.cache`), never by file name.
    """
    emb = _make(embedder, weights)
    paths = [Path(p) for p in paths]
    return _run(len(paths), lambda i: _decode(paths[i]), emb, cache_dir, progress)


def embed_waves(waves: Sequence[np.ndarray], sample_rate_hz: int, embedder: str | Embedder = DEFAULT_EMBEDDER, *, cache_dir: Path | None = None, progress: Progress | None = None, weights: Path | None = None) -> list[np.ndarray]:
    """Embed (T,) waves given at ``sample_rate_hz`` (resampled to the embedder's rate)."""
    emb = _make(embedder, weights)
    return _run(len(waves), lambda i: (np.asarray(waves[i], dtype=np.float32), int(sample_rate_hz)), emb, cache_dir, progress)


def embed_stats(paths: Sequence[str | Path], embedder: str | Embedder = DEFAULT_EMBEDDER, *, cache_dir: Path | None = None, progress: Progress | None = None, weights: Path | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean (D,) and covariance (D, D) of the clips' pooled embeddings, and the clip count.

    Streams through :class:`~benchbox.metrics.fad.RunningStats`. With ``cache_dir`` the
    result is cached under the sorted content hashes of the decoded clips, so a
    reference set is embedded once and later only decoded and hashed.
    """
    emb = _make(embedder, weights)
    paths = [Path(p) for p in paths]
    cache = None if cache_dir is None else EmbeddingCache(cache_dir, emb.name, emb.version)
    keys: list[str] = []
    if cache is not None:
        keys = [sha256_audio(*_decode(p)) for p in paths]
        hit = cache.get_stats(keys)
        if hit is not None:
            return hit
    running = RunningStats()
    for start in range(0, len(paths), EMBED_CHUNK_CLIPS):
        chunk = paths[start : start + EMBED_CHUNK_CLIPS]
        running.update(pool_clips(embed_files(chunk, emb, cache_dir=cache_dir)))
        (progress or no_progress)(f"stats {emb.name}", min(len(paths), start + EMBED_CHUNK_CLIPS), len(paths))
    mean, cov = running.result()
    if cache is not None:
        cache.put_stats(keys, mean, cov, running.n)
    return mean, cov, running.n


EMBEDDERS["vggish"] = VGGishEmbedder
