"""Builders for the score/leaderboard tests: a tiny reference dataset and a fake run folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.audio import write_wav
from benchbox.data.dataset import DATASET_FORMAT, MANIFEST_COLUMNS, clip_sha256

RATE_HZ = 16_000
CLIP_SAMPLES = 4096
SPLIT_COUNTS = {"train": 4, "val": 4, "test": 6}
PRIMES_MS = (0, 100)
CLIPS_PER_GROUP = 4


def step(rng: np.random.Generator, rate_hz: int = RATE_HZ, n: int = CLIP_SAMPLES, peak: float = 0.5) -> np.ndarray:
    """A footstep-like clip: a click plus noise decaying over 30 ms, onset at 10 ms: (T,)."""
    t = np.arange(n) / rate_hz  # (T,)
    onset_s = 0.010
    env = np.where(t >= onset_s, np.exp(-(t - onset_s) / 0.030), 0.0)  # (T,)
    x = env * rng.normal(size=n)
    x[int(onset_s * rate_hz)] += 3.0
    return (peak * x / np.abs(x).max()).astype(np.float32)


def sine(f_hz: float = 110.0, n: int = CLIP_SAMPLES, rate_hz: int = RATE_HZ) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * f_hz * np.arange(n) / rate_hz)).astype(np.float32)


def make_dataset(root: Path, rng: np.random.Generator, counts: dict[str, int] | None = None, kind: str = "import") -> Path:
    """A benchbox dataset folder (manifest.csv, dataset.json, clips/) of footstep-like clips."""
    rows = []
    for split, count in (counts or SPLIT_COUNTS).items():
        for i in range(count):
            rel = f"clips/{split}_{i:03d}.wav"
            write_wav(root / rel, step(rng), RATE_HZ)
            rows.append({"id": f"{split}{i}", "path": rel, "source": f"{split}{i}.wav", "label": "gravel", "offset_seconds": 0.0,
                         "seconds": CLIP_SAMPLES / RATE_HZ, "peak": 0.5, "rms_dbfs": -20.0, "split": split,
                         "sha256": clip_sha256(root / rel)})  # the read-back's hash, as the import records and changed_clips checks
    pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)).to_csv(root / "manifest.csv", index=False)
    info = {"format": DATASET_FORMAT, "sample_rate_hz": RATE_HZ, "clip_samples": CLIP_SAMPLES, "kind": kind, "normalise": "none"}
    (root / "dataset.json").write_text(json.dumps(info))
    return root


def make_run(root: Path, data: Path, rng: np.random.Generator, *, sine_clips: int = 1, dropout: float = 0.1) -> Path:
    """RUN_DIR with two groups (prime 0 and 100 ms) of 4 clips; the last ``sine_clips`` of each are sines."""
    rows = []
    for prime_ms in PRIMES_MS:
        for i in range(CLIPS_PER_GROUP):
            rel = f"samples/best/prime{prime_ms}/clip_{i:04d}.wav"
            wave = sine(80.0 + 20 * i) if i >= CLIPS_PER_GROUP - sine_clips else step(rng)
            write_wav(root / rel, wave, RATE_HZ)
            rows.append({"path": rel, "clip_id": f"p{prime_ms}-{i}", "run": root.name, "generator": "sashimi", "preset": "tiny",
                         "quantisation": "mulaw", "dropout": dropout, "checkpoint": "best", "checkpoint_sha256": "0" * 64,
                         "prime_ms": prime_ms, "prime_source": "", "seed": i, "temperature": 1.0, "top_p": 1.0,
                         "seconds_to_generate": 0.5, "logprob_sum": -100.0 - i, "logprob_mean": -2.0 - 0.1 * i})
    pd.DataFrame(rows).to_csv(root / "samples" / "manifest.csv", index=False)
    (root / "config.toml").write_text(f'generator = "sashimi"\npreset = "tiny"\n\n[data]\npath = "{data}"\n')
    return root


def rewrite_clip(root: Path, path: Path, wave: np.ndarray) -> None:
    """Write ``wave`` over dataset ``root``'s clip ``path`` and record its hash in the manifest,
    as a re-import would (an edit behind the manifest's back is refused when scoring)."""
    write_wav(path, wave, RATE_HZ)
    manifest = pd.read_csv(root / "manifest.csv", dtype=str, keep_default_na=False)
    manifest.loc[manifest["path"] == Path(path).relative_to(root).as_posix(), "sha256"] = clip_sha256(Path(path))
    manifest.to_csv(root / "manifest.csv", index=False)


def write_undecodable(folder: Path) -> None:
    """Three files that cannot be decoded: a truncated wav, one whose data chunk claims more than
    the file holds, and a text file named .wav."""
    folder.mkdir(parents=True, exist_ok=True)
    write_wav(folder / "truncated.wav", step(np.random.default_rng(1)), RATE_HZ)
    (folder / "truncated.wav").write_bytes((folder / "truncated.wav").read_bytes()[:30])
    write_wav(folder / "liar.wav", step(np.random.default_rng(2)), RATE_HZ)
    raw = bytearray((folder / "liar.wav").read_bytes())
    at = raw.find(b"data")
    raw[at + 4 : at + 8] = (10**9).to_bytes(4, "little")
    (folder / "liar.wav").write_bytes(bytes(raw[:200]))
    (folder / "text.wav").write_text("not audio\n")


def import_with_undecodable(tmp_path: Path, rng: np.random.Generator):
    """``(score result, OUT, reference)``: the folder ``mine`` (2 good wavs and the 3 of
    :func:`write_undecodable`, group ``mine``; a subfolder ``lost`` of 2 undecodable ones, group
    ``mine/lost``) imported into ``tmp_path/results/mine`` and scored without embedders."""
    from benchbox.score import score_run

    data = make_dataset(tmp_path / "data", rng)
    mine = tmp_path / "mine"
    for i in range(2):
        write_wav(mine / f"good{i}.wav", step(rng), RATE_HZ)
    write_undecodable(mine)
    write_undecodable(mine / "lost")
    (mine / "lost" / "text.wav").unlink()
    out = tmp_path / "results" / "mine"
    return score_run(mine, reference=data, out=out, embedders=(), bootstrap=0), out, data
