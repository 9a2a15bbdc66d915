"""k-NN metrics of a scored run: realism, PRDC, memorisation, continuation scoring, verdict.

Legend: N clips, D embedding dimension, P prime length in samples, G groups.

:func:`add_verdict_metrics` fills, for every embedder e (see ``docs/verdict.md``):

* per clip: ``realism/e``, ``manifold/e`` (against the reference ``train`` split),
  ``memorisation/e/train_distance`` and ``memorisation/e/train_id``, and (for the
  verdict's embedder) ``in_distribution`` (realism >= ``realism_min``, 0/1);
* per group: ``precision/e``, ``recall/e``, ``density/e``, ``coverage/e`` with
  bootstrap CIs, ``nn1/e`` and ``nn1/e/p`` (the 1-NN two-sample test of
  :mod:`benchbox.metrics.twosample`: balanced leave-one-out accuracy, ~0.5 when
  indistinguishable, and its permutation p-value), all against the ``test`` split,
  and ``memorisation/e/closer_share``: the share of clips nearer their nearest training
  clip than the ``memorisation_quantile`` of held-out real (val + test) clips' distances
  (:func:`benchbox.metrics.verdict.close_threshold`; real clips read
  ``memorisation/e/expected_share`` = k / (n + 1) by construction), with a Wilson CI, and
  ``memorisation/e/heldout_n`` = n, which the copy test needs (:func:`benchbox.metrics.verdict.copy_p_value`);

and the same under ``cont/`` for the continuation of primed clips (``clip[P:]`` against
the reference clips' ``[P:]``; for unprimed clips ``cont/`` repeats the whole clip),
plus ``cont/fad/e`` and ``cont/kad/e``. An unprimed group is also scored on every primed span
of its run, ``span@<ms>ms/fad/e``, ``span@<ms>ms/kad/e`` and its PRDC (:func:`span_key`): its clips from the
sample the prime ends at, on the same cut and kernel as the primed group's ``cont/kad/e``, so the
two are one scale (finding 5 of :mod:`benchbox.study.seed_findings`). Per clip, with or without a reference:
``footstep/p`` (:mod:`benchbox.metrics.category`) and ``cont/footstep/p``. ``useful/auto``
(whole clip) and ``cont/useful/auto`` are the verdict of :mod:`benchbox.metrics.verdict`
(no artefact flag and ``footstep/p`` >= threshold), with ``useful/reason`` and
``cont/useful/reason``. A clip with NaN or inf samples is embedded nowhere, whole or ``cont/``
(:func:`benchbox.score_distances.embeddable`): its k-NN columns and ``footstep/p`` stay NaN, its group's
embedding metrics are over its other clips, and its nan flag fails it. Per group, the three axes (:func:`group_rates`): quality
(``quality/artefact_free_rate``), category fit (``footstep/p_mean``, ``footstep/share``)
and diversity (``recall/e``, ``coverage/e`` above), each with a 95% CI. (The floor row's real floor of
the continuation verdict, ``floor@<ms>ms/useful/``, is :mod:`benchbox.score_floor`'s. The verdict on one clip,
whole and past its prime, is :mod:`benchbox.score_clip_verdict`'s, which both use.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.audio import load_audio
from benchbox.data.dataset import load_dataset
from benchbox.metrics import prdc, twosample
from benchbox.metrics.artifacts import DETECTORS, DetectorConfig
from benchbox.metrics import category
from benchbox.metrics.verdict import IN_DISTRIBUTION_KEY, USEFUL_KEY, VerdictConfig, close_threshold, expected_close_share, leave_one_out_close, verdicts
from benchbox.progress import Progress
from benchbox.score_clip_verdict import CONT, continuation_detectors, fill_footstep_p, long_enough, prime_samples, set_verdict, verdict_model
from benchbox.score_distances import embeddable

if TYPE_CHECKING:
    from benchbox.metrics.embedder import Embedder
from benchbox.stats import wilson_interval

TRAIN_SPLIT = "train"


@dataclass
class _Sets:
    """Pooled embeddings of one embedder: generated clips and reference splits per prime cut."""

    gen: dict[int, np.ndarray]  # P -> (N, D), rows aligned with the clips table (only rows with that P for P > 0)
    train: dict[int, np.ndarray]  # P -> (Nt, D)
    test: dict[int, np.ndarray]  # P -> (Nr, D)
    val: np.ndarray  # (Nv, D), whole clips
    val_cont: dict[int, np.ndarray] = field(default_factory=dict)  # P > 0 -> (Nv, D): val clips from sample P on
    unprimed_at: dict[int, np.ndarray] = field(default_factory=dict)  # P > 0 -> (N0, D): the unprimed clips from sample P on


def _embed(waves: list[np.ndarray], rate_hz: int, embedder: Embedder, cache_dir: Path, progress: Progress) -> np.ndarray:
    from benchbox.metrics.embedders import embed_waves
    from benchbox.metrics.fad import pool_clips

    if not waves:
        return np.zeros((0, 0))
    return pool_clips(embed_waves(waves, rate_hz, embedder, cache_dir=cache_dir, progress=progress))  # (N, D)


def _embed_rows(waves: list[np.ndarray], rows: np.ndarray, finite: np.ndarray, p: int, rate_hz: int, embedder: Embedder, cache_dir: Path, progress: Progress) -> np.ndarray:
    """(len(rows), D): ``waves[i][p:]`` embedded for each i of ``rows``; a NaN row where ``finite[i]`` is False (never embedded)."""
    pooled = _embed([waves[i][p:] for i in rows if finite[i]], rate_hz, embedder, cache_dir, progress)  # (Nf, D)
    out = np.full((len(rows), pooled.shape[1]), np.nan)
    out[finite[rows]] = pooled
    return out


def _embedded(x: np.ndarray) -> np.ndarray:
    """(N,) bool: the rows of an (N, D) embedding array that were embedded (a left-out clip's row is NaN)."""
    return ~np.isnan(x).any(axis=1) if x.ndim == 2 and x.shape[1] else np.zeros(len(x), bool)


def refused_cuts(refs: dict[str, list[np.ndarray]], primes: np.ndarray) -> set[int]:
    """The primes (in samples) the reference cannot be cut at: some train/test clip is shorter than the
    prime plus ``MIN_CONT_SAMPLES`` (:func:`long_enough`), so no continuation of that prime has a span to be compared with."""
    shortest = min((len(w) for s in (TRAIN_SPLIT, "test") for w in refs.get(s, [])), default=0)
    return {int(p) for p in primes if p > 0 and not long_enough(shortest, p)}


def _embed_sets(waves: list[np.ndarray], primes: np.ndarray, refs: dict[str, list[np.ndarray]], rate_hz: int, embedder: Embedder, cache_dir: Path, progress: Progress,
                finite: np.ndarray, refused: set[int]) -> _Sets:
    # a cut P needs every reference train/test clip long enough past P (they define the span: ``refused`` holds the
    # cuts they cannot give); a generated clip too short for its own cut is left out of that cut alone (a NaN row,
    # as a NaN clip is), never the whole cut
    lengths = np.array([len(w) for w in waves])
    cut_ok = lambda p: long_enough(lengths, p) & finite  # noqa: E731 - (N,) the clips embedded at cut P
    cuts = sorted({0, *[int(p) for p in primes if p and p not in refused and long_enough(lengths, p)[primes == p].any()]})
    cuts_val = [p for p in cuts if p and all(long_enough(len(w), p) for w in refs["val"])]
    gen, train, test = {}, {}, {}
    for p in cuts:
        rows = np.flatnonzero(primes == p) if p else np.arange(len(waves))
        gen[p] = _embed_rows(waves, rows, cut_ok(p) if p else finite, p, rate_hz, embedder, cache_dir, progress)
        train[p] = _embed([w[p:] for w in refs[TRAIN_SPLIT]], rate_hz, embedder, cache_dir, progress)
        test[p] = _embed([w[p:] for w in refs["test"]], rate_hz, embedder, cache_dir, progress)
    val_cont = {p: _embed([w[p:] for w in refs["val"]], rate_hz, embedder, cache_dir, progress) for p in cuts_val}
    unprimed = np.flatnonzero(primes == 0)  # scored on each primed span too: finding 5's like-for-like comparison
    unprimed_at = {p: _embed_rows(waves, unprimed, cut_ok(p), p, rate_hz, embedder, cache_dir, progress)
                   for p in cuts if p and long_enough(lengths, p)[unprimed].any()}
    return _Sets(gen, train, test, _embed(refs["val"], rate_hz, embedder, cache_dir, progress), val_cont, unprimed_at)


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


def _group_metrics(gen: np.ndarray, test: np.ndarray, train: np.ndarray, e: str, config: VerdictConfig, bootstrap: int, seed: int, heldout: np.ndarray | None = None) -> dict[str, float]:
    """Per group: PRDC (+ CI) and the 1-NN two-sample test against the test split, and the memorisation share.

    ``heldout`` (Nh, D): the real clips whose nearest-training distances set the "close"
    threshold (val + test for whole clips); ``test`` when None.
    """
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
    h = r if heldout is None else _geometry(heldout, config)
    if g.shape[0] and h.shape[0] and t.shape[0]:
        cut = close_threshold(prdc.nearest(h, t)[0], config.memorisation_quantile)  # see verdict.close_threshold
        closer = int((prdc.nearest(g, t)[0] < cut).sum())
        share, lo, hi = wilson_interval(closer, g.shape[0])
        out.update({f"memorisation/{e}/closer_share": share, f"memorisation/{e}/closer_lo": lo, f"memorisation/{e}/closer_hi": hi,
                    f"memorisation/{e}/close_distance": cut, f"memorisation/{e}/expected_share": expected_close_share(h.shape[0], config.memorisation_quantile),
                    f"memorisation/{e}/heldout_n": h.shape[0],  # the copy test's calibration size (verdict.copy_p_value)
                    f"memorisation/{e}/n": g.shape[0]})  # the clips it judged: the group's n less its clips with NaN samples
    return out


def _fill_clip_columns(clips: pd.DataFrame, sets: _Sets, primes: np.ndarray, train_ids: list[str], e: str, config: VerdictConfig) -> None:
    """Whole-clip columns (against whole training clips) and ``cont/`` columns (own P), in place."""
    parts = [("", np.arange(len(clips)), sets.gen[0], sets.train[0])]
    for p in sorted(set(primes.tolist()) & set(sets.gen)):
        rows = np.flatnonzero(primes == p)
        parts.append((CONT, rows, sets.gen[p] if p else sets.gen[0][rows], sets.train[p]))
    for prefix, rows, gen, train in parts:
        kept = _embedded(gen)  # a clip with non-finite samples, or too short for its cut, keeps NaN (and no train_id)
        rows, gen = rows[kept], gen[kept]
        if gen.shape[0] == 0:
            continue
        for key, values in _clip_metrics(gen, train, train_ids, config).items():
            col = prefix + (key.format(e=e) if "{e}" in key else f"{key}/{e}")
            if col not in clips.columns:
                clips[col] = "" if key.endswith("train_id") else np.nan
            clips.iloc[rows, clips.columns.get_loc(col)] = values


def _rate(values: pd.Series) -> tuple[float, float, float]:
    return wilson_interval(int(values.sum()), len(values))


def span_bandwidths(sets: _Sets) -> dict[int, float]:
    """P -> KAD bandwidth of the span from sample P: the median distance between the reference
    test clips' same span, one value shared by every row scored on that span."""
    from benchbox.metrics.fad import reference_bandwidth

    return {p: reference_bandwidth(test) for p, test in sets.test.items() if test.shape[0] >= 2}


def span_key(prime_ms: float, metric: str, embedder: str) -> str:
    """An unprimed group's column of ``metric`` on a primed span: its clips from the sample a
    ``prime_ms`` prime ends at, against the reference test clips' same span with that span's kernel
    (``span@<ms>ms/kad/aisfx``; ``/lo``, ``/hi`` beside it), on one scale with the ``cont/kad`` of
    the clips primed for ``prime_ms``."""
    return f"span@{float(prime_ms):g}ms/{metric}/{embedder}"


def _span_metrics(gen: np.ndarray, test: np.ndarray, prime_ms: float, e: str, config: VerdictConfig, bootstrap: int, seed: int, distances: Callable,
                  bandwidth: float | None) -> dict[str, float]:
    """``span@<ms>ms/`` FAD, KAD and PRDC (with their intervals) of unprimed clips from the sample a
    ``prime_ms`` prime ends at (``gen`` (N, D)) against the test clips' same span (``test`` (Nr, D)),
    with that span's kernel ``bandwidth``: the ``cont/`` metrics a primed group gets on that span."""
    measured = distances(gen, test, e, bootstrap=bootstrap, seed=seed, bandwidth=bandwidth)
    out = {span_key(prime_ms, metric, e) + suffix: measured[f"{metric}/{e}{suffix}"] for metric in ("fad", "kad") for suffix in ("", "/lo", "/hi")}
    g, r = _geometry(gen, config), _geometry(test, config)
    if g.shape[0] > config.k and r.shape[0] > config.k:
        values = prdc.prdc_bootstrap(r, g, k=config.k, n=bootstrap, seed=seed) if bootstrap > 0 else prdc.prdc(r, g, k=config.k)
        for key, v in values.items():  # "recall/lo" -> "span@20ms/recall/<e>/lo"
            metric, _, bound = key.partition("/")
            out[span_key(prime_ms, metric, e) + (f"/{bound}" if bound else "")] = v
    return out


def _fill_group_rows(rows: list[dict], groups: list, clips: pd.DataFrame, sets: _Sets, primes: np.ndarray, e: str, config: VerdictConfig, bootstrap: int, seed: int, distances: Callable,
                     bandwidths: dict[int, float], spans_ms: dict[int, float]) -> None:
    unprimed = np.flatnonzero(primes == 0)
    for row, (_, g) in zip(rows, groups):
        idx = clips.index.get_indexer(g.index)
        p = int(primes[idx[0]]) if len(idx) else 0
        idx = idx[_embedded(sets.gen[0][idx])]  # the group's embedded clips
        row.update(_group_metrics(sets.gen[0][idx], sets.test[0], sets.train[0], e, config, bootstrap, seed, _heldout(sets)))
        if p == 0 and len(idx):  # the unprimed group on every primed span of this run
            sub = np.searchsorted(unprimed, idx)
            for span, at in sets.unprimed_at.items():
                kept = at[sub][_embedded(at[sub])]  # the group's clips long enough for this span
                if span in spans_ms and len(kept) >= 2:
                    row.update(_span_metrics(kept, sets.test[span], spans_ms[span], e, config, bootstrap, seed, distances, bandwidths.get(span)))
        if p not in sets.gen:  # no continuation of this prime long enough to embed, or a reference clip too short for it
            continue
        sub = np.searchsorted(np.flatnonzero(primes == p), idx) if p else idx
        gen = sets.gen[p][sub]
        gen = gen[_embedded(gen)]  # its clips too short for the cut are left out, as NaN clips are
        cont = _group_metrics(gen, sets.test[p], sets.train[p], e, config, bootstrap, seed, _heldout(sets, p))
        if gen.shape[0] >= 2:
            cont.update(distances(gen, sets.test[p], e, bootstrap=bootstrap, seed=seed, bandwidth=bandwidths.get(p)))
        row.update({CONT + k: v for k, v in cont.items()})


def _heldout(sets: _Sets, prime: int = 0) -> np.ndarray:
    """(Nv + Nr, D): the real clips no model trained on (val + test), whole clips, or from sample
    ``prime`` on (the continuations' geometry; test alone when val's were not embedded)."""
    val = sets.val if prime == 0 else sets.val_cont.get(prime, np.zeros((0, 0)))
    return np.concatenate([val, sets.test[prime]]) if val.shape[0] else sets.test[prime]


def floor_span_key(prime_ms: float, metric: str, embedder: str) -> str:
    """The floor row's column of ``metric`` on a continuation span: real val vs real test, both from
    the sample a ``prime_ms`` prime ends at (``floor@<ms>ms/kad/aisfx``; ``/lo``, ``/hi`` beside it)."""
    return f"floor@{float(prime_ms):g}ms/{metric}/{embedder}"


def floor_span_of(floor: dict, prime_ms: float, metric: str, embedder: str) -> str | None:
    """The :func:`floor_span_key` a row primed for ``prime_ms`` compares with, where the floor row
    ``floor`` holds a finite interval for it (``/lo``, ``/hi``); None for an unprimed row, and for
    scores without span floors (versions before 8), whose rows compare with the whole-clip floor.
    The one rule for the leaderboard's and the study report's *vs floor* marks."""
    if not prime_ms > 0:  # 0 and NaN: the whole clip
        return None
    key = floor_span_key(prime_ms, metric, embedder)
    bounds = pd.to_numeric(pd.Series([floor.get(key + "/lo"), floor.get(key + "/hi")]), errors="coerce")
    return key if bool(np.isfinite(bounds.to_numpy(dtype=float)).all()) else None


def _fill_floor_spans(row: dict, sets: _Sets, e: str, spans_ms: dict[int, float], bootstrap: int, seed: int, distances: Callable,
                      bandwidths: dict[int, float]) -> None:
    """The floor on each continuation span P (``spans_ms``: P samples -> prime in ms): real val vs real
    test from sample P on, with that span's kernel, so a primed row is compared with real clips on
    its own span and kernel (:func:`benchbox.leaderboard.floor_intervals`)."""
    for p, ms in spans_ms.items():
        val = sets.val_cont.get(p)
        if val is None or p not in sets.test or val.shape[0] < 2:
            continue
        measured = distances(val, sets.test[p], e, bootstrap=bootstrap, seed=seed, bandwidth=bandwidths.get(p))
        for metric in ("fad", "kad"):
            for suffix in ("", "/lo", "/hi"):
                row[floor_span_key(ms, metric, e) + suffix] = measured[f"{metric}/{e}{suffix}"]


def _fill_floor(row: dict, sets: _Sets, e: str, config: VerdictConfig, bootstrap: int, seed: int) -> None:
    """The floor row (real val vs real test): PRDC, and memorisation as leave-one-out over val + test."""
    metrics = _group_metrics(sets.val, sets.test[0], sets.train[0], e, config, bootstrap, seed, _heldout(sets))
    h = _geometry(_heldout(sets), config)
    if h.shape[0] > 1 and sets.train[0].shape[0]:
        close = leave_one_out_close(prdc.nearest(h, _geometry(sets.train[0], config))[0], config.memorisation_quantile)
        share, lo, hi = wilson_interval(int(close.sum()), len(close))
        metrics.update({f"memorisation/{e}/closer_share": share, f"memorisation/{e}/closer_lo": lo, f"memorisation/{e}/closer_hi": hi,
                        f"memorisation/{e}/expected_share": expected_close_share(h.shape[0] - 1, config.memorisation_quantile),
                        f"memorisation/{e}/heldout_n": h.shape[0] - 1, f"memorisation/{e}/n": len(close)})
    row.update(metrics)
    row.update({CONT + k: v for k, v in metrics.items()})
    for key in ("fad", "kad"):
        for suffix in ("", "/lo", "/hi"):
            if f"{key}/{e}{suffix}" in row:
                row[f"{CONT}{key}/{e}{suffix}"] = row[f"{key}/{e}{suffix}"]


def _floor_verdict(row: dict, val_flags: list[dict], val_p: np.ndarray | None, threshold: float) -> None:
    """The verdict's rate on the real val clips (its real-clip rate), with the quality and category
    columns; ``val_p`` None (no footstep/p measured: clips at several sample rates): flags alone decide, and there are no category columns."""
    useful, _ = verdicts(val_flags, val_p, threshold, applied=None if val_p is None else np.ones(len(val_p), bool))
    part = pd.DataFrame({USEFUL_KEY: useful, **({} if val_p is None else {category.P_KEY: val_p}),
                         **{f"{n}/flag": [int(f.get(f"{n}/flag", 0) or 0) for f in val_flags] for n in DETECTORS}})
    rates = group_rates(part, threshold)
    row.update(rates)
    row.update({CONT + k: v for k, v in rates.items() if not k.startswith(CONT)})


def _mean_ci(values: np.ndarray, seed: int = 0, n: int = 1000) -> tuple[float, float, float]:
    """Mean of (N,) values with a 95% percentile bootstrap CI (NaN values left out)."""
    v = values[~np.isnan(values)]
    if not len(v):
        return (math.nan, math.nan, math.nan)
    means = np.random.default_rng(seed).choice(v, size=(n, len(v))).mean(axis=1)
    return float(v.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def group_rates(rows: pd.DataFrame, threshold: float = 0.5) -> dict[str, float]:
    """Per group, each with a 95% CI (and the ``cont/`` twins): ``useful/auto_rate``, quality
    ``quality/artefact_free_rate`` (no detector fired), category fit ``footstep/p_mean`` and
    ``footstep/share`` (p >= ``threshold``), ``in_distribution_rate``, and ``cont/<detector>/flag_rate``."""
    out: dict[str, float] = {}
    for prefix in ("", CONT):
        if prefix + USEFUL_KEY in rows.columns:
            p, lo, hi = _rate(rows[prefix + USEFUL_KEY])
            out.update({f"{prefix}useful/auto_rate": p, f"{prefix}useful/auto_lo": lo, f"{prefix}useful/auto_hi": hi})
        flag_cols = [f"{prefix}{n}/flag" for n in DETECTORS if f"{prefix}{n}/flag" in rows.columns]
        if flag_cols and len(rows):
            clean = (rows[flag_cols].fillna(0).astype(float).sum(axis=1) == 0).astype(int)
            out.update(dict(zip((f"{prefix}quality/artefact_free_rate", f"{prefix}quality/artefact_free_lo", f"{prefix}quality/artefact_free_hi"), _rate(clean))))
        if prefix + category.P_KEY in rows.columns and len(rows):
            p = rows[prefix + category.P_KEY].to_numpy(dtype=np.float64)
            out.update(dict(zip((f"{prefix}footstep/p_mean", f"{prefix}footstep/p_lo", f"{prefix}footstep/p_hi"), _mean_ci(p))))
            measured = p[~np.isnan(p)]
            if len(measured):
                share = wilson_interval(int((measured >= threshold).sum()), len(measured))
                out.update(dict(zip((f"{prefix}footstep/share", f"{prefix}footstep/share_lo", f"{prefix}footstep/share_hi"), share)))
        if prefix + IN_DISTRIBUTION_KEY in rows.columns:
            inside = rows[prefix + IN_DISTRIBUTION_KEY].dropna()
            if len(inside):
                out.update(dict(zip((f"{prefix}in_distribution_rate", f"{prefix}in_distribution_lo", f"{prefix}in_distribution_hi"), _rate(inside))))
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
    bandwidths: dict | None = None,
    refused: set | None = None,
    loaded: dict | None = None,
) -> pd.DataFrame:
    """Add every column of the module docstring; ``rows`` are the group rows, then the floor row.

    ``clips`` needs ``abs_path``, ``sample_rate_hz``, ``prime_ms`` and the detector columns;
    returns the extended clips table (the ``rows`` dicts are updated in place). ``decode``
    (path -> (T,) wave, rate) and ``distances`` (FAD/KAD with CIs) are the scorer's own,
    passed in so this module does not import :mod:`benchbox.score`. ``bandwidths``: where the
    ``cont/kad`` bandwidth of each span is recorded, ``bandwidths[e][str(P)]`` (as scores.json);
    ``refused``: where the primes (in samples) the reference cannot be cut at are collected (:func:`refused_cuts`);
    ``loaded``: where the reference clips it decodes are kept, split -> N (T,) at the clips' rate, so
    :func:`benchbox.score_floor.add_floor_useful` decodes them once.
    """
    from benchbox.metrics.embedders import get_embedder

    waves = [decode(Path(p))[0] for p in clips["abs_path"]]  # (T,) each, NaN/inf kept: the detectors flag them (cont/ too)
    finite = embeddable(clips)  # (N,) bool: the clips that any embedding sees
    clips = pd.concat([clips, continuation_detectors(clips, waves, detectors)], axis=1)
    rates = clips["sample_rate_hz"].astype(int).unique()
    model, model_weights, threshold = verdict_model(config, weights)
    # footstep/p is measured whatever --embedder lists (the category model embeds with its own
    # embedder): a verdict without category fit would call any clean non-footstep useful.
    measure_category = len(rates) == 1
    applied = fill_footstep_p(clips, waves, finite, int(rates[0]), model, cache_dir, progress, model_weights) if measure_category else None
    refs: dict[str, list[np.ndarray]] = {}
    if reference is not None and embedders and len(rates) == 1:
        ds = load_dataset(reference)
        rate = int(rates[0])
        refs = {s: [load_audio(p, rate) for p in ds.clip_paths(s)] for s in (TRAIN_SPLIT, "test", "val")}
        train_ids = [str(i) for i in ds.rows(TRAIN_SPLIT)["id"]]
        primes = np.array([prime_samples(p, rate) for p in clips["prime_ms"]])
        cannot = refused_cuts(refs, primes)
        if refused is not None:
            refused.update(cannot)
        if len(refs[TRAIN_SPLIT]) > config.k:
            for e in embedders:
                emb = get_embedder(e) if weights is None else get_embedder(e, weights=weights)  # loaded once, on the first cache miss
                sets = _embed_sets(waves, primes, refs, rate, emb, cache_dir, progress, finite, cannot)
                _fill_clip_columns(clips, sets, primes, train_ids, e, config)
                spans = span_bandwidths(sets)
                if bandwidths is not None:
                    bandwidths.setdefault(e, {}).update({str(p): h for p, h in spans.items() if p})
                spans_ms = {int(p): float(ms) for p, ms in zip(primes, pd.to_numeric(clips["prime_ms"], errors="coerce")) if p > 0}
                _fill_group_rows(rows[: len(groups)], groups, clips, sets, primes, e, config, bootstrap, seed, distances, spans, spans_ms)
                if len(rows) > len(groups):
                    _fill_floor(rows[-1], sets, e, config, bootstrap, seed)
                    _fill_floor_spans(rows[-1], sets, e, spans_ms, bootstrap, seed, distances, spans)
    if measure_category and reference is not None and len(rows) > len(groups):  # the floor's verdict is the clips' verdict
        rate = int(rates[0])
        if not refs:
            refs = {"val": [load_audio(p, rate) for p in load_dataset(reference).clip_paths("val")]}
        val = refs["val"]
        if val:
            val_p = category.footstep_probability(val, rate, model, cache_dir=cache_dir, progress=progress, weights=model_weights)
            _floor_verdict(rows[-1], val_flags, val_p, threshold)
    if len(rows) > len(groups) and val_flags and "quality/artefact_free_rate" not in rows[-1]:
        _floor_verdict(rows[-1], val_flags, None, threshold)  # no footstep/p measured (clips at several rates): the flags' rates
    if loaded is not None:
        loaded.update(refs)
    set_verdict(clips, config, threshold, applied)
    for row, (_, g) in zip(rows, groups):
        row.update(group_rates(clips.loc[g.index], threshold))
    return clips

