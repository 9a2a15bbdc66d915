"""Builders for the category-fit tests: a toy pair of datasets whose classes are easy to tell apart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.audio import write_wav
from benchbox.data.dataset import DATASET_FORMAT, MANIFEST_COLUMNS, clip_sha256
from tests.score_helpers import CLIP_SAMPLES, RATE_HZ, step

GROUPS = ("a", "b", "c")
PER_SPLIT = {"train": 3, "val": 2, "test": 1}


def tone(rng: np.random.Generator, n: int = CLIP_SAMPLES) -> np.ndarray:
    """A steady tone at a random pitch and level, a little noise under it: (T,)."""
    t = np.arange(n) / RATE_HZ
    x = np.sin(2 * np.pi * rng.uniform(200.0, 2000.0) * t) + 0.02 * rng.normal(size=n)
    return (rng.uniform(0.1, 0.5) * x / np.abs(x).max()).astype(np.float32)


def make_class(root: Path, rng: np.random.Generator, wave, *, groups=GROUPS, per_split=None) -> Path:
    """A dataset folder (as `benchbox data import` writes) of ``wave(rng)`` clips whose sources are ``GROUP/SPLITi.wav``."""
    rows = []
    for g in groups:
        for split, count in (per_split or PER_SPLIT).items():
            for i in range(count):
                rel = f"clips/{g}_{split}_{i:03d}.wav"
                x = wave(rng)
                write_wav(root / rel, x, RATE_HZ)
                rows.append({"id": f"{g}{split}{i}", "path": rel, "source": f"{g}/{split}{i}.wav", "label": "", "offset_seconds": 0.0,
                             "seconds": CLIP_SAMPLES / RATE_HZ, "peak": float(np.abs(x).max()), "rms_dbfs": -20.0, "split": split,
                             "sha256": clip_sha256(root / rel)})  # the 16-bit read-back, as the import records
    pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)).to_csv(root / "manifest.csv", index=False)
    info = {"format": DATASET_FORMAT, "sample_rate_hz": RATE_HZ, "clip_samples": CLIP_SAMPLES, "kind": "import", "normalise": "none"}
    (root / "dataset.json").write_text(json.dumps(info))
    return root


def toy_pair(tmp_path: Path, rng: np.random.Generator, **kw) -> tuple[Path, Path]:
    """(positives: footstep-like clicks in decaying noise, negatives: steady tones), three groups each."""
    return make_class(tmp_path / "pos", rng, step, **kw), make_class(tmp_path / "neg", rng, tone, **kw)
