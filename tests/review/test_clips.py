import io
import shutil

import numpy as np
import pytest
import soundfile as sf

from benchbox.audio import load_audio, mono_sha256, write_wav
from benchbox.errors import ReviewError
from benchbox.review.clips import PNG_SIGNATURE, build_review_set, spectrogram_png, wav_bytes
from benchbox.runs import sha256_audio

from .fakes import CLIPS_PER_GENERATOR, GENERATORS, REAL_CLIPS


def test_run_folder_review_set(fake_run):
    rs = build_review_set(fake_run)
    assert rs.kind == "run" and rs.db_path == fake_run.resolve() / "tags.sqlite"
    assert len(rs.clips) == len(GENERATORS) * CLIPS_PER_GENERATOR and rs.n_real == 0
    first = rs.clips[0]
    assert first.groups == {"generator": "sashimi", "quantisation": "mulaw", "dropout": 0.1, "checkpoint": "best", "prime_ms": 0,
                            "temperature": None, "top_p": None, "sampling_steps": None}  # a manifest without the sampling columns: n/a
    assert first.source.startswith("samples/") and first.path.is_file()
    assert first.sha256 == sha256_audio(load_audio(first.path), 16_000)


def test_real_clips_from_the_runs_dataset_are_seeded(fake_run):
    a = build_review_set(fake_run, include_real=2, seed=1)
    b = build_review_set(fake_run, include_real=2, seed=1)
    assert a.n_real == 2 and [c.sha256 for c in a.clips] == [c.sha256 for c in b.clips]
    real = [c for c in a.clips if c.is_real]
    assert all("real_" in c.path.name and all(v is None for v in c.groups.values()) for c in real)
    with pytest.raises(ReviewError, match=f"only {REAL_CLIPS} are available"):
        build_review_set(fake_run, include_real=REAL_CLIPS + 1)


def test_folder_of_wavs_and_explicit_real_folder(tmp_path, fake_run):
    folder = tmp_path / "clips"
    from tests.score_helpers import CLIP_SAMPLES  # as long as the real clips: the review stays blind

    write_wav(folder / "a.wav", np.full(CLIP_SAMPLES, 0.1, dtype=np.float32))
    write_wav(folder / "sub" / "b.wav", np.full(CLIP_SAMPLES, -0.1, dtype=np.float32))
    write_wav(folder / "dup.wav", np.full(CLIP_SAMPLES, 0.1, dtype=np.float32))  # same audio as a.wav: one clip
    rs = build_review_set(folder, include_real=1, real_dir=fake_run / "samples")
    assert rs.kind == "folder" and len(rs.clips) == 3 and rs.n_real == 1
    assert {c.source for c in rs.clips if not c.is_real} == {"a.wav", "sub/b.wav"}
    with pytest.raises(ReviewError, match="not a run folder"):
        build_review_set(folder, include_real=1)


def test_bad_targets(tmp_path, fake_run):
    with pytest.raises(ReviewError, match="review folder not found"):
        build_review_set(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReviewError, match="no audio files"):
        build_review_set(tmp_path / "empty")
    next((fake_run / "samples").rglob("clip_0001.wav")).unlink()
    with pytest.raises(ReviewError, match="clip_0001.wav is missing"):
        build_review_set(fake_run)
    with pytest.raises(ReviewError, match="--include-real must be >= 0"):
        build_review_set(fake_run, include_real=-1)


def test_served_audio_is_plain_wav_and_hash_is_stable(tmp_path):
    wave = np.sin(np.linspace(0, 40, 1600)).astype(np.float32) * 0.5
    path = tmp_path / "named_after_the_generator.wav"
    write_wav(path, wave)
    data = wav_bytes(path)
    assert b"named_after" not in data and data[:4] == b"RIFF"
    decoded, rate = sf.read(io.BytesIO(data), dtype="float32")
    assert rate == 16_000 and np.allclose(decoded, load_audio(path), atol=1e-4)
    pcm, rate = sf.read(path, dtype="float32")  # a direct computation: the 16-bit samples as written, at their rate
    shutil.copy(path, tmp_path / "copy.wav")  # the name is no part of it
    assert mono_sha256(path) == sha256_audio(pcm, rate) == mono_sha256(tmp_path / "copy.wav")
    write_wav(path, wave * 0.5)
    assert mono_sha256(path) != sha256_audio(pcm, rate)  # other audio in the same file: another hash


def test_spectrogram_png(tmp_path):
    path = tmp_path / "a.wav"
    write_wav(path, np.zeros(100, dtype=np.float32))  # shorter than one FFT frame, all silent
    png = spectrogram_png(path)
    assert png.startswith(PNG_SIGNATURE)
    width = int.from_bytes(png[16:20], "big")
    height = int.from_bytes(png[20:24], "big")
    assert (width, height) == (1, 257)


def test_spectrogram_is_on_a_fixed_dbfs_scale(tmp_path):
    """A full-scale sine reaches the brightest colour; the same sine 40 dB down does not (no per-clip normalising)."""
    import zlib

    from benchbox.review.clips import SPEC_RAMP_RGB

    t = np.arange(4096) / 16_000
    brightest = []
    for gain in (1.0, 0.01):
        path = tmp_path / f"s{gain}.wav"
        write_wav(path, (gain * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))
        png = spectrogram_png(path)
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        start = png.index(b"IDAT") + 4
        raw = zlib.decompress(png[start : start + int.from_bytes(png[start - 8 : start - 4], "big")])
        pixels = np.frombuffer(raw, np.uint8).reshape(height, 1 + 3 * width)[:, 1:]
        brightest.append(int(pixels.reshape(-1, 3).sum(axis=1).max()))
    assert brightest[0] >= sum(SPEC_RAMP_RGB[-1]) - 3 and brightest[1] < brightest[0] - 100


def test_a_clip_beyond_full_scale_is_served_as_it_is_not_clipped(tmp_path):
    import io

    import numpy as np
    import soundfile as sf

    from benchbox.review.clips import wav_bytes

    loud = (2.4 * np.sin(np.arange(1600) / 5.0)).astype(np.float32)
    sf.write(tmp_path / "loud.wav", loud, 16_000, subtype="FLOAT")
    served, _ = sf.read(io.BytesIO(wav_bytes(tmp_path / "loud.wav")), dtype="float32")
    assert np.array_equal(served, loud)  # was hard-clipped to +-1
    sf.write(tmp_path / "plain.wav", loud / 3, 16_000, subtype="PCM_16")
    assert sf.info(io.BytesIO(wav_bytes(tmp_path / "plain.wav"))).subtype == "PCM_16"


def test_real_clips_that_a_rater_could_tell_by_length_are_refused(tmp_path, fake_run):
    """Real clips at the dataset's length beside generated clips of another length broke the blinding."""
    short = tmp_path / "short"
    for i in range(3):
        write_wav(short / f"g{i}.wav", np.full(1600, 0.1 * (i + 1), dtype=np.float32))  # 0.1 s
    with pytest.raises(ReviewError, match="tell them apart by length"):
        build_review_set(short, include_real=1, real_dir=fake_run / "samples")
    assert build_review_set(short).n_real == 0  # without real clips there is nothing to tell apart


def _prime_from(run, ids):
    """Record ``ids`` (dataset ids, in clip order) as the prime sources of the run's prime100 clips."""
    import pandas as pd

    manifest = pd.read_csv(run / "samples" / "manifest.csv")
    primed = manifest["prime_ms"] > 0
    manifest["prime_source"] = ""
    manifest.loc[primed, "prime_source"] = [ids[i % len(ids)] for i in range(int(primed.sum()))]
    manifest.to_csv(run / "samples" / "manifest.csv", index=False)


def test_real_clips_are_never_the_primes_of_reviewed_clips(fake_run):
    # r0-r3 are the test split; r0-r2 primed clips under review, so only r3 may be mixed in
    _prime_from(fake_run, ["r0", "r1", "r2"])
    for seed in range(6):
        rs = build_review_set(fake_run, include_real=1, seed=seed)
        assert [c.path.name for c in rs.clips if c.is_real] == ["real_03.wav"] and rs.notes == ()
    rs = build_review_set(fake_run, include_real=3, seed=0)  # too few left: what remains, and a note
    assert [c.path.name for c in rs.clips if c.is_real] == ["real_03.wav"]
    assert len(rs.notes) == 1 and "asked for 3 real clips but mixed in 1" in rs.notes[0]
    # the same dataset given explicitly as --real is excluded the same way
    for seed in range(6):
        rs = build_review_set(fake_run, include_real=1, real_dir=fake_run.parent / "data", seed=seed)
        assert [c.path.name for c in rs.clips if c.is_real] == ["real_03.wav"]
    # and so is a copy of it elsewhere (a backup, the recordings again): matched by their audio, not their path
    import shutil

    copy = fake_run.parent / "copy-of-data"
    shutil.copytree(fake_run.parent / "data", copy)
    for seed in range(6):
        rs = build_review_set(fake_run, include_real=1, real_dir=copy, seed=seed)
        assert [c.path.name for c in rs.clips if c.is_real] == ["real_03.wav"]


def test_no_real_clip_left_after_the_primes_is_an_error(fake_run):
    _prime_from(fake_run, ["r0", "r1", "r2", "r3"])
    with pytest.raises(ReviewError, match="all 4 real clips primed clips under review"):
        build_review_set(fake_run, include_real=1)
    with pytest.raises(ReviewError, match=f"only {REAL_CLIPS} are available"):
        build_review_set(fake_run, include_real=REAL_CLIPS + 1)


def test_a_scored_import_takes_its_real_clips_from_the_reference_its_scores_record(tmp_path):
    """`benchbox score DIR --reference DATA --out OUT` records DATA in OUT/scores/scores.json: `tag OUT
    --include-real` draws from DATA's test split (it answered "not a run folder"), only while DATA's
    manifest hashes as recorded; a folder whose scores record no reference is still refused, naming --real."""
    from benchbox.score import ScoreConfig, score_run
    from tests.score_helpers import make_dataset, step

    rng = np.random.default_rng(5)
    data = make_dataset(tmp_path / "data", rng)
    for i in range(3):
        write_wav(tmp_path / "mine" / f"c{i}.wav", step(rng), 16_000)
    out = tmp_path / "out1"
    score_run(tmp_path / "mine", reference=data, out=out, embedders=(), bootstrap=0, config=ScoreConfig(cache_dir=str(tmp_path / "cache")))
    rs = build_review_set(out, include_real=2, seed=0)
    real = [c for c in rs.clips if c.is_real]
    assert rs.kind == "folder" and len(real) == 2 and all(c.path.parent == (data / "clips").resolve() and c.path.name.startswith("test_") for c in real)
    with (data / "manifest.csv").open("a") as f:
        f.write("\n")  # another dataset under that path now: its hash no longer matches
    with pytest.raises(ReviewError, match="holds another dataset") as e:
        build_review_set(out, include_real=2)
    assert "--real" in e.value.hint
    with pytest.raises(ReviewError, match="not a run folder and its scores record no reference") as e:
        build_review_set(tmp_path / "mine", include_real=1)
    assert "--real" in e.value.hint
