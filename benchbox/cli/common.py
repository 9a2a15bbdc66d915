"""Shared CLI pieces: console, error boundary, Rich progress and option aliases."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from benchbox.errors import BenchboxError

try:  # typer >= 0.20 vendors click as typer._click; older typer depends on click itself
    from typer._click import exceptions as _click_exceptions
    from typer._click.exceptions import ClickException, UsageError
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as _click_exceptions
    from click.exceptions import ClickException, UsageError
    from click.globals import get_current_context

# A group called with no sub-command (`benchbox data`): click >= 8.2 raises this after printing the
# group's help, with the help (already printed, so empty) as its message; older click exits 0 instead.
_NO_COMMAND = tuple(getattr(_click_exceptions, name) for name in ("NoArgsIsHelpError",) if hasattr(_click_exceptions, name))

console = Console(soft_wrap=True)  # long lines (paths) are never broken; the terminal wraps them
err_console = Console(stderr=True, soft_wrap=True)
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
    """Print the one ``interrupted:`` line (what was kept; how to resume) and exit 130 or 143.

    A ``--json`` run also prints one JSON object on stdout, as its errors do (:func:`print_json_error`),
    with ``interrupted`` (``"SIGINT"`` or ``"SIGTERM"``) and ``kept`` besides ``error`` and ``hint``."""
    err_console.print(f"interrupted: {kept}; {resume}", highlight=False, soft_wrap=True, markup=False)
    ctx = get_current_context(silent=True)
    command = json_command_of(ctx) if ctx is not None else None
    if command is not None:
        signal_name = "SIGTERM" if isinstance(error, Terminated) else "SIGINT"
        print_json_error(command, f"interrupted ({signal_name})", resume, interrupted=signal_name, kept=kept)
    raise typer.Exit(EXIT_TERMINATED if isinstance(error, Terminated) else EXIT_INTERRUPTED)

JSON_FORMAT = 1  # version of the --json envelope; bump when a key changes meaning
EXIT_USAGE = 2  # a command line click cannot parse (missing argument, unknown option)
PLAIN_PROGRESS_SECONDS = 10.0
UNBOUNDED_COLUMNS = 100_000  # the width a table is measured at before printing it to a pipe  # without a terminal, one progress line per task at most this often


def printable(text: object) -> str:
    """``text`` as the Rich console must be given it: the undecodable bytes of file names (lone
    surrogates) escaped as ``\\xNN``, and Rich markup escaped, so ``Footstep [gravel].wav`` prints
    as itself and ``x[/y]`` is no markup error."""
    from rich.markup import escape

    return escape(str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))


def warn(line: object) -> None:
    """One ``warning:`` line on stderr, in every mode: a ``--json`` run prints them there too (and its
    own ``warnings`` key), so stdout holds the JSON object alone."""
    err_console.print(f"[bold yellow]warning:[/] {printable(line)}", highlight=False, soft_wrap=True)


def os_fail(error: OSError, json_command: str | None = None) -> NoReturn:
    """An OSError that reached the CLI: standard output refused a write (``> /dev/full``) or a
    file did. One ``error:`` line, exit 1; a closed pipe (``| head``) is exit 0, quietly (:func:`reader_left`).
    ``json_command``: as :func:`fail`'s (never for standard output itself)."""
    from benchbox.runs import storage_error

    if error.errno == errno.EPIPE:
        reader_left()
    if error.filename is None:  # standard output: stop Python's exit-time flush from retrying it
        _REFUSED[0] = True
        silence_stdout()
        err_console.print(f"[bold red]error:[/] cannot write to standard output: {printable(error.strerror or error)}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    fail(storage_error(printable(str(error.filename)), error), json_command)


_REFUSED = [False]  # standard output refused a write (a full disk), as opposed to a reader that left


def stdout_refused() -> bool:
    return _REFUSED[0]


def reader_left() -> NoReturn:
    """The reader of standard output closed the pipe (``| head -1``): exit 0 with nothing on
    stderr, as ``cat`` and ``grep`` do, so ``set -o pipefail`` scripts keep working."""
    silence_stdout()
    raise typer.Exit(0)


def stdout_is_devnull() -> bool:
    """Whether file descriptor 1 is /dev/null (Rich points it there when it meets a closed pipe)."""
    try:
        out, null = os.fstat(sys.stdout.fileno()), os.stat(os.devnull)
    except (OSError, ValueError, AttributeError):
        return False
    return (out.st_dev, out.st_ino) == (null.st_dev, null.st_ino)


def silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null, so buffered output that cannot be written is dropped."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def flush_stdout() -> None:
    """Flush standard output before exit; a refused flush (``> /dev/full``) is one ``error:`` line and exit 1."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
    except OSError as e:
        _REFUSED[0] = True
        silence_stdout()
        err_console.print(f"[bold red]error:[/] cannot write to standard output: {printable(e.strerror or e)}", highlight=False, soft_wrap=True)
        raise SystemExit(1) from None


def fail(error: BenchboxError, json_command: str | None = None, **fields: Any) -> None:
    """Print ``error:`` / ``hint:`` lines on stderr and exit 1 (no traceback); for a ``--json``
    run (``json_command``: the command that took ``--json``) also :func:`print_json_error` on
    stdout, with ``fields`` (a command's ``warnings`` so far)."""
    err_console.print(f"[bold red]error:[/] {printable(error.message)}", highlight=False, soft_wrap=True)
    if error.hint:
        err_console.print(f"[bold yellow]hint:[/] {printable(error.hint)}", highlight=False, soft_wrap=True)
    if json_command is not None:
        print_json_error(json_command, error.message, error.hint, **fields)
    raise typer.Exit(1)


def usage_fail(error: ClickException, json_command: str | None = None) -> None:
    """A command line that cannot be parsed: ``error:`` / ``hint:`` on stderr, exit 2 (1 for other click errors);
    ``json_command``: as :func:`fail`'s (set only once ``--json`` itself was parsed)."""
    ctx = getattr(error, "ctx", None)
    where = ctx.command_path if ctx is not None else "benchbox"
    hint = f"see `{where} --help` for the arguments and examples"
    message = _missing_command(error, ctx) or error.format_message()
    err_console.print(f"[bold red]error:[/] {printable(message)}", highlight=False, soft_wrap=True, markup=True)
    err_console.print(f"[bold yellow]hint:[/] {hint}", highlight=False, soft_wrap=True)
    if json_command is not None:
        print_json_error(json_command, message, hint)
    raise typer.Exit(EXIT_USAGE if isinstance(error, UsageError) else error.exit_code)


def _missing_command(error: ClickException, ctx: Any) -> str | None:
    """``missing command (info, import, synth)`` for a group given no sub-command, naming its
    visible sub-commands in their order; None for any other error."""
    group = getattr(ctx, "command", None)
    if not hasattr(group, "list_commands") or not (isinstance(error, _NO_COMMAND) or error.format_message() == "Missing command."):
        return None
    names = [name for name in group.list_commands(ctx) if not getattr(group.get_command(ctx, name), "hidden", False)]
    return f"missing command ({', '.join(names)})"


def print_json_error(command: str, message: str, hint: str | None, **fields: Any) -> None:
    """``{"format", "command", "error", "hint", **fields}`` on stdout: a ``--json`` run that fails (or
    is interrupted) still gives its reader (``| jq``) one JSON object; ``hint`` is null when there is
    none. A stdout that refuses it is left alone: the ``error:`` line on stderr has been printed."""
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.write(json.dumps({"format": JSON_FORMAT, "command": command, "error": message, "hint": hint, **fields}, indent=2) + "\n")
        sys.stdout.flush()


JSON_REQUESTED = "benchbox.json_command"  # ctx.meta key (shared by every context of one invocation): set when --json was given


def command_name(ctx: Any) -> str:
    """``"data info"`` for the context of ``benchbox data info``, as :func:`print_json` names it (the
    root's own name is left out: it depends on how benchbox was started, ``python -m ...``)."""
    names = []
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name)
        ctx = ctx.parent
    return " ".join(reversed(names))


def _remember_json(ctx: typer.Context, value: bool) -> bool:
    """--json's callback: record the command that took it, so the error boundary can answer in JSON."""
    if value:
        ctx.meta[JSON_REQUESTED] = command_name(ctx)
    return value


def json_command_of(ctx: Any, error: ClickException | None = None) -> str | None:
    """The command a failed run took ``--json`` for, or None: from --json's callback, or, for a
    command line that failed before its options were read (``--json --bogus``), from the raw
    arguments (:data:`JSON_IN_ARGS`) and the context of the ``error``."""
    if JSON_REQUESTED in ctx.meta:
        return ctx.meta[JSON_REQUESTED]
    if error is not None and ctx.meta.get(JSON_IN_ARGS):
        return command_name(getattr(error, "ctx", None))
    return None


JSON_IN_ARGS = "benchbox.json_in_args"  # ctx.meta key: "--json" is among the raw arguments (before any "--")


def json_envelope(command: str, out: str | Path | None, **fields: Any) -> dict:
    """``{"format", "command", "out", ...}``: the one shape every ``--json`` output has.

    ``out`` is the main file or folder the command wrote (or read, for ``data info`` and
    ``tag stats``); None when it wrote nothing.
    """
    return {"format": JSON_FORMAT, "command": command, "out": None if out is None else str(out), **fields}


def print_json(command: str, out: str | Path | None, **fields: Any) -> None:
    """Print :func:`json_envelope` on stdout, nothing else on stdout."""
    sys.stdout.write(json.dumps(json_envelope(command, out, **fields), indent=2, default=str) + "\n")
    sys.stdout.flush()


def stdout_is_terminal() -> bool:
    return console.is_terminal


def id_table(title: str, columns: Iterable[str], rows: list[list[str]], *, ids: Iterable[str], right: Iterable[str] = ()) -> Table:
    """A Rich table whose identifier columns never wrap or truncate; the other columns fold.

    Without a terminal the table takes the width it needs (no 80-column limit).
    """
    ids, right, columns = set(ids), set(right), list(columns)
    table = Table(title=title)
    for i, col in enumerate(columns):
        if col in ids:
            width = max([len(col), *(len(r[i]) for r in rows)])
            table.add_column(col, no_wrap=True, min_width=width, overflow="ignore")
        else:
            table.add_column(col, justify="right" if col in right else "left", overflow="fold")
    for r in rows:
        table.add_row(*r)
    return table


def print_table(table: Table) -> None:
    """Print a table; on a pipe or file, at the width it needs instead of 80 columns."""
    if stdout_is_terminal():
        console.print(table)
    else:
        # measured without the 80-column default a pipe gets (measure() clamps to the console's width)
        wanted = console.measure(table, options=console.options.update_width(UNBOUNDED_COLUMNS)).maximum
        Console(file=sys.stdout, width=max(console.width, wanted), soft_wrap=True).print(table)


class _HonestFlags:
    """Help that shows no value placeholder for flags (``--quiet``, not ``--quiet <bool>``)."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for p in params:
            if getattr(p, "is_flag", False):
                p.metavar = ""
        return params


class HonestHelpCommand(_HonestFlags, TyperCommand):
    """A command with honest flag placeholders."""


class HonestHelpGroup(_HonestFlags, TyperGroup):
    """A command group with honest flag placeholders."""


@contextlib.contextmanager
def rich_progress(enabled: bool = True) -> Iterator[Any]:
    """Yield a progress callback that renders one Rich bar per task name.

    When stderr is not a terminal (CI, nohup, ``2> log``), Rich draws nothing until the end,
    so plain lines are printed instead: a task's first update, then at most one line every
    ``PLAIN_PROGRESS_SECONDS``, and its last.
    """
    if not enabled:
        yield lambda task, done, total, **info: None
        return
    if not err_console.is_terminal:
        yield plain_progress(lambda line: print(line, file=sys.stderr, flush=True))
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


def plain_progress(write, interval_s: float = PLAIN_PROGRESS_SECONDS, clock=time.monotonic):
    """A progress callback that writes ``task done/total key=value ...`` lines through ``write``."""
    last: dict[str, float] = {}

    def callback(task: str, done: int, total: int | None, **info: Any) -> None:
        now, finished = clock(), total is not None and done >= total
        if task in last and not finished and now - last[task] < interval_s:
            return
        last[task] = now
        text = "  ".join(f"{k}={_fmt(v)}" for k, v in info.items())
        write(f"{task} {done}/{total if total is not None else '?'}" + (f"  {text}" if text else ""))

    return callback


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


# Options shared between commands, defined once.
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", metavar="KEY=VALUE", help="Override a config value: --set section.key=value (repeatable)."),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same output.")]
JsonOpt = Annotated[bool, typer.Option("--json", callback=_remember_json, help="Print machine-readable JSON on stdout (on failure: an error object).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output folder.")]


def examples(*commands: str) -> str:
    """The ``Examples:`` block under a command's help, one command line each."""
    return "[bold]Examples[/bold]\n\n" + "\n\n".join(f"  $ {c}" for c in commands)
