"""What a 1-NN two-sample accuracy is made of: per-set accuracies, nearest distances, mean log-mel.

Legend: N clips, D embedding dims, M mel bands, F frames.

The 1-NN test (``benchbox.metrics.twosample``) gives one balanced accuracy. This script splits it
for each folder of generated clips against the reference's real **test** clips, in the
verdict's geometry (aisfx, L2-normalised):

- ``real_accuracy`` / ``gen_accuracy``: the share of each set whose nearest other clip is from
  its own set. A generator that samples the real distribution, with 64 clips against 20, scores
  about 0.76 on its own set and 0.24 on the real one (the larger set is denser); 1.0 on the
  generated set means every generated clip is nearer another generated clip than any real one.
- nearest distances (median, 10% and 90% points): generated to generated, generated to real,
  real to real, and real val to real test (the floor at these sizes). A generated set whose
  distances to real clips exceed the real clips' own spacing sits off the real clips, however
  spread it is.
- a figure: each set's mean log-mel (``log10(1e4 mel + 1)``, aisfx's front end; 64 bands,
  1024-point frames, hop 256) and its difference from the real clips' (all splits), so a
  signature shared by every generated clip (a spectral ripple, an onset too loud) shows as
  a pattern that averaging does not wash out.

Writes ``OUT.json`` and ``OUT.png``::

    .venv/bin/python benchmarks/nn1_anatomy.py --data ../shared/data/footsteps-dev \\
        --out benchmarks/results/quality/gan/nn1-anatomy "nearest 45 min=RUN/samples/min45/prime0" ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchbox.audio import PROJECT_SAMPLE_RATE_HZ, load_audio
from benchbox.data.dataset import load_dataset
from benchbox.metrics import embedders, prdc, twosample
from benchbox.metrics.fad import pool_clips

SR = PROJECT_SAMPLE_RATE_HZ
MEL = dict(n_fft=1024, hop_length=256, n_mels=64)


def embed(paths: list[Path], cache: Path | None) -> np.ndarray:
    """(N, D) L2-normalised aisfx clip embeddings (frame embeddings averaged)."""
    frames = embedders.embed_files(paths, "aisfx", cache_dir=cache)
    return prdc.l2_normalise(pool_clips(frames))


def nearest(a: np.ndarray, b: np.ndarray, same: bool) -> np.ndarray:
    """(Na,) Euclidean distance from each row of ``a`` to its nearest row of ``b`` (not itself when ``same``)."""
    d = prdc.pairwise_distances(a, b)  # (Na, Nb)
    if same:
        np.fill_diagonal(d, np.inf)
    return d.min(axis=1)


def spread(x: np.ndarray) -> dict[str, float]:
    return {"median": float(np.median(x)), "q10": float(np.quantile(x, 0.1)), "q90": float(np.quantile(x, 0.9))}


def mean_logmel(paths: list[Path], n: int) -> np.ndarray:
    """(M, F) mean of the clips' aisfx-style log-mel spectrograms, each clip cut or zero-padded to ``n`` samples."""
    import librosa

    waves = [load_audio(p, SR) for p in paths]
    mels = [np.log10(1e4 * librosa.feature.melspectrogram(y=np.pad(w[:n], (0, max(0, n - len(w)))), sr=SR, **MEL) + 1.0) for w in waves]
    return np.mean(mels, axis=0)


def anatomy(name: str, clips: list[Path], real: np.ndarray, val: np.ndarray, cache: Path | None) -> dict:
    gen = embed(clips, cache)
    test = twosample.nn1_test(real, gen, permutations=0)
    return {
        "name": name, "n": len(clips), "nn1": test["accuracy"], "real_accuracy": test["real_accuracy"], "gen_accuracy": test["gen_accuracy"],
        "gen_to_gen": spread(nearest(gen, gen, True)), "gen_to_real": spread(nearest(gen, real, False)), "real_to_gen": spread(nearest(real, gen, False)),
        "real_to_real": spread(nearest(real, real, True)), "val_to_test": spread(nearest(val, real, False)),
    }


def figure(path: Path, real_mel: np.ndarray, rows: list[tuple[str, np.ndarray]]) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 2.4 * (len(rows) + 1)), dpi=80)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows) + 1, 2, squeeze=False)
    for i, (label, mel) in enumerate([("real (all splits)", real_mel), *rows]):
        axes[i, 0].imshow(mel, origin="lower", aspect="auto", vmin=0, vmax=3)
        axes[i, 0].set_title(f"{label}: mean log-mel", fontsize=9)
        axes[i, 1].imshow(mel - real_mel, origin="lower", aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1)
        axes[i, 1].set_title(f"{label} minus real (red: more energy)", fontsize=9)
        for ax in axes[i]:
            ax.set_ylabel("mel band")
    for ax in axes[-1]:
        ax.set_xlabel(f"frame (hop {MEL['hop_length']} samples)")
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sets", nargs="+", help="LABEL=FOLDER of generated .wav clips")
    parser.add_argument("--data", type=Path, required=True, help="the reference dataset (its test split is the real set)")
    parser.add_argument("--out", type=Path, required=True, help="writes OUT.json and OUT.png")
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache folder")
    args = parser.parse_args()
    ds = load_dataset(args.data)
    real_paths, val_paths = ds.clip_paths("test"), ds.clip_paths("val")
    real, val = embed(real_paths, args.cache), embed(val_paths, args.cache)
    sets = [(label, sorted(Path(folder).glob("*.wav"))) for label, _, folder in (s.partition("=") for s in args.sets)]
    result = {"real_test": len(real_paths), "real_val": len(val_paths), "floor": anatomy("real val", val_paths, real, val, args.cache),
              "sets": [anatomy(label, clips, real, val, args.cache) for label, clips in sets]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    all_real = [p for split in ("train", "val", "test") for p in ds.clip_paths(split)]
    n = ds.clip_samples
    figure(args.out.with_suffix(".png"), mean_logmel(all_real, n), [(label, mean_logmel(clips, n)) for label, clips in sets])
    for row in [result["floor"], *result["sets"]]:
        print(f"{row['name']:>28}: 1-NN {row['nn1']:.3f} (real {row['real_accuracy']:.2f}, generated {row['gen_accuracy']:.2f}); "
              f"nearest gen->gen {row['gen_to_gen']['median']:.3f}, gen->real {row['gen_to_real']['median']:.3f}, "
              f"real->real {row['real_to_real']['median']:.3f}, val->test {row['val_to_test']['median']:.3f}")


if __name__ == "__main__":
    main()
