"""Spectrograms of several generators' clips side by side, real test clips on top.

Legend: T time in samples.

Each ``LABEL=FOLDER`` argument is one row: the first ``--columns`` ``*.wav`` files of FOLDER
in name order (no choosing), on the project's dBFS scale. The first row is the dataset's
first real test clips. For the families comparison of issue 27::

    .venv/bin/python benchmarks/plot_side_by_side.py --data ../shared/data/footsteps-dev \\
        "specdiff-cpu 45 min=RUN/samples/min45/prime0" "hifiwavegan-cpu 45 min=RUN/samples/min45/prime0" \\
        --out benchmarks/results/quality/gan/families.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchbox.audio import load_audio
from benchbox.data.dataset import load_dataset
from benchbox.errors import BenchboxError
from benchbox.plots import SpectrogramCell, spectrogram_grid


def rows_of(specs: list[str], data: Path, columns: int) -> list[list[SpectrogramCell]]:
    """The real row, then one row per ``LABEL=FOLDER``."""
    dataset = load_dataset(data)
    rate = dataset.sample_rate_hz
    rows = [[SpectrogramCell(f"real test {i}", w, rate) for i, w in enumerate(dataset.load_clips("test")[:columns])]]
    for spec in specs:
        label, sep, folder = spec.partition("=")
        files = sorted(Path(folder).glob("*.wav"))[:columns]
        if not sep or not files:
            raise BenchboxError(f"{spec!r}: expected LABEL=FOLDER with .wav clips", hint="e.g. 'specdiff-cpu 45 min=RUN/samples/min45/prime0'")
        rows.append([SpectrogramCell(f"{label} #{i}", load_audio(f, rate), rate) for i, f in enumerate(files)])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="+", help="LABEL=FOLDER of .wav clips, one row each")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "footsteps-dev", help="the imported dataset of the real row (default: ../shared/data/footsteps-dev beside the checkout)")
    parser.add_argument("--columns", type=int, default=8)
    parser.add_argument("--out", type=Path, required=True, help="PNG path")
    args = parser.parse_args()
    spectrogram_grid(rows_of(args.rows, args.data, args.columns), args.out, columns=args.columns)
    print(args.out)


if __name__ == "__main__":
    main()
