import csv
from pathlib import Path

from benchbox.data.corpora import BUILTIN_CORPORA, resolve_source


def test_footsteps_dev_ships_with_licences():
    root = BUILTIN_CORPORA["footsteps-dev"]
    manifest = list(csv.DictReader(open(root / "manifest.csv")))
    licences = {r["file"]: r for r in csv.DictReader(open(root / "licences.csv"))}
    assert len(manifest) == 123
    assert set(licences) == {r["file"] for r in manifest}
    for row in manifest:
        assert (root / row["file"]).is_file(), row["file"]
        package = row["debian_package"].split()[0]
        assert (root / f"COPYRIGHT.{package}").is_file()
        assert licences[row["file"]]["licence"] in {"CC-BY-SA-3.0", "GPL-2", "GPL-2+"}
    readme = (root / "README.md").read_text()
    assert "not under benchbox's licence" in readme
    assert all(f"`{r['file']}`" in readme for r in manifest)


def test_resolve_source_prefers_existing_paths(tmp_path, monkeypatch):
    assert resolve_source("footsteps-dev") == BUILTIN_CORPORA["footsteps-dev"]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "footsteps-dev").mkdir()
    assert resolve_source("footsteps-dev") == Path("footsteps-dev")  # a local folder wins
    assert resolve_source("elsewhere") == Path("elsewhere")
