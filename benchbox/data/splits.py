"""Group-aware, seeded train/val/test assignment.

Legend: G groups (source recordings), each holding one or more clips.

Every clip of a group lands in the same split, so a model is never tested on another
cut of a recording it trained on. Groups are shuffled by the seed, the first ones seed
each split that asks for a non-zero fraction (so every split gets a group when there are
enough), and every further group goes to the split furthest below its target share of
clips. The same groups, sizes and seed always give the same assignment.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchbox.data.dataset import SPLITS
from benchbox.errors import DataError


def assign_splits(groups: Sequence[str], sizes: Sequence[int], fractions: Sequence[float], seed: int) -> dict[str, str]:
    """Map each group name to "train", "val" or "test"."""
    if len(fractions) != len(SPLITS) or min(fractions) < 0 or sum(fractions) <= 0:
        raise DataError(f"split fractions {tuple(fractions)} are invalid", hint="give three fractions >= 0 for train, val, test, e.g. (0.8, 0.1, 0.1)")
    if len(groups) != len(sizes):
        raise DataError("assign_splits: groups and sizes differ in length", hint="pass one size per group")
    share = np.asarray(fractions, dtype=np.float64) / float(sum(fractions))  # (3,)
    order = sorted(range(len(groups)), key=lambda i: groups[i])  # independent of input order
    order = [order[i] for i in np.random.default_rng(seed).permutation(len(order))]
    total = float(sum(sizes))
    filled = np.zeros(len(SPLITS))  # (3,) clips per split so far
    out: dict[str, str] = {}
    wanted = [k for k in np.argsort(share, kind="stable") if share[k] > 0]  # smallest share first
    for i, k in zip(order, wanted if len(groups) >= len(wanted) else []):
        out[groups[i]] = SPLITS[k]
        filled[k] += sizes[i]
    for i in order:
        if groups[i] in out:
            continue
        k = int(np.argmax(share * total - filled))
        out[groups[i]] = SPLITS[k]
        filled[k] += sizes[i]
    return out
