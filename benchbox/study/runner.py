"""Run a protocol: every stage of the plan in order, skipping those whose inputs are unchanged."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from benchbox.config import to_dict
from benchbox.progress import Progress, no_progress
from benchbox.runs import write_run_info
from benchbox.study import stages as st
from benchbox.study.protocol import ProtocolConfig, StageLedger, StudyContext, plan


def finished_stages(proto: ProtocolConfig, out: Path) -> frozenset[str]:
    """Keys of the stages ``run_protocol`` would skip in ``out``: done, inputs unchanged, outputs on disk."""
    out = Path(out)
    if not (out / "stages.json").is_file():
        return frozenset()
    ctx = StudyContext(proto, out, StageLedger(out), no_progress, lambda s: None, None, "")
    done = set()
    for stage in plan(proto):
        try:
            if ctx.ledger.is_done(stage.key, st.stage_fingerprint(ctx, stage)) and st.outputs_exist(ctx, stage):
                done.add(stage.key)
        except (OSError, ValueError):  # a half-written folder: that stage will run
            continue
    return frozenset(done)


def train_split_size(out: Path) -> int | None:
    """Clips in the ``train`` split of the study's imported dataset, or None before the data stage."""
    import pandas as pd

    manifest = Path(out) / "data" / "manifest.csv"
    try:
        return int((pd.read_csv(manifest, usecols=["split"])["split"] == "train").sum())
    except (OSError, ValueError):
        return None


def run_protocol(
    proto: ProtocolConfig,
    *,
    out: Path,
    protocol_path: Path | None = None,
    command: str = "",
    progress: Progress | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Run every stage of ``proto`` into ``out``; return the report path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_run_info(out, to_dict(proto), name="protocol.toml")
    ctx = StudyContext(proto, out, StageLedger(out), progress or no_progress, log or (lambda s: None), protocol_path, command)
    runners = {"data": st.run_data, "train": st.run_train, "generate": st.run_generate, "score": st.run_score,
               "leaderboard": st.run_leaderboard, "report": st.run_report}
    stage_list = plan(proto)
    for i, stage in enumerate(stage_list):
        ctx.progress("study", i, len(stage_list), stage=stage.key)
        fp = st.stage_fingerprint(ctx, stage)
        if ctx.ledger.is_done(stage.key, fp) and st.outputs_exist(ctx, stage):
            ctx.log(f"skip {stage.key} (unchanged)")
            continue
        ctx.log(f"run  {stage.key}")
        start = time.perf_counter()
        runners[stage.kind](ctx, stage)
        ctx.ledger.mark(stage.key, st.stage_fingerprint(ctx, stage), time.perf_counter() - start)
    ctx.progress("study", len(stage_list), len(stage_list), stage="done")
    return out / "report.md"
