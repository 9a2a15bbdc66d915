"""``benchbox``: the one entry point. Sub-commands live in sibling modules."""

from __future__ import annotations

from typing import Annotated

import typer
from typer.core import TyperGroup

import benchbox
from benchbox.cli.common import fail
from benchbox.errors import BenchboxError


class BenchboxGroup(TyperGroup):
    """Root group that converts library errors into one ``error:``/``hint:`` line, exit 1."""

    def invoke(self, ctx):  # noqa: D401 - click signature
        try:
            return super().invoke(ctx)
        except BenchboxError as e:
            fail(e)


app = typer.Typer(
    cls=BenchboxGroup,
    name="benchbox",
    help="Benchmark toolkit for neural sound-effect generators (SaShiMi, WaveNet) on footstep sounds.",
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

app.add_typer(_data.app, name="data")
app.add_typer(_bench.app, name="bench")
app.command("train")(_train.train_cmd)
app.command("generate")(_generate.generate_cmd)
app.add_typer(_tag.app, name="tag")
app.command("score")(_score.score_cmd)
app.command("leaderboard")(_leaderboard.leaderboard_cmd)
app.command("run")(_run.run)


def main() -> None:
    app()
