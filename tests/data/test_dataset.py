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


def test_clip_sha256_is_the_hash_of_its_rate_and_the_mono_float32_read_back(tmp_path):
    """Checked against a direct computation (soundfile's int16 samples / 32768, the channels'
    mean, little-endian float32 after the rate as text), not through the library's own hash."""
    import hashlib

    import soundfile as sf

    from benchbox.data.dataset import clip_sha256

    rng = np.random.default_rng(2)
    pcm = rng.integers(-32768, 32768, size=(1000, 2), dtype=np.int16)  # (T, C)
    for name, data in (("mono.wav", pcm[:, :1]), ("stereo.wav", pcm)):
        sf.write(tmp_path / name, data, 22_050, subtype="PCM_16")
        raw, rate = sf.read(tmp_path / name, dtype="int16", always_2d=True)  # (T, C)
        mono = (raw.astype(np.float64) / 32768.0).mean(axis=1).astype("<f4")  # exact: a sum of two int16 fits float32
        assert clip_sha256(tmp_path / name) == hashlib.sha256(str(rate).encode() + mono.tobytes()).hexdigest(), name
    (tmp_path / "broken.wav").write_text("not audio")
    assert clip_sha256(tmp_path / "broken.wav") is None and clip_sha256(tmp_path / "missing.wav") is None


def test_a_clip_rewritten_under_the_same_size_and_mtime_is_hashed_again(tmp_path):
    """The per-process hash cache was keyed by path, size and mtime: every clip of a dataset has
    the same size, and an mtime can repeat (a coarse file-system clock, ``touch -r``, ``cp -p``),
    so a clip replaced in place kept its old hash and changed_clips missed the edit."""
    import os

    from benchbox.data.dataset import clip_sha256

    rng = np.random.default_rng(3)
    root = make_dataset(tmp_path / "data", rng, counts={"train": 1, "val": 1, "test": 1})
    clip = root / "clips" / "test_000.wav"
    assert load_dataset(root).changed_clips() == []
    before, stamp = clip_sha256(clip), os.stat(clip).st_mtime_ns
    write_wav(clip, step(rng), RATE_HZ)  # other audio, the same number of bytes
    os.utime(clip, ns=(stamp, stamp))
    assert os.stat(clip).st_size == os.stat(root / "clips" / "val_000.wav").st_size and os.stat(clip).st_mtime_ns == stamp
    assert clip_sha256(clip) != before
    assert load_dataset(root).changed_clips() == [clip]
