"""Likelihood-ranked curation, as in the SaShiMi paper: keep the clips a model finds neither
least nor most likely.

Legend: n clips of one group.

Goel et al. 2022 (§4.3, after the WaveNet/SampleRNN practice) drop the bottom 40% and the top
5% of generated clips by log-likelihood under the model that made them: the least likely are
often noise, the most likely often silence or a stuck tone. benchbox reports a curated group
**beside** its uncurated one, never instead of it, and only for generators with the
``likelihood`` capability: their manifest and ``scores/clips.csv`` carry ``logprob_mean`` (nats
per sample of the continuation, :mod:`benchbox.generate`); for any other generator the column is
empty and curation reads "n/a".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

DROP_LOW = 0.40  # share of a group dropped from the bottom of the log-likelihood ranking
DROP_HIGH = 0.05  # share dropped from the top
LOGPROB_COLUMN = "logprob_mean"


def curated_mask(logprob: pd.Series | np.ndarray, drop_low: float = DROP_LOW, drop_high: float = DROP_HIGH) -> np.ndarray:
    """(n,) log-likelihoods of one group -> (n,) bool: kept by the curation.

    Clips are ranked (ties by position, so the result is deterministic); ranks
    ``floor(drop_low n) .. n - ceil(drop_high n) - 1`` are kept. A group with any missing
    log-likelihood is not curated at all (all False): it has no likelihood to rank by.
    """
    values = pd.to_numeric(pd.Series(np.asarray(logprob)), errors="coerce").to_numpy(dtype=float)
    n = len(values)
    keep = np.zeros(n, dtype=bool)
    if n == 0 or np.isnan(values).any():
        return keep
    order = np.argsort(values, kind="stable")  # ascending: least likely first
    lo, hi = int(math.floor(drop_low * n)), n - int(math.ceil(drop_high * n))
    keep[order[lo:hi]] = True
    return keep


def curated(frame: pd.DataFrame, by: list[str]) -> pd.Series:
    """Bool per row of ``frame``: kept by :func:`curated_mask` within its ``by`` group."""
    out = pd.Series(False, index=frame.index)
    if LOGPROB_COLUMN not in frame.columns:
        return out
    for _, rows in frame.groupby(by, dropna=False, sort=False):
        out.loc[rows.index] = curated_mask(rows[LOGPROB_COLUMN])
    return out
