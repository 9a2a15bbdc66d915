"""Training curves: train-vs-val loss and accuracy from a run's ``log.jsonl``.

Rendered off-screen (matplotlib's Agg canvas, no pyplot global state) and written
atomically, so a crash mid-draw never leaves a broken ``curves.png``.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchbox.errors import DataError
from benchbox.runs import atomic_path

CURVE_DPI = 110
FIGURE_SIZE_INCHES = (10.0, 4.0)
PANELS = (("loss", "loss (nats / sample)"), ("acc", "next-sample accuracy"))


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


def plot_curves(log_path: str | Path, out_path: str | Path) -> Path:
    """Draw ``loss/{train,val}`` and ``acc/{train,val}`` against ``step`` into ``out_path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    records = read_log(log_path)
    fig = Figure(figsize=FIGURE_SIZE_INCHES)
    FigureCanvasAgg(fig)
    for i, (key, label) in enumerate(PANELS):
        ax = fig.add_subplot(1, len(PANELS), i + 1)
        for split, style in (("train", "-"), ("val", "--")):
            points = [(r["step"], r[f"{key}/{split}"]) for r in records if f"{key}/{split}" in r and "step" in r]
            if points:
                steps, values = zip(*points)
                ax.plot(steps, values, style, marker=".", label=f"{key}/{split}")
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if records:
            ax.legend()
    fig.tight_layout()
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, dpi=CURVE_DPI)
    return Path(out_path)
