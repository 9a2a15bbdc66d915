"""``benchbox data``: import recordings, build the procedural corpus, inspect a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from benchbox import config as cfg
from benchbox.cli.common import (
    HonestHelpCommand, HonestHelpGroup, JsonOpt, QuietOpt, SeedOpt, SetOpt, console, examples, id_table, interrupted, print_json,
    print_table, rich_progress, warn,
)  # fmt: skip

app = typer.Typer(cls=HonestHelpGroup, help="Build and inspect datasets of single-footstep clips.", no_args_is_help=True,
                  epilog=examples("benchbox data synth --out data/synth", "benchbox data import footsteps-dev --out data/dev", "benchbox data info data/dev"))


@app.command("info", cls=HonestHelpCommand, epilog=examples("benchbox data info data/synth", "benchbox data info data/dev --json"))
def info(
    folder: Annotated[Path, typer.Argument(help="A dataset folder (from `data import` or `data synth`).")],
    as_json: JsonOpt = False,
) -> None:
    """Counts per split and label, duration stats and sample rate."""
    from benchbox.data.dataset import load_dataset, summarise

    summary = summarise(load_dataset(folder))
    if as_json:
        print_json("data info", summary["root"], **summary)
        return
    rows = [[key, str(summary[key])] for key in ("kind", "sample_rate_hz", "clip_samples", "clips", "sources", "rejected")]
    rows.append(["rms_dbfs_median", f"{summary['rms_dbfs_median']:.2f}"])  # --json keeps the exact value
    rows.append(["per split", ", ".join(f"{k}={v}" for k, v in summary["per_split"].items())])
    rows.append(["per label", ", ".join(f"{k}={v}" for k, v in summary["per_label"].items())])
    rows.append(["step seconds", ", ".join(f"{k}={v:.3f}" for k, v in summary["step_seconds"].items())])
    print_table(id_table(f"dataset {summary['root']}", ["field", "value"], rows, ids=["field"]))


OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing dataset in --out (refused while it holds files an import did not write).")]


@app.command("import", cls=HonestHelpCommand, epilog=examples(
    "benchbox data import footsteps-dev --out data/dev",
    "benchbox data import ~/recordings --out data/mine --set normalise=peak --json",
))
def import_cmd(
    src: Annotated[Path, typer.Argument(help="Folder of recordings (.wav .flac .ogg ...), searched recursively, or a built-in corpus name: footsteps-dev (the real footsteps shipped in corpora/) or footsteps-neg-dev (real non-footstep sound effects of the same games).")],
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
        warn(line)
    summary = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(result).items()}
    if as_json:
        print_json("data import", result.out, **{k: v for k, v in summary.items() if k != "out"})
        return
    console.print(f"imported {result.clips} clips from {result.sources} sources into {result.out}", markup=False)
    console.print("per split: " + ", ".join(f"{k}={v}" for k, v in result.per_split.items()))
    console.print("per label: " + ", ".join(f"{k}={v}" for k, v in result.per_label.items()))
    console.print(f"rejected {result.rejected} (see {result.out / 'rejected.csv'}), duplicates {result.duplicates}, dropped steps {result.dropped_steps}, walked past {result.skipped}, ignored non-audio {result.ignored}", markup=False)


@app.command("synth", cls=HonestHelpCommand, epilog=examples("benchbox data synth --out data/synth", "benchbox data synth --n 64 --seed 3 --out data/small --json"))
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
    from benchbox.data.dataset import load_dataset, summarise
    from benchbox.data.synth import SynthConfig, synth_corpus

    config = cfg.load(SynthConfig, overrides=[o.removeprefix("synth.") for o in overrides or []])
    try:
        with rich_progress(enabled=not (quiet or as_json)) as progress:
            path = synth_corpus(out, n=n, seed=seed, config=config, overwrite=overwrite, progress=progress)
    except KeyboardInterrupt as e:
        interrupted(e, f"{out} is unchanged (a dataset is published only when complete)", "run the same command again")
    summary = summarise(load_dataset(path))
    if as_json:
        print_json("data synth", path, **summary)
        return
    console.print(f"synthesised {summary['clips']} clips into {path}", markup=False)
    console.print("per split: " + ", ".join(f"{k}={v}" for k, v in summary["per_split"].items()))
    console.print("per label: " + ", ".join(f"{k}={v}" for k, v in summary["per_label"].items()))
