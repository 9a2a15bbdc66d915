"""``benchbox data``: import recordings, build the procedural corpus, inspect a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from benchbox import config as cfg
from benchbox.cli.common import JsonOpt, QuietOpt, SeedOpt, SetOpt, console, err_console, interrupted, print_json, rich_progress
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


OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing dataset in --out.")]


@app.command("import")
def import_cmd(
    src: Annotated[Path, typer.Argument(help="Folder of recordings (.wav .flac .ogg ...), searched recursively, or a built-in corpus name: footsteps-dev (the real footsteps shipped in corpora/).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Dataset folder to create, e.g. data/footsteps.")],
    overrides: SetOpt = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Split seed (default: import.seed, 0).")] = None,
    overwrite: OverwriteOpt = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Cut recordings into single-step clips, drop bad files and duplicates, split by source."""
    from benchbox.data.importer import ImportConfig, import_folder

    over = [o.removeprefix("import.") for o in overrides or []] + ([f"seed={seed}"] if seed is not None else [])
    config = cfg.load(ImportConfig, overrides=over)
    try:
        with rich_progress(enabled=not (quiet or as_json)) as progress:
            result = import_folder(src, out, config=config, overwrite=overwrite, progress=progress)
    except KeyboardInterrupt as e:
        interrupted(e, f"{out} is unchanged (a dataset is published only when complete)", "run the same command again")
    for line in result.warnings:
        err_console.print(f"[bold yellow]warning:[/] {line}", highlight=False, soft_wrap=True)
    summary = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(result).items()}
    if as_json:
        print_json(summary)
        return
    console.print(f"imported {result.clips} clips from {result.sources} sources into {result.out}")
    console.print("per split: " + ", ".join(f"{k}={v}" for k, v in result.per_split.items()))
    console.print("per label: " + ", ".join(f"{k}={v}" for k, v in result.per_label.items()))
    console.print(f"rejected {result.rejected} (see {result.out / 'rejected.csv'}), duplicates {result.duplicates}, dropped steps {result.dropped_steps}, ignored non-audio {result.ignored}")


@app.command("synth")
def synth_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Dataset folder to create, e.g. data/synth.")] = Path("data/synth"),
    n: Annotated[int, typer.Option("--n", help="Number of clips to synthesise.")] = 256,
    seed: SeedOpt = 0,
    overrides: SetOpt = None,
    overwrite: OverwriteOpt = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Synthesise the procedural footstep corpus (heel/toe impacts, crunch, modes; 6 surfaces)."""
    from benchbox.data.synth import SynthConfig, synth_corpus

    config = cfg.load(SynthConfig, overrides=[o.removeprefix("synth.") for o in overrides or []])
    try:
        with rich_progress(enabled=not (quiet or as_json)) as progress:
            path = synth_corpus(out, n=n, seed=seed, config=config, overwrite=overwrite, progress=progress)
    except KeyboardInterrupt as e:
        interrupted(e, f"{out} is unchanged (a dataset is published only when complete)", "run the same command again")
    summary = summarise(load_dataset(path))
    if as_json:
        print_json(summary)
        return
    console.print(f"synthesised {summary['clips']} clips into {path}")
    console.print("per split: " + ", ".join(f"{k}={v}" for k, v in summary["per_split"].items()))
    console.print("per label: " + ", ".join(f"{k}={v}" for k, v in summary["per_label"].items()))
