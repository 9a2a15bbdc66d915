"""The hostile-input corpus (tests/cases/build.py) through `data import`, `score` and the embedders."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from benchbox.audio import read_audio
from benchbox.cli.main import app
from benchbox.data.importer import import_folder
from benchbox.errors import AudioError
from tests.cases.build import build

runner = CliRunner()
MEMORY_BOUND_BYTES = 64 << 20  # the corpus is < 1 MB; a lying header once cost 3.8-256 GiB


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cases")
    return folder, build(folder)


def test_every_lying_header_is_refused_by_the_decoder_naming_the_field(corpus):
    folder, cases = corpus
    tracemalloc.start()
    try:
        for name, case in cases.items():
            if not case.expect.startswith("reject:") or name == "short_30ms.wav":
                read_audio(folder / name)  # decodes
                continue
            with pytest.raises(AudioError) as info:
                read_audio(folder / name)
            words = case.expect.removeprefix("reject: ")
            assert words in info.value.message and str(folder / name) in info.value.message, (name, info.value.message)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND_BYTES


def test_import_rejects_each_hostile_file_with_its_reason_and_keeps_going(corpus, tmp_path):
    folder, cases = corpus
    result = runner.invoke(app, ["data", "import", str(folder), "--out", str(tmp_path / "ds"), "--json"])
    assert result.exit_code == 0, result.output
    rejected = dict(pd.read_csv(tmp_path / "ds" / "rejected.csv").itertuples(index=False))
    expected = {n: c.expect.removeprefix("reject: ") for n, c in cases.items() if c.expect.startswith("reject:")}
    assert set(rejected) == set(expected)
    for name, words in expected.items():
        assert words in rejected[name], (name, rejected[name])
    manifest = pd.read_csv(tmp_path / "ds" / "manifest.csv")
    assert sorted(manifest["source"]) == ["float_loud.wav", "good_step.wav"]


def test_float_audio_beyond_full_scale_is_scaled_and_recorded_never_clipped(corpus, tmp_path):
    folder, _ = corpus
    src = tmp_path / "src"
    src.mkdir()
    (src / "float_loud.wav").write_bytes((folder / "float_loud.wav").read_bytes())
    result = import_folder(src, tmp_path / "ds")
    manifest = pd.read_csv(tmp_path / "ds" / "manifest.csv")
    row = manifest.iloc[0]
    written, _ = sf.read(tmp_path / "ds" / row["path"], dtype="float32")
    # the manifest describes the clip as written, and the clip is not clipped
    assert row["peak"] == pytest.approx(float(np.abs(written).max()), abs=1e-6)
    assert row["peak"] <= 1.0 and int((np.abs(written) >= 0.999).sum()) <= 2  # 190 clipped samples per clip before
    assert row["gain_db"] == pytest.approx(result.scaled["float_loud.wav"]) and row["gain_db"] < -7.0  # 2.4 -> <= 1
    assert json.loads((tmp_path / "ds" / "dataset.json").read_text())["scaled"] == {"float_loud.wav": row["gain_db"]}
    assert result.warnings and "float_loud.wav" in result.warnings[0] and "scaled" in result.warnings[0]


def test_import_warns_on_the_command_line_naming_the_scaled_file(corpus, tmp_path):
    folder, _ = corpus
    src = tmp_path / "src"
    src.mkdir()
    for name in ("float_loud.wav", "good_step.wav"):
        (src / name).write_bytes((folder / name).read_bytes())
    result = runner.invoke(app, ["data", "import", str(src), "--out", str(tmp_path / "ds"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "warning: float_loud.wav: scaled by -" in result.output


def test_a_30ms_clip_is_scored_not_crashed(corpus, tmp_path):
    """benchbox generate --seconds 0.03 writes such clips; the mel embedder crashed on them."""
    from tests.score_helpers import make_dataset

    folder, _ = corpus
    clips = tmp_path / "clips"
    clips.mkdir()
    for i in range(3):
        (clips / f"short_{i}.wav").write_bytes((folder / "short_30ms.wav").read_bytes())
    (clips / "one_sample.wav").write_bytes(b"")
    sf.write(clips / "one_sample.wav", np.array([0.25], dtype=np.float32), 16_000, subtype="PCM_16")
    data = make_dataset(tmp_path / "data", np.random.default_rng(0))
    args = ["score", str(clips), "--reference", str(data), "--out", str(tmp_path / "scored"), "--embedder", "mel", "--bootstrap", "10", "--json",
            "--set", f"cache_dir={tmp_path / 'cache'}"]  # --out: never results/ in the cwd
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    groups = json.loads(result.stdout)["groups"]
    assert groups[0]["n"] == 4 and groups[0]["fad/mel"] > 0
