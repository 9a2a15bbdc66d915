"""The names registered under the ``benchbox.generators`` entry-point group, and who provides each.

Reading them imports no generator (and no torch), so a command's help can list them at once;
:mod:`benchbox.generators.registry` loads the classes behind them.
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from importlib import metadata

import benchbox
from benchbox.resources import source_tree

ENTRY_POINT_GROUP = "benchbox.generators"
BENCHBOX_DISTRIBUTION = "benchbox"


@dataclass(frozen=True)
class Provider:
    """Where a generator name comes from: ``target`` ("module:Class") in ``distribution`` ``version``."""

    name: str
    target: str
    distribution: str
    version: str

    def record(self) -> dict[str, str]:
        """What a checkpoint stores about its generator's origin."""
        return {"distribution": self.distribution, "version": self.version, "target": self.target}


_CACHE: dict[tuple, dict[str, list[Provider]]] = {}


def _source_entries() -> list[Provider] | None:
    """benchbox's own entries from the source tree's pyproject.toml, or None outside a source tree."""
    root = source_tree()
    if root is None:
        return None
    with open(root / "pyproject.toml", "rb") as f:
        table = tomllib.load(f).get("project", {}).get("entry-points", {}).get(ENTRY_POINT_GROUP, {})
    return [Provider(name, target, BENCHBOX_DISTRIBUTION, benchbox.__version__) for name, target in table.items()]


def _installed_entries(skip_benchbox: bool) -> list[Provider]:
    out = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.metadata["Name"] if ep.dist is not None else "unknown"
        if skip_benchbox and dist is not None and dist.lower() == BENCHBOX_DISTRIBUTION:
            continue
        out.append(Provider(ep.name, ep.value, dist or "unknown", ep.dist.version if ep.dist is not None else "unknown"))
    return out


def providers() -> dict[str, list[Provider]]:
    """Every registered name -> its providers (more than one is a conflict, reported on use)."""
    key = tuple(sys.path)  # a distribution added to sys.path (a test's throwaway plugin) is seen at once
    if key not in _CACHE:
        source = _source_entries()
        found: dict[str, list[Provider]] = {}
        for p in (source or []) + _installed_entries(skip_benchbox=source is not None):
            if p not in found.setdefault(p.name, []):
                found[p.name].append(p)
        _CACHE.clear()
        _CACHE[key] = found
    return _CACHE[key]


def names() -> list[str]:
    return sorted(providers())
