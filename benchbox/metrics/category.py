"""``footstep/p``: the probability that a clip is a footstep (category fit).

Legend: N clips, D feature dimension, E envelope features.

A logistic-regression probe (L2-penalised, classes weighted equally) on the level-free
features of :mod:`benchbox.metrics.category_features`, fitted on the ``train`` splits of
``footsteps-dev`` (positives) and ``footsteps-neg-dev`` (real non-footstep sound effects
of the same three Debian packages), then Platt-calibrated on their ``val`` splits: the
raw logit z gives ``p = sigmoid(a z + b)``. A clip is a footstep when ``p`` is at least
the model's ``threshold``. How the feature set, penalty and threshold were chosen
(leave-one-package-out) is in ``docs/verdict.md``; ``benchmarks/fit_category.py``
refits the shipped model from a seed.

The model is a small JSON file (never a pickle): format version, feature set, the
standardisation (mean, scale), weights, intercept, Platt (a, b), threshold and the
SHA-256 of the training data (the sorted clip hashes of both corpora), so a refit on
other data cannot pass for the shipped one. An unknown format is refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from benchbox.errors import MetricError
from benchbox.metrics.category_features import aisfx_direction, level_normalise, mel_shape

CATEGORY_FORMAT = 1
MODEL_PATH = Path(__file__).with_name("footstep_model.json")
P_KEY = "footstep/p"
FEATURE_SETS = ("envelope", "mel", "aisfx", "envelope+mel", "envelope+aisfx", "mel+aisfx", "envelope+mel+aisfx",
                "aisfx_norm", "envelope+aisfx_norm", "mel+aisfx_norm")  # fmt: skip


def feature_matrix(feature_set: str, *, envelope: np.ndarray, mel: np.ndarray, aisfx: np.ndarray, aisfx_norm: np.ndarray | None = None) -> np.ndarray:
    """(N, D) features of ``feature_set`` ("+"-joined parts) from (N, E), (N, 128) mel and (N, 512) aisfx rows.

    ``aisfx_norm`` (N, 512) is the aisfx embedding of the level-normalised clips (needed by part ``aisfx_norm``).
    """

    def normed() -> np.ndarray:
        if aisfx_norm is None:
            raise MetricError("feature part 'aisfx_norm' needs the embeddings of the level-normalised clips", hint="pass aisfx_norm=")
        return aisfx_direction(aisfx_norm)

    parts = {"envelope": lambda: envelope, "mel": lambda: mel_shape(mel), "aisfx": lambda: aisfx_direction(aisfx), "aisfx_norm": normed}
    names = feature_set.split("+")
    unknown = [n for n in names if n not in parts]
    if unknown:
        raise MetricError(f"unknown category feature part(s) {unknown}", hint=f"use '+'-joined parts of: {', '.join(parts)}")
    return np.concatenate([parts[n]() for n in names], axis=1).astype(np.float64)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float, weight: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """``(w (D,), b)`` minimising the weighted mean log-loss of ``sigmoid(x @ w + b)`` + ``l2 / 2 |w|^2``.

    ``x`` (N, D), ``y`` (N,) in {0, 1}, ``weight`` (N,) (ones when None). Convex, so
    L-BFGS from zero finds the one optimum up to its tolerance.
    """
    n, d = x.shape
    weight = np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64)
    weight = weight / weight.sum()

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        z = x @ w + b
        p = _sigmoid(z)
        nll = np.logaddexp(0.0, z) - y * z  # (N,) -log p(y | x)
        g = weight * (p - y)
        return float(weight @ nll + 0.5 * l2 * w @ w), np.concatenate([x.T @ g + l2 * w, [g.sum()]])

    res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 2000, "gtol": 1e-9})
    return res.x[:d], float(res.x[d])


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """(N,) weights that give each class the same total weight."""
    pos = max(int(y.sum()), 1)
    neg = max(int(len(y) - y.sum()), 1)
    return np.where(y > 0, 0.5 / pos, 0.5 / neg)


@dataclass(frozen=True)
class CategoryModel:
    """A fitted footstep probe (see the module docstring); arrays are lists for JSON."""

    feature_set: str
    mean: list[float]
    scale: list[float]
    weights: list[float]
    intercept: float
    platt_a: float
    platt_b: float
    threshold: float
    l2: float
    seed: int
    data_sha256: str
    format: int = CATEGORY_FORMAT

    def logit(self, x: np.ndarray) -> np.ndarray:
        """(N,) raw logits of (N, D) features."""
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.weights) + self.intercept

    def probability(self, x: np.ndarray) -> np.ndarray:
        """(N,) calibrated ``footstep/p`` of (N, D) features."""
        if x.shape[1] != len(self.weights):
            raise MetricError(f"category model expects {len(self.weights)} features, got {x.shape[1]}", hint=f"build them with feature set '{self.feature_set}'")
        return _sigmoid(self.platt_a * self.logit(x) + self.platt_b)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=None, separators=(",", ":")) + "\n")


def fit_model(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, *, feature_set: str, l2: float, threshold: float, seed: int, data_sha256: str) -> CategoryModel:
    """Standardise on train, fit the probe (balanced classes), Platt-calibrate on val (balanced)."""
    mean = x_train.mean(axis=0)
    scale = np.maximum(x_train.std(axis=0), 1e-6)
    w, b = fit_logistic((x_train - mean) / scale, y_train, l2=l2, weight=balanced_weights(y_train))
    z_val = ((x_val - mean) / scale) @ w + b
    (a,), c = fit_logistic(z_val[:, None], y_val, l2=0.0, weight=balanced_weights(y_val))
    return CategoryModel(feature_set, mean.tolist(), scale.tolist(), w.tolist(), b, float(a), c, threshold, l2, seed, data_sha256)


def load_model(path: Path | None = None) -> CategoryModel:
    """The shipped (or given) model; a missing file, bad JSON or unknown format raises MetricError."""
    path = path or MODEL_PATH
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise MetricError(f"{path}: cannot read the footstep category model ({e})", hint="refit it: benchmarks/fit_category.py") from None
    if not isinstance(raw, dict) or raw.get("format") != CATEGORY_FORMAT:
        raise MetricError(f"{path}: unknown category model format {raw.get('format') if isinstance(raw, dict) else raw!r}", hint=f"this benchbox reads format {CATEGORY_FORMAT}")
    try:
        return CategoryModel(**raw)
    except TypeError as e:
        raise MetricError(f"{path}: malformed category model ({e})", hint="refit it: benchmarks/fit_category.py") from None


def data_hash(clip_hashes: list[str]) -> str:
    """SHA-256 over the sorted clip content hashes of the training data."""
    return hashlib.sha256("\n".join(sorted(clip_hashes)).encode()).hexdigest()


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half); NaN without both classes."""
    pos, neg = scores[labels > 0], scores[labels == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    allv = np.concatenate([pos, neg])[order]
    ranks[order] = _tied_ranks(allv)
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _tied_ranks(sorted_values: np.ndarray) -> np.ndarray:
    """1-based ranks of sorted values, ties sharing their mean rank."""
    n = len(sorted_values)
    ranks = np.arange(1, n + 1, dtype=np.float64)
    start = 0
    for i in range(1, n + 1):
        if i == n or sorted_values[i] != sorted_values[start]:
            ranks[start:i] = (start + 1 + i) / 2.0
            start = i
    return ranks


def auc_bootstrap(scores: np.ndarray, labels: np.ndarray, *, n: int, seed: int, groups: np.ndarray | None = None) -> tuple[float, float, float]:
    """``(auc, lo, hi)``: 95% percentile bootstrap, resampling ``groups`` (e.g. source files) when given."""
    rng = np.random.default_rng(seed)
    groups = np.arange(len(scores)) if groups is None else np.asarray(groups)
    uniq, inv = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inv == g) for g in range(len(uniq))]
    values = []
    for _ in range(n):
        pick = np.concatenate([members[g] for g in rng.integers(len(uniq), size=len(uniq))])
        v = auc(scores[pick], labels[pick])
        if not np.isnan(v):
            values.append(v)
    lo, hi = (np.percentile(values, [2.5, 97.5]) if values else (np.nan, np.nan))
    return auc(scores, labels), float(lo), float(hi)


def clip_features(waves: list[np.ndarray], rate_hz: int, feature_set: str, *, cache_dir: Path | None = None, progress=None) -> np.ndarray:
    """(N, D) features of N mono (T,) waves at ``rate_hz`` (resampled to 16 kHz; aisfx/mel through the cache)."""
    from benchbox.audio import resample
    from benchbox.metrics.category_features import FEATURE_RATE_HZ, ENVELOPE_NAMES, envelope_matrix
    from benchbox.metrics.embedders import embed_waves
    from benchbox.metrics.fad import pool_clips

    waves16 = [np.asarray(w, dtype=np.float32) if rate_hz == FEATURE_RATE_HZ else resample(np.asarray(w, dtype=np.float32), rate_hz, FEATURE_RATE_HZ) for w in waves]
    parts = feature_set.split("+")
    n = len(waves16)
    envelope = envelope_matrix(waves16) if "envelope" in parts else np.zeros((n, len(ENVELOPE_NAMES)))
    mel = pool_clips(embed_waves(waves16, FEATURE_RATE_HZ, "mel", cache_dir=cache_dir, progress=progress)) if "mel" in parts and n else np.zeros((n, 128))
    aisfx = pool_clips(embed_waves(waves16, FEATURE_RATE_HZ, "aisfx", cache_dir=cache_dir, progress=progress)) if "aisfx" in parts and n else np.zeros((n, 512))
    aisfx_norm = aisfx_normalised(waves16, cache_dir=cache_dir, progress=progress) if "aisfx_norm" in parts and n else np.zeros((n, 512))
    return feature_matrix(feature_set, envelope=envelope, mel=mel, aisfx=aisfx, aisfx_norm=aisfx_norm)


def aisfx_normalised(waves16: list[np.ndarray], *, cache_dir: Path | None = None, progress=None, framing: str = "native") -> np.ndarray:
    """(N, 512) aisfx embeddings of N (T,) 16 kHz waves, each level-normalised first (cached by the normalised content).

    ``framing`` is the aisfx embedder's for clips shorter than its 2.3 s block (the shipped model:
    ``native``; ``centre`` is the candidate measured in docs/verdict.md).
    """
    from benchbox.metrics.category_features import FEATURE_RATE_HZ
    from benchbox.metrics.embedders import embed_waves, get_embedder
    from benchbox.metrics.fad import pool_clips

    emb = get_embedder("aisfx", framing=framing)
    return pool_clips(embed_waves([level_normalise(w) for w in waves16], FEATURE_RATE_HZ, emb, cache_dir=cache_dir, progress=progress))


def footstep_probability(waves: list[np.ndarray], rate_hz: int, model: CategoryModel, *, cache_dir: Path | None = None, progress=None) -> np.ndarray:
    """(N,) ``footstep/p`` of N mono (T,) waves at ``rate_hz`` under ``model``."""
    if not waves:
        return np.zeros(0)
    return model.probability(clip_features(waves, rate_hz, model.feature_set, cache_dir=cache_dir, progress=progress))
