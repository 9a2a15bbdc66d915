"""Builders for a small fake run folder (dataset, generated clips, scores), shared by review and CLI tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.audio import mono_sha256, write_wav

RATE_HZ = 16_000
CLIP_SAMPLES = 4_000  # 0.25 s
GENERATORS = ("sashimi", "wavenet")
CLIPS_PER_GENERATOR = 4
REAL_CLIPS = 4


def _clip(rng: np.random.Generator, gain: float) -> np.ndarray:
    t = np.arange(CLIP_SAMPLES) / RATE_HZ  # (T,)
    burst = rng.normal(0.0, 1.0, CLIP_SAMPLES) * np.exp(-t * 30.0)  # (T,)
    return (gain * burst / np.abs(burst).max()).astype(np.float32)


def make_dataset(root: Path, rng: np.random.Generator) -> Path:
    rows = []
    for i in range(REAL_CLIPS + 2):
        rel = f"clips/real_{i:02d}.wav"
        write_wav(root / rel, _clip(rng, 0.5), RATE_HZ)
        split = "test" if i < REAL_CLIPS else "train"
        rows.append({"id": f"r{i}", "path": rel, "source": "rec.wav", "label": "", "offset_seconds": 0.0,
                     "seconds": CLIP_SAMPLES / RATE_HZ, "peak": 0.5, "rms_dbfs": -20.0, "split": split, "sha256": ""})
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    (root / "dataset.json").write_text(json.dumps({"format": 1, "sample_rate_hz": RATE_HZ, "clip_samples": CLIP_SAMPLES, "kind": "import"}))
    return root


def make_run(root: Path, data: Path, rng: np.random.Generator, *, scores: bool = True) -> Path:
    rows, score_rows = [], []
    for g, generator in enumerate(GENERATORS):
        for i in range(CLIPS_PER_GENERATOR):
            rel = f"samples/best/prime{g * 100}/clip_{i:04d}.wav"
            write_wav(root / rel, _clip(rng, 0.3 + 0.1 * i), RATE_HZ)
            groups = {"generator": generator, "quantisation": "mulaw", "dropout": 0.1, "checkpoint": "best", "prime_ms": g * 100}
            rows.append({"path": rel, "clip_id": f"{generator}-{i}", "run": "r1", **groups})
            score_rows.append({"path": rel, "sha256": mono_sha256(root / rel), **groups, "useful/auto": int(i % 2 == 0)})
    pd.DataFrame(rows).to_csv(root / "samples" / "manifest.csv", index=False)
    (root / "config.toml").write_text(f'generator = "sashimi"\n\n[data]\npath = "{data}"\n')
    if scores:
        (root / "scores").mkdir()
        pd.DataFrame(score_rows).to_csv(root / "scores" / "clips.csv", index=False)
    return root
