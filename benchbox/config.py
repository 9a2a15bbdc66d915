"""Config: frozen dataclasses loaded from TOML, with ``--set key=value`` overrides.

* :func:`from_dict` builds a (nested) dataclass from a mapping, coercing values to the
  field types and rejecting unknown keys with the list of valid ones.
* :func:`parse_overrides` turns ``["train.lr=3e-4", "model.pool=[4,4]"]`` into a nested
  mapping; :func:`merge` lays it over a base mapping.
* :func:`dump_toml` writes the resolved config back out, so every run folder records
  exactly what it ran.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from benchbox.errors import ConfigError

T = TypeVar("T")


def load_toml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}", hint="check the path, or list the presets with --help")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML ({e})", hint="fix the syntax at the position shown") from None


def from_dict(cls: type[T], data: Mapping[str, Any] | None, *, where: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; missing keys take the field defaults."""
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    section = where.rstrip(".")  # "detectors." names the [detectors] table; "" the top level
    unknown = sorted(set(data) - set(fields))
    if unknown:
        key = where + unknown[0]
        message, valid = (f"unknown config key '{key}'", f"valid keys in [{section}]") if where else (f"unknown config key '{key}' at the top level", "valid top-level keys")
        raise ConfigError(message, hint=f"{valid}: {', '.join(sorted(fields))}")
    kwargs = {name: _coerce(data[name], hints[name], where + name) for name in fields if name in data}
    place, table = (f"in [{section}]", f"the [{section}] table") if where else ("at the top level", "the top level")
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"incomplete config {place}: {e}", hint="add the missing keys") from None
    except ValueError as e:  # __post_init__ validation
        raise ConfigError(f"invalid config {place}: {e}", hint=f"fix the value: --set {where}KEY=VALUE, or {table} of the TOML") from None


def from_file(cls: type[T], path: str | Path, data: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> T:
    """:func:`from_dict` of ``data`` (read from the TOML file ``path``) with ``overrides`` (``--set``)
    laid over it; an error that the file alone causes names ``path`` ("p.toml: unknown config key
    'foo' at the top level"), one that only the overrides cause reads as from_dict's."""
    try:
        return from_dict(cls, merge(data, overrides or {}))
    except ConfigError as e:
        try:
            from_dict(cls, data)
        except ConfigError as alone:
            if alone.message == e.message:
                raise ConfigError(f"{path}: {e.message}", hint=e.hint) from None
        raise


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, key)
            except ConfigError as e:
                errors.append(e)
        raise errors[0]
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"config key '{key}' = {value!r} is not allowed", hint=f"use one of: {', '.join(map(str, args))}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"config key '{key}' must be a table", hint=f"write it as [{key}]")
        return from_dict(tp, value, where=key + ".")
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, Sequence):
            raise ConfigError(f"config key '{key}' must be a list, got {value!r}", hint="write it as [a, b, ...]")
        item_tp = args[0] if args else Any
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis or origin is list:
            items = [_coerce(v, item_tp, key) for v in value]
        else:
            if len(value) != len(args):
                raise ConfigError(f"config key '{key}' needs {len(args)} items, got {len(value)}", hint="fix the list length")
            items = [_coerce(v, a, key) for v, a in zip(value, args)]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"config key '{key}' must be a table", hint=f"write it as [{key}]")
        return dict(value)
    return _coerce_scalar(value, tp, key)


def _coerce_scalar(value: Any, tp: Any, key: str) -> Any:
    bad = ConfigError(f"config key '{key}' = {value!r} is not a valid {getattr(tp, '__name__', tp)}", hint="fix the value's type")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise bad
    if tp is int:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                raise bad from None
        raise bad
    if tp is float:
        if isinstance(value, bool):
            raise bad
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad from None
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad
    if tp is Path:
        return Path(value)
    return value


def parse_overrides(items: Sequence[str] | None) -> dict:
    """``["a.b=1", "c=x"]`` -> ``{"a": {"b": 1}, "c": "x"}``; values are parsed as TOML when they can be."""
    out: dict = {}
    for item in items or ():
        if "=" not in item:
            raise ConfigError(f"override '{item}' has no '='", hint="write --set section.key=value")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key or any(not part for part in key.split(".")):
            raise ConfigError(f"override '{item}' has an empty key", hint="write --set section.key=value")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override '{item}' conflicts with another override", hint="set each key once")
        node[leaf] = value
    return out


def merge(base: Mapping, over: Mapping) -> dict:
    """Deep-merge ``over`` onto ``base`` (tables merge, everything else replaces)."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def to_dict(obj: Any) -> Any:
    """Dataclass -> plain dict of TOML-friendly values (tuples become lists, Paths strings)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Mapping):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def dump_toml(data: Mapping) -> str:
    """A small TOML writer for configs: scalars, arrays of scalars and nested tables."""
    lines: list[str] = []
    _dump_table(to_dict(data), [], lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def _dump_table(table: Mapping, path: list[str], lines: list[str]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping) and v is not None}
    tables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    if path and (scalars or not tables):
        lines.append("")
        lines.append("[" + ".".join(_toml_key(p) for p in path) + "]")
    for k, v in scalars.items():
        lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
    for k, v in tables.items():
        _dump_table(v, path + [k], lines)


def _toml_key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else '"' + k.replace('"', '\\"') + '"'


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return "nan"
        if v in (float("inf"), float("-inf")):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):  # a table inside an array (e.g. a protocol's extra runs): an inline table
        return "{" + ", ".join(f"{_toml_key(str(k))} = {_toml_value(x)}" for k, x in v.items() if x is not None) + "}"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{s}"'


def load(cls: type[T], path: str | Path | None = None, overrides: Sequence[str] | None = None, base: Mapping | None = None) -> T:
    """Load ``cls`` from an optional TOML file, then a base mapping, then ``--set`` overrides."""
    data: dict = dict(base or {})
    if path is None:
        return from_dict(cls, merge(data, parse_overrides(overrides)))
    return from_file(cls, path, merge(data, load_toml(path)), parse_overrides(overrides))
