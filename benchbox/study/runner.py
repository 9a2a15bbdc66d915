"""Run a protocol: every stage of the plan in order, skipping those whose inputs are unchanged.

Several ``benchbox run`` processes may share one study folder (one per core: the same command
started twice). Each run (train, generate, score) belongs to the process that claims it first
(an exclusive ``flock`` on ``OUT/.claims/<run>.lock``, released when the run is done or the
process dies); another process skips it, goes on with the next run, and at the end waits for
the runs it skipped and finds them done. The shared stages (data, leaderboard, report) run
under one study-wide lock, so only one process does each and the others find it done.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from benchbox.config import dump_toml, to_dict
from benchbox.errors import ProtocolError
from benchbox.progress import Progress, no_progress
from benchbox.runs import atomic_write_text, write_versions
from benchbox.study import stages as st
from benchbox.study.protocol import FIRST_STAGE_KEY, ProtocolConfig, StageLedger, StudyContext, plan


@dataclass(frozen=True)
class StudyOutcome:
    """What one ``run_protocol`` call did: ``report`` is the study's ``report.md``; ``ran`` the
    stage keys this process ran, in order; ``unchanged`` those it found done with today's inputs;
    ``rescore_skips`` the runs ``--rescore`` left alone (their checkpoints or clips are not
    current). A run another process held and finished while this one waited counts as unchanged."""

    report: Path
    ran: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    rescore_skips: tuple[str, ...] = ()


def is_current(ctx: StudyContext, stage) -> bool:
    """Whether ``stage`` is recorded done with today's inputs (its fingerprint) and its outputs are on disk."""
    return ctx.ledger.is_done(stage.key, st.stage_fingerprint(ctx, stage)) and st.outputs_exist(ctx, stage)


def finished_stages(proto: ProtocolConfig, out: Path) -> frozenset[str]:
    """Keys of the stages ``run_protocol`` would skip in ``out``: done, inputs unchanged, outputs
    on disk, and nothing upstream of them due to run. A stage whose input changes when an
    earlier stage re-runs (generate after train, score after generate, the leaderboard and
    report after any score) is not finished while that earlier stage is pending: its
    fingerprint today describes the old inputs."""
    out = Path(out)
    if not (out / "stages.json").is_file():
        return frozenset()
    ctx = StudyContext(proto, out, StageLedger(out), no_progress, lambda s: None, None, "")
    done: set[str] = set()
    pending_runs: set[str | None] = set()  # runs with a stage due; None: the data stage
    for stage in plan(proto):
        upstream_due = None in pending_runs or stage.run_id in pending_runs or (stage.run_id is None and bool(pending_runs))
        try:
            ok = not upstream_due and is_current(ctx, stage)
        except (OSError, ValueError):  # a half-written folder: that stage will run
            ok = False
        if ok:
            done.add(stage.key)
        else:
            pending_runs.add(stage.run_id)
    return frozenset(done)


def train_split_size(out: Path, source: str | None = None) -> int | None:
    """Clips in the ``train`` split of the study's imported dataset (``out/data``), or of
    ``source`` when that is an imported dataset folder; None when neither is known yet
    (a folder of recordings or a built-in corpus is split only by the data stage)."""
    import pandas as pd

    for folder in (Path(out) / "data", Path(source) if source else None):
        if folder is None:
            continue
        try:
            return int((pd.read_csv(folder / "manifest.csv", usecols=["split"])["split"] == "train").sum())
        except (OSError, ValueError):
            continue
    return None


def run_protocol(
    proto: ProtocolConfig,
    *,
    out: Path,
    protocol_path: Path | None = None,
    command: str = "",
    progress: Progress | None = None,
    log: Callable[[str], None] | None = None,
    rescore: bool = False,
) -> StudyOutcome:
    """Run every stage of ``proto`` into ``out``; return what ran (:class:`StudyOutcome`). ``rescore``: train and
    sample nothing: score again the runs whose training and clips are current (a scorer version
    change re-scores them), leave the others as they are (named in the log), then rebuild the
    leaderboard and report from what is scored."""
    out = Path(out)
    if rescore:
        check_rescore(proto, out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = StudyContext(proto, out, StageLedger(out), progress or no_progress, log or (lambda s: None), protocol_path, command)
    runners = {"data": st.run_data, "train": st.run_train, "generate": st.run_generate, "score": st.run_score,
               "leaderboard": st.run_leaderboard, "report": st.run_report}
    stage_list = plan(proto)
    data_stage = next((s for s in stage_list if s.kind == "data"), None)
    if rescore and data_stage is not None and not is_current(ctx, data_stage):
        raise changed_data(out)
    atomic_write_text(out / "protocol.toml", dump_toml(to_dict(proto)))
    by_run: dict[str | None, list] = {}
    for stage in stage_list:
        by_run.setdefault(stage.run_id, []).append(stage)
    done, skipped, recorded = 0, [], False
    ran, unchanged, rescore_skipped = [], [], []

    def run_stages(stages: list) -> None:
        nonlocal done, recorded
        run = stages[0].run_id
        if rescore and run is not None and not all(is_current(ctx, s) for s in stages if s.kind in ("train", "generate")):
            ctx.log(f"skip {run} (--rescore: its checkpoints or clips are missing, or made under other settings; run without --rescore to make them)")
            done += len(stages)
            rescore_skipped.append(run)
            return
        for stage in stages:
            ctx.progress("study", done, len(stage_list), stage=stage.key)
            done += 1
            if is_current(ctx, stage):
                ctx.log(f"skip {stage.key} (unchanged)")
                unchanged.append(stage.key)
                continue
            if not recorded:  # an invocation that skips every stage leaves the record of the one that ran them
                record_versions(out, stage.key)
                recorded = True
            ctx.log(f"run  {stage.key}")
            start = time.perf_counter()
            runners[stage.kind](ctx, stage)
            ctx.ledger.mark(stage.key, st.stage_fingerprint(ctx, stage), time.perf_counter() - start)
            ran.append(stage.key)

    for stage in stage_list:
        if stage.run_id is None:  # data before the runs; leaderboard and report after every run, the skipped ones too
            if stage.kind != "data":
                for run in skipped:  # another process has it: wait until it is done, then find it done
                    ctx.log(f"wait {run} (another process is running it)")
                    with claim(out, run, wait=True):
                        run_stages(by_run[run])
                skipped = []
            with claim(out, STUDY_LOCK, wait=True):
                run_stages([stage])
        elif stage is by_run[stage.run_id][0]:  # a run's first stage: claim the whole run
            with claim(out, stage.run_id, wait=False) as mine:
                if mine:
                    run_stages(by_run[stage.run_id])
                else:
                    ctx.log(f"skip {stage.run_id} for now (another process is running it)")
                    skipped.append(stage.run_id)
    ctx.progress("study", len(stage_list), len(stage_list), stage="done")
    return StudyOutcome(out / "report.md", tuple(ran), tuple(unchanged), tuple(rescore_skipped))


def rescore_skips(proto: ProtocolConfig, done: frozenset[str]) -> list[str]:
    """The runs ``--rescore`` leaves alone, given the finished stage keys ``done``
    (:func:`finished_stages`): those whose train or generate stage is not finished."""
    skipped = []
    for stage in plan(proto):
        if stage.run_id is not None and stage.kind in ("train", "generate") and stage.key not in done and stage.run_id not in skipped:
            skipped.append(stage.run_id)
    return skipped


def changed_data(out: Path) -> ProtocolError:
    """``--rescore``'s refusal when the study's data stage is not current."""
    return ProtocolError(f"{out}: the study's dataset changed since it ran, or is not on disk; --rescore would re-import it and score nothing",
                         hint="restore the dataset the study ran on, or run without --rescore to re-run the study on the new data")


def check_rescore(proto: ProtocolConfig, out: Path) -> None:
    """Refuse ``--rescore`` where it would change more than scores: no study in ``out``, or a
    protocol that differs from the one the study ran (``out/protocol.toml``) outside ``[score]``
    (new data would be imported, and nothing scored against it)."""
    from benchbox.study.protocol import load_protocol

    kept = Path(out) / "protocol.toml"
    if not (Path(out) / "stages.json").is_file() or not kept.is_file():
        raise ProtocolError(f"no study in {out} (no stages.json or protocol.toml) to re-score",
                            hint="run the protocol without --rescore first, or pass --out with the study's folder")
    ran = {k: v for k, v in to_dict(load_protocol(kept)).items() if k != "score"}
    now = {k: v for k, v in to_dict(proto).items() if k != "score"}
    if ran != now:
        differ = sorted(k for k in set(ran) | set(now) if ran.get(k) != now.get(k))
        raise ProtocolError(f"{kept}: the study ran another protocol ({', '.join(differ)} differ); --rescore re-scores the study as it ran",
                            hint=f"pass the same --data and --set as its run, or re-score with its own file: benchbox run {kept} --out {out} --rescore")


def record_versions(out: Path, first_stage: str) -> None:
    """``out/versions.json``: the versions of this invocation, the first stage it ran and when
    (UTC), written only by an invocation that runs a stage (the report names it)."""
    write_versions(out, note={FIRST_STAGE_KEY: first_stage})  # with RECORDED_KEY, the time it was written


CLAIMS_DIR = ".claims"
STUDY_LOCK = "_study"  # the shared stages' lock (no run id starts with "_")


@contextlib.contextmanager
def claim(out: Path, name: str, *, wait: bool) -> Iterator[bool]:
    """An exclusive lock on ``OUT/.claims/<name>.lock`` for the block: True when held; with
    ``wait=False``, False at once when another process holds it. The OS drops it if the process dies."""
    path = Path(out) / CLAIMS_DIR / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
