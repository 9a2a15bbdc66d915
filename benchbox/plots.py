"""Figures: training curves and spectrograms, each with units on its axes.

Legend: T samples per clip, F frequency bins, W spectrogram frames.

Everything renders off-screen (matplotlib's Agg canvas, no pyplot global state). Files are
written atomically, so a crash mid-draw never leaves a broken PNG.

Spectrograms share one scale: dB relative to a full-scale sine (dBFS), from
``SPEC_FLOOR_DBFS`` to 0, frequency in kHz, time in seconds. A full-scale sine through a
Hann window of N samples peaks at N/4 in the rFFT, so ``20 log10(|X| / (N/4))`` reads 0 dB
for it.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchbox.errors import DataError
from benchbox.runs import atomic_path

CURVE_DPI = 110
FIGURE_SIZE_INCHES = (10.0, 4.0)
NATS_PER_BIT = math.log(2.0)
BASELINE_PREFIX = "baseline/"
SHORT_RUN_POINTS = 30  # runs with at most this many evals draw a marker on every point
PANELS = (("loss", "NLL (bits / sample)"), ("acc", "next-sample accuracy (fraction)"))
MIN_CURVE_POINTS = 3  # fewer evals than this draw a warning instead of pretending to be a curve
MODEL_COLOUR = "#1f77b4"
SPLIT_STYLES = {  # split -> line style; the same for the model and every baseline
    "train": {"linestyle": "-", "marker": ".", "linewidth": 1.0, "color": "0.6"},
    "val": {"linestyle": "-", "marker": "o", "linewidth": 1.8},
    "test": {"linestyle": "--", "marker": "s", "linewidth": 1.8},
}
BASELINE_COLOURS = ("#d62728", "#2ca02c", "#9467bd")
SERIES_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
EFFECT_HEIGHT_IN = 3.6
EFFECT_DPI = 100

SPEC_FFT_SAMPLES = 256
SPEC_HOP_SAMPLES = 64
SPEC_FLOOR_DBFS = -100.0
SPEC_CMAP = "magma"
SPEC_DPI = 90
GRID_TITLE_PT, GRID_TICK_PT = 9, 8  # the grid is scaled to ~80% at report width: 7 pt and 6 pt there
PRIME_LINE_COLOUR = "#35d0ff"
THUMB_SIZE_IN = (2.4, 1.0)
THUMB_DPI = 60
PANEL_SIZE_IN = (6.0, 2.6)
HZ_PER_KHZ = 1000.0
THUMB_SCALE_NOTE = (f"Spectrogram thumbnails: 0 to Nyquist (8 kHz at 16 kHz) bottom to top, the whole clip left to right, "
                    f"one fixed colour scale from {SPEC_FLOOR_DBFS:.0f} dBFS (black) to 0 dBFS (pale yellow) on every row.")


def read_log(path: str | Path) -> list[dict]:
    """The records of a ``log.jsonl``; a missing file gives no records."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise DataError(f"{path}:{i}: not a JSON line", hint="delete the broken line; every other line is intact") from None
    return records


def _new_figure(size_in: tuple[float, float], dpi: float | None = None, layout: str | None = None):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size_in, dpi=dpi, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def log_baselines(records: list[dict]) -> dict[str, float]:
    """``baseline/<name>[/bits/<split>]`` values (bits / sample) found in the log; the last record wins."""
    found: dict[str, float] = {}
    for r in records:
        for k, v in r.items():
            if k.startswith(BASELINE_PREFIX) and isinstance(v, (int, float)) and math.isfinite(v):
                found[k] = float(v)
    return found


def _split_of(key: str) -> str:
    """``val`` or ``test`` from a ``.../<split>`` key; a key without one is a val figure."""
    return "test" if key.endswith("/test") else "val"


def _model_points(records: list[dict], key: str, split: str, nll: bool = True) -> list[tuple[float, float]]:
    """(step, value) of ``<key>/<split>``; NLL in bits / sample (``bits/*``, else ``loss/*`` in nats).
    Without ``nll`` (a generator without the likelihood capability) ``loss/*`` is its own objective, as logged."""
    if key == "loss" and nll:
        out = []
        for r in records:
            if "step" not in r:
                continue
            if f"bits/{split}" in r:
                out.append((r["step"], r[f"bits/{split}"]))
            elif f"loss/{split}" in r:
                out.append((r["step"], r[f"loss/{split}"] / NATS_PER_BIT))
        return out
    return [(r["step"], r[f"{key}/{split}"]) for r in records if f"{key}/{split}" in r and "step" in r]


def eval_points(records: list[dict]) -> int:
    """How many evaluations a log holds (records with a val loss or NLL)."""
    return len(_model_points(records, "loss", "val", nll=False)) or len(_model_points(records, "loss", "val"))


def plot_curves(log_path: str | Path, out_path: str | Path, baselines: Mapping[str, float] | None = None) -> Path:
    """Draw NLL in bits / sample and next-sample accuracy against ``step``: train, val and test.

    Split is the line style everywhere (val solid, test dashed, train thin grey), source is
    the colour (the model; each baseline its own), so val and test read apart for the
    model and the baselines alike. ``baselines`` maps ``baseline/<name>[/bits/<split>]`` to
    bits / sample, drawn as horizontal lines with the log's own ``baseline/*`` values. With
    fewer than ``MIN_CURVE_POINTS`` evals the panel says so: a dot is not a curve.
    """
    records = read_log(log_path)
    lines = {**log_baselines(records), **dict(baselines or {})}
    fig = _new_figure(FIGURE_SIZE_INCHES)
    # A generator without the likelihood capability logs no NLL: its own objective is drawn as is.
    nll = bool(lines) or any("bits/val" in r for r in records) or not any("loss/val" in r for r in records)
    for i, (key, label) in enumerate(PANELS):
        ax = fig.add_subplot(1, len(PANELS), i + 1)
        label = label if key != "loss" or nll else "loss (the generator's objective)"
        for split, style in SPLIT_STYLES.items():
            points = _model_points(records, key, split, nll)
            if points:
                steps, values = zip(*points)
                marker = style["marker"] if len(points) <= SHORT_RUN_POINTS else None
                name = f"bits/{split}" if key == "loss" and nll else f"{key}/{split}"  # the NLL axis is in bits, its lines say so
                ax.plot(steps, values, linestyle=style["linestyle"], color=style.get("color", MODEL_COLOUR), marker=marker,
                        markersize=4, linewidth=style["linewidth"], label=name)
        if key == "loss":
            names = sorted({k.split("/")[1] for k in lines})
            for j, name in enumerate(names):
                for k, bits in sorted(lines.items()):
                    if k.split("/")[1] == name:
                        split = _split_of(k)
                        ax.axhline(bits, linestyle=SPLIT_STYLES[split]["linestyle"], linewidth=1.2,
                                   color=BASELINE_COLOURS[j % len(BASELINE_COLOURS)], label=f"{name} bits/{split}")
        n = eval_points(records)
        if n < MIN_CURVE_POINTS:
            ax.text(0.5, 0.5, f"only {n} eval point{'s' if n != 1 else ''}:\ntoo few to draw a curve", transform=ax.transAxes,
                    ha="center", va="center", color="#b00020", fontsize=10, bbox={"facecolor": "white", "alpha": 0.8})
        ax.set_xlim(left=0)
        ax.set_xlabel("training step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, dpi=CURVE_DPI)
    return Path(out_path)


# ------------------------------------------------------------------ effect charts


@dataclass(frozen=True)
class EffectPanel:
    """One panel of an effect chart: per series (e.g. a generator), points ``(x label, value, lo, hi)``."""

    title: str
    xlabel: str
    ylabel: str
    series: Mapping[str, Sequence[tuple[str, float, float, float]]]
    ylim: tuple[float, float] | None = None
    reference: tuple[float, str] | None = None  # a horizontal line (value, label), e.g. chance
    width_in: float = 5.0
    xtick_rotation: float = 0.0


def effect_chart(panels: Sequence[EffectPanel], path: str | Path) -> Path:
    """Point estimates with 95% CI bars, one panel per effect, series side by side at each level."""
    fig = _new_figure((sum(p.width_in for p in panels), EFFECT_HEIGHT_IN), layout="constrained")
    for i, panel in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        levels = list(dict.fromkeys(x for pts in panel.series.values() for x, *_ in pts))
        width = 0.6 / max(len(panel.series), 1)
        for j, (name, pts) in enumerate(panel.series.items()):
            offset = (j - (len(panel.series) - 1) / 2) * width
            xs = [levels.index(x) + offset for x, *_ in pts]
            values = np.array([v for _, v, _, _ in pts], dtype=float)
            err = np.array([[v - lo for _, v, lo, _ in pts], [hi - v for _, v, _, hi in pts]], dtype=float)
            ax.errorbar(xs, values, yerr=np.nan_to_num(np.clip(err, 0, None)), fmt="o", capsize=4, markersize=6,
                        color=SERIES_COLOURS[j % len(SERIES_COLOURS)], label=name)
        if panel.reference is not None:
            ax.axhline(panel.reference[0], color="0.4", linestyle=":", linewidth=1.2, label=panel.reference[1])
        ax.set_xticks(range(len(levels)), levels, fontsize=9, rotation=panel.xtick_rotation,
                      ha="right" if panel.xtick_rotation else "center")
        ax.set_xlim(-0.6, len(levels) - 0.4)
        if panel.ylim:
            ax.set_ylim(*panel.ylim)
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel(panel.xlabel, fontsize=9)
        ax.set_ylabel(panel.ylabel, fontsize=9)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=EFFECT_DPI)
    return Path(path)


# ------------------------------------------------------------------ spectrograms


def spectrogram_dbfs(wave: np.ndarray, rate_hz: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(db (F, W) in dBFS clipped at SPEC_FLOOR_DBFS, frequencies (F,) in kHz, frame centres (W,) in s)``."""
    wave = np.nan_to_num(np.asarray(wave, dtype=np.float64))  # (T,)
    wave = np.pad(wave, (0, max(0, SPEC_FFT_SAMPLES - len(wave))))  # (T,)
    frames = np.lib.stride_tricks.sliding_window_view(wave, SPEC_FFT_SAMPLES)[::SPEC_HOP_SAMPLES]  # (W, N)
    mag = np.abs(np.fft.rfft(frames * np.hanning(SPEC_FFT_SAMPLES), axis=1))  # (W, F)
    full_scale = SPEC_FFT_SAMPLES / 4.0
    db = 20.0 * np.log10(np.maximum(mag / full_scale, 10.0 ** (SPEC_FLOOR_DBFS / 20.0)))  # (W, F)
    freqs_khz = np.fft.rfftfreq(SPEC_FFT_SAMPLES, 1.0 / rate_hz) / HZ_PER_KHZ  # (F,)
    times_s = (np.arange(frames.shape[0]) * SPEC_HOP_SAMPLES + SPEC_FFT_SAMPLES / 2) / rate_hz  # (W,)
    return db.T, freqs_khz, times_s


def draw_spectrogram(ax, wave: np.ndarray, rate_hz: int, prime_seconds: float | Sequence[float] | None = None,
                     bounds_seconds: Sequence[float] = ()):
    """Draw one spectrogram on ``ax`` (kHz up, s across, fixed dBFS scale); mark where each
    prime ends (dashed) and where one clip of a strip of clips ends (solid white)."""
    db, freqs_khz, _ = spectrogram_dbfs(wave, rate_hz)
    duration_s = max(len(wave), SPEC_FFT_SAMPLES) / rate_hz
    image = ax.imshow(db, origin="lower", aspect="auto", cmap=SPEC_CMAP, vmin=SPEC_FLOOR_DBFS, vmax=0.0,
                      extent=(0.0, duration_s, 0.0, float(freqs_khz[-1])))
    primes = [prime_seconds] if isinstance(prime_seconds, (int, float)) else list(prime_seconds or [])
    for i, prime in enumerate(p for p in primes if p):
        ax.axvline(prime, color=PRIME_LINE_COLOUR, linestyle="--", linewidth=1.2)
        if i == 0:
            ax.text(prime, float(freqs_khz[-1]) * 0.97, " prime end", color=PRIME_LINE_COLOUR, fontsize=6, va="top")
    for bound in bounds_seconds:
        ax.axvline(bound, color="white", linestyle="-", linewidth=1.5)
    return image


@dataclass(frozen=True)
class SpectrogramCell:
    """One panel of a spectrogram grid: a title, a waveform (T,), its rate and where its prime ends."""

    title: str
    wave: np.ndarray
    rate_hz: int
    prime_seconds: float | Sequence[float] | None = None
    bounds_seconds: Sequence[float] = ()  # where one clip ends and the next begins, in a strip of clips


def spectrogram_grid(rows: Sequence[Sequence[SpectrogramCell]], path: str | Path, *, columns: int,
                     cell_size_in: tuple[float, float] = (2.6, 2.3)) -> Path:
    """A grid of spectrograms (one row per list), kHz / s axes and one shared dB colour bar."""
    fig = _new_figure((cell_size_in[0] * columns + 1.0, cell_size_in[1] * len(rows) + 0.4), SPEC_DPI, layout="constrained")
    axes = fig.subplots(len(rows), columns, squeeze=False)
    image = None
    for i, row in enumerate(rows):
        for j in range(columns):
            ax = axes[i][j]
            if j >= len(row):
                ax.set_axis_off()
                continue
            cell = row[j]
            image = draw_spectrogram(ax, cell.wave, cell.rate_hz, cell.prime_seconds, cell.bounds_seconds)
            ax.set_title(cell.title, fontsize=GRID_TITLE_PT)
            ax.tick_params(labelsize=GRID_TICK_PT)
            ax.set_ylabel("frequency (kHz)" if j == 0 else "", fontsize=GRID_TITLE_PT)
            ax.set_xlabel("time (s)" if i == len(rows) - 1 else "", fontsize=GRID_TITLE_PT)
    if image is not None:
        bar = fig.colorbar(image, ax=axes, fraction=0.02, pad=0.01)
        bar.set_label("dBFS", fontsize=GRID_TITLE_PT)
        bar.ax.tick_params(labelsize=GRID_TICK_PT)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=SPEC_DPI)
    return Path(path)


def spectrogram_thumb_png(wave: np.ndarray, rate_hz: int) -> bytes:
    """A small axis-free thumbnail on the fixed scale stated in ``THUMB_SCALE_NOTE``; PNG bytes."""
    fig = _new_figure(THUMB_SIZE_IN, THUMB_DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    draw_spectrogram(ax, wave, rate_hz)
    ax.set_axis_off()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def spectrogram_panel_png(wave: np.ndarray, rate_hz: int) -> bytes:
    """A labelled spectrogram (kHz, s, dBFS colour bar) for the review page; PNG bytes."""
    fig = _new_figure(PANEL_SIZE_IN, SPEC_DPI)
    ax = fig.add_subplot()
    image = draw_spectrogram(ax, wave, rate_hz)
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_ylabel("frequency (kHz)", fontsize=8)
    ax.tick_params(labelsize=7)
    bar = fig.colorbar(image, ax=ax, pad=0.01)
    bar.set_label("dBFS", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
