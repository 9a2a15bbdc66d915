"""The leaderboard's cached noise, silence and synth rows follow their clips' content: a clip
overwritten since it was scored is written again from its source, and a cached row whose clips
no longer hash as scored is scored again (benchbox.leaderboard._score_cached)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchbox.audio import write_wav
from benchbox.data.dataset import clip_sha256
from benchbox.leaderboard import _score_cached, build_leaderboard
from benchbox.progress import no_progress
from benchbox.score import score_run
from tests.score_helpers import CLIP_SAMPLES, RATE_HZ, make_dataset, make_run, step


@pytest.fixture
def board(tmp_path, rng, monkeypatch):
    """A board of one detector-only run: (results, reference, board folder)."""
    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "data", rng)
    score_run(make_run(tmp_path / "results" / "run", data, rng), embedders=(), bootstrap=0)
    build_leaderboard(tmp_path / "results", out=tmp_path / "board", embedder="")
    return tmp_path / "results", data, tmp_path / "board"


def _hashes(folder):
    return {p.name: clip_sha256(p) for p in sorted(folder.glob("clip_*.wav"))}


def _row(board, kind):
    table = pd.read_csv(board / "leaderboard.csv", dtype=str, keep_default_na=False)  # text for text
    return table[table["kind"] == kind].iloc[0].to_dict()


def test_overwritten_noise_clips_are_written_again_and_the_row_describes_noise(board):
    results, _, out = board
    noise = next((out / "references").glob("*/noise"))
    before, row = _hashes(noise), _row(out, "noise")
    for path in noise.glob("clip_*.wav"):
        write_wav(path, np.zeros(CLIP_SAMPLES, dtype=np.float32), RATE_HZ)  # silence where the noise was
    build_leaderboard(results, out=out, embedder="")
    assert _hashes(noise) == before  # the noise is back
    assert _row(out, "noise") == row and float(row["silence/flag_rate"]) == 0


def test_a_cached_row_whose_clips_changed_is_scored_again(board):
    _, data, out = board
    silence = next((out / "references").glob("*/silence"))
    cached = _score_cached(silence, data, [], 0, 0, no_progress)
    assert cached["silence/flag_rate"].iloc[0] == 1.0  # every clip silent, and read from the cache
    write_wav(silence / "clip_0000.wav", step(np.random.default_rng(1)), RATE_HZ)  # no longer silent
    groups = _score_cached(silence, data, [], 0, 0, no_progress)
    assert groups["silence/flag_rate"].iloc[0] == pytest.approx(15 / 16)  # scored again, not the cached 16 of 16
    scored = pd.read_csv(silence / "scores" / "clips.csv").set_index("path")["sha256"].to_dict()
    assert scored == _hashes(silence)  # the cache now records the clips it holds
    again = silence / "scores" / "groups.csv"
    stamp = again.stat().st_mtime_ns
    _score_cached(silence, data, [], 0, 0, no_progress)
    assert again.stat().st_mtime_ns == stamp  # unchanged clips: the cache is used


@pytest.mark.parametrize("kind", ["noise", "silence"])
def test_an_extra_file_in_a_cached_row_is_removed_not_scored(board, kind):
    results, _, out = board
    folder = next((out / "references").glob(f"*/{kind}"))
    row = _row(out, kind)
    assert row["n"] == "16"
    write_wav(folder / "stray.wav", step(np.random.default_rng(2)), RATE_HZ)  # left there by hand
    (folder / "more").mkdir()
    write_wav(folder / "more" / "clip_0000.wav", step(np.random.default_rng(3)), RATE_HZ)
    build_leaderboard(results, out=out, embedder="")
    assert _row(out, kind) == row  # 16 clips, the same scores
    assert sorted(p.name for p in folder.iterdir()) == [*sorted(_hashes(folder)), "scores"] and len(_hashes(folder)) == 16
