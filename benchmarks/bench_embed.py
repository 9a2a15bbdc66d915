"""Benchmark: cold embedding, cached rescoring and bootstrap CIs.

Usage: ``.venv/bin/python benchmarks/bench_embed.py [--clips 1000] [--embedder aisfx] [--framing native]``

Writes ``--clips`` synthetic 0.512 s footstep-like clips (16 kHz wav) to a temporary
folder, embeds them cold into a fresh cache, embeds them again (every clip a cache
hit: decode + resample + hash + load), and times a 1000-resample FAD bootstrap on 300
clips of 512-d. Targets on 2 CPU cores: cold aisfx <= 60 s, cached rescoring <= 2 s.
``--framing centre`` times aisfx as the category model (scorer version 14) embeds a clip: centred
in its 2.3 s block (``native``, the default, is how the FAD/KAD embeddings frame it).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchbox.audio import PROJECT_SAMPLE_RATE_HZ, write_wav
from benchbox.metrics import embedders as E
from benchbox.metrics import fad as F

CLIP_SAMPLES = 8192
DECAY_SAMPLES = 1500.0
BOOT_CLIPS, BOOT_DIM, BOOT_RESAMPLES = 300, 512, 1000


def write_clips(folder: Path, count: int, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    envelope = np.exp(-np.arange(CLIP_SAMPLES) / DECAY_SAMPLES)  # (T,)
    return [write_wav(folder / f"clip_{i:04d}.wav", np.clip(rng.normal(size=CLIP_SAMPLES) * envelope * 0.3, -0.99, 0.99).astype(np.float32)) for i in range(count)]  # write_wav refuses to clip


def timed(label: str, fn):
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    print(f"{label:<44} {seconds:8.2f} s")
    return out, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=1000, help="number of synthetic clips")
    parser.add_argument("--embedder", default="aisfx", help="embedder registry name")
    parser.add_argument("--framing", choices=("native", "centre", "tile"), default="native", help="aisfx's framing of a clip under 2.3 s")
    parser.add_argument("--skip-cold", action="store_true", help="only time the bootstrap")
    args = parser.parse_args()
    if not args.skip_cold:
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_clips(Path(tmp) / "clips", args.clips)
            cache_dir = Path(tmp) / "cache"
            emb = E.get_embedder(args.embedder, framing=args.framing) if args.embedder == "aisfx" else E.get_embedder(args.embedder)
            timed(f"load {args.embedder}", emb.load)
            first, _ = timed(f"cold embed {args.clips} clips ({args.embedder}{', ' + args.framing if args.embedder == 'aisfx' else ''})", lambda: E.embed_files(paths, emb, cache_dir=cache_dir))
            again, _ = timed(f"cached rescore {args.clips} clips", lambda: E.embed_files(paths, emb, cache_dir=cache_dir))
            assert all(np.array_equal(a, b) for a, b in zip(first, again))
            rows = F.pool_clips(again)
            timed(f"fad on {rows.shape[0]} x {rows.shape[1]}", lambda: F.fad(rows[::2], rows[1::2]))
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(BOOT_CLIPS, BOOT_DIM)), rng.normal(size=(BOOT_CLIPS, BOOT_DIM)) + 0.1
    timed(f"bootstrap fad {BOOT_RESAMPLES}x on {BOOT_CLIPS}x{BOOT_DIM}", lambda: F.bootstrap_ci(a, b, "fad", n=BOOT_RESAMPLES))
    timed(f"bootstrap kad {BOOT_RESAMPLES}x on {BOOT_CLIPS}x{BOOT_DIM}", lambda: F.bootstrap_ci(a, b, "kad", n=BOOT_RESAMPLES))


if __name__ == "__main__":
    main()
