"""Generic sampling settings (temperature, top-p, sampling steps): a generator declares the ones it
honours; the grid sweeps those, records the rest as n/a, and keys each cell by its settings."""

from __future__ import annotations

import inspect
import math
import shutil
import tomllib

import pandas as pd
import pytest
import torch

from benchbox.errors import ConfigError, GeneratorError
from benchbox.generate import Cell, GenerateConfig, generate_run, plan_cells
from benchbox.generators import registry
from benchbox.generators.base import SAMPLING_SETTINGS
from tests.generators.test_generator_contract import _model
from tests.train_helpers import corpus, tiny_run

SECONDS = 0.016  # 256 samples
NAMES = registry.names()


@pytest.mark.parametrize("name", NAMES)
def test_every_declared_setting_is_generic_and_a_parameter_of_generate(name):
    cls = registry.get(name)
    assert cls.sampling_settings <= set(SAMPLING_SETTINGS), f"{name} declares unknown settings"
    params = inspect.signature(cls.generate).parameters
    assert all(s in params for s in cls.sampling_settings), f"{name}.generate lacks a setting it declares"


@pytest.mark.parametrize("name", [n for n in NAMES if "sampling_steps" in registry.get(n).sampling_settings])
def test_sampling_steps_is_honoured_and_checked(name):
    model = _model(name)
    draw = lambda steps: model.generate(2, 96, rng=torch.Generator().manual_seed(0), batch=2, sampling_steps=steps)  # noqa: E731
    assert torch.equal(draw(0), draw(model.config.sampling_steps))  # 0 = the model's own count
    assert not torch.equal(draw(0), draw(1))  # another count, another sampler
    with pytest.raises(GeneratorError, match="sampling_steps"):
        draw(model.config.steps + 1)  # never clamped silently


def _cfg(**kw) -> GenerateConfig:
    return GenerateConfig(**{"checkpoints": ("best",), "prime_ms": (0, 10), **kw})


def test_plan_sweeps_honoured_settings_and_collapses_the_rest_to_na():
    cfg = _cfg(top_p=(1.0, 0.95), sampling_steps=(25, 50))
    token = plan_cells(cfg, {"best": frozenset({"prime"})}, {"best": frozenset({"temperature", "top_p"})})
    assert [c.folder for c in token[0]] == ["best/prime0", "best/prime0_topp0.95", "best/prime10", "best/prime10_topp0.95"]
    assert any("sampling_steps = 25, 50 does not apply" in n for n in token[1])
    steps = plan_cells(cfg, {"best": frozenset({"prime"})}, {"best": frozenset({"sampling_steps"})})
    assert [c.folder for c in steps[0]][:2] == ["best/prime0_steps25", "best/prime0_steps50"]
    assert dict(steps[0][0].settings) == {"sampling_steps": 25.0} and any("top_p" in n for n in steps[1])
    bare = plan_cells(cfg, {"best": frozenset()}, {"best": frozenset()})  # no prime, no settings: one cell
    assert [c.folder for c in bare[0]] == ["best/prime0"] and any("prime10" in n for n in bare[1])
    assert Cell("last", 0, (("temperature", 1.0), ("top_p", 1.0))).folder == "last/prime0"  # neutral values keep the old path


@pytest.fixture(scope="module")
def ar_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("settings")
    tiny_run(root / "run", corpus(root / "ds", n=12), "wavenet", 1)
    generate_run(root / "run", checkpoints="last", prime_ms="0", n=2, batch=2, seconds=SECONDS, device="cpu")
    return root / "run"


def test_a_top_p_axis_adds_cells_keeps_the_default_cell_and_records_na(ar_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(ar_run, copy)
    default = copy / "samples" / "last" / "prime0" / "clip_0000.wav"
    before = default.read_bytes()
    generate_run(copy, checkpoints="last", prime_ms="0", n=2, batch=2, seconds=SECONDS, device="cpu", top_p="1.0,0.5", sampling_steps="25")
    frame = pd.read_csv(copy / "samples" / "manifest.csv", keep_default_na=False)
    assert default.read_bytes() == before  # same seed, same default cell, same bytes
    assert sorted(frame["top_p"].astype(float).unique()) == [0.5, 1.0] and len(frame) == 4
    assert (frame["sampling_steps"] == "").all()  # the token sampler has no such setting: n/a, not 25
    assert {p.rsplit("/", 2)[1] for p in frame["path"]} == {"prime0", "prime0_topp0.5"}
    assert all((copy / p).is_file() for p in frame["path"])
    info = tomllib.loads((copy / "samples" / "generate_config.toml").read_text())
    assert any("sampling_steps = 25 does not apply" in n for n in info["not_applicable"])
    assert info["invocations"]["1"]["cells"] == ["last/prime0", "last/prime0_topp0.5"]
    with pytest.raises(ConfigError, match="--sampling-steps"):
        generate_run(copy, checkpoints="last", prime_ms="0", n=2, seconds=SECONDS, device="cpu", sampling_steps="2.5")


def test_an_old_manifest_without_sampling_steps_keeps_its_other_cells(ar_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(ar_run, copy)
    manifest = copy / "samples" / "manifest.csv"
    pd.read_csv(manifest, keep_default_na=False).drop(columns="sampling_steps").to_csv(manifest, index=False)
    generate_run(copy, checkpoints="last", prime_ms="0", n=1, batch=1, seconds=SECONDS, device="cpu", top_p="0.5")
    frame = pd.read_csv(manifest, keep_default_na=False)
    assert len(frame) == 3 and set(frame["top_p"].astype(float)) == {1.0, 0.5}


def test_a_diffusion_run_sweeps_sampling_steps_and_reads_na_for_top_p(tmp_path):
    from benchbox.train import train

    sets = ["model.channels=8", "model.skip_channels=8", "model.layers=2", "model.dilation_cycle=2", "train.max_steps=1", "train.eval_every=1",
            "train.batch_size=2", "train.val_batches=1", "train.baselines=false", "data.crop_samples=256"]
    train(generator="diffwave", data=corpus(tmp_path / "ds", n=12), out=tmp_path / "run", preset="diffwave-tiny", overrides=sets, device="cpu")
    frame = pd.read_csv(generate_run(tmp_path / "run", checkpoints="best", prime_ms="0", n=1, batch=1, seconds=SECONDS, device="cpu",
                                     top_p="1.0,0.9", sampling_steps="2,4"), keep_default_na=False)
    assert sorted(frame["sampling_steps"].astype(int)) == [2, 4] and (frame["top_p"] == "").all() and (frame["temperature"] == "").all()
    assert sorted(p.rsplit("/", 2)[1] for p in frame["path"]) == ["prime0_steps2", "prime0_steps4"]
    assert not math.isnan(float(frame["seconds_to_generate"].iloc[0]))


def test_settings_that_do_not_apply_are_printed_and_a_request_of_none_is_refused(ar_run, tmp_path):
    """The n/a notes reached only generate_config.toml: now a warning line and --json's not_applicable;
    a request none of whose cells applies is an error, not 'clips listed' with nothing made."""
    import json

    from typer.testing import CliRunner

    from benchbox.cli.main import app
    from benchbox.generate import plan_cells

    copy = tmp_path / "run"
    shutil.copytree(ar_run, copy)
    r = CliRunner().invoke(app, ["generate", str(copy), "--checkpoint", "last", "--prime-ms", "0", "--n", "2", "--batch", "2", "--seconds", str(SECONDS),
                                 "--sampling-steps", "25", "--device", "cpu", "--overwrite", "--json"])
    assert r.exit_code == 0, r.output
    assert any("sampling_steps = 25 does not apply" in n for n in json.loads(r.stdout)["not_applicable"])
    r = CliRunner().invoke(app, ["generate", str(copy), "--checkpoint", "last", "--prime-ms", "0", "--n", "2", "--batch", "2", "--seconds", str(SECONDS),
                                 "--sampling-steps", "25", "--device", "cpu", "--overwrite"])
    assert r.exit_code == 0 and "warning:" in r.stderr and "does not apply" in r.stderr, r.output
    cells, notes = plan_cells(type("Cfg", (), {"checkpoints": ("last",), "prime_ms": (10,), "temperature": (1.0,), "top_p": (1.0,), "sampling_steps": ()})(), {"last": set()}, {"last": set()})
    assert cells == [] and any("cannot continue a prime" in n for n in notes)


def test_generate_refuses_when_no_cell_applies(ar_run, tmp_path, monkeypatch):
    import benchbox.generate as gen

    copy = tmp_path / "run"
    shutil.copytree(ar_run, copy)
    before = (copy / "samples" / "manifest.csv").read_bytes()
    monkeypatch.setattr(gen, "plan_cells", lambda *a: ([], ["last/prime10: the generator cannot continue a prime: n/a"]))
    with pytest.raises(ConfigError, match="no cell of this request applies"):
        gen.generate_run(copy, checkpoints="last", prime_ms="10", n=2, seconds=SECONDS, device="cpu")
    assert (copy / "samples" / "manifest.csv").read_bytes() == before
