"""The built wheel carries everything the commands need, and works from outside the source tree.

Built offline from a copy of the source tree (``pip wheel --no-deps --no-build-isolation``),
then unpacked into a folder that stands in for site-packages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ("pyproject.toml", "setup.py", "README.md", "benchbox", "models", "protocols", "corpora")
MIN_SETUPTOOLS = 77  # reads pyproject's SPDX `license = "MIT"`


def _setuptools_major() -> int:
    try:
        import setuptools
    except ImportError:
        return 0
    return int(setuptools.__version__.split(".")[0])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if _setuptools_major() < MIN_SETUPTOOLS:
        pytest.skip(f"building the wheel offline needs setuptools>={MIN_SETUPTOOLS} in this venv (the dev extra installs it)")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    for name in SOURCE:
        item = ROOT / name
        if item.is_dir():
            shutil.copytree(item, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_data"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy(item, src / name)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(tmp / "dist"), str(src)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return next((tmp / "dist").glob("benchbox-*.whl"))


def test_wheel_carries_presets_protocols_corpora_and_entry_points(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind in ("models", "protocols"):
        shipped = {f"benchbox/_data/{kind}/{p.name}" for p in (ROOT / kind).glob("*.toml")}
        assert shipped and shipped <= names, sorted(shipped - names)
    for corpus in (p for p in (ROOT / "corpora").iterdir() if p.is_dir()):
        files = {f"benchbox/_data/corpora/{corpus.name}/{f.relative_to(corpus).as_posix()}" for f in corpus.rglob("*") if f.is_file()}
        assert files <= names, sorted(files - names)[:5]
    assert "benchbox/review/index.html" in names or any(n.startswith("benchbox/review/") and n.endswith(".html") for n in names)
    assert "benchbox/metrics/footstep_model.json" in names  # the verdict's category model
    info = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(info).decode()
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["benchbox.generators"]
    assert "[benchbox.generators]" in text and all(f"{k} = {v}" in text for k, v in declared.items())


def test_installed_wheel_finds_its_data_from_another_folder(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = (
        "import json, benchbox; from benchbox import resources; from benchbox.generators import registry; "
        "from benchbox.study.protocol import protocol_path; from benchbox.data.corpora import resolve_source; "
        "print(json.dumps({'file': benchbox.__file__, 'tree': str(resources.source_tree()), 'presets': registry.preset_names(), "
        "'generators': registry.names(), 'provider': registry.provider('sashimi').distribution, "
        "'quickstart': protocol_path('quickstart').is_file(), 'corpus': (resolve_source('footsteps-dev') / 'manifest.csv').is_file()}))"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", probe], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout)
    assert got["file"].startswith(str(site)) and got["tree"] == "None"
    assert "sashimi-tiny" in got["presets"] and {"sashimi", "wavenet", "lpc", "ngram"} <= set(got["generators"])
    assert got["provider"] == "benchbox" and got["quickstart"] and got["corpus"]
    run = [sys.executable, "-m", "benchbox.cli.main", "run", "quickstart", "--dry-run", "--json"]
    done = subprocess.run(run, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    plan = json.loads(done.stdout)
    assert plan["out"] == str(Path("results") / "quickstart") and plan["name"] == "quickstart"
