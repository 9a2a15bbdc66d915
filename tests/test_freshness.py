"""Each reason scores are stale carries its own fix: re-score, regenerate first, restore the
reference, or upgrade; the leaderboard's note and `benchbox score` name that fix, not a bare re-score."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from benchbox.audio import write_wav
from benchbox.cli.main import app
from benchbox.errors import DataError
from benchbox.freshness import REGENERATE, RESCORE, RESTORE_REFERENCE, STALE, UPGRADE, scores_freshness
from benchbox.score import SCORER_VERSION, score_run
from benchbox.scored_runs import load_scored
from tests.score_helpers import RATE_HZ, make_dataset, make_run, step

WEIGHTS = b"the weights the clips came from"


@pytest.fixture
def scored(tmp_path, rng, monkeypatch):
    """``(tmp_path, data, run)``: a run whose clips record the hash of its ckpt/best.pt, scored without embedders."""
    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "data", rng)
    run = make_run(tmp_path / "results" / "run", data, rng)
    (run / "ckpt").mkdir()
    (run / "ckpt" / "best.pt").write_bytes(WEIGHTS)
    manifest = pd.read_csv(run / "samples" / "manifest.csv")
    manifest.assign(checkpoint_sha256=hashlib.sha256(WEIGHTS).hexdigest()).to_csv(run / "samples" / "manifest.csv", index=False)
    score_run(run, embedders=(), bootstrap=0)
    assert scores_freshness(run).state != STALE
    return tmp_path, data, run


def test_a_checkpoint_trained_further_says_regenerate_then_score(scored):
    """`train --resume` rewrote ckpt/best.pt: the leaderboard said re-run `benchbox score`, which scored the old clips again."""
    tmp_path, data, run = scored
    (run / "ckpt" / "best.pt").write_bytes(b"trained further")
    fresh = scores_freshness(run)
    assert (fresh.state, fresh.fix) == (STALE, REGENERATE) and "ckpt/best.pt changed" in fresh.reason
    with pytest.raises(DataError) as e:  # its one run is stale: the board's error names the run's note
        load_scored(tmp_path / "results", tmp_path / "board")
    fix = e.value.message.split("; ", 1)[1]
    assert fix.startswith(f"regenerate its clips from the checkpoints now in {run / 'ckpt'} with the options it was generated with "
                          f"(`benchbox generate {run} --overwrite`)")  # no generate_config.toml here: the bare command
    assert fix.endswith(f"then re-run `benchbox score {run} --reference {data}`")


GENERATED_WITH = """run = "x"
checkpoints = ["best"]
prime_ms = [0]
n = 3
seconds = 0.512
temperature = [1.0]
top_p = [1.0]
batch = 16
seed = 0
device = "auto"
sampling_steps = [0]
randomness = "per-clip"

[invocations.1]
run = "x"
checkpoints = ["best"]
prime_ms = [0, 100]
n = 4
seconds = 0.512
temperature = [1.0]
top_p = [0.9]
batch = 16
seed = 7
device = "auto"
sampling_steps = [0]
randomness = "per-clip"
cells = ["best/prime0", "best/prime100"]
"""


def test_every_run_stale_for_a_new_checkpoint_hints_its_own_generate_options(scored):
    """The hint said `benchbox generate RUN_DIR --overwrite`, which makes generate's default 256 clips, not the run's."""
    tmp_path, data, run = scored
    (run / "samples" / "generate_config.toml").write_text(GENERATED_WITH)
    (run / "ckpt" / "best.pt").write_bytes(b"trained further")
    r = CliRunner().invoke(app, ["leaderboard", str(tmp_path / "results"), "--out", str(tmp_path / "board"), "--embedder", ""])
    assert r.exit_code == 1
    hint = [line for line in r.stderr.splitlines() if line.startswith("hint:")]
    command = (f"benchbox generate {run} --checkpoint best --prime-ms 0,100 --n 4 --seconds 0.512 --temperature 1.0 --top-p 0.9 "
               f"--sampling-steps 0 --batch 16 --seed 7 --device auto --overwrite")  # [invocations.1], not the top level's n = 3
    assert len(hint) == 1 and f"(`{command}`)" in hint[0] and "RUN_DIR" not in hint[0]
    assert hint[0].endswith(f"then re-run `benchbox score {run} --reference {data}`")
    r = CliRunner().invoke(app, ["score", str(run), "--embedder", ""])
    assert f"regenerate the clips (`{command}`), then score again" in " ".join(r.stderr.split())


def test_an_edited_reference_clip_says_restore_or_re_import_not_re_score(scored, rng):
    """`benchbox score` refuses a reference whose clip was edited behind its manifest: re-scoring is no fix."""
    tmp_path, data, run = scored
    write_wav(data / "clips" / "val_000.wav", step(rng), RATE_HZ)
    fresh = scores_freshness(run)
    assert (fresh.state, fresh.fix) == (STALE, RESTORE_REFERENCE)
    with pytest.raises(DataError) as e:
        load_scored(tmp_path / "results", tmp_path / "board")
    assert f"restore the reference clips as {data / 'manifest.csv'} records them, or re-import the dataset" in e.value.message
    assert e.value.hint.startswith("restore the reference dataset's clips (or re-import it)")
    with pytest.raises(DataError, match="reference clip"):  # the bare re-score the hint used to ask for
        score_run(run, embedders=(), bootstrap=0)


def test_scorer_versions_older_re_score_newer_upgrade(scored):
    tmp_path, data, run = scored
    info_path = run / "scores" / "scores.json"
    info = json.loads(info_path.read_text())
    info_path.write_text(json.dumps({**info, "scorer_version": SCORER_VERSION - 1}))
    assert scores_freshness(run).fix == RESCORE
    info_path.write_text(json.dumps({**info, "scorer_version": SCORER_VERSION + 1}))
    assert scores_freshness(run).fix == UPGRADE
    with pytest.raises(DataError) as e:
        load_scored(tmp_path / "results", tmp_path / "board")
    assert "benchbox score" not in e.value.message and e.value.hint.startswith("upgrade benchbox")
