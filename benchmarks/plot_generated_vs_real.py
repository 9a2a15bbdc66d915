"""Figure and loudness table: a trained run's clips beside real test clips.

Legend: T time in samples.

Reads ``RUN_DIR/samples/manifest.csv`` (from ``benchbox generate``) of one or more runs and
the first run's dataset, draws real test clips in the first row and one row per
(checkpoint, prime, top-p) cell below,
each on the project's dBFS scale with the prime's end marked, and writes the peak and
RMS level (dBFS) quantiles of every cell beside the real test clips' as JSON::

    .venv/bin/python benchmarks/plot_generated_vs_real.py RUN_DIR [RUN_DIR ...] --out docs/sashimi-cpu-clips.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.audio import dbfs, load_audio
from benchbox.config import load_toml
from benchbox.data.dataset import load_dataset
from benchbox.plots import SpectrogramCell, spectrogram_grid

QUANTILES = (0.1, 0.5, 0.9)


def levels(waves: list[np.ndarray]) -> dict:
    """Peak and RMS level quantiles (dBFS) and the mean sample value of a set of clips."""
    peak = [dbfs(float(np.abs(w).max())) for w in waves]
    rms = [dbfs(float(np.sqrt(np.mean(w.astype(np.float64) ** 2)))) for w in waves]
    return {
        "n": len(waves),
        "peak_dbfs": dict(zip(map(str, QUANTILES), np.quantile(peak, QUANTILES).round(1).tolist())),
        "rms_dbfs": dict(zip(map(str, QUANTILES), np.quantile(rms, QUANTILES).round(1).tolist())),
        "mean_abs_dc": float(np.mean([abs(float(w.mean())) for w in waves])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True, help="PNG path; the JSON goes beside it")
    parser.add_argument("--columns", type=int, default=6)
    args = parser.parse_args()
    ds = load_dataset(load_toml(args.runs[0] / "config.toml")["data"]["path"])
    real = list(ds.load_clips("test"))
    rate = ds.sample_rate_hz
    manifest = pd.concat([pd.read_csv(r / "samples" / "manifest.csv").assign(root=str(r)) for r in args.runs])
    rows = [[SpectrogramCell(f"real test {i}", w, rate) for i, w in enumerate(real[: args.columns])]]
    table = {"real test": levels(real)}
    for (ckpt, prime, top_p), cell in manifest.groupby(["checkpoint", "prime_ms", "top_p"], dropna=False):  # top_p is empty for non-token samplers
        waves = [load_audio(Path(root) / p, rate) for root, p in zip(cell["root"], cell["path"])]
        name = f"{ckpt}, prime {prime} ms" + ("" if pd.isna(top_p) else f", top-p {top_p:g}")
        table[name] = levels(waves)
        prime_s = prime / 1000 if prime else None
        rows.append([SpectrogramCell(f"{name} #{i}", w, rate, prime_s) for i, w in enumerate(waves[: args.columns])])
    spectrogram_grid(rows, args.out, columns=args.columns)
    args.out.with_suffix(".json").write_text(json.dumps(table, indent=2) + "\n")
    print(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
