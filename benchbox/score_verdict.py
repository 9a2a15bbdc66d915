"""k-NN metrics of a scored run: realism, PRDC, memorisation, continuation scoring, verdict.

Legend: N clips, D embedding dimension, P prime length in samples, G groups.

:func:`add_verdict_metrics` fills, for every embedder e (see ``docs/verdict.md``):

* per clip: ``realism/e``, ``manifold/e`` (against the reference ``train`` split),
  ``memorisation/e/train_distance`` and ``memorisation/e/train_id``;
* per group: ``precision/e``, ``recall/e``, ``density/e``, ``coverage/e`` with
  bootstrap CIs, ``nn1/e`` and ``nn1/e/p`` (the 1-NN two-sample test of
  :mod:`benchbox.metrics.twosample`: balanced leave-one-out accuracy, ~0.5 when
  indistinguishable, and its permutation p-value), all against the ``test`` split,
  and ``memorisation/e/closer_share`` with a Wilson CI;

and the same under ``cont/`` for the continuation of primed clips (``clip[P:]`` against
the reference clips' ``[P:]``; for unprimed clips ``cont/`` repeats the whole clip),
plus ``cont/fad/e`` and ``cont/kad/e``. ``useful/auto`` (whole clip) and
``cont/useful/auto`` are the verdict of :mod:`benchbox.metrics.verdict`, with
``useful/reason`` and ``cont/useful/reason``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.audio import load_audio
from benchbox.data.dataset import load_dataset
from benchbox.metrics import prdc, twosample
from benchbox.metrics.artifacts import DETECTORS, DetectorConfig, detect
from benchbox.metrics.verdict import REASON_KEY, USEFUL_KEY, VerdictConfig, verdicts
from benchbox.progress import Progress

if TYPE_CHECKING:
    from benchbox.metrics.embedder import Embedder
from benchbox.stats import wilson_interval

CONT = "cont/"
MS_PER_SECOND = 1000.0
TRAIN_SPLIT = "train"
MIN_CONT_SAMPLES = 1024  # shorter continuations (64 ms at 16 kHz) are not embedded: their cont/ k-NN metrics stay NaN


def prime_samples(prime_ms, rate_hz: int) -> int:
    """P: the prime length in samples of a clip (0 when unprimed or unknown)."""
    try:
        ms = float(prime_ms)
    except (TypeError, ValueError):
        return 0
    return 0 if math.isnan(ms) or ms <= 0 else int(round(ms * rate_hz / MS_PER_SECOND))


def continuation_detectors(clips: pd.DataFrame, waves: list[np.ndarray], config: DetectorConfig) -> pd.DataFrame:
    """``cont/<detector key>`` columns: the detectors on ``clip[P:]`` (a copy for P = 0)."""
    rows = []
    for wave, (_, rec) in zip(waves, clips.iterrows()):
        p = prime_samples(rec.get("prime_ms"), int(rec["sample_rate_hz"]))
        if p == 0 or p >= len(wave):
            rows.append({f"{CONT}{k}": rec[k] for k in _detector_keys(clips)})
        else:
            rows.append({f"{CONT}{k}": v for k, v in detect(wave[p:], int(rec["sample_rate_hz"]), config).items() if k != USEFUL_KEY})
    return pd.DataFrame(rows, index=clips.index)


def _detector_keys(clips: pd.DataFrame) -> list[str]:
    return [c for c in clips.columns if c.split("/")[0] in DETECTORS]


@dataclass
class _Sets:
    """Pooled embeddings of one embedder: generated clips and reference splits per prime cut."""

    gen: dict[int, np.ndarray]  # P -> (N, D), rows aligned with the clips table (only rows with that P for P > 0)
    train: dict[int, np.ndarray]  # P -> (Nt, D)
    test: dict[int, np.ndarray]  # P -> (Nr, D)
    val: np.ndarray  # (Nv, D), whole clips


def _embed(waves: list[np.ndarray], rate_hz: int, embedder: Embedder, cache_dir: Path, progress: Progress) -> np.ndarray:
    from benchbox.metrics.embedders import embed_waves
    from benchbox.metrics.fad import pool_clips

    if not waves:
        return np.zeros((0, 0))
    return pool_clips(embed_waves(waves, rate_hz, embedder, cache_dir=cache_dir, progress=progress))  # (N, D)


def _embed_sets(waves: list[np.ndarray], primes: np.ndarray, refs: dict[str, list[np.ndarray]], rate_hz: int, embedder: Embedder, cache_dir: Path, progress: Progress) -> _Sets:
    shortest = min([len(w) for w in waves] + [len(w) for s in ("train", "test") for w in refs[s]])
    cuts = sorted({0, *[int(p) for p in primes if shortest - p >= MIN_CONT_SAMPLES]})
    gen, train, test = {}, {}, {}
    for p in cuts:
        rows = np.flatnonzero(primes == p) if p else np.arange(len(waves))
        gen[p] = _embed([waves[i][p:] for i in rows], rate_hz, embedder, cache_dir, progress)
        train[p] = _embed([w[p:] for w in refs[TRAIN_SPLIT]], rate_hz, embedder, cache_dir, progress)
        test[p] = _embed([w[p:] for w in refs["test"]], rate_hz, embedder, cache_dir, progress)
    return _Sets(gen, train, test, _embed(refs["val"], rate_hz, embedder, cache_dir, progress))


def _geometry(x: np.ndarray, config: VerdictConfig) -> np.ndarray:
    return prdc.l2_normalise(x) if config.normalise else x


def _clip_metrics(gen: np.ndarray, train: np.ndarray, train_ids: list[str], config: VerdictConfig) -> dict[str, np.ndarray]:
    """Per clip: realism, inside flag, nearest training clip distance and id."""
    g, t = _geometry(gen, config), _geometry(train, config)
    dist, idx = prdc.nearest(g, t)
    return {
        "realism": prdc.realism_score(t, g, k=config.k, keep_quantile=config.keep_quantile),
        "manifold": prdc.inside_manifold(t, g, k=config.k),
        "memorisation/{e}/train_distance": dist,
        "memorisation/{e}/train_id": np.asarray(train_ids, dtype=object)[idx],
    }


def _group_metrics(gen: np.ndarray, test: np.ndarray, train: np.ndarray, e: str, config: VerdictConfig, bootstrap: int, seed: int) -> dict[str, float]:
    """Per group: PRDC (+ CI) and the 1-NN two-sample test against the test split, and the memorisation share."""
    out: dict[str, float] = {}
    g, r, t = _geometry(gen, config), _geometry(test, config), _geometry(train, config)
    if g.shape[0] > config.k and r.shape[0] > config.k:
        if bootstrap > 0:
            values = prdc.prdc_bootstrap(r, g, k=config.k, n=bootstrap, seed=seed)
        else:
            values = prdc.prdc(r, g, k=config.k)
        for key, v in values.items():  # "precision" -> "precision/<e>", "precision/lo" -> "precision/<e>/lo"
            metric, _, bound = key.partition("/")
            out[f"{metric}/{e}" + (f"/{bound}" if bound else "")] = v
    if g.shape[0] >= twosample.MIN_CLIPS_PER_SET and r.shape[0] >= twosample.MIN_CLIPS_PER_SET:
        nn1 = twosample.nn1_test(r, g, permutations=twosample.DEFAULT_PERMUTATIONS, seed=seed)
        out.update({f"nn1/{e}": nn1["accuracy"], f"nn1/{e}/p": nn1["p"]})
    if g.shape[0] and r.shape[0] and t.shape[0]:
        typical = float(np.median(prdc.nearest(r, t)[0]))  # real test clips' typical nearest-training distance
        closer = int((prdc.nearest(g, t)[0] < typical).sum())
        share, lo, hi = wilson_interval(closer, g.shape[0])
        out.update({f"memorisation/{e}/closer_share": share, f"memorisation/{e}/closer_lo": lo, f"memorisation/{e}/closer_hi": hi,
                    f"memorisation/{e}/typical_distance": typical})
    return out


def _fill_clip_columns(clips: pd.DataFrame, sets: _Sets, primes: np.ndarray, train_ids: list[str], e: str, config: VerdictConfig) -> None:
    """Whole-clip columns (against whole training clips) and ``cont/`` columns (own P), in place."""
    parts = [("", np.arange(len(clips)), sets.gen[0], sets.train[0])]
    for p in sorted(set(primes.tolist()) & set(sets.gen)):
        rows = np.flatnonzero(primes == p)
        parts.append((CONT, rows, sets.gen[p] if p else sets.gen[0][rows], sets.train[p]))
    for prefix, rows, gen, train in parts:
        if gen.shape[0] == 0:
            continue
        for key, values in _clip_metrics(gen, train, train_ids, config).items():
            col = prefix + (key.format(e=e) if "{e}" in key else f"{key}/{e}")
            if col not in clips.columns:
                clips[col] = "" if key.endswith("train_id") else np.nan
            clips.iloc[rows, clips.columns.get_loc(col)] = values


def _set_verdict(clips: pd.DataFrame, config: VerdictConfig, embedders: tuple[str, ...]) -> None:
    """``useful/auto`` / ``useful/reason`` (whole clip) and their ``cont/`` twins, in place."""
    emb = config.embedder if config.embedder in embedders else None  # the threshold is calibrated for that space only
    for prefix in ("", CONT):
        flags = clips[[c for c in clips.columns if c.startswith(prefix) and c.endswith("/flag") and c[len(prefix):].split("/")[0] in DETECTORS]]
        flag_rows = [{k[len(prefix):]: v for k, v in r.items()} for r in flags.to_dict("records")]
        col = f"{prefix}realism/{emb}"
        realism = clips[col].to_numpy(dtype=np.float64) if emb and col in clips.columns else None  # None: detectors only
        useful, reasons = verdicts(flag_rows, realism, config)
        clips[prefix + USEFUL_KEY] = useful
        clips[prefix + REASON_KEY] = reasons


def _rate(values: pd.Series) -> tuple[float, float, float]:
    return wilson_interval(int(values.sum()), len(values))


def _fill_group_rows(rows: list[dict], groups: list, clips: pd.DataFrame, sets: _Sets, primes: np.ndarray, e: str, config: VerdictConfig, bootstrap: int, seed: int, distances: Callable) -> None:
    for row, (_, g) in zip(rows, groups):
        idx = clips.index.get_indexer(g.index)
        row.update(_group_metrics(sets.gen[0][idx], sets.test[0], sets.train[0], e, config, bootstrap, seed))
        p = int(primes[idx[0]]) if len(idx) else 0
        if p not in sets.gen:  # continuation too short to embed
            continue
        sub = np.searchsorted(np.flatnonzero(primes == p), idx) if p else idx
        gen = sets.gen[p][sub]
        cont = _group_metrics(gen, sets.test[p], sets.train[p], e, config, bootstrap, seed)
        if gen.shape[0] >= 2:
            cont.update(distances(gen, sets.test[p], e, bootstrap=bootstrap, seed=seed))
        row.update({CONT + k: v for k, v in cont.items()})


def _fill_floor(row: dict, sets: _Sets, val_flags: list[dict], e: str, config: VerdictConfig, bootstrap: int, seed: int, is_verdict: bool) -> None:
    """The floor row (real val vs real test): PRDC, memorisation and the verdict's real-clip rate."""
    metrics = _group_metrics(sets.val, sets.test[0], sets.train[0], e, config, bootstrap, seed)
    row.update(metrics)
    row.update({CONT + k: v for k, v in metrics.items()})
    for key in ("fad", "kad"):
        for suffix in ("", "/lo", "/hi"):
            if f"{key}/{e}{suffix}" in row:
                row[f"{CONT}{key}/{e}{suffix}"] = row[f"{key}/{e}{suffix}"]
    if is_verdict and sets.val.shape[0] and sets.train[0].shape[0] > config.k:
        score = prdc.realism_score(_geometry(sets.train[0], config), _geometry(sets.val, config), k=config.k, keep_quantile=config.keep_quantile)
        useful, _ = verdicts(val_flags, score, config)
        p, lo, hi = wilson_interval(int(useful.sum()), len(useful))
        for prefix in ("", CONT):
            row.update({f"{prefix}useful/auto_rate": p, f"{prefix}useful/auto_lo": lo, f"{prefix}useful/auto_hi": hi})


def group_rates(rows: pd.DataFrame) -> dict[str, float]:
    """``cont/useful/auto_rate`` (+ Wilson CI) and ``cont/<detector>/flag_rate`` of one group's clips."""
    out: dict[str, float] = {}
    for prefix in ("", CONT):
        if prefix + USEFUL_KEY in rows.columns:
            p, lo, hi = _rate(rows[prefix + USEFUL_KEY])
            out.update({f"{prefix}useful/auto_rate": p, f"{prefix}useful/auto_lo": lo, f"{prefix}useful/auto_hi": hi})
    for name in DETECTORS:
        if f"{CONT}{name}/flag" in rows.columns:
            out[f"{CONT}{name}/flag_rate"] = float(rows[f"{CONT}{name}/flag"].mean())
    return out


def add_verdict_metrics(
    clips: pd.DataFrame,
    rows: list[dict],
    groups: list,
    *,
    reference: Path | None,
    embedders: tuple[str, ...],
    config: VerdictConfig,
    detectors: DetectorConfig,
    val_flags: list[dict],
    cache_dir: Path,
    bootstrap: int,
    seed: int,
    progress: Progress,
    decode: Callable[[Path], tuple[np.ndarray, int]],
    distances: Callable[..., dict[str, float]],
    weights: Path | None = None,
) -> pd.DataFrame:
    """Add every column of the module docstring; ``rows`` are the group rows, then the floor row.

    ``clips`` needs ``abs_path``, ``sample_rate_hz``, ``prime_ms`` and the detector columns;
    returns the extended clips table (the ``rows`` dicts are updated in place). ``decode``
    (path -> (T,) wave, rate) and ``distances`` (FAD/KAD with CIs) are the scorer's own,
    passed in so this module does not import :mod:`benchbox.score`.
    """
    from benchbox.metrics.embedders import get_embedder

    waves = [np.nan_to_num(decode(Path(p))[0], nan=0.0, posinf=0.0, neginf=0.0) for p in clips["abs_path"]]  # (T,) each
    clips = pd.concat([clips, continuation_detectors(clips, waves, detectors)], axis=1)
    rates = clips["sample_rate_hz"].astype(int).unique()
    if reference is not None and embedders and len(rates) == 1:
        ds = load_dataset(reference)
        rate = int(rates[0])
        refs = {s: [load_audio(p, rate) for p in ds.clip_paths(s)] for s in (TRAIN_SPLIT, "test", "val")}
        train_ids = [str(i) for i in ds.rows(TRAIN_SPLIT)["id"]]
        primes = np.array([prime_samples(p, rate) for p in clips["prime_ms"]])
        if len(refs[TRAIN_SPLIT]) > config.k:
            for e in embedders:
                model = get_embedder(e) if weights is None else get_embedder(e, weights=weights)  # loaded once, on the first cache miss
                sets = _embed_sets(waves, primes, refs, rate, model, cache_dir, progress)
                _fill_clip_columns(clips, sets, primes, train_ids, e, config)
                _fill_group_rows(rows[: len(groups)], groups, clips, sets, primes, e, config, bootstrap, seed, distances)
                if len(rows) > len(groups):
                    _fill_floor(rows[-1], sets, val_flags, e, config, bootstrap, seed, e == config.embedder)
    _set_verdict(clips, config, embedders)
    for row, (_, g) in zip(rows, groups):
        row.update(group_rates(clips.loc[g.index]))
    return clips
