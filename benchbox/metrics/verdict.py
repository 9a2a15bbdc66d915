"""The per-clip usefulness verdict: no artefact flag **and** realistic.

Legend: N clips.

``useful/auto`` = 1 when no detector of :mod:`benchbox.metrics.artifacts` fired and the
clip's realism score (:func:`benchbox.metrics.prdc.realism_score`, on the default
embedder, against the reference dataset's ``train`` split) is at least
``realism_min``. ``useful/reason`` names what failed: the flagged detectors and/or
``unrealistic``, joined by ``+``; ``ok`` for a useful clip. The thresholds were
calibrated on the dev footsteps (``benchmarks/calibrate_verdict.py``,
``docs/verdict.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from benchbox.metrics.artifacts import DETECTORS
from benchbox.metrics import prdc
from benchbox.metrics.prdc import DEFAULT_K

USEFUL_KEY = "useful/auto"
REASON_KEY = "useful/reason"
UNREALISTIC = "unrealistic"
OK = "ok"


@dataclass(frozen=True)
class VerdictConfig:
    """Realism rule of ``useful/auto``. Override with ``--set verdict.<key>=value``."""

    embedder: str = "aisfx"  # the space the verdict is taken in (must be one of the scored embedders)
    reference_split: str = "train"  # whose k-NN balls define "real"
    k: int = DEFAULT_K
    keep_quantile: float = 1.0  # realism: only balls up to this radius quantile vouch (the paper: 0.5)
    normalise: bool = True  # k-NN metrics on L2-normalised embeddings (directions)
    realism_min: float = 0.937  # calibrated on the dev footsteps (aisfx, k = 3), see docs/verdict.md

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"verdict.k must be >= 1, got {self.k}")
        if not 0.0 < self.keep_quantile <= 1.0:
            raise ValueError(f"verdict.keep_quantile must be in (0, 1], got {self.keep_quantile}")
        if self.realism_min < 0.0:
            raise ValueError(f"verdict.realism_min must be >= 0, got {self.realism_min}")


def reason(flags: dict, realistic: bool | None) -> str:
    """What failed for one clip: flagged detectors then ``unrealistic``, or ``ok``.

    ``flags`` maps ``<detector>/flag`` to 0/1 (missing keys count as 0); ``realistic``
    None means realism was not measured (no embedder), which does not fail the clip.
    """
    failed = [name for name in DETECTORS if int(flags.get(f"{name}/flag", 0) or 0)]
    if realistic is False:
        failed.append(UNREALISTIC)
    return "+".join(failed) if failed else OK


def verdicts(flag_rows: list[dict], realism: np.ndarray | None, config: VerdictConfig) -> tuple[np.ndarray, list[str]]:
    """``(useful (N,) 0/1, reasons)`` for N clips from their detector flags and realism scores (N,).

    A NaN realism (not measured, e.g. a continuation too short to embed) does not fail a clip.
    """
    out_useful, out_reason = [], []
    for i, flags in enumerate(flag_rows):
        realistic = None
        if realism is not None:
            value = float(realism[i])
            realistic = None if math.isnan(value) else bool(value >= config.realism_min)  # NaN: not measured
        why = reason(flags, realistic)
        out_reason.append(why)
        out_useful.append(int(why == OK))
    return np.asarray(out_useful, dtype=np.int64), out_reason


def realism(reference: np.ndarray, gen: np.ndarray, config: VerdictConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(realism score (Ng,), inside-manifold flag (Ng,))`` of ``gen`` (Ng, D) against ``reference`` (Nr, D).

    In the verdict's geometry (L2-normalised when ``config.normalise``), with its ``k``
    and ``keep_quantile``; see :mod:`benchbox.metrics.prdc`.
    """
    if config.normalise:
        reference, gen = prdc.l2_normalise(reference), prdc.l2_normalise(gen)
    score = prdc.realism_score(reference, gen, k=config.k, keep_quantile=config.keep_quantile)
    return score, prdc.inside_manifold(reference, gen, k=config.k)
