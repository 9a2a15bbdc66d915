"""Name -> Generator class through the ``benchbox.generators`` entry-point group, and model presets.

Every generator, built-in or not, registers the same way: an entry point ``name = "module:Class"``
in the group ``benchbox.generators`` of some installed distribution. benchbox's own are in its
pyproject.toml::

    [project.entry-points."benchbox.generators"]
    sashimi = "benchbox.generators.sashimi:Sashimi"

A plugin package does the same in its own pyproject.toml (docs/plugins.md shows a complete one).
When benchbox runs from a source tree (a clone on ``PYTHONPATH``, or an editable install whose
metadata predates a new entry), benchbox's own entries are read from that tree's pyproject.toml,
so the source tree is always the truth for the built-ins. The registry is a lookup, not a list.
The names alone come from :mod:`benchbox.generators.entry_points`, which imports no torch.

A preset is a TOML file, by name from ``models/`` (see :mod:`benchbox.resources`) or by path::

    generator = "sashimi"        # a registered name
    [train]                      # optional: training defaults it was sized for (--set train.* wins)
    patience = 4
    [model]                      # fields of that generator's config dataclass
    d_model = 64
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from benchbox.config import from_dict, load_toml, merge, to_dict
from benchbox.errors import ConfigError, GeneratorError
from benchbox.generators.base import Generator
from benchbox.generators.entry_points import BENCHBOX_DISTRIBUTION, ENTRY_POINT_GROUP, Provider, names, providers  # noqa: F401 (re-exported)
from benchbox.resources import data_dir

_CLASSES: dict[Provider, type[Generator]] = {}


def provider(name: str) -> Provider:
    """The one provider of ``name``; GeneratorError when none or several distributions provide it."""
    found = providers().get(name, [])
    if not found:
        raise GeneratorError(f"unknown generator '{name}'", hint=f"use one of: {', '.join(names())}; a plugin registers under the '{ENTRY_POINT_GROUP}' entry-point group")
    if len(found) > 1:
        who = ", ".join(f"{p.distribution} ({p.target})" for p in found)
        raise GeneratorError(f"generator '{name}' is registered by several packages: {who}", hint="uninstall all but one of them")
    return found[0]


def get(name: str) -> type[Generator]:
    p = provider(name)
    if p not in _CLASSES:
        module, _, attr = p.target.partition(":")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise GeneratorError(f"generator '{name}' from {p.distribution} {p.version} cannot be loaded: {p.target} ({e})",
                                 hint=f"reinstall {p.distribution}, or fix its '{ENTRY_POINT_GROUP}' entry point") from None
        if not (isinstance(cls, type) and issubclass(cls, Generator)):
            raise GeneratorError(f"generator '{name}' ({p.target}) is not a benchbox Generator subclass",
                                 hint=f"its class must subclass benchbox.generators.base.Generator; fix {p.distribution}")
        _CLASSES[p] = cls
    return _CLASSES[p]


def build(name: str, config: dict | Any | None = None) -> Generator:
    """Build generator ``name`` from a config dict (or its config dataclass)."""
    cls = get(name)
    if config is None or isinstance(config, dict):
        config = from_dict(cls.config_class, config or {}, where="model.")
    return cls(config)


def models_dir() -> Path:
    return data_dir("models")


def stored_config(name: str, config: dict) -> dict:
    """A model config read back from a checkpoint or run folder, with each key it predates set
    to the value the model was trained with (the generator's ``legacy_config``)."""
    return {**get(name).legacy_config, **config}


def preset_names() -> list[str]:
    return sorted(p.stem for p in models_dir().glob("*.toml"))


def default_preset(generator: str) -> str:
    """The preset a bare ``benchbox train <generator>`` uses: ``<generator>`` (the closed-form
    baselines) if that preset exists, else ``<generator>-tiny`` if that exists, else the bare
    generator name, which :func:`load_preset` reads as the generator's default config (a plugin
    that ships no preset)."""
    if (models_dir() / f"{generator}.toml").is_file() or not (models_dir() / f"{generator}-tiny.toml").is_file():
        return generator
    return f"{generator}-tiny"


def preset_path(name_or_path: str | Path) -> Path:
    """A preset name (``sashimi-tiny``) -> ``models/sashimi-tiny.toml``; a path stays a path."""
    path = Path(name_or_path)
    return path if path.suffix else models_dir() / f"{name_or_path}.toml"


def preset_train(name_or_path: str | Path) -> dict:
    """The preset's ``[train]`` table: the training defaults it was sized for (an epoch budget,
    early stopping), under any ``--set train.*``; {} for a preset without one or a bare generator
    name. Keys are checked where the run's config is built (``train.<key>``)."""
    path = preset_path(name_or_path)
    return dict(load_toml(path).get("train", {})) if path.is_file() else {}


def load_preset(name_or_path: str | Path, overrides: dict | None = None) -> tuple[str, dict]:
    """Return (generator name, resolved model config dict) of a preset name or TOML path."""
    path = preset_path(name_or_path)
    if not path.is_file() and not Path(name_or_path).suffix and str(name_or_path) in providers():
        cfg = from_dict(get(str(name_or_path)).config_class, overrides or {}, where="model.")  # a generator without a preset: its defaults
        return str(name_or_path), to_dict(cfg)
    if not path.is_file():
        raise ConfigError(f"unknown model preset '{name_or_path}'", hint=f"use one of: {', '.join(preset_names())}, or a path to a .toml file")
    data = load_toml(path)
    unknown = sorted(set(data) - {"generator", "model", "description", "train"})
    if unknown:
        raise ConfigError(f"{path}: unknown key '{unknown[0]}'", hint="a preset holds only 'generator', 'description', a [model] and a [train] table")
    if "generator" not in data:
        raise ConfigError(f"{path}: missing 'generator' key", hint=f"set generator = one of {', '.join(names())}")
    gen = str(data["generator"])
    if gen not in names():
        raise ConfigError(f"{path}: unknown generator '{gen}'", hint=f"set generator = one of {', '.join(names())}, or install the plugin that provides it")
    cfg = from_dict(get(gen).config_class, merge(data.get("model", {}), overrides or {}), where="model.")
    return gen, to_dict(cfg)
