"""Built-in corpora shipped in the repository's ``corpora/`` folder (packaged into the wheel too).

``benchbox data import footsteps-dev --out data/dev`` and a protocol's
``data.source = "footsteps-dev"`` both resolve the name here. A path that exists always
wins over a built-in name, so a local folder called ``footsteps-dev`` is still a folder.

* ``footsteps-dev``: 123 real footstep recordings (ogg/wav, 22.05-48 kHz, mono and
  stereo) from the Debian packages 0ad-data, minetest-data and ufoai-sound. Their
  licences (CC-BY-SA-3.0, GPL-2, GPL-2+) are listed per file in
  ``corpora/footsteps-dev/licences.csv``; the data is not under benchbox's licence.
* ``footsteps-neg-dev``: 622 real **non-footstep** sound effects (impacts, weapons, voices,
  creatures, UI, tools, mechanisms, water, fire, ambience) from the same three packages,
  the negatives of the category model (:mod:`benchbox.metrics.category`); files over 3 s
  are cut to their first 3 s. Per-file licence and category in
  ``corpora/footsteps-neg-dev/manifest.csv``; built by ``benchmarks/build_negative_corpus.py``.
"""

from __future__ import annotations

from pathlib import Path

from benchbox.resources import data_dir

CORPORA_DIR = data_dir("corpora")
BUILTIN_CORPORA = {"footsteps-dev": CORPORA_DIR / "footsteps-dev", "footsteps-neg-dev": CORPORA_DIR / "footsteps-neg-dev"}


def resolve_source(src: str | Path) -> Path:
    """A built-in corpus name -> its folder; anything else -> ``Path(src)`` unchanged."""
    path = Path(src)
    if not path.exists() and str(src) in BUILTIN_CORPORA:
        return BUILTIN_CORPORA[str(src)]
    return path


def builtin_names() -> list[str]:
    return sorted(BUILTIN_CORPORA)
