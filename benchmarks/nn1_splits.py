"""Can the val split choose a checkpoint? The 1-NN accuracy of a checkpoint's clips against val and against test.

Legend: N clips, D embedding dims (aisfx, L2-normalised, the verdict's geometry).

For each checkpoint: ``--n`` unprimed clips for each of ``--seeds`` sampling seeds, then the 1-NN
two-sample accuracy (``benchbox.metrics.twosample``, no permutations) of those clips against the
reference's real ``val`` clips and, separately, against its real ``test`` clips. If the val
accuracy ranks checkpoints as the test accuracy does, the val split can pick the checkpoint the
benchmark then scores on test; with ~20 clips per split it may not (README, GAN).

Prints one JSON line per checkpoint and writes them all to ``--out`` (JSON)::

    .venv/bin/python benchmarks/nn1_splits.py --data ../shared/data/footsteps-dev --out splits.json \\
        RUN/ckpt/min15.pt RUN/ckpt/min30.pt RUN/ckpt/min45.pt
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from benchbox.audio import PROJECT_SAMPLE_RATE_HZ, load_audio
from benchbox.checkpoint import build_from_checkpoint
from benchbox.data.dataset import load_dataset
from benchbox.metrics import embedders, prdc, twosample
from benchbox.metrics.fad import pool_clips
from benchbox.runs import atomic_write_text


def embed(waves: list[np.ndarray], cache: Path | None) -> np.ndarray:
    """(N, D) L2-normalised clip means of the aisfx embedding of N waves at 16 kHz."""
    return prdc.l2_normalise(pool_clips(embedders.embed_waves(waves, PROJECT_SAMPLE_RATE_HZ, "aisfx", cache_dir=cache)))


def split_accuracies(gen: np.ndarray, splits: dict[str, np.ndarray]) -> dict[str, float]:
    """{split: balanced 1-NN accuracy of ``gen`` (N, D) against that split's (M, D) real embeddings}."""
    return {name: float(twosample.nn1_test(real, gen, permutations=0)["accuracy"]) for name, real in splits.items()}


def sample(model: torch.nn.Module, n: int, length: int, seed: int) -> list[np.ndarray]:
    """``n`` unprimed clips of ``length`` samples (float64 waves) from ``model.generate``, drawn from ``seed``."""
    with torch.no_grad():
        waves = model.generate(n, length, rng=torch.Generator().manual_seed(seed))
    return [np.asarray(w, dtype=np.float64) for w in waves.numpy()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, required=True, help="the reference dataset (its val and test splits)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file of the rows")
    parser.add_argument("--n", type=int, default=64, help="clips per checkpoint and seed")
    parser.add_argument("--seeds", default="0,1", help="sampling seeds, comma-separated")
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache folder")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ds = load_dataset(args.data)
    real = {s: [load_audio(p, PROJECT_SAMPLE_RATE_HZ) for p in ds.clip_paths(s)] for s in ("val", "test")}
    splits, length = {s: embed(w, args.cache) for s, w in real.items()}, len(real["test"][0])
    rows = []
    for ckpt in args.checkpoints:
        model, row = build_from_checkpoint(ckpt)[0], {"checkpoint": str(ckpt)}
        for seed in (int(s) for s in args.seeds.split(",")):
            for split, acc in split_accuracies(embed(sample(model, args.n, length, seed), args.cache), splits).items():
                row[f"{split}/seed{seed}"] = round(acc, 3)
        print(json.dumps(row), flush=True)
        rows.append(row)
    atomic_write_text(args.out, json.dumps({"n": args.n, "real": {k: len(v) for k, v in splits.items()}, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
