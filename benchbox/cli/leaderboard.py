"""``benchbox leaderboard``: every scored run in one sortable, self-contained page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from benchbox.cli.common import JsonOpt, QuietOpt, console, err_console, print_json, rich_progress


def leaderboard_cmd(
    results_dir: Annotated[Path, typer.Argument(help="Folder searched for scored runs (every scores/groups.csv below it).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for leaderboard.md/.csv/.html and cached reference clips.")] = Path("results"),
    synth: Annotated[Path | None, typer.Option("--synth", help="Procedural corpus dataset for the synth reference row; default: the first synth dataset under RESULTS_DIR.")] = None,
    embedder: Annotated[str | None, typer.Option("--embedder", help="Sort by fad/<embedder>; default: the first embedder the runs were scored with.")] = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Collect scored runs plus reference rows (real floor, synth, noise, silence) into leaderboard.md, .csv and .html."""
    import pandas as pd

    from benchbox.leaderboard import build_leaderboard
    from benchbox.score import json_records

    with rich_progress(enabled=not quiet and not as_json) as progress:
        warn = (lambda line: err_console.print(f"[bold yellow]warning:[/] {line}", highlight=False, soft_wrap=True)) if as_json else None
        folder = build_leaderboard(results_dir, out=out, synth=synth, embedder=embedder, progress=progress, warn=warn)
    table = pd.read_csv(folder / "leaderboard.csv", keep_default_na=False, na_values=[""])
    if as_json:
        print_json(json_records(table))
        return
    console.print((folder / "leaderboard.md").read_text(encoding="utf-8"), markup=False, highlight=False)
    console.print(f"wrote {folder / 'leaderboard.md'}, {folder / 'leaderboard.csv'}, {folder / 'leaderboard.html'}")
