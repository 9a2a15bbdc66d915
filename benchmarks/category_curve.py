"""How the category model's leave-one-package-out AUC grows with its training data (issue 22).

The shipped probe (``aisfx_norm``, logistic L2 0.03, the synthetic training negatives) is refitted
on less data than leave-one-package-out gives it, and scored on the held-out package as
``fit_category.py`` does:

* **source files**: for each held-out package, a share f of the two training packages' source
  files (footstep and non-footstep recordings drawn alike, every clip of a drawn file kept) is
  drawn ``--draws`` times; a row is the pooled AUC over the three held-out packages, its mean and
  range over the draws;
* **packages**: trained on ONE other package instead of two (each of the six ordered pairs),
  beside the two-package fit on the same test package.

If the AUC still climbs at f = 1 and from one package to two, the model is short of recordings
(and recording chains), not of capacity, and the curve says roughly how far another package would
carry it. These rows are measurements of the data, not a search: nothing here is chosen by them.

Usage (a few minutes of one core with the embedding cache; without it, one aisfx pass over ~2,100 clips first)::

    PYTHONPATH=. .venv/bin/python benchmarks/category_curve.py [--data DIR] [--cache DIR] [--draws 10]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # fit_category, run as a script or loaded by path

import fit_category as fc  # noqa: E402

from benchbox.metrics import category as cat  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARES = (0.25, 0.5, 0.75, 1.0)
L2 = 0.03  # the shipped penalty
SEED = 0


def probe_scores(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """(len(test),) logits of the shipped probe fitted on rows ``train`` (standardised by them)."""
    mean, scale = x[train].mean(axis=0), np.maximum(x[train].std(axis=0), 1e-6)
    w, b = cat.fit_logistic((x[train] - mean) / scale, y[train], l2=L2, weight=cat.balanced_weights(y[train]))
    return ((x[test] - mean) / scale) @ w + b


def subsampled(train: np.ndarray, sources: np.ndarray, pk: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """``train`` rows of a random ``share`` of its real source files (at least one), synthetic rows always kept."""
    real = train[pk[train] != fc.SYNTHETIC]
    files = np.unique(sources[real])
    keep = rng.choice(files, size=max(1, round(share * len(files))), replace=False)
    return np.concatenate([real[np.isin(sources[real], keep)], train[pk[train] == fc.SYNTHETIC]])


def share_curve(x: np.ndarray, y: np.ndarray, pk: np.ndarray, sources: np.ndarray, draws: int) -> list[tuple[float, list[float]]]:
    """[(share, pooled LOPO AUC of each draw)] over ``SHARES``; one draw at share 1."""
    rng, out = np.random.default_rng(SEED), []
    for share in SHARES:
        aucs = []
        for _ in range(1 if share == 1.0 else draws):
            score = np.full(len(y), np.nan)
            for _, tr, te in fc.lopo_splits(pk):
                score[te] = probe_scores(x, y, subsampled(tr, sources, pk, share, rng), te)
            real = pk != fc.SYNTHETIC
            aucs.append(cat.auc(score[real], y[real]))
        out.append((share, aucs))
    return out


def package_pairs(x: np.ndarray, y: np.ndarray, pk: np.ndarray) -> list[tuple[str, str, float, float]]:
    """[(training package, test package, AUC trained on it alone, AUC trained on both others)]."""
    out = []
    for held, tr, te in fc.lopo_splits(pk):
        both = cat.auc(probe_scores(x, y, tr, te), y[te])
        for other in sorted(set(pk[tr].tolist()) - {fc.SYNTHETIC}):
            one = tr[(pk[tr] == other) | (pk[tr] == fc.SYNTHETIC)]
            out.append((other, held, cat.auc(probe_scores(x, y, one, te), y[te]), both))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="folder for (or holding) the imported corpora")
    ap.add_argument("--cache", type=Path, default=REPO / ".cache" / "embeddings")
    ap.add_argument("--draws", type=int, default=10, help="draws of the source files per share below 1")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows, waves = fc.training_set(args.data)
    x = cat.aisfx_normalised(waves, cache_dir=args.cache)
    y, pk, sources = rows["y"].to_numpy(), rows["package"].to_numpy(), (rows["corpus"] + ":" + rows["source"]).to_numpy()
    print("| share of the training packages' source files | pooled LOPO AUC, mean [min, max] over draws |")
    print("|---|---|")
    for share, aucs in share_curve(x, y, pk, sources, args.draws):
        print(f"| {share:.2f} | {np.mean(aucs):.3f} [{min(aucs):.3f}, {max(aucs):.3f}] (n = {len(aucs)}) |")
    print("\n| trained on | tested on | AUC, one training package | AUC, both other packages |")
    print("|---|---|---|---|")
    for other, held, one, both in package_pairs(x, y, pk):
        print(f"| {other} | {held} | {one:.3f} | {both:.3f} |")


if __name__ == "__main__":
    main()
