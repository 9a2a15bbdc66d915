"""``benchbox leaderboard``: every scored run in one sortable, self-contained page."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from benchbox.cli.common import JsonOpt, QuietOpt, console, examples, fail, print_json, rich_progress, stdout_is_terminal, warn
from benchbox.errors import BenchboxError

EXAMPLES = examples(
    "benchbox leaderboard results/runs --out results/",
    "benchbox leaderboard results/quickstart results/mymodel --out results/board",
    "benchbox leaderboard results/runs --embedder mel > board.md",
    "benchbox leaderboard results/runs --metric fad",
    "benchbox leaderboard results/runs --json",
)


def leaderboard_cmd(
    results_dirs: Annotated[list[Path], typer.Argument(help="Folders searched for scored runs (every scores/groups.csv below them, symlinks followed); several folders are ranked together.", metavar="RESULTS_DIR...")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for leaderboard.md/.csv/.html and cached reference clips; never a scored folder it ranks, nor inside one (scoring that folder again would take the reference clips for its own).")] = Path("results"),
    synth: Annotated[Path | None, typer.Option("--synth", help="Procedural corpus dataset for the synth reference row; default: the first synth dataset under RESULTS_DIR.")] = None,
    embedder: Annotated[str | None, typer.Option("--embedder", help="Rank in this embedding space; default: the first embedder the runs were scored with.")] = None,
    metric: Annotated[str, typer.Option("--metric", help="Rank by kad (unbiased at small n, the default) or fad, on the continuation of primed clips.")] = "kad",
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Collect scored runs plus reference rows (real floor, synth, noise, silence) into leaderboard.md, .csv and .html.

    Runs whose clips changed since scoring are left out (a warning says why). Runs whose audio is not on disk at all (the committed studies in a fresh clone) stand as scores of record, marked so in the run column.

    Rows are ranked by --metric on the continuation of primed clips, and only against rows of the same span: one table of whole clips (unprimed groups and the reference rows), then one per prime length, each with its own ranks (the "span" column of leaderboard.csv and --json). "vs floor" compares a row's CI with the real floor's: "differs (CI)" when they do not overlap; when they do, "indistinguishable from real at this n" only if the 1-NN two-sample test does not separate the row's clips from real ones (p >= 0.05), else "differs (1-NN test)". The "1-NN acc (p)" column is that test (about 0.5 when indistinguishable).
    """
    import pandas as pd

    from benchbox.leaderboard import build_leaderboard
    from benchbox.score import json_records

    heard: list[str] = []  # --json's "warnings", as score's and generate's: every line also warned on stderr

    def hear(line: object) -> None:
        heard.append(str(line))
        warn(line)

    try:
        with rich_progress(enabled=not quiet and not as_json) as progress:
            folder = build_leaderboard(results_dirs, out=out, synth=synth, embedder=embedder, metric=metric, progress=progress, warn=hear)  # warn: on stderr, so a run left out is seen also when stdout goes to a file
    except BenchboxError as e:
        if not as_json:
            raise
        fail(e, "leaderboard", **({"warnings": heard} if heard else {}))  # every run's note, not only the first the error names; none: the plain error object
    table = pd.read_csv(folder / "leaderboard.csv", keep_default_na=False, na_values=[""])
    files = [str(folder / f"leaderboard.{ext}") for ext in ("md", "csv", "html")]
    if as_json:
        print_json("leaderboard", folder, files=files, warnings=heard, rows=json_records(table))
        return
    text = (folder / "leaderboard.md").read_text(encoding="utf-8")
    if not stdout_is_terminal():  # a pipe or file gets the Markdown itself: no wrapping, no width limit
        sys.stdout.write(text)
        print(f"wrote {', '.join(files)}", file=sys.stderr)
        return
    console.print(text, markup=False, highlight=False, soft_wrap=True)
    console.print(f"wrote {', '.join(files)}", markup=False)
