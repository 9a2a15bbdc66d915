"""``benchbox``: the one entry point. Sub-commands live in sibling modules.

Command modules import only typer/rich at module level; the library (torch, pandas,
matplotlib) is imported inside each command, so ``benchbox --help`` stays fast.

Exit codes: 0 success (also when the reader of a pipe leaves early: ``benchbox ... | head -1``); 1 a library error (``error:`` + ``hint:`` lines); 2 a command line
that cannot be parsed (missing argument, unknown option; also ``error:`` + ``hint:``);
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
A ``--json`` run that fails with exit 1 or 2 also prints one JSON object on stdout,
``{"format", "command", "error", "hint"}``, so ``| jq`` never reads empty input; one interrupted
(130 / 143) the same, with ``interrupted`` and ``kept`` (:func:`benchbox.cli.common.interrupted`).
"""

from __future__ import annotations

from typing import Annotated

import typer

import benchbox
from benchbox.cli.common import JSON_IN_ARGS, ClickException, HonestHelpCommand, HonestHelpGroup, examples, fail, json_command_of, flush_stdout, interrupted, os_fail, reader_left, sigterm_as_interrupt, stdout_is_devnull, stdout_refused, usage_fail
from benchbox.errors import BenchboxError

GENERIC_KEPT = "every file written so far is complete (each is replaced atomically); multi-file outputs were not published"


class BenchboxGroup(HonestHelpGroup):
    """Root group: library errors become one ``error:``/``hint:`` pair (exit 1); a command line
    that cannot be parsed the same (exit 2); Ctrl-C and SIGTERM one ``interrupted:`` line
    (exit 130 / 143). Commands that can say more precisely what was kept catch the interrupt themselves."""

    def make_context(self, info_name, args, parent=None, **extra):
        args = list(args)
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except ClickException as e:
            usage_fail(e)
        except BrokenPipeError:  # `benchbox --help | head -1`: the reader has what it wanted
            reader_left()
        except OSError as e:  # --help into a full stdout
            os_fail(e)
        ctx.meta[JSON_IN_ARGS] = "--json" in (args[: args.index("--")] if "--" in args else args)  # for a sub-command line that cannot be parsed
        return ctx

    def invoke(self, ctx):  # noqa: D401 - click signature
        with sigterm_as_interrupt():
            try:
                return super().invoke(ctx)
            except BenchboxError as e:
                fail(e, json_command_of(ctx))  # a --json run also prints {"error", "hint"} on stdout
            except ClickException as e:
                usage_fail(e, json_command_of(ctx, e))
            except KeyboardInterrupt as e:
                interrupted(e, GENERIC_KEPT, "run the same command again")
            except BrokenPipeError:  # `benchbox ... | head -1`
                reader_left()
            except OSError as e:  # a full disk or stdout outside the library's writers
                os_fail(e, json_command_of(ctx))


app = typer.Typer(
    cls=BenchboxGroup,
    name="benchbox",
    help="Benchmark toolkit for neural sound-effect generators (SaShiMi, WaveNet) on footstep sounds.",
    epilog=examples("benchbox run quickstart", "benchbox train sashimi --data data/synth", "benchbox score --help"),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"benchbox {benchbox.__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Train, sample, score and review raw-audio generators of footstep sounds."""


# Command registration: one line per command group, added when the group works.
from benchbox.cli import data as _data  # noqa: E402
from benchbox.cli import bench as _bench  # noqa: E402
from benchbox.cli import generate as _generate  # noqa: E402
from benchbox.cli import train as _train  # noqa: E402
from benchbox.cli import tag as _tag  # noqa: E402
from benchbox.cli import score as _score  # noqa: E402
from benchbox.cli import leaderboard as _leaderboard  # noqa: E402
from benchbox.cli import run as _run  # noqa: E402
from benchbox.cli import category as _category  # noqa: E402

app.add_typer(_data.app, name="data")
app.add_typer(_bench.app, name="bench")
app.command("train", cls=_train.TrainCommand, epilog=_train.EXAMPLES)(_train.train_cmd)
app.command("generate", cls=HonestHelpCommand, epilog=_generate.EXAMPLES)(_generate.generate_cmd)
app.add_typer(_tag.app, name="tag")
app.command("score", cls=HonestHelpCommand, epilog=_score.EXAMPLES)(_score.score_cmd)
app.command("leaderboard", cls=HonestHelpCommand, epilog=_leaderboard.EXAMPLES)(_leaderboard.leaderboard_cmd)
app.command("run", cls=HonestHelpCommand, epilog=_run.EXAMPLES)(_run.run)
app.add_typer(_category.app, name="category")


def main() -> None:
    was_devnull = stdout_is_devnull()
    try:
        app()
    except SystemExit as e:
        flush_stdout()
        if e.code == 1 and not was_devnull and stdout_is_devnull() and not stdout_refused():
            # Rich met the closed pipe (`| head -1`): it pointed stdout at /dev/null and exits 1
            raise SystemExit(0) from None
        raise
    finally:
        flush_stdout()


if __name__ == "__main__":
    main()
