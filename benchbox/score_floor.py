"""The floor row's useful rate on held-out real clips: whole, and from each prime's last sample on.

Legend: N held-out real clips, S cuts (0 = the whole clip, then each prime length of the run).

A primed clip is judged on its continuation (``cont/useful/auto``), but the category model and the
detectors were calibrated on clips that start at an onset, so even real audio reads lower cut after
it (docs/verdict.md, "Primed clips: the continuation"). This module gives that verdict a real floor
on its own span: the reference's **held-out** clips (val + test) cut at the sample a P-ms prime ends
at, judged by the clips' own code (:func:`benchbox.score_clip_verdict.continuation_detectors`, the
category model on the same ``clip[P:]``, :func:`benchbox.score_clip_verdict.set_verdict`), so the floor
and a primed group differ only in who made the audio after the cut. The floor row carries, for
every cut (``0`` and each prime of the run):

* ``floor@<ms>ms/useful/auto_rate``, ``_lo``, ``_hi`` (Wilson 95% CI) and ``floor@<ms>ms/useful/n``
  (:func:`floor_useful_keys`); ``floor@0ms/`` is the whole clip on the same clips, so the whole and
  per-span rates are one sample. (The floor row's ``useful/auto_rate`` stays the val clips' alone.)

The train split is left out: the shipped category model was fitted on it, so a train clip's
``footstep/p`` is in-sample and would read high. Clips at several sample rates (no ``footstep/p``
measured) get no such columns; renderers show a dash.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.audio import load_audio
from benchbox.data.dataset import load_dataset
from benchbox.metrics import category
from benchbox.metrics.artifacts import DetectorConfig, detect
from benchbox.metrics.verdict import USEFUL_KEY, VerdictConfig
from benchbox.progress import Progress
from benchbox.score_clip_verdict import CONT, continuation_detectors, fill_footstep_p, prime_samples, set_verdict, verdict_model
from benchbox.score_distances import embeddable
from benchbox.stats import wilson_interval

HELDOUT_SPLITS = ("val", "test")  # not train: the shipped category model was fitted on it (in-sample footstep/p)


def floor_useful_keys(prime_ms: float) -> tuple[str, str, str, str]:
    """(rate, lo, hi, n) columns of the floor row's useful rate on the held-out real clips cut where a
    ``prime_ms`` prime ends (``floor@20ms/useful/auto_rate``); ``prime_ms`` 0: their whole clips."""
    stem = f"floor@{float(prime_ms):g}ms/useful/"
    return stem + "auto_rate", stem + "auto_lo", stem + "auto_hi", stem + "n"


def floor_useful_of(floor: dict, prime_ms: float) -> tuple[float, float, float, int] | None:
    """(rate, lo, hi, n) the floor row ``floor`` holds for the cut at ``prime_ms`` (NaN, a blank or 0:
    the whole clip), or None where it lacks them (scores written before these columns, clips at
    several rates) or holds a malformed value: a renderer then shows a dash, never a guessed number."""
    ms = float(prime_ms) if _number(prime_ms) and float(prime_ms) > 0 else 0.0
    values = pd.to_numeric(pd.Series([floor.get(k) for k in floor_useful_keys(ms)]), errors="coerce").to_numpy(dtype=float)
    rate, lo, hi, n = values
    if not np.isfinite(values).all() or n < 1 or not (0 <= lo <= hi <= 1 and 0 <= rate <= 1):  # float: hi may sit a hair under a rate of 1
        return None
    return float(rate), float(lo), float(hi), int(n)


def floor_useful_text(floor: dict, prime_ms: float) -> str:
    """``80.5% [66.0, 89.8] (33/41)``, or ``-`` where the floor row lacks it (:func:`floor_useful_of`)."""
    got = floor_useful_of(floor, prime_ms)
    if got is None:
        return "-"
    rate, lo, hi, n = got
    return f"{100 * rate:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}] ({round(rate * n)}/{n})"


def _number(value) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def heldout_verdicts(waves: list[np.ndarray], rate_hz: int, cuts_ms: list[float], *, model: category.CategoryModel, threshold: float,
                     config: VerdictConfig, detectors: DetectorConfig, cache_dir: Path, progress: Progress, weights: Path | None = None) -> pd.DataFrame:
    """One row per cut (``prime_ms``: 0, then each of ``cuts_ms``) and held-out clip (``waves``, N (T,)
    at ``rate_hz``): the columns a scored clip gets, ``cont/useful/auto`` the verdict on ``clip[P:]``.

    The table is built as the scorer's clips table is (the detectors on the whole clip, then their
    ``cont/`` twins, ``footstep/p`` and ``cont/footstep/p``, the verdict), by the same functions."""
    cuts = [0.0, *sorted({float(ms) for ms in cuts_ms if ms > 0})]
    whole = [detect(w, rate_hz, detectors) for w in waves]  # the whole clip's detector columns, as detect_clips gives them
    table = pd.DataFrame([{"prime_ms": ms, "sample_rate_hz": rate_hz, **flags} for ms in cuts for flags in whole])  # (S * N) rows
    cut_waves = [w for _ in cuts for w in waves]  # row i's whole clip; the functions below cut it at its own prime_ms
    table = pd.concat([table, continuation_detectors(table, cut_waves, detectors)], axis=1)
    applied = fill_footstep_p(table, cut_waves, embeddable(table), rate_hz, model, cache_dir, progress, weights)  # the same NaN rule as scored clips
    set_verdict(table, config, threshold, applied)
    return table


def fill_floor_useful(row: dict, verdicts: pd.DataFrame) -> None:
    """The :func:`floor_useful_keys` columns of the floor ``row`` from :func:`heldout_verdicts`' table, in place."""
    for ms, part in verdicts.groupby("prime_ms", sort=True):
        k, n = int(part[CONT + USEFUL_KEY].sum()), len(part)
        rate, lo, hi = wilson_interval(k, n)
        row.update(dict(zip(floor_useful_keys(ms), (rate, lo, hi, n))))


def add_floor_useful(row: dict, clips: pd.DataFrame, reference: Path, *, config: VerdictConfig, detectors: DetectorConfig, cache_dir: Path,
                     progress: Progress, weights: Path | None = None, loaded: dict | None = None) -> None:
    """The floor ``row``'s :func:`floor_useful_keys` columns, in place: the reference's held-out clips
    (val + test) whole and cut at every prime of the scored ``clips`` (``prime_ms``, ``sample_rate_hz``),
    at the clips' rate; nothing for clips at several rates, whose verdict has no ``footstep/p``. ``loaded``: the
    reference clips already decoded at that rate, split -> N (T,) (as :func:`benchbox.score_verdict.add_verdict_metrics`
    keeps them); only a split it lacks is decoded here."""
    rates = clips["sample_rate_hz"].astype(int).unique()
    if len(rates) != 1:
        return
    rate = int(rates[0])
    loaded = dict(loaded or {})
    if missing := [s for s in HELDOUT_SPLITS if s not in loaded]:
        ds = load_dataset(reference)
        loaded.update({s: [load_audio(p, rate) for p in ds.clip_paths(s)] for s in missing})  # as the scorer loads the reference
    waves = [w for s in HELDOUT_SPLITS for w in loaded[s]]  # N (T,)
    if not waves:
        return
    model, model_weights, threshold = verdict_model(config, weights)
    cuts_ms = [float(ms) for ms in pd.to_numeric(clips["prime_ms"], errors="coerce").dropna().unique() if prime_samples(ms, rate) > 0]
    table = heldout_verdicts(waves, rate, cuts_ms, model=model, threshold=threshold, config=config, detectors=detectors,
                             cache_dir=cache_dir, progress=progress, weights=model_weights)
    fill_floor_useful(row, table)
