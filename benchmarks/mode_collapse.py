"""Mode-collapse figures of a scored run, per checkpoint: recall and coverage with their
bootstrap CIs (from ``benchbox score``'s groups table) and the share of near-duplicate clips.

Legend: Ng generated clips, Nt training clips, Nh held-out real clips, D embedding dimension.

A generated clip is a **near-duplicate** when its nearest *other* generated clip is closer
than the ``quantile`` (5%) point of the training clips' distances to their nearest other
training clip, in the verdict's geometry (aisfx, L2-normalised). A generator that makes the
same clip from many latents (mode collapse) drives the share towards 1. The real held-out
clips (val) put through the same rule give the floor; a set smaller than the training set
sits further apart, so that floor is below the quantile itself. Recall (the share of real
test clips inside the generated clips' k-NN balls) and coverage (the share of real test
clips whose own ball holds a generated clip) fall when modes are missing; coverage is read
against :func:`benchbox.metrics.prdc.expected_coverage` for two sets of one distribution.

    .venv/bin/python benchmarks/mode_collapse.py RUN_DIR [--data DATASET] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.errors import MetricError
from benchbox.metrics import prdc
from benchbox.stats import wilson_interval

NEAR_DUPLICATE_QUANTILE = 0.05
EMBEDDER = "aisfx"


def nearest_other(emb: np.ndarray) -> np.ndarray:
    """(N,) distance from each row of ``emb`` (N, D) to its nearest other row."""
    if emb.shape[0] < 2:
        raise MetricError(f"nearest other clip needs at least 2 clips, got {emb.shape[0]}", hint="generate more clips")
    dist = prdc.pairwise_distances(emb, emb)  # (N, N)
    np.fill_diagonal(dist, np.inf)  # a clip is not its own neighbour
    return dist.min(axis=1)  # (N,)


def near_duplicates(gen: np.ndarray, train: np.ndarray, *, quantile: float = NEAR_DUPLICATE_QUANTILE) -> dict[str, float]:
    """Share of ``gen`` (Ng, D) clips with a generated neighbour closer than the ``quantile``
    point of ``train`` (Nt, D)'s nearest-other distances: ``near_duplicates`` (+ ``_lo``,
    ``_hi``: Wilson 95%), ``near_duplicates_count`` and ``near_duplicate_distance``."""
    if not 0.0 < quantile < 1.0:
        raise MetricError(f"quantile must be in (0, 1), got {quantile}", hint=f"use e.g. {NEAR_DUPLICATE_QUANTILE}")
    if gen.ndim != 2 or train.ndim != 2 or gen.shape[1] != train.shape[1]:
        raise MetricError(f"need (N, D) sets of one dimension, got {gen.shape} and {train.shape}", hint="embed both sets with the same embedder")
    cut = float(np.quantile(nearest_other(train), quantile))
    count = int((nearest_other(gen) < cut).sum())
    share, lo, hi = wilson_interval(count, gen.shape[0])
    return {"near_duplicates": share, "near_duplicates_lo": lo, "near_duplicates_hi": hi, "near_duplicates_count": count, "near_duplicate_distance": cut}


def recall_coverage(group: dict, n_real: int, embedder: str = EMBEDDER) -> dict[str, float]:
    """Recall and coverage (+ ``_lo``/``_hi`` bootstrap CIs, NaN when scored without
    ``--bootstrap``) of one row of ``scores/groups.csv``, and the coverage expected of a
    generated set of the same size drawn from the real distribution."""
    out: dict[str, float] = {}
    for metric in ("recall", "coverage"):
        for suffix, key in (("", metric), ("/lo", f"{metric}_lo"), ("/hi", f"{metric}_hi")):
            value = group.get(f"{metric}/{embedder}{suffix}")
            out[key] = float(value) if value is not None and not pd.isna(value) else math.nan
    n_gen = int(group["n"])
    out["coverage_expected"] = prdc.expected_coverage(n_real, n_gen, prdc.DEFAULT_K) if n_real > prdc.DEFAULT_K and n_gen else math.nan
    return out


def embed(paths: list[Path], embedder: str = EMBEDDER) -> np.ndarray:
    """L2-normalised pooled embeddings (N, D) of ``paths``, through the score cache."""
    from benchbox.progress import no_progress
    from benchbox.score import ScoreConfig, cache_dir_of, embed_sets

    return prdc.l2_normalise(embed_sets({"x": paths}, embedder, cache_dir_of(ScoreConfig()), no_progress)["x"])


def run_collapse(run: Path, data: Path, checkpoints: list[str] | None = None, embedder: str = EMBEDDER) -> dict[str, dict]:
    """{checkpoint: recall/coverage/near-duplicate figures} of a scored run's generated
    groups, plus ``"real val (floor)"``: the held-out val clips put through the same rule."""
    from benchbox.data.dataset import load_dataset

    dataset = load_dataset(data)
    train = embed(dataset.clip_paths("train"), embedder)  # (Nt, D)
    n_real = len(dataset.clip_paths("test"))
    groups = pd.read_csv(run / "scores" / "groups.csv", dtype={"checkpoint": str})
    clips = pd.read_csv(run / "scores" / "clips.csv", dtype={"checkpoint": str})
    generated = groups[groups["kind"] == "generated"]
    names = checkpoints if checkpoints is not None else list(generated["checkpoint"].dropna().unique())
    out: dict[str, dict] = {}
    for name in names:
        rows = generated[generated["checkpoint"] == name]
        if rows.empty:
            raise MetricError(f"{run}: no scored generated group for checkpoint {name!r}", hint="run benchbox generate and benchbox score on this run first")
        gen = embed([run / p for p in clips.loc[clips["checkpoint"] == name, "path"]], embedder)  # (Ng, D)
        out[name] = {**recall_coverage(rows.iloc[0].to_dict(), n_real, embedder), **near_duplicates(gen, train)}
    out["real val (floor)"] = near_duplicates(embed(dataset.clip_paths("val"), embedder), train)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder scored by benchbox score")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "footsteps-dev", help="the run's imported dataset (default: ../shared/data/footsteps-dev beside the checkout)")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    result = run_collapse(args.run, args.data)
    text = json.dumps(result, indent=2, default=float)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
