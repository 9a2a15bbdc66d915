"""``benchbox run PROTOCOL``: one command runs a whole benchmark study."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from benchbox.cli.common import JsonOpt, QuietOpt, SetOpt, console, err_console, examples, id_table, interrupted, print_json, print_table, rich_progress

EXAMPLES = examples(
    "benchbox run quickstart",
    "benchbox run footsteps-cpu --data footsteps-dev --dry-run",
    "benchbox run protocols/quickstart.toml --set train.max_steps=50 --out results/try --json",
    "benchbox run footsteps-seed-cpu --rescore   # after a scorer upgrade: re-score the sampled runs, train nothing",
    "benchbox run footsteps-families-cpu --data footsteps-dev --threads 1 &   # two processes share one study:",
    "benchbox run footsteps-families-cpu --data footsteps-dev --threads 1     #   one thread each",
)


def run(
    protocol: Annotated[Path, typer.Argument(help="A protocol TOML path (protocols/quickstart.toml) or a shipped protocol's name (quickstart, footsteps-cpu, ...).")],
    data: Annotated[str | None, typer.Option("--data", help="Dataset: 'synth', a folder of recordings, or a benchbox dataset.")] = None,
    overrides: SetOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Study folder (default results/<protocol name>).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and its cost estimate; run nothing.")] = False,
    rescore: Annotated[bool, typer.Option("--rescore", help="Train and sample nothing: re-score the runs whose clips are current (after a scorer upgrade), skip the rest, rebuild the leaderboard and report.")] = False,
    threads: Annotated[int, typer.Option("--threads", help="CPU threads for this process's training and scoring (torch and BLAS; sampling keeps the protocol's generate.threads); 0 = torch's default, every core. Give each process --threads 1 when several share a study on one machine: at the default they oversubscribe the cores (2 cores, two processes: training ran 5-9x slower).")] = 0,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Run data -> train -> generate -> score -> leaderboard -> report, skipping finished stages."""
    from benchbox.study.protocol import check_source, load_protocol
    from benchbox.threads import scoped_threads

    proto = load_protocol(protocol, overrides or (), data)
    out = out or Path("results") / proto.name
    check_source(proto)  # a missing dataset is an error before any plan or work
    with scoped_threads(threads):  # the dry run's estimate times its steps at this count too
        _run(proto, protocol, data, out, dry_run=dry_run, rescore=rescore, as_json=as_json, quiet=quiet)


def _run(proto, protocol: Path, data: str | None, out: Path, *, dry_run: bool, rescore: bool, as_json: bool, quiet: bool) -> None:
    from benchbox.study.protocol import describe
    from benchbox.study.runner import run_protocol

    if dry_run:
        from benchbox.study.estimate import estimate_protocol
        from benchbox.study.protocol import plan
        from benchbox.study.runner import finished_stages, train_split_size

        done = finished_stages(proto, out)
        skips: list[str] = []
        if rescore:  # the same refusals as the run itself; the runs it leaves alone cost nothing
            from benchbox.study.runner import changed_data, check_rescore, rescore_skips

            check_rescore(proto, out)
            if "data" not in done:
                raise changed_data(out)
            skips = rescore_skips(proto, done)
        left_alone = {s.key for s in plan(proto) if s.run_id in skips}  # --rescore runs none of their stages: no cost, and not "done"
        info = describe(proto) | {"estimate": estimate_protocol(proto, train_split_size(out, proto.data.source), done | left_alone),
                                  "done": sorted(done - left_alone), **({"rescore_skips": skips} if rescore else {})}
        if as_json:
            print_json("run", out, dry_run=True, **info)
        else:
            _print_plan(info, out)
        return
    # the command as typed, also through `python -m benchbox.cli.main run ...` (argv[1] is "run");
    # otherwise (an embedding caller) the protocol with its --data
    typed = sys.argv[0].endswith("benchbox") or sys.argv[1:2] == ["run"]
    fallback = f"benchbox run {protocol}" + (f" --data {shlex.quote(str(data))}" if data else "")
    argv = list(sys.argv[1:])
    if rescore and "--rescore" in argv:  # the report's command is the study's full run
        argv.remove("--rescore")
    command = "benchbox " + " ".join(shlex.quote(a) for a in argv) if typed else fallback
    try:
        with rich_progress(not quiet) as progress:
            outcome = run_protocol(proto, out=out, protocol_path=protocol, command=command, rescore=rescore,
                                  progress=progress, log=lambda s: err_console.print(s, highlight=False))
    except KeyboardInterrupt as e:  # a training stage saved its last.pt; other stages publish whole or not at all
        interrupted(e, f"finished stages are kept in {out} (stages.json)", "run the same command again to resume (finished stages are skipped, training resumes from last.pt)")
    if as_json:
        print_json("run", out, dry_run=False, report=str(outcome.report), ran=list(outcome.ran), unchanged=list(outcome.unchanged),
                   **({"rescore_skips": list(outcome.rescore_skips)} if rescore else {}))
    else:
        if outcome.rescore_skips:
            console.print(f"left alone by --rescore (not trained or sampled with these settings): {', '.join(outcome.rescore_skips)}", markup=False)
        console.print(f"report: {outcome.report}", markup=False)


def _print_plan(info: dict, out: Path) -> None:
    est = info["estimate"]
    done, skips = set(info.get("done", ())), set(info.get("rescore_skips", ()))
    rows = [[key, "skipped (--rescore)" if key.partition("/")[2] in skips else "done" if key in done else f"{est['stages'].get(key, 0.0):.0f}"]
            for key in info["stages"]]
    print_table(id_table(f"plan for {info['name']} -> {out}", ["stage", "estimate (s)"], rows, ids=["stage"], right=["estimate (s)"]))
    console.print(f"dataset {info['dataset']}; {len(info['train_runs'])} training runs; "
                  f"{info['clips_total']} clips; estimated total {est['total_seconds'] / 60:.1f} min on this machine "
                  f"in one process, {est.get('two_process_seconds', est['total_seconds']) / 60:.1f} min if two shared the runs "
                  f"({est['basis']})", markup=False)
