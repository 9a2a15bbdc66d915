"""The verdict on one clip, whole and past its prime: where a prime ends, the detectors and the
category model on ``clip[P:]``, and ``useful/auto`` with its reason.

Legend: N clips, T time in samples, P prime length in samples.

A primed clip is judged on its continuation, ``clip[P:]``, so a real prime never lifts its verdict:
:func:`continuation_detectors` gives the ``cont/<detector>`` twins of the whole clip's detector
columns, :func:`fill_footstep_p` ``footstep/p`` and ``cont/footstep/p`` (the category model of
:mod:`benchbox.metrics.category`), and :func:`set_verdict` ``useful/auto``, ``useful/reason`` and
``in_distribution`` with their ``cont/`` twins (:func:`benchbox.metrics.verdict.verdicts`). A
continuation shorter than ``MIN_CONT_SAMPLES`` (:func:`long_enough`) is not embedded. The scorer's
clips (:mod:`benchbox.score_verdict`) and the floor's held-out real clips (:mod:`benchbox.score_floor`)
are judged by these same functions. Split from :mod:`benchbox.score_verdict`, which imports it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.errors import DataError
from benchbox.metrics import category
from benchbox.metrics.artifacts import DETECTORS, DetectorConfig, detect
from benchbox.metrics.verdict import IN_DISTRIBUTION_KEY, REASON_KEY, USEFUL_KEY, VerdictConfig, verdicts
from benchbox.progress import Progress

CONT = "cont/"
MS_PER_SECOND = 1000.0
MIN_CONT_SAMPLES = 1024  # shorter continuations (64 ms at 16 kHz) are not embedded: their cont/ k-NN metrics stay NaN


def verdict_prefix(columns) -> str:
    """``"cont/"`` when a groups table (its ``columns``) carries the continuation's verdict, else
    ``""``: the verdict on the generated part, which tables show so a real prime never lifts it."""
    return CONT if f"{CONT}{USEFUL_KEY}_rate" in columns else ""


def prime_samples(prime_ms, rate_hz: int) -> int:
    """P: the prime length in samples of a clip (0 when unprimed or unknown)."""
    try:
        ms = float(prime_ms)
    except (TypeError, ValueError):
        return 0
    return 0 if math.isnan(ms) or ms <= 0 else int(round(ms * rate_hz / MS_PER_SECOND))


def long_enough(lengths, cut):
    """Whether a clip of ``lengths`` samples (a number or an (N,) array; ``cut`` alike) leaves a continuation
    of at least ``MIN_CONT_SAMPLES`` past sample ``cut``: the one rule every continuation embedding and its
    warnings use."""
    return np.asarray(lengths) - np.asarray(cut) >= MIN_CONT_SAMPLES


def check_prime_spans(clips: pd.DataFrame) -> None:
    """DataError when a ``prime_ms`` of ``clips`` (``prime_ms``, ``sample_rate_hz``) is infinite or
    negative, or when two different values end at the same sample: their continuations are one
    span, whose ``span@``/``floor@`` scores would carry one of the two names. A manifest read with
    its clips' headers is refused earlier (:mod:`benchbox.external`); this catches clips whose
    length only decoding tells (m4a, aac)."""
    first: dict[tuple[int, int], float] = {}
    for ms, rate in zip(pd.to_numeric(clips["prime_ms"], errors="coerce"), clips["sample_rate_hz"]):
        if math.isinf(ms) or ms < 0:  # NaN (no prime) passes both
            raise DataError(f"a clip's prime_ms is {ms:g}: not a finite length >= 0", hint="give the prime length in ms in the manifest, or leave the cell empty")
        cut = prime_samples(ms, int(rate))
        if cut <= 0:
            continue
        seen = first.setdefault((cut, int(rate)), float(ms))
        if seen != float(ms):
            raise DataError(f"clips primed for {seen:g} ms and {float(ms):g} ms both start their continuation at sample {cut} ({int(rate)} Hz)",
                            hint="write one prime length (prime_ms) for primes that end at the same sample")


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
    """The detectors' ``<detector>/<value>`` columns (not the group column ``dropout``, the model's
    dropout, which shares the dropout detector's name)."""
    return [c for c in clips.columns if "/" in c and c.split("/")[0] in DETECTORS]


def verdict_model(config: VerdictConfig, weights: Path | None = None) -> tuple[category.CategoryModel, Path | None, float]:
    """(category model, the weights it embeds with, the verdict's footstep/p threshold) of ``config``."""
    model = category.load_model(category.model_file(config.category_model))
    model_weights = weights if model.embedder == "vggish" else None  # a vggish category model embeds with the user's weights
    return model, model_weights, config.footstep_min if config.footstep_min >= 0 else model.threshold


def fill_footstep_p(clips: pd.DataFrame, waves: list[np.ndarray], finite: np.ndarray, rate: int, model: category.CategoryModel, cache_dir: Path, progress: Progress,
                     weights: Path | None = None) -> dict[str, np.ndarray]:
    """``footstep/p`` of whole clips and ``cont/footstep/p`` of continuations (NaN when too short, and for
    the clips ``finite`` marks False, never embedded: their nan flag fails them), in place;
    returns ``{prefix: (N,) bool}``, the clips the verdict holds the model's answer against (every finite clip;
    continuations long enough, and those of clips with NaN only in the prime, whose NaN p then fails them)."""
    whole = np.full(len(clips), np.nan)
    kept = np.flatnonzero(finite)
    if len(kept):
        whole[kept] = category.footstep_probability([waves[i] for i in kept], rate, model, cache_dir=cache_dir, progress=progress, weights=weights)
    clips[category.P_KEY] = whole
    primes = np.array([prime_samples(p, rate) for p in clips["prime_ms"]])
    cont = whole.copy()
    rows = [i for i, p in enumerate(primes) if p > 0]
    cont[rows] = np.nan
    measured = [i for i in rows if finite[i] and long_enough(len(waves[i]), primes[i])]
    if measured:
        cont[measured] = category.footstep_probability([waves[i][primes[i]:] for i in measured], rate, model, cache_dir=cache_dir, progress=progress, weights=weights)
    clips[CONT + category.P_KEY] = cont
    cont_applied = (primes <= 0) & finite
    cont_applied[measured] = True
    # a primed clip with NaN/inf samples only in its prime: its continuation is finite (cont/nan/flag 0) but the clip
    # is embedded nowhere, so its cont/footstep/p stays NaN; counted as applied, that NaN fails it closed
    # (footstep-p-nan) instead of passing a continuation the category model never heard
    prime_only = [i for i in rows if not finite[i] and long_enough(len(waves[i]), primes[i]) and np.isfinite(waves[i][primes[i]:]).all()]
    cont_applied[prime_only] = True
    return {"": finite.copy(), CONT: cont_applied}


def set_verdict(clips: pd.DataFrame, config: VerdictConfig, threshold: float, applied: dict[str, np.ndarray] | None = None) -> None:
    """``useful/auto`` / ``useful/reason`` / ``in_distribution`` (whole clip) and their ``cont/`` twins, in place.

    ``applied[prefix]`` (N,) bool: the clips the category model scored (a NaN footstep/p there fails closed)."""
    for prefix in ("", CONT):
        flags = clips[[c for c in clips.columns if c.startswith(prefix) and c.endswith("/flag") and c[len(prefix):].split("/")[0] in DETECTORS]]
        flag_rows = [{k[len(prefix):]: v for k, v in r.items()} for r in flags.to_dict("records")]
        col = prefix + category.P_KEY
        p = clips[col].to_numpy(dtype=np.float64) if col in clips.columns else None  # None: detectors only
        useful, reasons = verdicts(flag_rows, p, threshold, applied=(applied or {}).get(prefix))
        clips[prefix + USEFUL_KEY] = useful
        clips[prefix + REASON_KEY] = reasons
        realism = f"{prefix}realism/{config.embedder}"
        if realism in clips.columns:
            values = clips[realism].to_numpy(dtype=np.float64)
            clips[prefix + IN_DISTRIBUTION_KEY] = np.where(np.isnan(values), np.nan, (values >= config.realism_min).astype(np.float64))
