"""Group keys: the one name of a group of clips (a row of ``groups.csv``), formed from its columns.

A run's key is positional, ``generator/quantisation/dropout/checkpoint/prime_ms/temperature/
top_p/sampling_steps`` without trailing empties (``diffwave/mulaw/0/best/0///25``: committed
scores, joins and pages read it so). A folder of clips (:mod:`benchbox.external`) has none of the
code columns and a generator that may hold slashes (``mymodel/temp1.0``); its key names its
other fields, ``mymodel/temp1.0/prime_ms=20``, rather than keeping their empty places.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# The sampling settings close the key (benchbox.generate's cell); at their neutral value (top_p
# 1, temperature 1, sampling_steps 0 = the model's own) or n/a they add nothing, so the groups
# of clips made before they were recorded keep their keys.
SAMPLING_COLUMNS = ("temperature", "top_p", "sampling_steps")
SAMPLING_NEUTRAL = {"temperature": 1.0, "top_p": 1.0, "sampling_steps": 0.0}  # = generators.base.SAMPLING_SETTINGS
GROUP_COLUMNS = ("generator", "quantisation", "dropout", "checkpoint", "prime_ms", *SAMPLING_COLUMNS)
# A run's samples/manifest.csv needs these; the sampling columns may be absent (a manifest from
# before they were recorded: n/a, the neutral value).
RUN_MANIFEST_COLUMNS = ("path", *(c for c in GROUP_COLUMNS if c not in SAMPLING_COLUMNS))
NUMERIC_GROUP_COLUMNS = ("dropout", "prime_ms", *SAMPLING_COLUMNS)
CODE_COLUMNS = ("quantisation", "dropout", "checkpoint")  # a run's manifest fills them; a folder of clips has none


def group_key(values: dict) -> str:
    """``generator/quantisation/dropout/checkpoint/prime_ms/temperature/top_p/sampling_steps``
    without trailing empties; a sampling setting at its neutral value is empty.

    The one formatter of a group key: numeric columns read back as text (``"0.0"`` from a CSV
    read with ``dtype=str``) and as numbers (``0.0``) give the same key, ``0``; 100.0 == "100".
    A group with none of the code columns (a folder of clips, :mod:`benchbox.external`, whose
    generator may hold slashes) names its other fields instead of keeping their empty places:
    ``mymodel/temp1.0/prime_ms=20``, not ``mymodel/temp1.0////20``.
    """
    parts = key_parts(values)
    if not any(v for c, v in zip(GROUP_COLUMNS, parts) if c in CODE_COLUMNS):
        return "/".join([parts[0], *(f"{c}={v}" for c, v in zip(GROUP_COLUMNS[1:], parts[1:]) if v)])
    return "/".join(parts).rstrip("/")


def key_parts(values: dict) -> tuple[str, ...]:
    """The canonical text of each of GROUP_COLUMNS (empty: missing, or a sampling setting at its neutral value)."""
    parts = [_canon(values.get(c), numeric=c in NUMERIC_GROUP_COLUMNS) for c in GROUP_COLUMNS]
    return tuple("" if c in SAMPLING_NEUTRAL and v == _canon(SAMPLING_NEUTRAL[c]) else v for c, v in zip(GROUP_COLUMNS, parts))


def with_group_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every GROUP_COLUMNS column (missing ones empty: tables written before a column existed)."""
    missing = [c for c in GROUP_COLUMNS if c not in frame.columns]
    return pd.concat([frame, pd.DataFrame(np.nan, index=frame.index, columns=missing)], axis=1) if missing else frame


def _canon(value, *, numeric: bool = False) -> str:
    if _missing(value):
        return ""
    if numeric and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value.strip()
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else f"{float(value):g}"
    return str(value)


def _missing(value) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and math.isnan(value))
