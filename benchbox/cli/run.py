"""``benchbox run PROTOCOL``: one command runs a whole benchmark study."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from benchbox.cli.common import JsonOpt, QuietOpt, SetOpt, console, err_console, interrupted, print_json, rich_progress
from benchbox.protocol import describe, load_protocol, run_protocol


def run(
    protocol: Annotated[Path, typer.Argument(help="A protocol TOML, e.g. protocols/quickstart.toml.")],
    data: Annotated[str | None, typer.Option("--data", help="Dataset: 'synth', a folder of recordings, or a benchbox dataset.")] = None,
    overrides: SetOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Study folder (default results/<protocol name>).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and its cost estimate; run nothing.")] = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Run data -> train -> generate -> score -> leaderboard -> report, skipping finished stages."""
    proto = load_protocol(protocol, overrides or (), data)
    out = out or Path("results") / proto.name
    if dry_run:
        from benchbox.estimate import estimate_protocol

        info = describe(proto) | {"out": str(out), "estimate": estimate_protocol(proto)}
        if as_json:
            print_json(info)
        else:
            _print_plan(info)
        return
    command = "benchbox " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv and sys.argv[0].endswith("benchbox") else ""
    try:
        with rich_progress(not quiet) as progress:
            report = run_protocol(proto, out=out, protocol_path=protocol, command=command or f"benchbox run {protocol}",
                                  progress=progress, log=lambda s: err_console.print(s, highlight=False))
    except KeyboardInterrupt as e:  # a training stage saved its last.pt; other stages publish whole or not at all
        interrupted(e, f"finished stages are kept in {out} (stages.json)", "run the same command again to resume (finished stages are skipped, training resumes from last.pt)")
    if as_json:
        print_json({"report": str(report), "out": str(out)})
    else:
        console.print(f"report: {report}")


def _print_plan(info: dict) -> None:
    est = info["estimate"]
    table = Table(title=f"plan for {info['name']} -> {info['out']}")
    for col in ("stage", "estimate (s)"):
        table.add_column(col)
    for key in info["stages"]:
        table.add_row(key, f"{est['stages'].get(key, 0.0):.0f}")
    console.print(table)
    console.print(f"dataset {info['dataset']}; {len(info['train_runs'])} training runs; "
                  f"{info['clips_total']} clips; estimated total {est['total_seconds'] / 60:.1f} min on this machine "
                  f"({est['basis']})")
