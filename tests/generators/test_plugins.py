"""Generator plugins: a throwaway distribution on sys.path registers through the
``benchbox.generators`` entry-point group and trains and generates through the CLI."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from benchbox.cli.main import app
from benchbox.errors import GeneratorError
from benchbox.generators import registry
from tests.train_helpers import FAST, corpus

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "plugin-example"
GEN = ["--n", "2", "--batch", "2", "--seconds", "0.016", "--prime-ms", "0,5", "--device", "cpu", "--checkpoint", "last"]


def install_plugin(site: Path, *, name: str = "footplug", version: str = "0.1.0", entry: str = "bigram = footplug:Bigram") -> Path:
    """A minimal installed distribution: the module plus ``*.dist-info`` with METADATA and entry_points.txt."""
    site.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE / "footplug.py", site / "footplug.py")
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[benchbox.generators]\n{entry}\n")
    return site


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    site = install_plugin(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("footplug", None)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return corpus(tmp_path_factory.mktemp("plugin-corpus") / "ds", n=12)


def _train(out: Path, data: Path, *extra: str):
    sets = [a for s in [*FAST, "train.max_steps=2", "train.eval_every=2"] for a in ("--set", s)]
    return runner.invoke(app, ["train", "bigram", "--data", str(data), "--out", str(out), "--device", "cpu", *extra, *sets])


def test_builtins_register_through_the_entry_point_group():
    for name in ("lpc", "ngram", "sashimi", "wavenet"):
        p = registry.provider(name)
        assert p.distribution == "benchbox" and p.target.startswith("benchbox.generators.")
    assert "bigram" not in registry.names()


def test_plugin_trains_and_generates_through_the_cli(tmp_path, plugin, data):
    assert "bigram" in registry.names() and registry.provider("bigram").distribution == "footplug"
    out = tmp_path / "run"
    r = _train(out, data, "--preset", str(EXAMPLE / "bigram.toml"))  # a preset given as a path
    assert r.exit_code == 0, r.output
    ckpt = torch.load(out / "ckpt" / "last.pt", weights_only=True)
    assert ckpt["generator"] == "bigram" and ckpt["generator_config"]["init_scale"] == 0.02
    assert ckpt["provider"] == {"distribution": "footplug", "version": "0.1.0", "target": "footplug:Bigram"}
    r = runner.invoke(app, ["generate", str(out), *GEN])
    assert r.exit_code == 0, r.output
    assert len(list((out / "samples" / "last").rglob("*.wav"))) == 4


def test_plugin_without_a_preset_trains_with_its_defaults(tmp_path, plugin, data):
    r = _train(tmp_path / "run", data)
    assert r.exit_code == 0, r.output
    assert 'preset = "bigram"' in (tmp_path / "run" / "config.toml").read_text()


def test_checkpoint_of_a_missing_plugin_names_the_package(tmp_path, plugin, data):
    out = tmp_path / "run"
    assert _train(out, data).exit_code == 0
    sys.path.remove(str(plugin))
    r = runner.invoke(app, ["generate", str(out), *GEN])
    assert r.exit_code == 1, r.output
    assert "error:" in r.output and "plugin package 'footplug' 0.1.0" in r.output
    assert "pip install 'footplug==0.1.0'" in r.output and "Traceback" not in r.output


def test_broken_plugin_is_one_error(tmp_path, monkeypatch):
    site = install_plugin(tmp_path / "site", entry="bigram = footplug:NoSuchClass")
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(GeneratorError, match="footplug 0.1.0 cannot be loaded"):
        registry.get("bigram")
    r = runner.invoke(app, ["train", "bigram", "--data", str(tmp_path), "--out", str(tmp_path / "run")])
    assert r.exit_code == 1 and "error: generator 'bigram' from footplug 0.1.0 cannot be loaded" in r.output
    sys.modules.pop("footplug", None)


def test_two_packages_claiming_one_name_is_an_error(tmp_path, monkeypatch):
    site = install_plugin(tmp_path / "site", entry="sashimi = footplug:Bigram")
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(GeneratorError, match="registered by several packages: benchbox"):
        registry.get("sashimi")
