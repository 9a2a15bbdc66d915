"""benchbox.partial_cells: an interrupted generate keeps its finished cells for the same request."""

import shutil
import tomllib

import pandas as pd
import pytest

from benchbox.generate import generate_run
from benchbox.partial_cells import PartialCells, partial_key
from tests.test_sample import GRID, _tree, run  # noqa: F401  (run: the module's tiny trained run)

COLUMNS = ["path", "clip_id"]


def test_a_cell_is_taken_only_whole_and_only_under_its_key(tmp_path):
    stage, key = tmp_path / "stage", partial_key(seed=1)
    (stage / "best" / "prime0").mkdir(parents=True)
    rows = []
    for i in range(3):
        (stage / "best" / "prime0" / f"clip_{i:04d}.wav").write_bytes(b"wav%d" % i)
        rows.append({"path": f"samples/best/prime0/clip_{i:04d}.wav", "clip_id": f"r/{i}"})
    PartialCells(tmp_path, key, "samples", COLUMNS).add(stage, "best/prime0", rows)
    again = tmp_path / "again"
    got = PartialCells(tmp_path, key, "samples", COLUMNS).take(again, "best/prime0", 3)
    assert [r["clip_id"] for r in got] == ["r/0", "r/1", "r/2"] and (again / "best" / "prime0" / "clip_0002.wav").read_bytes() == b"wav2"
    assert PartialCells(tmp_path, key, "samples", COLUMNS).take(again, "best/prime0", 4) is None  # n = 4 asked: unfinished
    assert PartialCells(tmp_path, key, "samples", COLUMNS).take(again, "best/prime1", 3) is None  # another cell
    (tmp_path / ".samples-partial" / "best" / "prime0" / "clip_0001.wav").unlink()
    assert PartialCells(tmp_path, key, "samples", COLUMNS).take(again, "best/prime0", 3) is None  # a clip gone
    assert partial_key(seed=1) != partial_key(seed=2)
    PartialCells(tmp_path, partial_key(seed=2), "samples", COLUMNS)  # another key discards the folder
    assert not (tmp_path / ".samples-partial").exists()


def test_a_killed_generate_resumes_from_its_finished_cells(run, tmp_path):
    """A study killed after 15 of DiffWave's 16 cells (1.7 h on 2 cores) used to start again from the first.
    The finished cells are kept in .samples-partial and taken by the next call of the same request; the
    published clips and manifest equal an uninterrupted run's, and the folder is gone afterwards."""
    fresh, copy = tmp_path / "fresh" / "run", tmp_path / "run"  # one run name: clip_id holds it
    shutil.copytree(run, fresh)
    shutil.copytree(run, copy)
    request = {**GRID, "seed": 5, "overwrite": True}
    generate_run(fresh, **request)

    def killed(task, done, total, **info):
        if done >= 4:  # the first cell (3 clips) finished, the second's first batch written
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_run(copy, **request, progress=killed)
    kept = copy / ".samples-partial"
    assert sorted(p.relative_to(kept).as_posix() for p in kept.rglob("*.wav")) == [f"best/prime0/clip_{i:04d}.wav" for i in range(3)]
    seen = []
    generate_run(copy, **request, progress=lambda task, done, total, **info: seen.append((done, info.get("resumed"))))
    assert seen[0] == (3, "kept from an interrupted generate") and all(r is None for _, r in seen[1:])  # one cell taken, the rest made
    assert seen[-1][0] == 3 * 3 * 2  # 3 clips x 3 primes x 2 checkpoints
    assert not kept.exists()
    clips = lambda folder: {k: v for k, v in _tree(folder / "samples").items() if k.endswith(".wav")}
    assert clips(copy) == clips(fresh)
    cols = ["path", "clip_id", "checkpoint_sha256", "prime_source", "seed", "logprob_sum"]
    a, b = (pd.read_csv(f / "samples" / "manifest.csv")[cols] for f in (copy, fresh))
    pd.testing.assert_frame_equal(a, b, rtol=1e-6)
    assert tomllib.loads((copy / "samples" / "generate_config.toml").read_text())["resumed"] == ["best/prime0"]


def _killed_after_one_cell(run, copy):
    """A copy of ``run`` whose generate (seed 5) was interrupted after its first cell (3 clips) finished."""
    shutil.copytree(run, copy)

    def killed(task, done, total, **info):
        if done >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_run(copy, **{**GRID, "seed": 5, "overwrite": True}, progress=killed)
    return copy


def _resumed(copy, seed):
    """Generate the grid again at ``seed``; the progress calls' ``resumed`` values."""
    seen = []
    generate_run(copy, **{**GRID, "seed": seed, "overwrite": True}, progress=lambda task, done, total, **info: seen.append(info.get("resumed")))
    return seen


def test_kept_cells_of_another_request_are_never_reused(run, tmp_path):
    """Another seed (or checkpoint, length, prime source, code) is another key: the folder is discarded."""
    copy = _killed_after_one_cell(run, tmp_path / "run")
    assert (copy / ".samples-partial" / "best" / "prime0").is_dir()
    seen = _resumed(copy, seed=6)
    assert seen and all(r is None for r in seen) and not (copy / ".samples-partial").exists()


def test_a_copied_run_folder_makes_its_cells_again_under_its_own_name(run, tmp_path):
    """Kept rows carry the run's name (run, clip_id): a copy of an interrupted run is another key."""
    alpha = _killed_after_one_cell(run, tmp_path / "alpha")
    beta = tmp_path / "beta"
    shutil.copytree(alpha, beta)
    seen = _resumed(beta, seed=5)
    rows = pd.read_csv(beta / "samples" / "manifest.csv")
    assert all(r is None for r in seen) and set(rows["run"]) == {"beta"} and rows["clip_id"].str.startswith("beta/").all()


def test_two_generates_of_one_run_cannot_write_at_once(run, tmp_path):
    import fcntl
    import os

    from benchbox.errors import ConfigError

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    before = _tree(copy / "samples")
    fd = os.open(copy, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another process's generate, as far as the lock can tell
        with pytest.raises(ConfigError, match="another process .* is writing"):
            generate_run(copy, **{**GRID, "seed": 7, "overwrite": True})
    finally:
        os.close(fd)
    assert _tree(copy / "samples") == before and not (copy / ".samples-partial").exists()
    generate_run(copy, **{**GRID, "seed": 7, "overwrite": True})  # the lock released: it runs


def test_the_code_digest_covers_every_package_file_but_caches_and_dot_files(tmp_path):
    """The native sampler's C sources change clips as much as Python does; an editor's dangling
    lock link (.#x.py) or a cache must not break or move the key."""
    from benchbox.partial_cells import _package_digest

    pkg = tmp_path / "pkg"
    (pkg / "native").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "native" / "step.c").write_text("int f(void) { return 1; }\n")
    before = _package_digest(pkg)
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    (pkg / ".#a.py").symlink_to("user@host.1:2")  # dangling
    assert _package_digest(pkg) == before
    (pkg / "native" / "step.c").write_text("int f(void) { return 2; }\n")
    assert _package_digest(pkg) != before


def test_changed_prime_audio_under_the_same_clip_ids_is_another_key(run, tmp_path):
    """A re-imported dataset keeps its test ids; kept primed cells must not outlive its audio."""
    from benchbox.generate import _partial_key, _plan, plan_cells
    from benchbox.generate import GenerateConfig

    cfg = GenerateConfig(("best",), (10,), 3, 0.032, (1.0,), (1.0,), 2, 5, "cpu", (0,))
    plan = _plan(run, cfg)
    cells, _ = plan_cells(cfg, {k: m.capabilities for k, (m, _) in plan.models.items()}, {k: m.sampling_settings for k, (m, _) in plan.models.items()})
    key = _partial_key(plan, cells)
    plan.test_waves.mul_(-1)  # the same ids, other audio
    assert _partial_key(plan, cells) != key


def test_a_plugin_generators_module_is_part_of_the_code_digest(tmp_path, monkeypatch):
    """A generator defined outside benchbox (an entry-point plugin) changes clips when its module changes."""
    import importlib
    import sys

    from benchbox.partial_cells import code_digest

    (tmp_path / "my_plugin_gen.py").write_text("class Gen:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("my_plugin_gen")
    before = code_digest(module.Gen())
    assert code_digest() != before  # the plugin's module is in the digest
    (tmp_path / "my_plugin_gen.py").write_text("class Gen:\n    x = 2\n")
    assert code_digest(module.Gen()) != before
    sys.modules.pop("my_plugin_gen", None)
