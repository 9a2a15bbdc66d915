"""Where a run's clips come from: the checkpoint each was generated from, and the dataset the run trained on."""

from __future__ import annotations

import hashlib
import shutil

import pandas as pd

from benchbox.data import fingerprint
from benchbox.data.batches import load_clips
from benchbox.provenance import changed_checkpoint, other_dataset_note, retrained_note
from benchbox.train_config import DataConfig
from tests.score_helpers import make_dataset, make_run


def test_a_checkpoint_rewritten_after_its_clips_were_made_is_named(tmp_path, rng):
    data = make_dataset(tmp_path / "data", rng)
    run = make_run(tmp_path / "run", data, rng)
    assert changed_checkpoint(run) is None and retrained_note(run) is None  # no ckpt/ on disk: nothing to compare
    (run / "ckpt").mkdir()
    (run / "ckpt" / "best.pt").write_bytes(b"weights")
    pd.read_csv(run / "samples" / "manifest.csv").assign(checkpoint_sha256=hashlib.sha256(b"weights").hexdigest()).to_csv(run / "samples" / "manifest.csv", index=False)
    assert changed_checkpoint(run) is None
    (run / "ckpt" / "best.pt").write_bytes(b"trained further")
    assert changed_checkpoint(run) == "best"
    assert f"benchbox generate {run} --overwrite" in retrained_note(run)


def test_another_reference_than_the_training_data_is_named_with_both(tmp_path, rng):
    """`score RUN --reference OTHER` said nothing, though memorisation then used a train split the model never saw."""
    data = make_dataset(tmp_path / "data", rng)
    run = make_run(tmp_path / "run", data, rng)
    assert other_dataset_note(run, data, data) is None
    copy = shutil.copytree(data, tmp_path / "copy")  # the same dataset at another path: the same manifest
    assert other_dataset_note(run, copy, data) is None
    other = make_dataset(tmp_path / "other", rng)
    note = other_dataset_note(run, other, data)
    assert note.startswith(f"--reference {other} is not the dataset {run} trained on ({data}, per its config.toml)")
    assert note.endswith(f"drop --reference to score against {data}")
    assert other_dataset_note(run, other, None) is None  # nothing records what it trained on


def test_with_the_training_folder_gone_the_recorded_fingerprint_decides(tmp_path, rng):
    data = make_dataset(tmp_path / "data", rng)
    run = make_run(tmp_path / "run", data, rng)
    fingerprint.record(run, fingerprint.content_fingerprint(load_clips(DataConfig(path=data))), data, step=1)
    moved = data.rename(tmp_path / "moved")
    assert other_dataset_note(run, moved, data) is None  # the same content where it was moved to
    other = make_dataset(tmp_path / "other", rng)
    note = other_dataset_note(run, other, data)
    assert "no longer there; its content fingerprint is not the one data_fingerprint.json records" in note
    assert note.endswith("pass --reference the dataset it trained on")


def test_the_training_folder_replaced_in_place_is_named(tmp_path, rng):
    """The same folder counted as the same dataset even after `data synth --overwrite` replaced it."""
    data = make_dataset(tmp_path / "data", rng)
    run = make_run(tmp_path / "run", data, rng)
    fingerprint.record(run, fingerprint.content_fingerprint(load_clips(DataConfig(path=data))), data, step=1)
    assert other_dataset_note(run, data, data) is None
    shutil.rmtree(data)
    make_dataset(data, rng)  # new clips under the same name
    note = other_dataset_note(run, data, data)
    assert note.startswith(f"{data} changed since {run} trained on it (its content fingerprint is not the one data_fingerprint.json records")
    assert "a train split the model never saw" in note
