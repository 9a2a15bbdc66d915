"""The figures of a study report: effect charts with 95% CIs, loss curves, spectrograms.

Inputs are the concatenated ``clips.csv`` (N clips) and ``groups.csv`` (G groups) of the
study's runs. Rates carry Wilson 95% CIs, widened by the design effect where a point pools
several runs (:func:`benchbox.study.analysis.rate_table`, the same numbers the tables state); a group metric averaged over cells carries a t-interval
over those cells. Clips in the spectrogram grid are chosen by a rule the caption states,
never by hand. Legend: T samples per clip.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.study.analysis import compared_runs, rate_table

CONT = "cont/"
STRIP_QUANTILES = (0.1, 0.5, 0.9)  # clips per spectrogram cell: these quantiles of the cell's category fit (or realism)
MS_PER_SECOND = 1000.0
REAL_LABEL = "real"


def _col(frame: pd.DataFrame, key: str) -> str:
    return CONT + key if CONT + key in frame.columns else key


def _rate_points(clips: pd.DataFrame, by: str, value: str) -> list[tuple[str, float, float, float]]:
    if value not in clips.columns or by not in clips.columns:
        return []
    table = rate_table(clips, by, value)
    return [(_level(r[by]), 100 * r["rate"], 100 * r["lo"], 100 * r["hi"]) for _, r in table.iterrows()]


def _level(value) -> str:
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


def _mean_points(groups: pd.DataFrame, by: str, values: pd.Series) -> list[tuple[str, float, float, float]]:
    """Per level of ``by``: the mean of ``values`` over cells with a 95% t-interval over those cells."""
    from scipy.stats import t

    out = []
    frame = pd.DataFrame({"by": groups[by].values, "v": pd.to_numeric(values, errors="coerce").values}).dropna()
    for level, part in frame.groupby("by", sort=True):
        v = part["v"].to_numpy(dtype=float)
        half = float(t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan
        out.append((_level(level), float(v.mean()), float(v.mean()) - half, float(v.mean()) + half))
    return out


def _per_generator(frame: pd.DataFrame, fn) -> dict:
    return {str(g): pts for g, part in frame.groupby("generator", sort=True) if (pts := fn(part))}


def effect_charts(out: Path, fig_dir: str, clips: pd.DataFrame, groups: pd.DataFrame, embedder: str,
                  sampling_clips: pd.DataFrame | None = None) -> list[tuple[str, str, str]]:
    """Draw each effect the study swept; ``[(title, path relative to out, caption)]``. The sampling
    charts read ``sampling_clips`` (every setting) when given, the others ``clips``."""
    from benchbox.plots import EffectPanel, effect_chart
    from benchbox.stats import two_sample_of

    if clips.empty or "generator" not in clips.columns:
        return []
    useful = _col(clips, "useful/auto")
    gen = groups[groups["kind"] == "generated"] if "kind" in groups.columns else groups
    rate_axis = "clips (%), 95% CI"  # Wilson, widened by the design effect over runs: said in the report's text
    charts: list[tuple[str, list, str]] = []

    def levels(col: str) -> int:
        return clips[col].nunique() if col in clips.columns else 0

    if levels("prime_ms") > 1:
        gen = gen.copy()
        gen["_nn1"] = [two_sample_of(r, embedder)[0] for r in gen.to_dict("records")]
        charts.append(("Priming", [
            EffectPanel(f"useful ({useful})", "prime length (ms)", f"useful {rate_axis}",
                        _per_generator(clips, lambda p: _rate_points(p, "prime_ms", useful)), (0, 100)),
            EffectPanel(f"1-NN two-sample accuracy ({embedder})", "prime length (ms)", "accuracy (mean over cells, 95% t-CI)",
                        _per_generator(gen, lambda p: _mean_points(p, "prime_ms", p["_nn1"])), (0, 1.05),
                        (0.5, "chance (0.5)")),
        ], f"Left: share of useful clips (continuation of primed clips) per prime length, per generator. Right: how well a "
           f"1-NN classifier tells each cell's clips from the real test clips ({embedder} embedding; 0.5 = cannot tell)."))
    compared = compared_runs(clips)
    if compared:
        part = clips[clips["run"].isin(compared)]
        charts.append(("Best vs last checkpoint", [
            EffectPanel(f"useful ({useful}) per run", "training run", f"useful {rate_axis}",
                        {c: _rate_points(p, "run", useful) for c, p in part.groupby("checkpoint", sort=True)}, (0, 100),
                        width_in=min(10.0, 3.0 + 1.0 * len(compared)), xtick_rotation=20 if len(compared) > 2 else 0),
        ], f"The {len(compared)} runs whose best and last checkpoints hold different weights (finding 4 tests those among the "
           "runs it is decided on)."))
    silence = _col(clips, "silence/flag")
    if levels("dropout") > 1:
        charts.append(("Dropout", [
            EffectPanel(f"silent ({silence})", "dropout", f"silent {rate_axis}", _per_generator(clips, lambda p: _rate_points(p, "dropout", silence)), (0, 100)),
            EffectPanel(f"useful ({useful})", "dropout", f"useful {rate_axis}", _per_generator(clips, lambda p: _rate_points(p, "dropout", useful)), (0, 100)),
        ], "Share of silent and of useful clips per dropout rate, per generator."))
    kad = _col(gen, f"kad/{embedder}")
    if levels("quantisation") > 1:
        panels = [EffectPanel(f"useful ({useful})", "quantisation", f"useful {rate_axis}",
                              _per_generator(clips, lambda p: _rate_points(p, "quantisation", useful)), (0, 100))]
        if kad in gen.columns:
            panels.append(EffectPanel(f"{kad} (lower is closer to real)", "quantisation", "KAD (mean over cells, 95% t-CI)",
                                      _per_generator(gen, lambda p: _mean_points(p, "quantisation", p[kad]))))
        charts.append(("Quantisation", panels, "Useful share and the continuation's KAD to the real test clips per quantisation, per generator."))
    swept = clips if sampling_clips is None or sampling_clips.empty else sampling_clips
    for setting in ("temperature", "top_p", "sampling_steps"):
        if setting in swept.columns and swept[setting].nunique() > 1:
            part = swept[pd.to_numeric(swept[setting], errors="coerce").notna()]  # n/a: the generator has no such setting
            charts.append((f"Sampling: {setting}", [EffectPanel(f"useful ({useful})", setting, f"useful {rate_axis}",
                           _per_generator(part, lambda p, s=setting: _rate_points(p, s, useful)), (0, 100))],
                           f"Useful share per {setting}, per generator that has the setting (all its cells at that value)."))
    drawn = []
    for title, panels, caption in charts:
        name = f"effect-{title.lower().split(':')[0].replace(' ', '-')}{'-' + title.split(': ')[1] if ': ' in title else ''}.png"
        effect_chart(panels, out / fig_dir / name)
        drawn.append((title, f"{fig_dir}/{name}", caption))
    return drawn


def curves_section(out: Path, run_ids: list[str]) -> list[str]:
    """``## Loss curves``: each run's curves redrawn from its log, with a warning where evals are too few."""
    from benchbox.plots import MIN_CURVE_POINTS, eval_points, plot_curves, read_log

    lines = []
    for run in run_ids:
        log = out / "runs" / run / "log.jsonl"
        png = out / "runs" / run / "curves.png"
        if log.is_file():
            plot_curves(log, png)
        if not png.is_file():
            continue
        n = eval_points(read_log(log)) if log.is_file() else 0
        warn = (f" **Warning: only {n} eval point{'s' if n != 1 else ''}** (eval_every is not much smaller than the "
                "run's steps): too few to read a trend from." if n < MIN_CURVE_POINTS else "")
        lines += [f"**{run}**: NLL in bits / sample (left) and next-sample accuracy (right) against the training step; "
                  f"{n} evals.{warn}", "", f"![loss curves of {run}](runs/{run}/curves.png)", ""]
    if not lines:
        return []
    legend = ("Line style is the split, colour the source: solid = val, dashed = test, thin grey = train; blue = the model, "
              "each baseline (ngram, lpc) its own colour, drawn flat at its fitted NLL on the same split.")
    return ["## Loss curves", "", legend, "", *lines]


def _strip(cell: pd.DataFrame, realism: str | None) -> list[pd.Series]:
    """The clips of one cell that the caption's rule picks: quantiles of ``score`` (category fit
    ``footstep/p`` when scored, else realism), else of the file names."""
    cell = cell.sort_values([realism, "path"] if realism else ["path"], na_position="first")
    idx = sorted({int(round(q * (len(cell) - 1))) for q in STRIP_QUANTILES}) if len(cell) else []
    return [cell.iloc[i] for i in idx]


def _concat(waves: list[np.ndarray], rate: int) -> tuple[np.ndarray, list[float], list[float]]:
    """Clips end to end (T,), with each boundary and offset in seconds."""
    bounds, starts, t = [], [], 0
    for w in waves:
        starts.append(t / rate)
        t += len(w)
        bounds.append(t / rate)
    return np.concatenate(waves) if waves else np.zeros(1), bounds[:-1], starts


def spectrogram_figure(out: Path, clips: pd.DataFrame, real: list[Path], path: Path, embedder: str) -> tuple[Path | None, str]:
    """One row per run and checkpoint, one column per prime length (and real clips first);
    each cell a strip of clips at quantiles of their category fit (``footstep/p``; realism in
    scores without a category model). Returns (path or None, caption)."""
    from benchbox.plots import SpectrogramCell, spectrogram_grid
    from benchbox.score import decode

    if clips.empty or "path" not in clips.columns:
        return None, ""
    clips = clips[[(out / "runs" / r / p).is_file() for r, p in zip(clips["run"], clips["path"])]]
    if clips.empty:
        return None, ""
    realism = next((c for c in (_col(clips, "footstep/p"), _col(clips, f"realism/{embedder}")) if c in clips.columns), None)
    primes = sorted(clips["prime_ms"].astype(float).unique())
    rows = []
    real_strip = [decode(p) for p in real[: len(STRIP_QUANTILES)]]
    for (run, ckpt), part in clips.groupby(["run", "checkpoint"], sort=True):
        row = []
        if real_strip:
            wave, bounds, _ = _concat([w for w, _ in real_strip], real_strip[0][1])
            row.append(SpectrogramCell(f"{REAL_LABEL} (test split)", wave, real_strip[0][1], None, bounds))
        for prime in primes:
            picks = _strip(part[part["prime_ms"].astype(float) == prime], realism)
            if not picks:
                continue
            decoded = [decode(out / "runs" / run / c["path"]) for c in picks]
            wave, bounds, starts = _concat([w for w, _ in decoded], decoded[0][1])
            prime_marks = [s + prime / MS_PER_SECOND for s in starts] if prime > 0 else None
            row.append(SpectrogramCell(f"{run}\n{ckpt}, prime {prime:g} ms", wave, decoded[0][1], prime_marks, bounds))
        rows.append(row)
    columns = max(len(r) for r in rows)
    grid = spectrogram_grid(rows, path, columns=columns, cell_size_in=(3.4, 1.9))
    pcts = ", ".join(f"{int(100 * q)}th" for q in STRIP_QUANTILES)
    rule = (f"the clips at the {pcts} percentile of `{realism}` in the cell "
            "(lowest to highest, left to right)" if realism else
            f"the clips at the {pcts} percentile of the cell's file names (no realism score)")
    caption = (f"One row per run and checkpoint, one column per prime length; each cell shows up to {len(STRIP_QUANTILES)} clips "
               f"end to end (white lines between clips), chosen by rule: {rule}. "
               + (f"The first column holds the first {len(real_strip)} real test clips. " if real_strip else "No real clips are shown (the study's dataset is not on disk). ")
               + "Frequency in kHz, time in s, colour in dBFS on one scale; a dashed line "
               "marks where a real prime ends and generation begins.")
    return grid, caption
