"""benchbox's VGGish (Hershey et al. 2017) with user-supplied weights.

Legend: B batch of clips, T time in samples, P 0.96 s patches of one clip (= F
embedding frames), K spectrogram frames, M mel bands (64), D embedding dim (128).

Front end as the released VGGish: 16 kHz audio, 25 ms (400-sample) periodic-Hann
frames every 10 ms, 512-point FFT magnitude, 64 HTK-mel bands 125-7500 Hz (triangles
in the mel domain), log(mel + 0.01), non-overlapping 96-frame patches. Network: VGG
stack [64, M, 128, M, 256, 256, M, 512, 512, M] then FC 12288 -> 4096 -> 4096 -> 128.

Weights are the harritaylor/torchvggish ``vggish-10086976.pth`` state dict
(``features.*``, ``embeddings.*``); an optional ``vggish_pca_params-*.pth`` beside it
holds ``pca_eigen_vectors`` (D, D) and ``pca_means`` (D,). The embedding is the last
linear layer's output *before* its ReLU (as the FAD reference code uses it), PCA
rotated when the PCA file is present, and never 8-bit quantised. A clip shorter than
one patch is zero-padded to one patch.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchbox.errors import MetricError
from benchbox.metrics.embedder import Embedder
from benchbox.runs import sha256_file

VGGISH_RATE_HZ = 16_000
VGGISH_WINDOW_SAMPLES = 400  # 25 ms
VGGISH_HOP_SAMPLES = 160  # 10 ms
VGGISH_FFT_SIZE = 512
VGGISH_BANDS = 64
VGGISH_LOW_HZ = 125.0
VGGISH_HIGH_HZ = 7500.0
VGGISH_LOG_OFFSET = 0.01
VGGISH_PATCH_FRAMES = 96  # 0.96 s
VGGISH_DIM = 128
VGGISH_STACK = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M")
VGGISH_FLAT = 512 * 6 * 4  # 12288: (96 / 16) x (64 / 16) x 512
VGGISH_HIDDEN = 4096
VGGISH_WEIGHTS_NAME = "vggish-10086976.pth"
VGGISH_PCA_GLOB = "vggish_pca_params-*.pth"
VGGISH_WEIGHTS_URL = "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth"
DEFAULT_WEIGHTS_DIR = Path(os.environ.get("BENCHBOX_WEIGHTS_DIR", "~/.cache/benchbox/weights")).expanduser()
HTK_MEL_BREAK_HZ = 700.0
HTK_MEL_SCALE = 1127.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return HTK_MEL_SCALE * np.log1p(np.asarray(hz, dtype=np.float64) / HTK_MEL_BREAK_HZ)


def vggish_mel_matrix() -> np.ndarray:
    """(FFT/2+1, M) weights: HTK-mel triangles computed in the mel domain, DC bin zero."""
    bins_mel = hz_to_mel(np.linspace(0.0, VGGISH_RATE_HZ / 2, VGGISH_FFT_SIZE // 2 + 1))  # (FFT/2+1,)
    edges = np.linspace(hz_to_mel(VGGISH_LOW_HZ), hz_to_mel(VGGISH_HIGH_HZ), VGGISH_BANDS + 2)  # (M+2,)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]  # (M,) each
    rising = (bins_mel[:, None] - lower) / (centre - lower)  # (FFT/2+1, M)
    falling = (upper - bins_mel[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return weights


class VGGish(nn.Module):
    """The VGGish network; module names match the torchvggish state dict."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for item in VGGISH_STACK:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU(inplace=True)]
                channels = int(item)
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(VGGISH_FLAT, VGGISH_HIDDEN), nn.ReLU(inplace=True),
            nn.Linear(VGGISH_HIDDEN, VGGISH_HIDDEN), nn.ReLU(inplace=True),
            nn.Linear(VGGISH_HIDDEN, VGGISH_DIM),
        )  # fmt: skip

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        x = self.features(patches.unsqueeze(1))  # (B, 512, 6, 4)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # (B, 12288): TF's (H, W, C) order
        return self.embeddings(x)  # (B, 128)


def resolve_weights(weights: str | Path | None) -> tuple[Path, Path | None]:
    """(network weights file, PCA file or None) from a file, a folder or the default folder."""
    path = Path(weights).expanduser() if weights is not None else DEFAULT_WEIGHTS_DIR
    net_path = path / VGGISH_WEIGHTS_NAME if path.is_dir() or weights is None else path
    if not net_path.is_file():
        raise MetricError(f"VGGish weights not found: {net_path}", hint=f"download {VGGISH_WEIGHTS_URL} and pass it: benchbox score RUN --embedder vggish --weights PATH")
    pca = sorted(net_path.parent.glob(VGGISH_PCA_GLOB))
    return net_path, (pca[0] if pca else None)


def _load_tensors(path: Path) -> dict:
    try:
        with torch.serialization.safe_globals([np.ndarray, np.dtype, np.dtypes.Float32DType, np.dtypes.Float64DType]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError, RuntimeError, EOFError ...
        raise MetricError(f"{path}: cannot load VGGish weights ({str(e).splitlines()[0][:120]})", hint=f"re-download {VGGISH_WEIGHTS_URL}") from None


class VGGishEmbedder(Embedder):
    """VGGish embeddings (128-d per 0.96 s patch) from user-supplied weights."""

    name = "vggish"
    sample_rate_hz = VGGISH_RATE_HZ
    min_samples = VGGISH_WINDOW_SAMPLES + (VGGISH_PATCH_FRAMES - 1) * VGGISH_HOP_SAMPLES
    dim = VGGISH_DIM
    batch_size = 32

    def __init__(self, weights: str | Path | None = None):
        super().__init__()
        self.weights_path, self.pca_path = resolve_weights(weights)
        self._version: str | None = None

    @property
    def version(self) -> str:  # type: ignore[override]
        """Front-end version plus the weights' (and PCA's) content hashes."""
        if self._version is None:
            tag = "1-" + sha256_file(self.weights_path)[:12]
            self._version = tag if self.pca_path is None else f"{tag}-pca{sha256_file(self.pca_path)[:8]}"
        return self._version

    def load(self) -> None:
        net = VGGish()
        try:
            net.load_state_dict(_load_tensors(self.weights_path))
        except RuntimeError as e:
            raise MetricError(f"{self.weights_path}: not a torchvggish state dict ({str(e).splitlines()[0][:120]})", hint=f"use {VGGISH_WEIGHTS_URL}") from None
        self._net = net.eval()
        self._pca = None
        if self.pca_path is not None:
            params = _load_tensors(self.pca_path)
            try:
                vectors = torch.as_tensor(np.asarray(params["pca_eigen_vectors"]), dtype=torch.float32)  # (D, D)
                means = torch.as_tensor(np.asarray(params["pca_means"]), dtype=torch.float32).reshape(-1)  # (D,)
            except KeyError as e:
                raise MetricError(f"{self.pca_path}: missing key {e}", hint="use vggish_pca_params-970ea276.pth from torchvggish") from None
            self._pca = (vectors, means)
        self._mel = torch.from_numpy(vggish_mel_matrix().astype(np.float32))  # (FFT/2+1, M)
        self._window = torch.hann_window(VGGISH_WINDOW_SAMPLES, periodic=True)
        self._loaded = True

    def patches(self, batch: torch.Tensor) -> torch.Tensor:
        """(B, T) -> log-mel patches (B, P, 96, 64)."""
        frames = batch.unfold(1, VGGISH_WINDOW_SAMPLES, VGGISH_HOP_SAMPLES) * self._window  # (B, K, 400)
        magnitude = torch.fft.rfft(frames, n=VGGISH_FFT_SIZE).abs()  # (B, K, 257)
        logmel = torch.log(magnitude @ self._mel + VGGISH_LOG_OFFSET)  # (B, K, M)
        return logmel.unfold(1, VGGISH_PATCH_FRAMES, VGGISH_PATCH_FRAMES).transpose(2, 3)  # (B, P, 96, M)

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            patches = self.patches(torch.from_numpy(batch))  # (B, P, 96, M)
            b, p = patches.shape[:2]
            emb = self._net(patches.reshape(b * p, VGGISH_PATCH_FRAMES, VGGISH_BANDS))  # (B*P, D)
            if self._pca is not None:
                vectors, means = self._pca
                emb = (emb - means) @ vectors.T  # (B*P, D)
        return emb.reshape(b, p, -1).numpy()  # (B, P, D)
