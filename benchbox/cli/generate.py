"""``benchbox generate``: sample clips from a run's checkpoints, unprimed and primed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from benchbox.cli.common import JsonOpt, QuietOpt, SeedOpt, console, examples, interrupted, print_json, rich_progress, warn
from benchbox.cli.train import DeviceOpt

EXAMPLES = examples(
    "benchbox generate results/runs/s1",
    "benchbox generate results/runs/s1 --checkpoint best --prime-ms 0,20 --n 8 --json",
)


def generate_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by `benchbox train`.")],
    checkpoint: Annotated[str, typer.Option("--checkpoint", help="Comma-separated checkpoint names in RUN_DIR/ckpt/: best, last (or the file name, best.pt).")] = "best,last",
    prime_ms: Annotated[str, typer.Option("--prime-ms", help="Comma-separated prime lengths in whole ms; 0 = unprimed.")] = "0,10,20,40",
    n: Annotated[int, typer.Option("--n", help="Clips per checkpoint x prime cell.")] = 32,
    seconds: Annotated[float, typer.Option("--seconds", help="Clip length in seconds, prime included.")] = 0.512,
    temperature: Annotated[str, typer.Option("--temperature", help="Softmax temperature(s), comma-separated; 0 = argmax. n/a for a generator without a token distribution.")] = "1.0",
    top_p: Annotated[str, typer.Option("--top-p", help="Nucleus mass(es) in (0, 1], comma-separated; 1 = no truncation. n/a for a generator without a token distribution.")] = "1.0",
    sampling_steps: Annotated[str, typer.Option("--sampling-steps", help="Reverse steps of an iterative sampler, comma-separated; 0 = the model's own. n/a for a generator without one.")] = "0",
    batch: Annotated[int, typer.Option("--batch", help="Clips generated together. Each clip draws from its own seed, so --n changes no clip; --batch changes only float rounding (bit-exact for SaShiMi, n-gram, LPC, specdiff on CPU; WaveNet, DiffWave and the GAN can differ at another batch): keep it fixed to reproduce clips bit for bit.")] = 16,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    threads: Annotated[int, typer.Option("--threads", help="CPU threads while sampling: the native steps share a batch over them (WaveNet gains from 2; SaShiMi, 8+ rows, only sometimes); 1 is safest on a busy machine; 0 = torch default.")] = 1,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Allow replacing (or, with a smaller --n, deleting) clips that scores/ lists.")] = False,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Write RUN_DIR/samples/<checkpoint>/prime<ms>[_<setting><value>]/clip_NNNN.wav and samples/manifest.csv (published whole, when every cell is done)."""
    import pandas as pd

    from benchbox.generate import generate_run
    from benchbox.threads import scoped_threads

    try:
        with rich_progress(enabled=not quiet and not as_json) as progress, scoped_threads(threads):
            manifest = generate_run(
                run_dir, checkpoints=checkpoint, prime_ms=prime_ms, n=n, seconds=seconds, temperature=temperature,
                top_p=top_p, batch=batch, seed=seed, device=device, progress=progress, overwrite=overwrite, sampling_steps=sampling_steps,
            )  # fmt: skip
    except KeyboardInterrupt as e:
        interrupted(e, f"{run_dir}/samples is unchanged (clips and manifest; new clips are published only when every cell is done); "
                       f"the cells already finished are kept in {run_dir}/.samples-partial", "run the same command again: it makes only the other cells")
    frame = pd.read_csv(manifest, keep_default_na=False)
    from benchbox.config import load_toml
    from benchbox.generate import GENERATE_CONFIG_NAME

    record = load_toml(manifest.parent / GENERATE_CONFIG_NAME)
    notes = [str(n) for n in record.get("not_applicable", [])]
    warnings = [str(w) for w in record.get("warnings", [])]  # e.g. clips off the dataset's length
    summary = {"manifest": str(manifest), "clips_in_manifest": int(len(frame)), "seconds_to_generate_mean": float(frame["seconds_to_generate"].mean()),
               "not_applicable": notes, "warnings": warnings}
    for note in notes + warnings:  # settings this generator lacks (their cells were not generated); clips off the dataset's length
        warn(note)
    if as_json:
        print_json("generate", manifest.parent, **summary)
        return
    console.print(f"{summary['clips_in_manifest']} clips listed in {manifest}", markup=False)
