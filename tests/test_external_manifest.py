"""benchbox-clips.csv from a hostile or careless user: paths that leave the folder, clips whose
converted names collide, primes that leave nothing to score; all refused before anything is written."""

from __future__ import annotations

import hashlib

import pytest
import soundfile as sf

from benchbox.errors import DataError
from benchbox.external import MANIFEST_NAME
from benchbox.score import score_run
from tests.score_helpers import CLIP_SAMPLES, RATE_HZ, make_dataset, step


def _clip(path, rng, n=CLIP_SAMPLES, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, step(rng, RATE_HZ, n), RATE_HZ, **({"format": fmt} if fmt else {}))
    return path


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def data(tmp_path, rng):
    return make_dataset(tmp_path / "data", rng)


def _score(theirs, data, out):
    return score_run(theirs, reference=data, embedders=(), bootstrap=0, out=out)


@pytest.mark.parametrize("kind", ["absolute", "dotdot"])
def test_a_manifest_path_outside_the_folder_is_refused_and_nothing_is_written(tmp_path, rng, data, kind):
    victim = _clip(tmp_path / "victim.wav", rng)  # the user's own original, outside the folder
    before = _sha(victim)
    theirs = tmp_path / "theirs"
    _clip(theirs / "a.wav", rng)
    path = str(victim) if kind == "absolute" else "../victim.wav"
    (theirs / MANIFEST_NAME).write_text(f"path\na.wav\n{path}\n")
    with pytest.raises(DataError, match=f"{MANIFEST_NAME}, line 3: path '.*' (is absolute|leaves the folder)"):
        _score(theirs, data, tmp_path / "out")
    assert _sha(victim) == before and not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "theirs", "victim.wav"]
