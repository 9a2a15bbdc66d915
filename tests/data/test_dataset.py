"""benchbox.data.dataset: a dataset folder's clips against the hashes its manifest records."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchbox.audio import write_wav
from benchbox.data.dataset import load_dataset
from tests.score_helpers import RATE_HZ, make_dataset, step


def test_changed_clips_name_an_edited_a_missing_and_an_unreadable_clip_only(tmp_path):
    rng = np.random.default_rng(0)
    root = make_dataset(tmp_path / "data", rng, counts={"train": 2, "val": 2, "test": 3})
    assert load_dataset(root).changed_clips() == []
    write_wav(root / "clips" / "test_001.wav", step(rng), RATE_HZ)  # other audio under the same name
    (root / "clips" / "val_000.wav").unlink()
    (root / "clips" / "train_001.wav").write_text("not audio")
    ds = load_dataset(root)
    assert sorted(p.name for p in ds.changed_clips()) == ["test_001.wav", "train_001.wav", "val_000.wav"]
    assert [p.name for p in ds.changed_clips("test")] == ["test_001.wav"]


def test_a_row_without_a_recorded_hash_is_not_checked(tmp_path):
    rng = np.random.default_rng(1)
    root = make_dataset(tmp_path / "data", rng, counts={"train": 1, "val": 1, "test": 2})
    manifest = pd.read_csv(root / "manifest.csv", dtype=str)
    manifest.loc[manifest["path"] == "clips/test_000.wav", "sha256"] = ""
    manifest.to_csv(root / "manifest.csv", index=False)
    write_wav(root / "clips" / "test_000.wav", step(rng), RATE_HZ)
    write_wav(root / "clips" / "test_001.wav", step(rng), RATE_HZ)
    assert [p.name for p in load_dataset(root).changed_clips()] == ["test_001.wav"]
