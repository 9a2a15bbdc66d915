"""Copies of a folder of clips with every sample under a level set to zero (a noise gate with no
attack or release): an ablation, to ask whether a low-level floor is what a test tells apart.

Legend: T samples per clip.

Reads every ``*.wav`` of SRC, writes ``DST/<name>.wav`` (16-bit PCM, the same rate) with each
sample whose magnitude is under ``--below`` (full scale 1.0) set to 0.0, and prints how many
samples it zeroed. The families study's reading (README, footsteps-families-cpu) gated specdiff's
clips at 1.5 of benchbox's smallest mu-law step (2.6e-4, about -72 dBFS) and ran
``benchmarks/nn1_anatomy.py`` on the copies::

    .venv/bin/python benchmarks/gate_floor.py RUN/samples/best/prime0_steps50 /tmp/gated/best --mulaw-steps 1.5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

from benchbox.audio import decode


def gate(wave: np.ndarray, below: float) -> tuple[np.ndarray, int]:
    """(T,) ``wave`` with every |sample| < ``below`` set to 0, and the count of samples changed."""
    quiet = (np.abs(wave) < below) & (wave != 0)
    out = wave.copy()
    out[quiet] = 0.0
    return out, int(quiet.sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    level = ap.add_mutually_exclusive_group(required=True)
    level.add_argument("--below", type=float, help="the level, full scale 1.0")
    level.add_argument("--mulaw-steps", type=float, help="the level in units of the smallest 8-bit mu-law step")
    args = ap.parse_args()
    below = args.below if args.below is not None else args.mulaw_steps * float(decode(np.array([129]), "mulaw")[0])
    args.dst.mkdir(parents=True, exist_ok=True)
    total = zeroed = 0
    for path in sorted(args.src.glob("*.wav")):
        wave, rate = sf.read(path, dtype="float32")
        gated, n = gate(wave, below)
        sf.write(args.dst / path.name, gated, rate, subtype="PCM_16")
        total, zeroed = total + wave.size, zeroed + n
    print(f"gated at {below:.3g} ({20 * np.log10(below):.1f} dBFS): {zeroed} of {total} samples set to 0")


if __name__ == "__main__":
    main()
