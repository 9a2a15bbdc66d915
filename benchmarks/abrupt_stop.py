"""Does an abrupt stop tell a weak model's noise blocks from real footsteps? (docs/verdict.md)

The calibration table's 300-step WaveNet-tiny row fails its gate: the verdict passes clips that
are broadband noise blocks of 0.1-0.4 s ending abruptly in digital silence. This measures the
two cues a detector for them could use, on the real dev footsteps (every split of a
footsteps-dev import) and on the clips of WaveNet-tiny that pass the verdict in a scored
footsteps-cpu study (continuations included):

- **fall**: in 4 ms frames (mean-square level in dB), the drop from the last frame within 30 dB
  of the clip's loudest frame to the quietest of the next three frames (12 ms);
- **body spread**: the standard deviation of the frame levels from two frames after the first
  frame within 30 dB of the peak to one frame before that last one (how flat the block is).

Usage (after ``benchbox run protocols/footsteps-cpu.toml --data footsteps-dev``)::

    PYTHONPATH=. .venv/bin/python benchmarks/abrupt_stop.py [--study results/footsteps-cpu]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from benchbox.data.dataset import load_dataset

FRAME_MS = 4
WITHIN_DB = 30.0
FALL_FRAMES = 3
FALL_DB = 30.0


def frame_db(wave: np.ndarray, rate_hz: int) -> np.ndarray:
    """(F,) mean-square level in dB of the clip's whole ``FRAME_MS`` frames."""
    n = int(rate_hz * FRAME_MS / 1000)
    k = len(wave) // n
    return 10 * np.log10(np.mean(wave[: k * n].reshape(k, n) ** 2, axis=1) + 1e-20)


def cues(wave: np.ndarray, rate_hz: int) -> tuple[float, float]:
    """``(fall dB, body spread dB)`` of one mono clip, as the module docstring defines them."""
    db = frame_db(np.asarray(wave, dtype=np.float64), rate_hz)
    loud = np.flatnonzero(db > db.max() - WITHIN_DB)
    first, last = int(loud[0]), int(loud[-1])
    after = db[last + 1 : last + 1 + FALL_FRAMES]
    fall = float(db[last] - after.min()) if len(after) else 0.0
    body = db[first + 2 : last - 1] if last - first > 4 else db[first : last + 1]
    return fall, float(np.std(body)) if len(body) > 2 else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", type=Path, default=Path("results/footsteps-cpu"))
    args = ap.parse_args()
    real = np.array([cues(*sf.read(p)) for p in load_dataset(args.study / "data").clip_paths()])
    passing = []
    for scores in sorted(args.study.glob("runs/wavenet-*/scores/clips.csv")):
        clips = pd.read_csv(scores, usecols=["path", "cont/useful/auto"])
        run = scores.parents[1]
        passing += [cues(*sf.read(run / p)) for p in clips.loc[clips["cont/useful/auto"] == 1, "path"]]
    gen = np.array(passing).reshape(-1, 2)
    for name, rows in (("real dev footsteps", real), ("WaveNet-tiny clips the verdict passes", gen)):
        print(f"{name}: {int((rows[:, 0] >= FALL_DB).sum())} of {len(rows)} fall >= {FALL_DB:g} dB within {FALL_FRAMES * FRAME_MS} ms; "
              f"median body spread {np.nanmedian(rows[:, 1]):.1f} dB")


if __name__ == "__main__":
    main()
