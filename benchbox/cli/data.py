"""``benchbox data``: import recordings, build the procedural corpus, inspect a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from benchbox.cli.common import JsonOpt, console, print_json
from benchbox.data.dataset import load_dataset, summarise

app = typer.Typer(help="Build and inspect datasets of single-footstep clips.", no_args_is_help=True)


@app.command("info")
def info(
    folder: Annotated[Path, typer.Argument(help="A dataset folder (from `data import` or `data synth`).")],
    as_json: JsonOpt = False,
) -> None:
    """Counts per split and label, duration stats and sample rate."""
    summary = summarise(load_dataset(folder))
    if as_json:
        print_json(summary)
        return
    table = Table(title=f"dataset {summary['root']}")
    table.add_column("field")
    table.add_column("value")
    for key in ("kind", "sample_rate_hz", "clip_samples", "clips", "sources", "rejected", "rms_dbfs_median"):
        table.add_row(key, str(summary[key]))
    table.add_row("per split", ", ".join(f"{k}={v}" for k, v in summary["per_split"].items()))
    table.add_row("per label", ", ".join(f"{k}={v}" for k, v in summary["per_label"].items()))
    table.add_row("step seconds", ", ".join(f"{k}={v:.3f}" for k, v in summary["step_seconds"].items()))
    console.print(table)
