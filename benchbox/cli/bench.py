"""``benchbox bench``: speed benchmarks of the generators."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from benchbox.cli.common import HonestHelpCommand, HonestHelpGroup, JsonOpt, QuietOpt, console, examples, id_table, print_json, print_table, printable, rich_progress
from benchbox.errors import ConfigError

app = typer.Typer(cls=HonestHelpGroup, help="Speed benchmarks: training and generation throughput per model preset.", no_args_is_help=True,
                  epilog=examples("benchbox bench generators --quick"))


def _csv(value: str | None, kind: type, option: str) -> list | None:
    if value is None:
        return None
    try:
        return [kind(v.strip()) for v in value.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{option} '{value}' is not a comma-separated list of {kind.__name__}", hint=f"write e.g. {option} 1,2") from None


@app.command("generators", cls=HonestHelpCommand, epilog=examples(
    "benchbox bench generators --quick",
    "benchbox bench generators --presets sashimi-sc09,sashimi-sc09:kernel=dplr --threads 1,2 --out bench.json",
    "benchbox bench generators --presets wavenet-tiny --json",
))
def generators(
    presets: Annotated[
        str | None,
        typer.Option("--presets", help="Comma-separated preset labels; a label may add overrides: sashimi-sc09:kernel=dplr."),
    ] = None,
    threads: Annotated[str | None, typer.Option("--threads", help="Comma-separated thread counts, e.g. 1,2: generation runs at each, training at the largest.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the results as JSON to this file.")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Tiny presets and short runs: a smoke test, not a measurement.")] = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Training and generation samples/s, step-vs-forward error and peak RSS per preset, each in a fresh process."""
    from benchbox.bench import REFERENCE_NOTE, run_benchmark

    with rich_progress(enabled=not quiet and not as_json) as progress:
        result = run_benchmark(_csv(presets, str, "--presets"), _csv(threads, int, "--threads"), quick=quick, out=out, progress=progress)
    if as_json:
        print_json("bench generators", out, **{("bench_format" if k == "format" else k): v for k, v in result.items()})
        return
    machine = result["machine"]
    columns = ["preset", "metric", "value", "threads", "reference", "ratio", "target"]
    rows = []
    for row in result["summary"]:
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}x"
        target = "" if row["target"] is None else f"{row['target']:,} {'ok' if row['meets_target'] else 'MISSED'}"
        reference = "" if row["reference"] is None else f"{row['reference']:,}"
        rows.append([row["preset"], row["metric"], f"{row['value']:,.4g}", str(row["threads"]), reference, ratio, target])
    title = f"generators on {machine['cpu']} ({machine['cpu_count']} cores, torch {machine['torch']}, load {machine['loadavg'][0]:.2f})"
    print_table(id_table(title, columns, rows, ids=["preset", "metric"], right=columns[2:]))
    for m in result["measurements"]:
        if m.get("error"):
            console.print(f"[bold red]failed:[/] {m['preset']} {m['kind']} threads={m['threads']} batch={m['batch']}: {printable(m['error'])}", highlight=False)
    console.print(f"{REFERENCE_NOTE}; load average at the end {result['loadavg_end'][0]:.2f}", markup=False)
    if out is not None:
        console.print(f"wrote {out}", markup=False)
