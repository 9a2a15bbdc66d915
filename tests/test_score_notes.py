"""What the numbers do not show, said: groups whose clips are not the reference's length, and
groups that lost files to decoding (benchbox.score_notes), in the score's warnings, scores.json
and on the leaderboard's rows."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from benchbox.audio import write_wav
from benchbox.score import score_run
from benchbox.score_notes import row_notes
from tests.score_helpers import CLIP_SAMPLES, RATE_HZ, import_with_undecodable, make_dataset, make_run, step


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))


def _score(path, **kw):
    return score_run(path, embedders=(), bootstrap=0, **kw)


def _length_warnings(result) -> list[str]:
    return [w for w in result.warnings if "calibrated only at the reference's clip length" in w]


def _info(root) -> dict:
    return json.loads((root / "scores" / "scores.json").read_text())


# ----------------------------------------------------------------- clip length


def test_a_run_whose_unprimed_group_is_half_length_is_named_with_both_lengths(tmp_path, rng):
    data = make_dataset(tmp_path / "data", rng)
    run = make_run(tmp_path / "run", data, rng)
    for clip in sorted((run / "samples" / "best" / "prime0").glob("*.wav")):  # generate --seconds at half the reference's length
        write_wav(clip, step(rng, n=CLIP_SAMPLES // 2), RATE_HZ)
    result = _score(run)
    short, primed = result.groups[result.groups["kind"] == "generated"]["group"].tolist()
    assert short.endswith("/0") and primed.endswith("/100")
    said = _length_warnings(result)
    assert len(said) == 1, result.warnings  # the primed group's whole clips are the reference's length: not named
    assert f"group '{short}'" in said[0] and "4 of 4 clips are 2048 samples (0.128 s) long" in said[0]
    assert "the reference's 4096 (0.256 s at 16000 Hz)" in said[0] and "--seconds 0.256" in said[0]
    info = _info(run)
    assert info["clip_length"] == {"reference_samples": 4096, "reference_rate_hz": 16000,
                                   "groups": {short: {"clips": 4, "off": 4, "min_samples": 2048, "max_samples": 2048}}}
    assert said[0] in info["warnings"]
    assert "_samples" not in pd.read_csv(run / "scores" / "clips.csv").columns  # clips.csv keeps its columns


def test_clips_of_the_reference_length_are_not_named_and_a_primed_continuation_is_not_judged_for_length(tmp_path, rng):
    data = make_dataset(tmp_path / "data", rng)
    run = make_run(tmp_path / "run", data, rng)  # one group primed for 100 ms: its continuation is shorter, its whole clips are not
    result = _score(run)
    assert _length_warnings(result) == [], result.warnings
    assert _info(run)["clip_length"]["groups"] == {} and "undecoded" not in _info(run)


def test_a_folder_scored_in_place_is_judged_by_duration_and_told_to_convert(tmp_path, rng):
    data = make_dataset(tmp_path / "data", rng)
    clips = tmp_path / "mine"
    write_wav(clips / "full" / "a.wav", step(rng), RATE_HZ)
    write_wav(clips / "full" / "b.wav", step(rng, rate_hz=44_100, n=CLIP_SAMPLES * 44_100 // RATE_HZ), 44_100)  # the same 0.256 s at 44.1 kHz
    write_wav(clips / "long" / "a.wav", step(rng, n=2 * CLIP_SAMPLES), RATE_HZ)
    write_wav(clips / "long" / "b.wav", step(rng, n=3 * CLIP_SAMPLES), RATE_HZ)
    said = _length_warnings(_score(clips, reference=data))
    assert len(said) == 1 and said[0].startswith("group 'mine/long': 2 of 2 clips are 8192 to 12288 samples (0.512 s to 0.768 s) long")
    assert "--out DIR" in said[0]


def test_an_import_is_cropped_or_padded_to_the_reference_length_so_no_group_is_named(tmp_path, rng):
    data = make_dataset(tmp_path / "data", rng)
    clips = tmp_path / "mine"
    for i in range(2):
        write_wav(clips / f"s{i}.wav", step(rng, n=CLIP_SAMPLES // 2), RATE_HZ)
    result = _score(clips, reference=data, out=tmp_path / "out")
    assert _length_warnings(result) == [] and any("padded with silence" in w for w in result.warnings)


# ------------------------------------------------------------- undecodable files


@pytest.fixture
def scored_import(tmp_path, rng):
    return import_with_undecodable(tmp_path, rng)


def test_each_group_that_lost_files_to_decoding_is_warned_and_recorded(scored_import):
    result, out, data = scored_import
    assert "group 'mine': 3 of 5 files could not be decoded and are left out (n = 2): see " + str(out / "scores" / "skipped.csv") in result.warnings
    assert "group 'mine/lost': none of its 2 files could be decoded, so it has no row: see " + str(out / "scores" / "skipped.csv") in result.warnings
    skipped = pd.read_csv(out / "scores" / "skipped.csv", keep_default_na=False)
    assert sorted(zip(skipped["group"], skipped["path"])) == [("mine", "liar.wav"), ("mine", "text.wav"), ("mine", "truncated.wav"),
                                                             ("mine/lost", "lost/liar.wav"), ("mine/lost", "lost/truncated.wav")]
    assert _info(out)["undecoded"] == {"mine": {"files": 3, "of": 5}, "mine/lost": {"files": 2, "of": 2}}
    assert result.groups.set_index("group").loc["mine", "n"] == 2  # n keeps its meaning: the clips scored
    rescored = _score(out, reference=data)  # the import's marker keeps the files and their groups
    assert _info(out)["undecoded"] == {"mine": {"files": 3, "of": 5}, "mine/lost": {"files": 2, "of": 2}}
    assert rescored.warnings == result.warnings  # the same warnings, from the marker


def test_scores_written_before_the_records_speak_through_their_skipped_count(tmp_path):
    csv = tmp_path / "scores" / "skipped.csv"
    assert row_notes({"skipped": 0, "warnings": []}, csv) == ({}, [])  # a committed study's scores: nothing to say
    assert row_notes({"skipped": 3}, csv) == ({}, [f"3 file(s) could not be decoded and are not in n: see {csv}"])
    per_row, loose = row_notes({"undecoded": {"": {"files": 1, "of": 1}}, "skipped": 1}, csv)  # an import from before groups were kept
    assert per_row == {} and loose == [f"1 file(s) of no known group could not be decoded and are not in any n: see {csv}"]


def test_generate_warns_exactly_when_score_names_the_group_and_gives_the_same_fix(tmp_path, rng):
    """generate's length warning and score's note were two copies of one test and one formatter
    (each got the exact --seconds separately); generate warned at one sample off, which score lets pass."""
    from benchbox.data.dataset import load_dataset
    from benchbox.generate import length_warnings
    from benchbox.score_notes import SKIPPED_COLUMNS, check_clips

    data = make_dataset(tmp_path / "data", rng)
    ds = load_dataset(data)
    fix = f"--seconds {ds.clip_samples / ds.sample_rate_hz:.10g}"
    for n in range(ds.clip_samples - 3, ds.clip_samples + 4):
        clips = pd.DataFrame({"_samples": [n], "sample_rate_hz": [ds.sample_rate_hz]})
        said = check_clips([("g", clips)], pd.DataFrame(columns=SKIPPED_COLUMNS), data, skipped_csv=tmp_path / "skipped.csv", is_run=True).warnings
        warned = length_warnings(n, ds)
        assert bool(warned) == bool(said), (n, warned, said)
        assert all(fix in w for w in [*warned, *said])
