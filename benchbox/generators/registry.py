"""Name -> Generator class, and model presets from the top-level ``models/`` folder.

A preset is a TOML file::

    generator = "sashimi"        # a registered name
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

# name -> "module:Class". Model files never import this module, so imports flow one way:
# registry -> model files -> base. A new generator adds one line here.
GENERATOR_CLASSES = {
    "lpc": "benchbox.generators.lpc:LPC",
    "ngram": "benchbox.generators.ngram:NGram",
    "sashimi": "benchbox.generators.sashimi:Sashimi",
    "wavenet": "benchbox.generators.wavenet:WaveNet",
}
GENERATORS: dict[str, type[Generator]] = {}
MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


def _ensure_loaded() -> None:
    for name, spec in GENERATOR_CLASSES.items():
        if name not in GENERATORS:
            module, cls = spec.split(":")
            GENERATORS[name] = getattr(importlib.import_module(module), cls)


def names() -> list[str]:
    _ensure_loaded()
    return sorted(GENERATORS)


def get(name: str) -> type[Generator]:
    _ensure_loaded()
    if name not in GENERATORS:
        raise GeneratorError(f"unknown generator '{name}'", hint=f"use one of: {', '.join(sorted(GENERATORS))}")
    return GENERATORS[name]


def build(name: str, config: dict | Any | None = None) -> Generator:
    """Build generator ``name`` from a config dict (or its config dataclass)."""
    cls = get(name)
    if config is None or isinstance(config, dict):
        config = from_dict(cls.config_class, config or {}, where="model.")
    return cls(config)


def preset_names() -> list[str]:
    return sorted(p.stem for p in MODELS_DIR.glob("*.toml"))


def default_preset(generator: str) -> str:
    """The preset a bare ``benchbox train <generator>`` uses: ``<generator>`` (the
    closed-form baselines) if that preset exists, else ``<generator>-tiny``."""
    return generator if (MODELS_DIR / f"{generator}.toml").is_file() else f"{generator}-tiny"


def preset_path(name_or_path: str | Path) -> Path:
    """A preset name (``sashimi-tiny``) -> ``models/sashimi-tiny.toml``; a path stays a path."""
    path = Path(name_or_path)
    return path if path.suffix else MODELS_DIR / f"{name_or_path}.toml"


def load_preset(name_or_path: str | Path, overrides: dict | None = None) -> tuple[str, dict]:
    """Return (generator name, resolved model config dict) of a preset name or TOML path."""
    path = preset_path(name_or_path)
    if not path.is_file():
        raise ConfigError(f"unknown model preset '{name_or_path}'", hint=f"use one of: {', '.join(preset_names())}, or a path to a .toml file")
    data = load_toml(path)
    unknown = sorted(set(data) - {"generator", "model", "description"})
    if unknown:
        raise ConfigError(f"{path}: unknown key '{unknown[0]}'", hint="a preset holds only 'generator', 'description' and a [model] table")
    if "generator" not in data:
        raise ConfigError(f"{path}: missing 'generator' key", hint=f"set generator = one of {', '.join(names())}")
    gen = str(data["generator"])
    if gen not in names():
        raise ConfigError(f"{path}: unknown generator '{gen}'", hint=f"set generator = one of {', '.join(names())}")
    cfg = from_dict(get(gen).config_class, merge(data.get("model", {}), overrides or {}), where="model.")
    return gen, to_dict(cfg)
