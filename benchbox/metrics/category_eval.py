"""Evaluating a category model: leave-one-group-out fits, the Youden threshold and the table.

Legend: N clips, D feature dimension.

The pipeline is the shipped model's (:func:`benchbox.metrics.category.fit_model`): a probe fitted
on the ``train`` split of the clips it may use, Platt-calibrated on their ``val`` split. Leave one
group out (:func:`logo_splits`): each held-out group's clips (all splits) are scored by the
pipeline fitted without that group, so no group is ever on both sides; clips marked
``train_only`` (synthetic negatives, groups that hold one class) are always on the training side
and never tested. The threshold is the grid value with the largest Youden's J (positive minus
negative acceptance) of the held-out probabilities, the middle of the range when several tie.
``benchmarks/fit_category.py`` (the shipped
model, groups = the three game packages) and ``benchbox category fit`` both use these functions.
"""

from __future__ import annotations

import numpy as np

from benchbox.errors import DataError
from benchbox.metrics import category as cat

THRESHOLD_GRID = np.round(np.arange(0.05, 0.96, 0.05), 2)  # footstep/p thresholds tried (Youden's J)
BOOTSTRAP = 1000  # resamples of the AUC intervals
POOLED = "pooled"
TRAIN, VAL, TEST = "train", "val", "test"


def logo_splits(groups: np.ndarray, train_only: np.ndarray | None = None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(held-out group, train index, test index)`` per group that is not ``train_only``, sorted by name.

    ``groups`` (N,) names; ``train_only`` (N,) bool: clips always on the training side. No group is on both sides.
    """
    groups = np.asarray(groups)
    keep = np.ones(len(groups), bool) if train_only is None else ~np.asarray(train_only, bool)
    out = []
    for held in sorted(set(groups[keep].tolist())):
        test = np.flatnonzero(groups == held)
        train = np.flatnonzero(groups != held)
        out.append((held, train, test))
    return out


def usable_groups(groups: np.ndarray, y: np.ndarray, train_only: np.ndarray) -> list[str]:
    """The groups (not ``train_only``) that hold both classes: those leave-one-group-out can test."""
    groups, y, keep = np.asarray(groups), np.asarray(y), ~np.asarray(train_only, bool)
    return sorted(g for g in set(groups[keep].tolist()) if len(set(y[keep & (groups == g)].tolist())) == 2)


def fit_masked(x: np.ndarray, y: np.ndarray, split: np.ndarray, sha256: np.ndarray, mask: np.ndarray, *, feature_set: str, l2: float, threshold: float, seed: int) -> cat.CategoryModel:
    """The shipped pipeline on the (N, D) clips in ``mask`` (N,): probe on their train split, Platt on their val split.

    The model's data hash (:func:`benchbox.metrics.category.data_hash`) covers the ``sha256``, label ``y`` and
    ``split`` (N,) of the train and val clips it saw."""
    tr, va = mask & (split == TRAIN), mask & (split == VAL)
    seen = tr | va
    digest = cat.data_hash([str(s) for s in sha256[seen]], y[seen], [str(s) for s in split[seen]])
    return cat.fit_model(x[tr], y[tr], x[va], y[va], feature_set=feature_set, l2=l2, threshold=threshold, seed=seed, data_sha256=digest)


def fold_problem(y: np.ndarray, split: np.ndarray, mask: np.ndarray, held: str) -> str | None:
    """Why the clips in ``mask`` (the training side without ``held``) cannot fit a fold (a class missing in train or val), or None."""
    for part in (TRAIN, VAL):
        have = set(y[mask & (split == part)].tolist())
        if have != {0, 1}:
            missing = "positive" if 1 not in have else "negative"
            return f"leaving out group '{held}' leaves no {missing} clips in the {part} split of the other groups, so that fold cannot be fitted"
    return None


def check_fold(y: np.ndarray, split: np.ndarray, mask: np.ndarray, held: str) -> None:
    """DataError when :func:`fold_problem` finds one."""
    problem = fold_problem(y, split, mask, held)
    if problem is not None:
        raise DataError(problem, hint="give the other groups train and val clips of both classes (more recordings), or group the clips more coarsely")


def logo_probability(x: np.ndarray, y: np.ndarray, split: np.ndarray, sha256: np.ndarray, groups: np.ndarray, train_only: np.ndarray, *, feature_set: str, l2: float,
                     progress=None, skipped: list[tuple[str, str]] | None = None) -> np.ndarray:
    """(N,) calibrated probability of every testable clip from the pipeline fitted without its group (NaN for ``train_only``).

    A fold that cannot be fitted (:func:`fold_problem`) raises DataError, or, given a ``skipped`` list, is
    appended to it as ``(group, why)`` and its clips stay NaN."""
    out = np.full(len(y), np.nan)
    splits = logo_splits(groups, train_only)
    for i, (held, train, test) in enumerate(splits):
        mask = np.zeros(len(y), bool)
        mask[train] = True
        problem = fold_problem(y, split, mask, held) if skipped is not None else check_fold(y, split, mask, held)
        if problem is not None:
            skipped.append((held, problem))
        else:
            out[test] = fit_masked(x, y, split, sha256, mask, feature_set=feature_set, l2=l2, threshold=0.5, seed=0).probability(x[test])
        if progress is not None:
            progress("leave one group out", i + 1, len(splits))
    return out


def choose_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """The grid threshold with the largest positive minus negative acceptance (Youden's J) of held-out ``p`` (N,).

    Ties (e.g. a perfectly separated split, where every threshold between the classes is best) take the middle
    of the tied range: the grid value nearest the mean of the tied thresholds (the lower on an exact tie)."""
    j = np.array([np.mean(p[y == 1] >= t) - np.mean(p[y == 0] >= t) for t in THRESHOLD_GRID])
    tied = THRESHOLD_GRID[j >= j.max() - 1e-12]
    return float(tied[int(np.argmin(np.abs(tied - tied.mean())))])


def evaluation_rows(score: np.ndarray, y: np.ndarray, groups: np.ndarray, sources: np.ndarray, cut: float, *, tested: np.ndarray | None = None,
                    n_boot: int = BOOTSTRAP, seed: int = 0) -> list[dict]:
    """Per group among ``tested`` (N,) bool and pooled: AUC with a 95% bootstrap CI resampling ``sources``,
    and the acceptance of positives and negatives at ``score >= cut``."""
    groups = np.asarray(groups)
    tested = np.ones(len(y), bool) if tested is None else np.asarray(tested, bool)
    rows = []
    for held in [*sorted(set(groups[tested].tolist())), POOLED]:
        m = tested if held == POOLED else tested & (groups == held)
        a, lo, hi = cat.auc_bootstrap(score[m], y[m], n=n_boot, seed=seed, groups=sources[m])
        acc = score[m] >= cut
        pos, neg = y[m] == 1, y[m] == 0
        rows.append({"group": held, "auc": a, "lo": lo, "hi": hi, "positives_accepted": int(acc[pos].sum()), "positives": int(pos.sum()),
                     "negatives_accepted": int(acc[neg].sum()), "negatives": int(neg.sum())})
    return rows


def share(accepted: int, total: int) -> str:
    """``"89.3% (184/206)"``."""
    rate = accepted / total if total else float("nan")
    return f"{rate:.1%} ({accepted}/{total})"


def markdown_table(rows: list[dict], title: str, *, group_label: str = "held-out group", positive: str = "positives", negative: str = "negatives") -> list[str]:
    """The lines of :func:`evaluation_rows` as a titled Markdown table (a blank line after it)."""
    lines = [f"**{title}**", "", f"| {group_label} | AUC [95% CI] | {positive} accepted | {negative} accepted |", "|---|---|---|---|"]
    lines += [f"| {r['group']} | {r['auc']:.3f} [{r['lo']:.3f}, {r['hi']:.3f}] | {share(r['positives_accepted'], r['positives'])} | {share(r['negatives_accepted'], r['negatives'])} |"
              for r in rows]  # fmt: skip
    return lines + [""]
