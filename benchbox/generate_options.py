"""The value lists of ``benchbox generate`` (``--prime-ms``, ``--temperature``, ``--top-p``,
``--sampling-steps``, ``--checkpoint``): a comma list or a sequence in, a tuple out, each value
once; anything else is a :class:`benchbox.errors.ConfigError` naming the option and an example."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from benchbox.errors import ConfigError

CHECKPOINT_SUFFIX = ".pt"  # RUN_DIR/ckpt/<name>.pt


def _items(values: str | Sequence[Any], option: str, example: str) -> list:
    """The items of a comma list (``"0,10"``) or a sequence; ConfigError on an empty item (``"10,,20"``)."""
    if not isinstance(values, str):
        try:
            return list(values)  # a list, tuple, range, set or array
        except TypeError:
            return [values]  # one number
    items = [v.strip() for v in values.split(",")]
    if values.strip() and not all(items):
        raise ConfigError(f"{option} {values!r} has an empty item", hint=f"separate values with single commas, e.g. {option} {example}")
    return [v for v in items if v]


def _once(out: list, option: str, example: str) -> tuple:
    """``out`` as a tuple; ConfigError naming any value given twice (``--prime-ms 0,0``: one cell, asked for twice)."""
    twice = sorted({f"{v:g}" for v in out if out.count(v) > 1})
    if twice:
        raise ConfigError(f"{option} lists {', '.join(twice)} more than once", hint=f"give each value once, e.g. {option} {example}")
    return tuple(out)


def parse_prime_ms(values: str | Sequence[Any]) -> tuple[int, ...]:
    """``"0,10,20"`` or ``[0, 10]`` -> (0, 10, 20): whole, non-negative milliseconds, each once."""
    items = _items(values, "--prime-ms", "0,10,20,40")
    out = []
    for item in items:
        try:
            value = float(item)
        except (TypeError, ValueError):
            raise ConfigError(f"--prime-ms value {item!r} is not a number", hint="write whole milliseconds, e.g. --prime-ms 0,10,20,40") from None
        if not math.isfinite(value) or value < 0 or not value.is_integer():
            raise ConfigError(f"--prime-ms value {item!r} is not a whole number of milliseconds >= 0", hint="e.g. --prime-ms 0,10,20,40")
        out.append(int(value))
    if not out:
        raise ConfigError("--prime-ms is empty", hint="e.g. --prime-ms 0,10,20,40")
    return _once(out, "--prime-ms", "0,10,20,40")


def parse_values(values: str | float | Sequence[Any], option: str, *, whole: bool = False) -> tuple:
    """``"1.0,0.95"``, ``0.9`` or ``[25, 50]`` -> a tuple of numbers (whole numbers with ``whole``), each once."""
    example = "25,50" if whole else "1.0,0.95"
    items = _items(values, option, example)
    out = []
    for item in items:
        try:
            value = float(item)
        except (TypeError, ValueError):
            raise ConfigError(f"{option} value {item!r} is not a number", hint=f"e.g. {option} 1.0,0.95") from None
        if whole and not (math.isfinite(value) and value >= 0 and value.is_integer()):
            raise ConfigError(f"{option} value {item!r} is not a whole number >= 0", hint=f"e.g. {option} 25,50 (0 = the model's own)")
        out.append(int(value) if whole else value)
    if not out:
        raise ConfigError(f"{option} is empty", hint=f"give at least one value, e.g. {option} {'0' if whole else '1.0'}")
    return _once(out, option, example)


def parse_names(values: str | Sequence[str]) -> tuple[str, ...]:
    """``"best,last"`` -> ("best", "last"); names of files in RUN_DIR/ckpt/ without ``.pt`` (a name
    given as the file, ``last.pt``, is the same checkpoint: it once looked for ``last.pt.pt``)."""
    items = [v.strip() for v in values.split(",")] if isinstance(values, str) else [str(v).strip() for v in values]
    items = [v.removesuffix(CHECKPOINT_SUFFIX).strip() for v in items]
    if not items or any(not v or "/" in v or "\\" in v or v.startswith(".") for v in items):
        raise ConfigError(f"bad --checkpoint list {values!r}", hint="name checkpoints in RUN_DIR/ckpt/, e.g. --checkpoint best,last")
    return tuple(dict.fromkeys(items))
