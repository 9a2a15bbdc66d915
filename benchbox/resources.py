"""Where benchbox's data folders live: ``models/``, ``protocols/`` and ``corpora/``.

In a source tree (a clone, an editable install, ``PYTHONPATH=.``) they are the top-level
folders beside the package. A built wheel or a non-editable ``pip install .`` carries copies
of them inside the package as ``benchbox/_data/<kind>/`` (setup.py copies them at build time),
so an installed benchbox finds its presets, protocols and shipped corpora from any folder.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_ROOT = PACKAGE_DIR.parent
PACKAGED_DATA = PACKAGE_DIR / "_data"
DATA_KINDS = ("models", "protocols", "corpora")


def source_tree() -> Path | None:
    """The repository root when benchbox runs from a source tree (pyproject.toml beside the package), else None."""
    return SOURCE_ROOT if (SOURCE_ROOT / "pyproject.toml").is_file() and (SOURCE_ROOT / "models").is_dir() else None


def data_dir(kind: str) -> Path:
    """The folder holding ``kind`` (one of :data:`DATA_KINDS`): the source tree's, else the packaged copy."""
    if kind not in DATA_KINDS:
        raise ValueError(f"unknown data folder '{kind}' (use one of {', '.join(DATA_KINDS)})")
    root = source_tree()
    return root / kind if root is not None else PACKAGED_DATA / kind
