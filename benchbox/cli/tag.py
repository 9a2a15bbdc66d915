"""``benchbox tag``: blinded listening review of generated clips, tag export and tag stats.

``benchbox tag DIR --rater NAME`` is short for ``benchbox tag review DIR --rater NAME``.
"""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.table import Table
from typer.core import TyperGroup

from benchbox.cli.common import JsonOpt, QuietOpt, console, err_console, print_json, rich_progress
from benchbox.review.server import LOOPBACK_HOST, is_loopback, serve
from benchbox.review.session import ReviewSession, open_session
from benchbox.review.stats import review_stats
from benchbox.review.store import EXPORT_FORMATS, REASONS, export_tags
from benchbox.review.terminal import REASON_KEYS, SystemPlayer, TerminalReview, read_key

DEFAULT_COMMAND = "review"
SERVER_POLL_SECONDS = 0.5


class _DefaultToReview(TyperGroup):
    """A group whose first argument, when it is not a sub-command, goes to ``review``."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultToReview,
    help="Blinded listening review: `tag DIR --rater NAME`, then `tag stats DIR` and `tag export DIR`.",
    no_args_is_help=True,
)

DirArg = Annotated[Path, typer.Argument(help="A run folder (with samples/manifest.csv) or any folder of audio clips.")]


@app.command(DEFAULT_COMMAND)
def review(
    target: DirArg,
    rater: Annotated[str, typer.Option("--rater", help="Your name; tags, order and resume position are kept per rater.")],
    port: Annotated[int, typer.Option("--port", help="Port to serve on; 0 picks a free one.")] = 0,
    host: Annotated[str, typer.Option("--host", help="Address to bind. Anything but loopback exposes the page to the network.")] = LOOPBACK_HOST,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Print the URL but do not open a browser.")] = False,
    include_real: Annotated[int, typer.Option("--include-real", help="Mix in this many real clips (from the run's test split, or --real).")] = 0,
    real: Annotated[Path | None, typer.Option("--real", help="Folder (or benchbox dataset) to draw the real clips from.")] = None,
    terminal: Annotated[bool, typer.Option("--terminal", help="Review in this terminal (Rich UI, system audio player) instead of a browser.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the rater's clip order and the real-clip choice.")] = 0,
    quiet: QuietOpt = False,
) -> None:
    """Review clips one at a time: Space plays, 1 useful, 2 not useful, S skip, Backspace back."""
    with rich_progress(not quiet) as progress:
        session = open_session(target, rater=rater, include_real=include_real, real_dir=real, seed=seed, progress=progress)
    if terminal:
        _review_in_terminal(session)
    else:
        _review_in_browser(session, host=host, port=port, open_browser=not no_browser)
    _print_summary(session)


def _review_in_browser(session: ReviewSession, *, host: str, port: int, open_browser: bool) -> None:
    if not is_loopback(host):
        err_console.print(f"[bold yellow]warning:[/] serving on {host}: anyone who can reach it and knows the URL can tag as {session.rater}", highlight=False)
    server = serve(session, host=host, port=port)
    typer.echo(f"review {session.total} clips as {session.rater}: {server.url}")
    err_console.print("Ctrl-C stops the server; every decision is saved the moment it is made.", highlight=False)
    if open_browser:
        webbrowser.open(server.url)
    try:
        while server.thread is not None and server.thread.is_alive():
            server.thread.join(SERVER_POLL_SECONDS)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    if server.errors:
        err_console.print(f"[bold yellow]warning:[/] {len(server.errors)} request(s) failed; first: {server.errors[0]}", highlight=False)


def _review_in_terminal(session: ReviewSession) -> None:
    player = SystemPlayer(session)
    ui = TerminalReview(session, player.play)
    try:
        while not ui.quit:
            console.clear()
            console.print(_terminal_panel(ui.view()))
            if ui.press(read_key()) == "note":
                ui.set_note(console.input("[bold]note[/] (Enter to keep): ") or ui.note)
    finally:
        player.close()


def _terminal_panel(view: dict) -> Panel:
    title = f"benchbox review · rater {view['rater']} · {view['tagged']}/{view['total']} tagged"
    if view["done"]:
        body = (f"[bold]All clips reviewed.[/]\n\nuseful {view['useful']} · not useful {view['not_useful']} · skipped {view['skip']}"
                "\n\n[dim]Backspace goes back · q quits[/]")
        return Panel(body, title=title)
    reasons = "  ".join(
        f"[{'reverse' if key in view['reasons'] else 'dim'}] {k} {label} [/]" for k, (key, label) in zip(REASON_KEYS, REASONS.items())
    )
    state = f"tagged [bold]{view['tag'].replace('_', ' ')}[/]" if view["tag"] else "not tagged yet"
    body = (
        f"[bold]Clip {view['position'] + 1}[/] of {view['total']}   {state}\n\n"
        f"reasons: {reasons}\nnote: {view['note'] or '[dim](none, press n)[/]'}\n\n"
        f"[dim]Space play · 1 useful · 2 not useful · s skip · Backspace back · → next · 3-8 reasons · n note · "
        f"a autoplay ({'on' if view['autoplay'] else 'off'}) · q quit[/]\n{view['message']}"
    )
    return Panel(body, title=title)


def _print_summary(session: ReviewSession) -> None:
    s = session.summary()
    console.print(
        f"{s['rater']}: {s['tagged']}/{s['total']} tagged (useful {s['useful']}, not useful {s['not_useful']}, "
        f"skipped {s['skip']}) in {s['db']}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("export")
def export(
    target: DirArg,
    fmt: Annotated[str, typer.Option("--format", help=f"Output format: {' or '.join(EXPORT_FORMATS)}.")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output file (default: DIR/tags.csv or DIR/tags.json).")] = None,
    history: Annotated[bool, typer.Option("--history", help="Export every version of every tag, not only the current ones.")] = False,
) -> None:
    """Write the tags (with clip hash, path, realness and group columns) as CSV or JSON."""
    path = export_tags(target, fmt, out, history=history)
    typer.echo(str(path))


@app.command("stats")
def stats(target: DirArg, as_json: JsonOpt = False) -> None:
    """Useful rate per group with Wilson 95% CIs, rater kappa, agreement with useful/auto, real-clip accuracy."""
    summary = review_stats(target)
    if as_json:
        print_json(summary)
        return
    t = summary["tags"]
    console.print(f"{t['total']} tags by {len(summary['raters'])} rater(s): useful {t['useful']}, "
                  f"not useful {t['not_useful']}, skipped {t['skip']} ({t['real']} on real clips)", highlight=False)
    if t["stale"]:
        console.print(f"set aside {t['stale']} stale tag(s): their clips changed or are gone since they were tagged "
                      "(kept in tags.sqlite, not counted)", highlight=False)
    console.print(_groups_table(summary["groups"]))
    agreement = summary["agreement"]
    if agreement["method"]:
        console.print(f"rater agreement ({agreement['method']}'s kappa, {agreement['n_clips']} clips): {_num(agreement['kappa'])}", highlight=False)
    else:
        console.print("rater agreement: needs two or more raters", highlight=False)
    _print_auto(summary["auto"])
    for row in summary["real"]:
        console.print(f"real clips, {row['rater']}: {row['called_useful']}/{row['n_real']} called useful "
                      f"({_num(row['rate'])}, 95% CI {_num(row['lo'])}-{_num(row['hi'])})", highlight=False)


def _groups_table(groups: list[dict]) -> Table:
    table = Table(title="useful/human_rate per group (Wilson 95% CI)")
    for col in ("generator", "quantisation", "dropout", "checkpoint", "prime_ms", "useful/human_rate", "95% CI", "n_human"):
        table.add_column(col)
    for g in groups:
        ci = f"{_num(g['useful/human_lo'])}-{_num(g['useful/human_hi'])}"
        table.add_row(*(str(g[c]) for c in ("generator", "quantisation", "dropout", "checkpoint", "prime_ms")),
                      _num(g["useful/human_rate"]), ci, str(g["n_human"]))
    return table


def _print_auto(auto: dict) -> None:
    if not auto["available"]:
        console.print(f"agreement with useful/auto: {auto['reason']}", highlight=False)
        return
    (a, b), (c, d) = auto["confusion"]
    table = Table(title=f"human vs useful/auto: kappa {_num(auto['kappa'])}, agreement {_num(auto['observed_agreement'])}, n {auto['n']}")
    table.add_column("")
    table.add_column("auto useful")
    table.add_column("auto not useful")
    table.add_row("human useful", str(a), str(b))
    table.add_row("human not useful", str(c), str(d))
    console.print(table)


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
