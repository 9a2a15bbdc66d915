"""Shared CLI pieces: console, error boundary, Rich progress and option aliases."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from benchbox.errors import BenchboxError

console = Console()
err_console = Console(stderr=True)
EXIT_INTERRUPTED = 130  # 128 + SIGINT: the shell's code for Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM: how CI and job schedulers stop a job


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so every ``except KeyboardInterrupt`` cleanup runs
    (train saves ``last.pt``); the command then exits 143 instead of 130."""


def _raise_terminated(signum, frame) -> NoReturn:
    raise Terminated()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM is handled like Ctrl-C (as :class:`Terminated`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupted(error: KeyboardInterrupt, kept: str, resume: str) -> NoReturn:
    """Print the one ``interrupted:`` line (what was kept; how to resume) and exit 130 or 143."""
    err_console.print(f"interrupted: {kept}; {resume}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_TERMINATED if isinstance(error, Terminated) else EXIT_INTERRUPTED)


def fail(error: BenchboxError) -> None:
    """Print ``error:`` / ``hint:`` lines on stderr and exit 1 (no traceback)."""
    err_console.print(f"[bold red]error:[/] {error.message}", highlight=False, soft_wrap=True)
    if error.hint:
        err_console.print(f"[bold yellow]hint:[/] {error.hint}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def print_json(obj: Any) -> None:
    """Machine-readable output on stdout, nothing else on that line."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def rich_progress(enabled: bool = True) -> Iterator[Any]:
    """Yield a progress callback that renders one Rich bar per task name."""
    if not enabled:
        yield lambda task, done, total, **info: None
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=False) as bar:
        tasks: dict[str, Any] = {}

        def callback(task: str, done: int, total: int | None, **info: Any) -> None:
            text = "  ".join(f"{k}={_fmt(v)}" for k, v in info.items())
            if task not in tasks:
                tasks[task] = bar.add_task(task, total=total, info=text)
            bar.update(tasks[task], completed=done, total=total, info=text)

        yield callback


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


# Options shared between commands, defined once.
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config value: --set section.key=value (repeatable)."),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same output.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output folder.")]
