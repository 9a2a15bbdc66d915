import numpy as np
import pandas as pd
import pytest

from benchbox.data.dataset import load_dataset
from benchbox.data.importer import import_folder
from benchbox.data.synth import SURFACES, SynthConfig, synth_corpus
from benchbox.errors import DataError
from benchbox.runs import sha256_file

N = 24


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return synth_corpus(tmp_path_factory.mktemp("synth") / "ds", n=N, seed=0)


def test_byte_identical_for_a_seed(corpus, tmp_path):
    again = synth_corpus(tmp_path / "again", n=N, seed=0)
    other = synth_corpus(tmp_path / "other", n=N, seed=1)
    for name in ("manifest.csv", "dataset.json", "config.toml"):
        assert sha256_file(corpus / name) == sha256_file(again / name)
    a, b = (pd.read_csv(p / "manifest.csv") for p in (corpus, other))
    assert a["sha256"].tolist() != b["sha256"].tolist()
    assert not set(a["sha256"]) & set(b["sha256"])


def test_labels_levels_and_format(corpus):
    ds = load_dataset(corpus)
    m = ds.manifest
    assert ds.info["kind"] == "synth" and ds.clip_samples == 8192 and ds.sample_rate_hz == 16_000
    assert m["label"].nunique() >= 5 and set(m["label"]) <= set(SURFACES)
    peak_dbfs = 20 * np.log10(m["peak"])
    assert peak_dbfs.between(-25, -2.5).all()
    waves = ds.load_clips()  # (N, T)
    first = [int(np.flatnonzero(np.abs(w) > 1e-3)[0]) for w in waves]
    assert not waves[:, :160].any() and all(160 <= f <= 176 for f in first)  # onset at 10 ms (+1 ms attack)
    assert np.abs(waves[:, -1]).max() < 1e-3  # decayed by the end
    assert all(ds.rows(s).shape[0] > 0 for s in ("train", "val", "test"))
    assert m["source"].nunique() == N


def test_passes_the_import_checks(corpus, tmp_path):
    result = import_folder(corpus / "clips", tmp_path / "re")
    assert result.rejected == 0 and result.duplicates == 0 and result.clips == N
    m = pd.read_csv(tmp_path / "re" / "manifest.csv")
    assert m["offset_seconds"].to_numpy() == pytest.approx(0.01, abs=1e-3)
    assert dict(zip(m["source"].str.split("_").str[0], m["label"])) == {lab: lab for lab in set(m["label"])}


def test_bad_requests():
    with pytest.raises(DataError, match="n=0"):
        synth_corpus("/nonexistent-never-written", n=0)
    with pytest.raises(ValueError, match="unknown surfaces"):
        SynthConfig(surfaces=("lava",))
