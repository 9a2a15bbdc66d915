"""How a group is named on a page: its key (:func:`benchbox.score.group_key`) without the axes
its generator does not have.

``quantisation`` and ``dropout`` are axes of the generators that model the run's codes (those
with the ``likelihood`` capability: the autoregressive models and the ngram/lpc baselines).
A generator without it (diffusion, GAN) learns from the waves, so the quantisation only names
the run, and it runs its preset's own model (a study's ``dropout = -1``: no override), so the
manifest's dropout is the preset's or a default, not a level of the study's axis. Its label
leaves both out (``specdiff/best/0///50``, not ``specdiff/mulaw/0.1/best/0///50``); the
``quantisation`` and ``dropout`` columns of the CSV keep the values. The key itself (joins,
players) is unchanged; only pages use the label. Rows whose generator is not a registered one
(a folder of external clips, the reference rows) keep their key.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from benchbox.score import GROUP_COLUMNS, group_key

CODE_AXES = ("quantisation", "dropout")  # axes only a generator that models codes has


@lru_cache(maxsize=None)
def _models_codes(generator: str) -> bool | None:
    """Whether ``generator`` models the run's codes (``likelihood``); None when it is not registered."""
    from benchbox.errors import BenchboxError
    from benchbox.generators.registry import get

    try:
        return "likelihood" in get(generator).capabilities
    except BenchboxError:
        return None


def group_label(row: Mapping) -> str:
    """The row's ``group`` for display, without the axes its generator lacks (see the module doc)."""
    group = "" if row.get("group") is None else str(row.get("group"))
    generator = row.get("generator")
    if not isinstance(generator, str) or not generator or _models_codes(generator) is not False:
        return group
    values = {c: row.get(c) for c in GROUP_COLUMNS}
    if group_key(values) != group:  # a key formed some other way: shown as it is
        return group
    parts = (group.split("/") + [""] * len(GROUP_COLUMNS))[: len(GROUP_COLUMNS)]
    return "/".join(p for c, p in zip(GROUP_COLUMNS, parts) if c not in CODE_AXES).rstrip("/")
