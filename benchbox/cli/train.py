"""``benchbox train``: train one generator on a dataset folder (also under torchrun)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from benchbox.cli.common import EXIT_INTERRUPTED, EXIT_TERMINATED, HonestHelpCommand, JsonOpt, QuietOpt, SetOpt, Terminated, console, examples, interrupted, print_json, rich_progress
from benchbox.errors import ConfigError

DeviceOpt = Annotated[str, typer.Option("--device", help="auto (CUDA when available), cpu or cuda.")]
EXAMPLES = examples(
    "benchbox train sashimi --data data/synth --out results/runs/s1",
    "benchbox train wavenet --data data/dev --preset wavenet-sc09 --set train.max_steps=2000 --json",
    "benchbox train --resume results/runs/s1",
)


GENERATOR_HELP = "A registered generator ({names}: the built-in ones and any a plugin registers); may be omitted with --resume."


class TrainCommand(HonestHelpCommand):
    """``train``, whose help lists the generators registered now (:mod:`benchbox.generators.entry_points`),
    read when the help is shown, not when the CLI is imported (``benchbox --help`` stays fast)."""

    def format_help(self, ctx, formatter):
        from benchbox.generators.entry_points import names

        for param in self.params:
            if param.name == "generator":
                param.help = GENERATOR_HELP.format(names=", ".join(names()))
        return super().format_help(ctx, formatter)


def train_cmd(
    generator: Annotated[str | None, typer.Argument(help=GENERATOR_HELP.format(names="any name under the benchbox.generators entry-point group"))] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Dataset folder from `benchbox data import` or `data synth`.")] = None,
    preset: Annotated[str | None, typer.Option("--preset", help="Model preset (a name in models/ or a .toml path); default <generator>-tiny.")] = None,
    overrides: SetOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run folder; default results/runs/<preset>-<date>-<time>.")] = None,
    device: DeviceOpt = "auto",
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue the run in this folder from its ckpt/last.pt, exactly.")] = None,
    force_data_change: Annotated[bool, typer.Option("--force-data-change", help="With --resume: continue even though the dataset's content changed since the run trained on it (best.pt is re-chosen on the new val split).")] = False,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (same as --set train.seed=S); the same seed gives the same run.")] = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Train a generator on its own objective (next-sample cross-entropy for autoregressive ones); writes checkpoints, log.jsonl and curves.png.

    Under `torchrun --nproc_per_node=N`, trains data-parallel (gradients averaged over processes); only rank 0 writes.
    """
    from benchbox.generators import registry
    from benchbox.train import RUNS_ROOT, default_run_dir, train

    if resume is not None and out is not None and out.resolve() != resume.resolve():
        raise ConfigError("--out and --resume name different folders", hint="--resume RUN_DIR continues in RUN_DIR; drop --out")
    rank0 = int(os.environ.get("RANK", "0")) == 0
    defaulted = resume is None and out is None
    made = [p for p in (RUNS_ROOT, *RUNS_ROOT.parents) if not p.exists()] if defaulted and rank0 else []  # deepest first
    run_dir = resume or out or default_run_dir(preset or (registry.default_preset(generator) if generator else "run"), create=rank0)
    made = [Path(run_dir), *made] if defaulted and rank0 else []  # the folders this command made: refused, it removes them
    sets = list(overrides or []) + ([f"train.seed={seed}"] if seed is not None else [])
    try:
        with rich_progress(enabled=rank0 and not quiet and not as_json) as progress:
            result = train(generator=generator, data=data, out=run_dir, preset=preset, overrides=sets, device=device, resume=resume is not None, force_data_change=force_data_change, progress=progress)
    except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM: the loop saved last.pt before re-raising
        if rank0 and (Path(run_dir) / "ckpt" / "last.pt").is_file():
            interrupted(e, f"{run_dir}/ckpt/last.pt holds the last finished step", f"continue with `benchbox train --resume {run_dir}`")
        _remove_empty(made)
        if rank0:  # stopped before the first step: nothing to resume
            interrupted(e, "no checkpoint was saved (training had not started)", "run the same command again")
        raise typer.Exit(EXIT_TERMINATED if isinstance(e, Terminated) else EXIT_INTERRUPTED) from None
    except Exception:  # a refusal, or a crash (e.g. out of memory): train removed what it wrote before a first checkpoint
        _remove_empty(made)  # and the folders this command made stay only if they hold something
        raise
    if not rank0:
        return
    steps = result.last_step - result.first_step
    if as_json:
        print_json("train", result.out, best_val=result.best_val, best_val_bits=result.best_val_bits, first_step=result.first_step, last_step=result.last_step,
                   steps_trained=steps, stopped_early=result.stopped_early, wall_seconds=result.wall_seconds)
        return
    note = " (early stop)" if result.stopped_early else ""
    span = f" (steps {result.first_step} -> {result.last_step})" if result.first_step else ""
    from benchbox.nll import bits_text

    # The NLL in bits/sample where the generator has one ("n/a" otherwise), beside its own objective.
    best = f"best val NLL {bits_text(result.best_val_bits, 4)} bits/sample (loss/val {result.best_val:.4f})"
    console.print(f"trained {steps} steps{span} in {result.wall_seconds:.1f} s{note}; {best}; run: {result.out}", markup=False)


def _remove_empty(folders: list[Path]) -> None:
    """Remove each of ``folders`` (deepest first) that is empty; one that holds anything stays."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty, or gone
            return
