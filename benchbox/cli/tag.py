"""``benchbox tag``: blinded listening review of generated clips, tag export and tag stats.

``benchbox tag DIR --rater NAME`` is short for ``benchbox tag review DIR --rater NAME``.
"""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel

from benchbox.cli.common import (
    printable,
    HonestHelpCommand, HonestHelpGroup, JsonOpt, QuietOpt, Terminated, console, err_console, examples, id_table, interrupted, print_json,
    print_table, rich_progress, warn,
)  # fmt: skip

DEFAULT_COMMAND = "review"
SERVER_POLL_SECONDS = 0.5
LOOPBACK_HOST = "127.0.0.1"  # the server's default too (benchbox.review.server.LOOPBACK_HOST)


class _DefaultToReview(HonestHelpGroup):
    """A group whose first argument, when it is not a sub-command, goes to ``review``."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultToReview,
    help="Blinded listening review: `tag DIR --rater NAME`, then `tag stats DIR` and `tag export DIR`.",
    epilog=examples("benchbox tag results/runs/s1 --rater alice", "benchbox tag stats results/runs/s1", "benchbox tag export results/runs/s1 --format json"),
    no_args_is_help=True,
)

DirArg = Annotated[Path, typer.Argument(help="A run folder (with samples/manifest.csv) or any folder of audio clips.")]


@app.command(DEFAULT_COMMAND, cls=HonestHelpCommand, epilog=examples(
    "benchbox tag results/runs/s1 --rater alice",
    "benchbox tag results/runs/s1 --rater bob --include-real 8 --no-browser",
    "benchbox tag results/runs/s1 --rater alice --terminal",
))
def review(
    target: DirArg,
    rater: Annotated[str, typer.Option("--rater", help="Your name; tags, order and resume position are kept per rater.")],
    port: Annotated[int, typer.Option("--port", help="Port to serve on; 0 picks a free one.")] = 0,
    host: Annotated[str, typer.Option("--host", help="Address to bind. Anything but loopback exposes the page to the network.")] = LOOPBACK_HOST,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Print the URL but do not open a browser.")] = False,
    include_real: Annotated[int, typer.Option("--include-real", help="Mix in this many real clips (the test split of the run's dataset, or of the reference a scored folder's scores record; or --real).")] = 0,
    real: Annotated[Path | None, typer.Option("--real", help="Folder (or benchbox dataset) to draw the real clips from.")] = None,
    terminal: Annotated[bool, typer.Option("--terminal", help="Review in this terminal (Rich UI, system audio player) instead of a browser.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the rater's clip order and the real-clip choice.")] = 0,
    quiet: QuietOpt = False,
) -> None:
    """Review clips one at a time: Space plays, 1 useful, 2 not useful, S skip, Backspace back."""
    from benchbox.review.session import open_session

    with rich_progress(not quiet) as progress:
        session = open_session(target, rater=rater, include_real=include_real, real_dir=real, seed=seed, progress=progress)
    for source, reason in session.review_set.skipped:  # left out, as `benchbox score` skips them
        warn(f"skipped {source}: {reason}")
    for note in session.review_set.notes:
        warn(note)
    if terminal:
        try:
            _review_in_terminal(session)
        except KeyboardInterrupt as e:
            interrupted(e, f"every decision is saved in {session.store.path}", "reopen the review with the same command to resume")
    else:
        _review_in_browser(session, host=host, port=port, open_browser=not no_browser)
    _print_summary(session)


def _review_in_browser(session, *, host: str, port: int, open_browser: bool) -> None:
    from benchbox.review.server import is_loopback, serve

    if not is_loopback(host):
        err_console.print(f"[bold yellow]warning:[/] serving on {host}: anyone who can reach it and knows the URL can tag as {printable(session.rater)}", highlight=False)
    server = serve(session, host=host, port=port)
    typer.echo(f"review {session.total} clips as {session.rater}: {server.url}")
    err_console.print("Ctrl-C stops the server; every decision is saved the moment it is made.", highlight=False)
    if open_browser:
        webbrowser.open(server.url)
    try:
        while server.thread is not None and server.thread.is_alive():
            server.thread.join(SERVER_POLL_SECONDS)
    except KeyboardInterrupt as e:  # Ctrl-C is the way to stop the server; SIGTERM is an interrupt
        if isinstance(e, Terminated):  # the server stops in `finally` below
            interrupted(e, f"every decision is saved in {session.store.path}", "reopen the review with the same command to resume")
    finally:
        server.stop()
    if server.errors:
        err_console.print(f"[bold yellow]warning:[/] {len(server.errors)} request(s) failed; first: {printable(server.errors[0])}", highlight=False)


def _review_in_terminal(session) -> None:
    from benchbox.review.terminal import SystemPlayer, TerminalReview, read_key

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
    from benchbox.review.store import REASONS
    from benchbox.review.terminal import REASON_KEYS

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


def _print_summary(session) -> None:
    s = session.summary()
    console.print(
        f"{s['rater']}: {s['tagged']}/{s['total']} tagged (useful {s['useful']}, not useful {s['not_useful']}, "
        f"skipped {s['skip']}) in {s['db']}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("export", cls=HonestHelpCommand, epilog=examples("benchbox tag export results/runs/s1", "benchbox tag export results/runs/s1 --format json --history --json"))
def export(
    target: DirArg,
    fmt: Annotated[str, typer.Option("--format", help="Output format: csv or json.")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output file (default: DIR/tags.csv or DIR/tags.json; with --history DIR/tags_history.csv or .json). An existing file needs --overwrite; the tag store and the run's own files are refused.")] = None,
    history: Annotated[bool, typer.Option("--history", help="Export every version of every tag, not only the current ones.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Let --out replace an existing file (never tags.sqlite or the run's own files).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write the tags (with clip hash, path, realness and group columns) as CSV or JSON."""
    from benchbox.review.store import export_tags

    path = export_tags(target, fmt, out, history=history, overwrite=overwrite)
    if as_json:
        print_json("tag export", path, export_format=fmt, history=history)
        return
    typer.echo(str(path))


@app.command("stats", cls=HonestHelpCommand, epilog=examples("benchbox tag stats results/runs/s1", "benchbox tag stats results/runs/s1 --json"))
def stats(target: DirArg, as_json: JsonOpt = False) -> None:
    """Useful rate per group with Wilson 95% CIs, rater kappa, agreement with useful/auto, real-clip accuracy."""
    from benchbox.review.stats import review_stats

    summary = review_stats(target)
    if as_json:
        print_json("tag stats", target, **summary)
        return
    t = summary["tags"]
    console.print(f"{t['total']} tags by {len(summary['raters'])} rater(s): useful {t['useful']}, "
                  f"not useful {t['not_useful']}, skipped {t['skip']} ({t['real']} on real clips)", highlight=False, markup=False)
    if t["stale"]:
        console.print(f"set aside {t['stale']} stale tag(s): their clips changed or are gone since they were tagged "
                      "(kept in tags.sqlite, not counted)", highlight=False, markup=False)
    print_table(_groups_table(summary["groups"]))
    agreement = summary["agreement"]
    if agreement["method"]:
        console.print(f"rater agreement ({agreement['method']}'s kappa, {agreement['n_clips']} clips): {_num(agreement['kappa'])}", highlight=False, markup=False)
    else:
        console.print("rater agreement: needs two or more raters", highlight=False)
    _print_auto(summary["auto"])
    for row in summary["real"]:
        console.print(f"real clips, {row['rater']}: {row['called_useful']}/{row['n_real']} called useful "
                      f"({_num(row['rate'])}, 95% CI {_num(row['lo'])}-{_num(row['hi'])})", highlight=False, markup=False)


SAMPLING_KEYS = ("temperature", "top_p", "sampling_steps")  # shown when some group has a value: they tell groups apart


def _cell(value) -> str:
    """A group column as text: blank when missing, whole numbers without '.0' (a prime of 40 ms, not 40.0)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _groups_table(groups: list[dict]):
    keys = ("generator", "quantisation", "dropout", "checkpoint", "prime_ms")
    keys += tuple(k for k in SAMPLING_KEYS if any(_cell(g.get(k)) for g in groups))
    columns = [*keys, "useful/human_rate", "95% CI", "n_human"]
    rows = [[*(_cell(g.get(c)) for c in keys), _num(g["useful/human_rate"]), f"{_num(g['useful/human_lo'])}-{_num(g['useful/human_hi'])}", str(g["n_human"])]
            for g in groups]
    title = "useful/human_rate per group (Wilson 95% CI; n_human: decisions, each clip once per group holding it)"
    return id_table(title, columns, rows, ids=[*keys, "95% CI"], right=columns[len(keys):])


def _print_auto(auto: dict) -> None:
    if not auto["available"]:
        console.print(f"agreement with useful/auto: {auto['reason']}", highlight=False, markup=False)
        return
    (a, b), (c, d) = auto["confusion"]
    title = f"human vs useful/auto: kappa {_num(auto['kappa'])}, agreement {_num(auto['observed_agreement'])}, n {auto['n']}"
    rows = [["human useful", str(a), str(b)], ["human not useful", str(c), str(d)]]
    print_table(id_table(title, ["", "auto useful", "auto not useful"], rows, ids=[""]))


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
