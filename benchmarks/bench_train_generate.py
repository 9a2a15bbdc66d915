"""Benchmark: wall time of a tiny ``train`` + ``generate`` per preset, through the library.

Legend: B batch, T time in samples.

Writes a synthetic corpus, trains each preset for ``--steps`` steps (B = ``--batch``,
random crops of ``--crop`` samples, one eval at the end), then generates ``--n``
clips of ``--seconds`` per prime length from ``last.pt``. Prints wall seconds and
samples/s of each phase; ``--json FILE`` keeps the figures. Usage::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_train_generate.py [--presets sashimi-tiny,wavenet-tiny] [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from benchbox.audio import PROJECT_SAMPLE_RATE_HZ
from benchbox.data.synth import synth_corpus
from benchbox.generators import registry
from benchbox.generate import generate_run
from benchbox.train import train

CORPUS_CLIPS = 48


def bench_preset(preset: str, data: Path, root: Path, args: argparse.Namespace) -> dict:
    generator, _ = registry.load_preset(preset)
    out = root / preset
    sets = [f"train.max_steps={args.steps}", f"train.eval_every={args.steps}", f"train.batch_size={args.batch}", f"data.crop_samples={args.crop}", "train.val_batches=1"]
    start = time.perf_counter()
    result = train(generator=generator, data=data, out=out, preset=preset, overrides=sets, device="cpu")
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    manifest = generate_run(out, checkpoints=("last",), prime_ms=args.prime_ms, n=args.n, seconds=args.seconds, batch=args.n, device="cpu")
    generate_seconds = time.perf_counter() - start
    clips = len(pd.read_csv(manifest))
    return {
        "preset": preset,
        "train_seconds": train_seconds,
        "train_samples_per_second": args.steps * args.batch * args.crop / train_seconds,
        "loss/val": result.best_val,
        "generate_seconds": generate_seconds,
        "generate_samples_per_second": clips * args.seconds * PROJECT_SAMPLE_RATE_HZ / generate_seconds,
        "clips": clips,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="sashimi-tiny,wavenet-tiny", help="comma-separated preset names")
    parser.add_argument("--steps", type=int, default=20, help="training steps per preset")
    parser.add_argument("--batch", type=int, default=4, help="training batch size")
    parser.add_argument("--crop", type=int, default=2048, help="training crop length in samples")
    parser.add_argument("--n", type=int, default=4, help="clips per prime length")
    parser.add_argument("--seconds", type=float, default=0.128, help="generated clip length")
    parser.add_argument("--prime-ms", default="0,20", help="comma-separated prime lengths in ms")
    parser.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = parser.parse_args()
    args.prime_ms = [int(v) for v in args.prime_ms.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        data = synth_corpus(Path(tmp) / "data", n=CORPUS_CLIPS, seed=0)
        print(f"synth corpus ({CORPUS_CLIPS} clips): {time.perf_counter() - start:.1f} s; torch threads {torch.get_num_threads()}")
        for preset in args.presets.split(","):
            row = bench_preset(preset, data, Path(tmp), args)
            rows.append(row)
            print(
                f"{preset:<16} train {row['train_seconds']:7.1f} s ({row['train_samples_per_second']:8.0f} samples/s, loss/val {row['loss/val']:.3f})"
                f"  generate {row['generate_seconds']:7.1f} s ({row['generate_samples_per_second']:6.0f} samples/s, {row['clips']} clips)"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
