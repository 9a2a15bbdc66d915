"""Likelihood-ranked curation, measured: uncurated beside curated, per group, from scored runs.

    python benchmarks/curation.py results/footsteps-seed-cpu results/footsteps-cpu \
        --out benchmarks/results/curation

Reads each run's ``scores/clips.csv`` (per-clip verdicts and ``logprob_mean``), keeps the clips
:func:`benchbox.curation.curated` keeps within each group (drop the bottom 40% and top 5% by
log-likelihood) and writes ``curation.json`` and ``curation.md``: for every group the useful
rate with its Wilson 95% CI and the mean realism per embedder, uncurated and curated. Groups
without a log-likelihood (generators without the likelihood capability) read "n/a". Nothing
is re-generated or re-scored: these are the committed clips and verdicts.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd

from benchbox.curation import curated
from benchbox.runs import atomic_write_json, atomic_write_text
from benchbox.score import GROUP_COLUMNS, group_key
from benchbox.stats import wilson_interval

USEFUL = "useful/auto"
REALISM = ("realism/aisfx", "realism/mel")


def _summary(rows: pd.DataFrame) -> dict:
    k, n = int(rows[USEFUL].sum()), len(rows)
    p, lo, hi = wilson_interval(k, n)
    out = {"n": n, "useful": k, "useful_rate": p, "useful_lo": lo, "useful_hi": hi}
    for col in REALISM:
        if col in rows.columns:
            out[col] = float(pd.to_numeric(rows[col], errors="coerce").mean()) if n else math.nan
    return out


def measure(study: Path) -> list[dict]:
    out = []
    for clips_csv in sorted(study.glob("runs/*/scores/clips.csv")):
        clips = pd.read_csv(clips_csv)
        clips = clips[clips[list(GROUP_COLUMNS)].notna().any(axis=1) & (clips.get("generator", "").astype(str) != "")]
        keep = curated(clips, list(GROUP_COLUMNS))
        for _, rows in clips.groupby(list(GROUP_COLUMNS), dropna=False, sort=True):
            likelihood = "logprob_mean" in rows.columns and pd.to_numeric(rows["logprob_mean"], errors="coerce").notna().all()
            out.append({
                "study": study.name, "run": clips_csv.parents[1].name, "group": group_key(rows.iloc[0].to_dict()),
                "uncurated": _summary(rows), "curated": _summary(rows[keep.loc[rows.index]]) if likelihood else None,
            })  # fmt: skip
    return out


def _rate(s: dict | None) -> str:
    if s is None:
        return "n/a"
    return f"{s['useful']}/{s['n']} = {s['useful_rate']:.2f} [{s['useful_lo']:.2f}, {s['useful_hi']:.2f}]"


def _real(s: dict | None, col: str) -> str:
    return "n/a" if s is None or col not in s or math.isnan(s[col]) else f"{s[col]:.3f}"


def markdown(rows: list[dict]) -> str:
    head = "| study | run | group | useful, uncurated | useful, curated | realism/aisfx unc. | cur. |\n|---|---|---|---|---|---|---|\n"
    body = "".join(
        f"| {r['study']} | {r['run']} | {r['group']} | {_rate(r['uncurated'])} | {_rate(r['curated'])} | "
        f"{_real(r['uncurated'], 'realism/aisfx')} | {_real(r['curated'], 'realism/aisfx')} |\n"
        for r in rows
    )
    lines = []
    for study in dict.fromkeys(r["study"] for r in rows):
        for label, pick in (("all groups", lambda r: True), ("unprimed", lambda r: r["group"].endswith("/0"))):
            ss = [r for r in rows if r["study"] == study and r["curated"] is not None and pick(r)]
            parts = []
            for side in ("uncurated", "curated"):
                k, n = sum(r[side]["useful"] for r in ss), sum(r[side]["n"] for r in ss)
                p, lo, hi = wilson_interval(k, n)
                parts.append(f"{side} {k}/{n} = {p:.3f} [{lo:.3f}, {hi:.3f}]")
            lines.append(f"- {study}, {label} ({len(ss)} groups): " + "; ".join(parts))
    note = "\nUseful rate pooled per study (Wilson 95% CI; clips of one run are not independent across its groups, so the CI is optimistic):\n\n"
    return head + body + note + "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("studies", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/curation"))
    args = ap.parse_args()
    rows = [r for s in args.studies for r in measure(s)]
    atomic_write_json(args.out / "curation.json", {"format": 1, "rows": rows})
    atomic_write_text(args.out / "curation.md", markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()
