"""Log-mel spectrograms of real imported footsteps vs synthetic ones, per surface.

Legend: T samples per clip, M mel bands, F frames.

Usage: ``python benchmarks/plot_real_vs_synth.py [--real DEV_DIR] [--out docs/real_vs_synth.png]``.
The real recordings (default ``corpora/footsteps-dev``) are imported into a
temporary folder with the default config; the synthetic clips come from
``synth_corpus`` with seed 0. Row 1 shows one real clip per surface, row 2 a synthetic
clip of the same surface, row 3 the mean dB envelope of all clips of that surface.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import librosa
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchbox.data.dataset import load_dataset  # noqa: E402
from benchbox.data.importer import import_folder  # noqa: E402
from benchbox.data.segment import HOP_MS, envelope_db  # noqa: E402
from benchbox.data.synth import synth_corpus  # noqa: E402
from benchbox.runs import atomic_path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REAL = REPO / "corpora" / "footsteps-dev"
SURFACES = ("gravel", "snow", "wood", "metal", "grass")
N_FFT, HOP, N_MELS = 512, 64, 64
FLOOR_DB = -100.0
SYNTH_CLIPS = 120


def log_mel(wave: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """(T,) -> (M, F) log-mel power in dB."""
    spec = torch.stft(torch.from_numpy(wave), N_FFT, HOP, window=torch.hann_window(N_FFT), return_complex=True).abs() ** 2  # (N_FFT/2+1, F)
    mel = librosa.filters.mel(sr=sample_rate_hz, n_fft=N_FFT, n_mels=N_MELS)  # (M, N_FFT/2+1)
    return 10 * np.log10(np.maximum(mel @ spec.numpy(), 10 ** (FLOOR_DB / 10)))  # (M, F)


def pick(ds, waves: np.ndarray, surface: str, rank: float = 0.5) -> np.ndarray:
    """The clip of ``surface`` whose RMS sits at ``rank`` among that surface's clips: (T,)."""
    rows = ds.manifest[ds.manifest["label"] == surface].sort_values("rms_dbfs")
    return waves[ds.manifest.index.get_loc(rows.index[int(rank * (len(rows) - 1))])]


def mean_envelope(ds, waves: np.ndarray, surface: str) -> np.ndarray:
    chosen = waves[(ds.manifest["label"] == surface).to_numpy()]  # (N, T)
    return np.mean([envelope_db(w, ds.sample_rate_hz)[0] for w in chosen], axis=0)  # (F,)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL, help="folder of real recordings")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "real_vs_synth.png", help="PNG to write")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        real = load_dataset(import_folder(args.real, Path(tmp) / "real").out)
        synth = load_dataset(synth_corpus(Path(tmp) / "synth", n=SYNTH_CLIPS, seed=0))
        real_waves, synth_waves = real.load_clips(), synth.load_clips()  # (N, T)
        fig, axes = plt.subplots(3, len(SURFACES), figsize=(3.2 * len(SURFACES), 8), constrained_layout=True)
        for j, surface in enumerate(SURFACES):
            for i, (name, ds, waves) in enumerate((("real", real, real_waves), ("synth", synth, synth_waves))):
                wave = pick(ds, waves, surface)
                axes[i, j].imshow(log_mel(wave, ds.sample_rate_hz), origin="lower", aspect="auto", vmin=-100, vmax=-10, cmap="magma", extent=(0, len(wave) / ds.sample_rate_hz, 0, N_MELS))
                axes[i, j].set_title(f"{name}: {surface}", fontsize=10)
                axes[i, j].set_xlabel("s")
                axes[i, j].set_ylabel("mel band")
                env = mean_envelope(ds, waves, surface)
                axes[2, j].plot(np.arange(len(env)) * HOP_MS / 1000, env, label=name)
            axes[2, j].set_ylim(-100, -10)
            axes[2, j].set_title(f"mean envelope: {surface}", fontsize=10)
            axes[2, j].set_xlabel("s")
            axes[2, j].set_ylabel("dBFS")
            axes[2, j].legend(fontsize=8)
        with atomic_path(args.out) as tmp_png:
            fig.savefig(tmp_png, dpi=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
