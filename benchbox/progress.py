"""The progress callback that long library functions accept.

A callback is called as ``progress(task, done, total, **info)``: ``task`` names the bar
("train", "embed aisfx", ...), ``done``/``total`` count units, and ``info`` carries
short status values (loss, samples/s). The library never renders anything; the CLI
passes a Rich renderer (``benchbox.cli.common.rich_progress``) and tests pass nothing.
"""

from __future__ import annotations

from typing import Any, Protocol


class Progress(Protocol):
    def __call__(self, task: str, done: int, total: int | None, **info: Any) -> None: ...


def no_progress(task: str, done: int, total: int | None, **info: Any) -> None:
    """The default callback: do nothing."""
