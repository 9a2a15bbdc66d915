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


def test_footsteps_neg_dev_ships_its_manifest_licences_and_no_footsteps():
    root = BUILTIN_CORPORA["footsteps-neg-dev"]
    manifest = list(csv.DictReader(open(root / "manifest.csv")))
    assert len(manifest) >= 300
    packages = {r["debian_package"].split()[0] for r in manifest}
    assert packages == {"0ad-data", "minetest-data", "ufoai-sound"}  # the packages of footsteps-dev, no other
    for row in manifest:
        assert (root / row["file"]).is_file(), row["file"]
        assert (root / f"COPYRIGHT.{row['debian_package'].split()[0]}").is_file()
        assert row["licence"] and row["category"] and row["category"] != "other"
        assert not any(w in row["package_path"].lower() for w in ("footstep", "step", "walk", "stair"))
    assert {"impact", "voice", "ui", "weapon"} <= {r["category"] for r in manifest}
    assert "not under benchbox's licence" in (root / "README.md").read_text()
    assert resolve_source("footsteps-neg-dev") == root
