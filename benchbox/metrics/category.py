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
SHA-256 of the training data (:func:`data_hash`: each train and val clip's content hash,
label and split), so a refit on other data, other labels or another split cannot pass for
the shipped one. Format 2 adds ``embedder``, the registered
embedder its ``<name>_norm`` feature part needs ("" for none); format 1 (files written before
it) is read with the embedder its feature set implies. Format 3 adds ``framing``, how aisfx
frames a clip shorter than its 2.3 s analysis block for the ``aisfx_norm`` part (``centre``:
in digital silence, as sound effects sat in its training blocks; "" for a feature set without
that part);
formats 1 and 2 were fitted on aisfx's ``native`` framing (the clip alone) and are read with it,
so an older model scores as it was fitted. An unknown format is refused.
``benchbox category fit`` (:mod:`benchbox.metrics.category_fit`) fits one on any pair of
datasets and any registered embedder.

Feature parts ``<name>_norm`` (for any registered embedder ``name``): the clip
level-normalised (:func:`~benchbox.metrics.category_features.level_normalise`), embedded,
mean-pooled over frames and L2-normalised; ``aisfx_norm`` is this for aisfx, in the model's
framing (new fits: :data:`AISFX_FRAMING`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from benchbox.errors import MetricError
from benchbox.metrics.category_features import aisfx_direction, level_normalise, mel_shape

CATEGORY_FORMAT = 3  # 2: + embedder; 3: + framing
READABLE_FORMATS = (1, 2, 3)
NORM_SUFFIX = "_norm"
AISFX_FRAMING = "centre"  # the aisfx framing new fits use for an aisfx_norm part (the shipped model's; docs/verdict.md)
LEGACY_FRAMING = "native"  # the framing of models written before format 3
FRAMINGS = ("native", "centre", "tile")  # those the aisfx embedder offers
MODEL_PATH = Path(__file__).with_name("footstep_model.json")
P_KEY = "footstep/p"
FEATURE_SETS = ("envelope", "mel", "aisfx", "envelope+mel", "envelope+aisfx", "mel+aisfx", "envelope+mel+aisfx",
                "aisfx_norm", "envelope+aisfx_norm", "mel+aisfx_norm")  # fmt: skip


def feature_matrix(feature_set: str, *, envelope: np.ndarray | None = None, mel: np.ndarray | None = None, aisfx: np.ndarray | None = None,
                   aisfx_norm: np.ndarray | None = None, normalised: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """(N, D) features of ``feature_set`` ("+"-joined parts) from (N, E), (N, 128) mel and (N, 512) aisfx rows.

    ``aisfx_norm`` (N, 512) is the aisfx embedding of the level-normalised clips (needed by part ``aisfx_norm``);
    ``normalised[name]`` (N, D) that of embedder ``name`` (part ``<name>_norm``).
    """
    normalised = {**(normalised or {}), **({} if aisfx_norm is None else {"aisfx": aisfx_norm})}

    def given(name: str, value: np.ndarray | None) -> np.ndarray:
        if value is None:
            raise MetricError(f"feature part '{name}' needs its input rows", hint=f"pass {name}=" if NORM_SUFFIX not in name else "pass normalised={embedder: rows}")
        return value

    def part(name: str) -> np.ndarray:
        if name == "envelope":
            return given(name, envelope)
        if name == "mel":
            return mel_shape(given(name, mel))
        if name == "aisfx":
            return aisfx_direction(given(name, aisfx))
        if name.endswith(NORM_SUFFIX) and len(name) > len(NORM_SUFFIX):
            return aisfx_direction(given(name, normalised.get(name.removesuffix(NORM_SUFFIX))))
        raise MetricError(f"unknown category feature part '{name}'", hint="use '+'-joined parts of: envelope, mel, aisfx, <embedder>_norm")

    return np.concatenate([part(n) for n in feature_set.split("+")], axis=1).astype(np.float64)


def feature_embedder(feature_set: str) -> str:
    """The registered embedder whose ``<name>_norm`` part ``feature_set`` holds ("" for none).

    Parts ``aisfx``/``mel`` (raw embeddings of the version-4 models) are the embedder of that name."""
    names = [p.removesuffix(NORM_SUFFIX) for p in feature_set.split("+") if p.endswith(NORM_SUFFIX) or p in ("aisfx", "mel")]
    return names[0] if names else ""


def feature_dimension(feature_set: str) -> int | None:
    """D of ``feature_set`` without computing any feature; None when a part is unknown (or its embedder is not registered)."""
    from benchbox.metrics.category_features import ENVELOPE_NAMES
    from benchbox.metrics.embedders import EMBEDDERS

    total = 0
    for part in str(feature_set).split("+"):
        name = part.removesuffix(NORM_SUFFIX) if part.endswith(NORM_SUFFIX) and len(part) > len(NORM_SUFFIX) else part
        if part == "envelope":
            total += len(ENVELOPE_NAMES)
        elif name in EMBEDDERS and (name != part or name in ("mel", "aisfx")):
            total += int(EMBEDDERS[name].dim)
        else:
            return None
    return total


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
    embedder: str = ""  # the registered embedder of the <name>_norm part ("" for none)
    framing: str = ""  # aisfx's framing of a short clip for an aisfx_norm part ("" for a feature set without one)

    def logit(self, x: np.ndarray) -> np.ndarray:
        """(N,) raw logits of (N, D) features."""
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.weights) + self.intercept

    def probability(self, x: np.ndarray) -> np.ndarray:
        """(N,) calibrated ``footstep/p`` of (N, D) features."""
        if x.shape[1] != len(self.weights):
            raise MetricError(f"category model expects {len(self.weights)} features, got {x.shape[1]}", hint=f"build them with feature set '{self.feature_set}'")
        return _sigmoid(self.platt_a * self.logit(x) + self.platt_b)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=None, separators=(",", ":")) + "\n"

    def save(self, path: Path) -> None:
        from benchbox.runs import atomic_write_text

        atomic_write_text(path, self.to_json())


def fit_model(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, *, feature_set: str, l2: float, threshold: float, seed: int, data_sha256: str,
              framing: str = AISFX_FRAMING) -> CategoryModel:
    """Standardise on train, fit the probe (balanced classes), Platt-calibrate on val (balanced).

    ``framing``: the aisfx framing the features were embedded with (recorded when the feature set has an ``aisfx_norm`` part)."""
    mean = x_train.mean(axis=0)
    scale = np.maximum(x_train.std(axis=0), 1e-6)
    w, b = fit_logistic((x_train - mean) / scale, y_train, l2=l2, weight=balanced_weights(y_train))
    z_val = ((x_val - mean) / scale) @ w + b
    (a,), c = fit_logistic(z_val[:, None], y_val, l2=0.0, weight=balanced_weights(y_val))
    embedder = feature_embedder(feature_set)
    return CategoryModel(feature_set, mean.tolist(), scale.tolist(), w.tolist(), b, float(a), c, threshold, l2, seed, data_sha256,
                         embedder=embedder, framing=model_framing(feature_set, framing))


def has_aisfx_norm(feature_set: str) -> bool:
    """Whether ``feature_set`` holds an ``aisfx_norm`` part, the one part aisfx's framing applies to (a raw
    ``aisfx`` part is always embedded in aisfx's native framing, as the FAD/KAD embeddings are)."""
    return f"aisfx{NORM_SUFFIX}" in feature_set.split("+")


def model_framing(feature_set: str, framing: str) -> str:
    """What a model of ``feature_set`` records as its framing: ``framing`` with an ``aisfx_norm`` part, else ""."""
    return framing if has_aisfx_norm(feature_set) else ""


REFIT_HINT = "refit it with `benchbox category fit --positives DIR --negatives DIR --out FILE.json`"


def missing_hint(path: Path) -> str:
    """The fix for an unreadable model file: reinstall benchbox for the shipped one, else name another or refit it."""
    if Path(path).resolve() == MODEL_PATH.resolve():
        return "the shipped model is part of benchbox: reinstall benchbox (e.g. `pip install --force-reinstall benchbox`, or `make install` in a checkout)"
    return f"check the path given to --category-model (or --set verdict.category_model), or {REFIT_HINT}"


def load_model(path: Path | None = None) -> CategoryModel:
    """The shipped (or given) model; a missing file, bad JSON or unknown format raises MetricError."""
    path = path or MODEL_PATH
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise MetricError(f"{path}: cannot read the footstep category model ({e})", hint=missing_hint(path)) from None
    if not isinstance(raw, dict) or raw.get("format") not in READABLE_FORMATS:
        raise MetricError(f"{path}: unknown category model format {raw.get('format') if isinstance(raw, dict) else raw!r}",
                          hint=f"this benchbox reads formats {', '.join(map(str, READABLE_FORMATS))}; a newer benchbox wrote it, or refit it with `benchbox category fit`")
    try:
        model = CategoryModel(**raw)
    except TypeError as e:
        raise MetricError(f"{path}: malformed category model ({e})", hint=f"the file is corrupt or was edited by hand: {REFIT_HINT}") from None
    if model.format == 1:  # format 1 names no embedder: the one its feature set implies
        model = replace(model, format=2, embedder=feature_embedder(model.feature_set))
    if model.format == 2:  # formats 1 and 2 name no framing: they were fitted on aisfx's native one
        model = replace(model, format=CATEGORY_FORMAT, framing=model_framing(model.feature_set, LEGACY_FRAMING))
    problem = model_problem(model)
    if problem is not None:
        raise MetricError(f"{path}: invalid category model: {problem}", hint=f"the file is corrupt or was edited by hand: {REFIT_HINT}")
    return model


def model_problem(model: CategoryModel) -> str | None:
    """What makes ``model`` unusable (non-finite or mistyped numbers, lengths that disagree, a threshold
    outside [0, 1], a scale <= 0, an embedder its feature set does not name), or None when it is sound."""
    def numbers(value) -> np.ndarray | None:
        try:
            return np.asarray(value, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            return None

    if not isinstance(model.feature_set, str) or not model.feature_set:
        return f"feature_set must be a non-empty string, got {model.feature_set!r}"
    arrays = {}
    for name in ("mean", "scale", "weights"):
        value = getattr(model, name)
        arr = numbers(value) if isinstance(value, list) else None
        if arr is None or not len(arr):
            return f"{name} must be a non-empty list of numbers"
        if not np.all(np.isfinite(arr)):
            return f"{name} holds a non-finite value (NaN or infinity)"
        arrays[name] = arr
    if not len(arrays["mean"]) == len(arrays["scale"]) == len(arrays["weights"]):
        return f"mean, scale and weights must have the same length, got {len(arrays['mean'])}, {len(arrays['scale'])} and {len(arrays['weights'])}"
    if np.any(arrays["scale"] <= 0):
        return "scale must be > 0 everywhere (it divides the features)"
    for name in ("intercept", "platt_a", "platt_b", "threshold", "l2"):
        value = getattr(model, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"{name} must be a finite number, got {value!r}"
    if not 0.0 <= model.threshold <= 1.0:
        return f"threshold must be in [0, 1] (a footstep/p), got {model.threshold}"
    expected = feature_dimension(model.feature_set)
    if expected is not None and expected != len(arrays["weights"]):
        return f"feature set '{model.feature_set}' has {expected} features, but the model has {len(arrays['weights'])} weights"
    if not isinstance(model.embedder, str) or model.embedder != feature_embedder(model.feature_set):
        return f"embedder {model.embedder!r} does not match feature set '{model.feature_set}' (which needs {feature_embedder(model.feature_set)!r})"
    wanted = FRAMINGS if has_aisfx_norm(model.feature_set) else ("",)
    if model.framing not in wanted:
        return f"framing {model.framing!r} is not one of {', '.join(map(repr, wanted))} for feature set '{model.feature_set}'"
    return None


def model_file(path: str | Path | None = None) -> Path:
    """The model file ``path`` names, or the shipped one when None or ""."""
    return Path(path).expanduser() if path else MODEL_PATH


def check_embedder(model: CategoryModel, path: str | Path | None = None, *, weights: Path | None = None) -> None:
    """MetricError naming the model file when its embedder is unknown or cannot be loaded (vggish without weights)."""
    if not model.embedder:
        return
    try:
        feature_embedder_instance(model.embedder, weights=weights, framing=model.framing or AISFX_FRAMING).load()
    except MetricError as e:
        raise MetricError(f"{model_file(path)}: the category model embeds with '{model.embedder}', which cannot be used here ({e.message})",
                          hint=e.hint if model.embedder != "vggish" else "pass its weights: --weights vggish-10086976.pth (or a folder holding it)") from None


def feature_embedder_instance(name: str, *, weights: Path | None = None, framing: str = AISFX_FRAMING):
    """A (not yet loaded) embedder of registry ``name`` for ``<name>_norm``: aisfx in ``framing``, vggish with ``weights``."""
    from benchbox.metrics.embedders import get_embedder

    if name == "aisfx":
        return get_embedder("aisfx", framing=framing)
    return get_embedder(name, weights=weights) if name == "vggish" and weights is not None else get_embedder(name)


def data_hash(sha256: Iterable[str], y: Iterable[int], split: Iterable[str]) -> str:
    """A category model's ``data_sha256``: the SHA-256 of the labelled clips it was fitted on.

    It covers exactly one line ``<clip sha256>\\t<label>\\t<split>`` per clip (label ``1`` footstep or
    positive, ``0`` not; split as the manifest names it, e.g. ``train``, ``val``), the lines sorted and
    joined with ``\\n`` (UTF-8), so the order of the rows does not count and a duplicated clip does. A
    clip relabelled, moved to another split, added or dropped changes it. Synthetic negatives are
    clips like any other (content hash, label 0, split ``train``), so their seed and count are
    covered through the audio they draw. Settings are not: the feature set, embedder, framing, L2,
    seed and threshold are recorded beside it in the model file.
    """
    sha256, y, split = list(sha256), list(y), list(split)
    if not len(sha256) == len(y) == len(split):
        raise MetricError(f"the training data hash needs one label and one split per clip, got {len(sha256)} clips, {len(y)} labels and {len(split)} splits",
                          hint="pass the sha256, y and split columns of the same rows")
    lines = sorted(f"{s}\t{int(label)}\t{part}" for s, label, part in zip(sha256, y, split))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


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


def clip_features(waves: list[np.ndarray], rate_hz: int, feature_set: str, *, cache_dir: Path | None = None, progress=None, weights: Path | None = None,
                  framing: str = AISFX_FRAMING) -> np.ndarray:
    """(N, D) features of N mono (T,) waves at ``rate_hz`` (resampled to 16 kHz; embeddings through the cache).

    ``weights``: the VGGish weights, for a ``vggish_norm`` part; ``framing``: aisfx's, for an ``aisfx_norm`` part."""
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
    normalised = {p.removesuffix(NORM_SUFFIX): embedder_normalised(waves16, p.removesuffix(NORM_SUFFIX), cache_dir=cache_dir, progress=progress, weights=weights, framing=framing)
                  if n else np.zeros((0, 0)) for p in parts if p.endswith(NORM_SUFFIX)}  # fmt: skip
    return feature_matrix(feature_set, envelope=envelope, mel=mel, aisfx=aisfx, normalised=normalised)


def embedder_normalised(waves16: list[np.ndarray], name: str, *, cache_dir: Path | None = None, progress=None, weights: Path | None = None, framing: str = AISFX_FRAMING) -> np.ndarray:
    """(N, D) mean-pooled embeddings of embedder ``name`` of N (T,) 16 kHz waves, each level-normalised first
    (cached by the normalised content); the ``<name>_norm`` part is their direction."""
    from benchbox.metrics.category_features import FEATURE_RATE_HZ
    from benchbox.metrics.embedders import embed_waves
    from benchbox.metrics.fad import pool_clips

    emb = feature_embedder_instance(name, weights=weights, framing=framing)
    return pool_clips(embed_waves([level_normalise(w) for w in waves16], FEATURE_RATE_HZ, emb, cache_dir=cache_dir, progress=progress))


def aisfx_normalised(waves16: list[np.ndarray], *, cache_dir: Path | None = None, progress=None, framing: str = AISFX_FRAMING) -> np.ndarray:
    """(N, 512) aisfx embeddings of N (T,) 16 kHz waves, each level-normalised first (cached by the normalised content).

    ``framing`` is the aisfx embedder's for clips shorter than its 2.3 s block (the shipped model:
    ``centre``; models before format 3: ``native``; both measured in docs/verdict.md).
    """
    return embedder_normalised(waves16, "aisfx", cache_dir=cache_dir, progress=progress, framing=framing)


def footstep_probability(waves: list[np.ndarray], rate_hz: int, model: CategoryModel, *, cache_dir: Path | None = None, progress=None, weights: Path | None = None) -> np.ndarray:
    """(N,) ``footstep/p`` of N mono (T,) waves at ``rate_hz`` under ``model`` (``weights``: VGGish's, for a vggish model)."""
    if not waves:
        return np.zeros(0)
    return model.probability(clip_features(waves, rate_hz, model.feature_set, cache_dir=cache_dir, progress=progress, weights=weights,
                                           framing=model.framing or AISFX_FRAMING))
