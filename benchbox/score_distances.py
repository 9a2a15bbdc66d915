"""Distances of a scored run's groups to the reference: embeddings, FAD, KAD and diversity.

Legend: N clips in a set, D embedding dimension.

Every group row and the floor row (real val vs real test) is measured against the reference's
**test** split, with one KAD bandwidth per embedder shared by every row (the test clips' median
distance, :func:`benchbox.metrics.fad.reference_bandwidth`) and the jackknife intervals of
:mod:`benchbox.metrics.jackknife`. Split from :mod:`benchbox.score`, which calls it.

A clip with NaN or inf samples (``nan/flag`` 1) is in no embedding metric, whole clip or span
(:func:`embeddable`): embedding it would mean embedding a clip altered to be finite. It stays in
``n`` and every rate, where its flag fails it; ``embedding/left_out`` counts such clips per group.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from benchbox.progress import Progress

WEIGHTS_EMBEDDER = "vggish"  # the one embedder whose weights the user supplies (--weights)
MIN_SET_CLIPS = 2
REFERENCE_SPLIT, FLOOR_SPLIT = "test", "val"
NONFINITE_FLAG = "nan/flag"  # the nan detector's flag: the clip holds NaN or inf samples
LEFT_OUT_KEY = "embedding/left_out"  # per group: its clips left out of every embedding metric


def embeddable(clips) -> np.ndarray:
    """(N,) bool: the clips of a clips table that embedding metrics (FAD, KAD, PRDC, nn1, memorisation,
    span@, footstep/p) use, those without NaN or inf samples. The one rule for whole clips and ``cont/``."""
    return (clips[NONFINITE_FLAG].to_numpy() == 0) if len(clips) else np.zeros(0, bool)


def embed_sets(paths: dict[str, list[Path]], embedder: str, cache_dir: Path, progress: Progress, weights: Path | None = None) -> dict[str, np.ndarray]:
    """Embed every named list of files at once; return pooled (N, D) arrays per name.

    ``weights`` (a file, or a folder holding the default file name) goes to the
    ``vggish`` embedder only; the others ship their weights.
    """
    from benchbox.metrics.embedders import embed_files
    from benchbox.metrics.fad import pool_clips

    flat = [p for name in paths for p in paths[name]]
    per_clip = embed_files(flat, embedder, cache_dir=cache_dir, progress=progress, weights=weights if embedder == WEIGHTS_EMBEDDER else None)
    pooled = pool_clips(per_clip) if flat else np.zeros((0, 0))  # (N, D)
    out, start = {}, 0
    for name, items in paths.items():
        out[name] = pooled[start : start + len(items)]
        start += len(items)
    return out


def diversity(emb: np.ndarray, *, max_clips: int, seed: int) -> float:
    """Mean pairwise Euclidean distance between clip embeddings (N, D); NaN below 2 clips."""
    if emb.shape[0] < MIN_SET_CLIPS:
        return math.nan
    if emb.shape[0] > max_clips:
        emb = emb[np.sort(np.random.default_rng(seed).choice(emb.shape[0], max_clips, replace=False))]
    sq = np.square(emb).sum(axis=1)  # (N,)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * emb @ emb.T, 0.0)  # (N, N)
    iu = np.triu_indices(emb.shape[0], k=1)
    return float(np.sqrt(d2[iu]).mean())


def distances(gen: np.ndarray, ref: np.ndarray, embedder: str, *, bootstrap: int, seed: int, bandwidth: float | None = None) -> dict[str, float]:
    """``fad/<emb>``, ``kad/<emb>`` of ``gen`` (N, D) against ``ref`` (Nr, D) with ``/lo``, ``/hi``: the
    jackknife 95% interval (:mod:`benchbox.metrics.jackknife`; no resamples, ``seed`` unused) when
    ``bootstrap`` > 0, else NaN; NaN values below 2 clips, NaN bounds below 3. ``bandwidth``: KAD's,
    ``reference_bandwidth(ref)`` when None: pass one value for every set scored against ``ref``."""
    from benchbox.metrics import fad as fadlib
    from benchbox.metrics.jackknife import MIN_JACKKNIFE_CLIPS, jackknife_ci

    h = fadlib.reference_bandwidth(ref) if bandwidth is None else bandwidth
    out: dict[str, float] = {}
    for metric in ("fad", "kad"):
        key = f"{metric}/{embedder}"
        if gen.shape[0] < MIN_SET_CLIPS:
            out.update({key: math.nan, f"{key}/lo": math.nan, f"{key}/hi": math.nan})
        elif bootstrap > 0 and min(gen.shape[0], ref.shape[0]) >= MIN_JACKKNIFE_CLIPS:
            ci = jackknife_ci(gen, ref, metric, bandwidth=h)
            out.update({key: ci["value"], f"{key}/lo": ci["lo"], f"{key}/hi": ci["hi"]})
        else:
            value = fadlib.fad(gen, ref) if metric == "fad" else fadlib.kad(gen, ref, bandwidth=h)
            out.update({key: value, f"{key}/lo": math.nan, f"{key}/hi": math.nan})
    return out


def add_distances(rows: list[dict], groups: list, sets: dict, embedders, *, bootstrap: int, seed: int, cache_dir: Path, max_clips: int,
                  progress: Progress, weights: Path | None = None, bandwidths: dict | None = None) -> list[str]:
    """Fill ``fad/kad/diversity`` of every group row and the floor row (the last row); every row's
    KAD uses the test split's one bandwidth per embedder, recorded in ``bandwidths[emb]["0"]``.
    ``groups``: (key, clips) pairs of :func:`benchbox.score.split_groups`; ``sets``: the reference's
    ``test`` and ``val`` file lists; ``max_clips``: diversity's subsample. Returns warning lines."""
    from benchbox.metrics.fad import reference_bandwidth

    warnings: list[str] = []
    for emb_name in embedders:
        named = {f"g{i}": [Path(p) for p in g[embeddable(g)]["abs_path"]] for i, (_, g) in enumerate(groups)}
        named.update(sets)
        pooled = embed_sets(named, emb_name, cache_dir, progress, weights)
        ref = pooled[REFERENCE_SPLIT]
        h = reference_bandwidth(ref)
        if bandwidths is not None:
            bandwidths.setdefault(emb_name, {})["0"] = h
        for i, row in enumerate(rows[:-1]):
            progress(f"distances {emb_name}", i + 1, len(rows))
            gen = pooled[f"g{i}"]
            row[LEFT_OUT_KEY] = left_out = len(groups[i][1]) - gen.shape[0]
            if left_out and emb_name == embedders[0]:
                warnings.append(f"group {row['group']!r}: {left_out} clip(s) with NaN or inf samples left out of every embedding metric "
                                f"(FAD, KAD, PRDC, nn1, memorisation, footstep/p); n and the rates count them, and their nan flag fails them")
            if gen.shape[0] < MIN_SET_CLIPS and emb_name == embedders[0]:
                warnings.append(f"group {row['group']!r}: {gen.shape[0]} usable clip(s), FAD/KAD left empty")
            row.update(distances(gen, ref, emb_name, bootstrap=bootstrap, seed=seed, bandwidth=h))
            row[f"diversity/{emb_name}"] = diversity(gen, max_clips=max_clips, seed=seed)
        val = pooled[FLOOR_SPLIT]
        if val.shape[0] < MIN_SET_CLIPS and emb_name == embedders[0]:
            warnings.append(f"reference '{FLOOR_SPLIT}' split has {val.shape[0]} clip(s): the floor row is empty")
        rows[-1].update(distances(val, ref, emb_name, bootstrap=bootstrap, seed=seed, bandwidth=h))
        rows[-1][f"diversity/{emb_name}"] = diversity(val, max_clips=max_clips, seed=seed)
        progress(f"distances {emb_name}", len(rows), len(rows))
    return warnings
