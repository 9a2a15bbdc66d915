"""Run the repository's benchmark scripts one after another: what ``make bench`` runs.

Each benchmark runs in its own process (``sys.executable``), so one that fails or runs out of
memory does not stop the rest; the summary lists each one's exit status and wall time, and the
exit status is 1 when any failed. Usage::

    .venv/bin/python benchmarks/run_all.py                 # the quick suite (minutes on 2 CPU cores)
    .venv/bin/python benchmarks/run_all.py --full          # also the README's quickstart timing and full sizes
    .venv/bin/python benchmarks/run_all.py --only embed,generators --dry-run

bench_quality.py (a 40-minute-per-run training study) is not part of either suite; run it alone.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (script, arguments of the quick suite, arguments of the full suite; None = not in that suite)
BENCHMARKS: dict[str, tuple[str, list[str] | None, list[str] | None]] = {
    "generators": ("bench_generators.py", ["--quick"], []),
    "train_generate": ("bench_train_generate.py", [], ["--steps", "100"]),
    "embed": ("bench_embed.py", ["--clips", "200"], []),
    "quickstart": ("bench_quickstart.py", None, []),
}


def plan(full: bool, only: list[str] | None) -> list[tuple[str, list[str]]]:
    """``[(name, command)]`` of the benchmarks to run."""
    unknown = sorted(set(only or ()) - set(BENCHMARKS))
    if unknown:
        raise SystemExit(f"error: unknown benchmark '{unknown[0]}' (use one of: {', '.join(BENCHMARKS)})")
    out = []
    for name, (script, quick, full_args) in BENCHMARKS.items():
        args = full_args if full else quick
        if (only and name not in only) or (args is None and not only):
            continue
        out.append((name, [sys.executable, str(HERE / script), *(args if args is not None else full_args or [])]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="full sizes, plus the quickstart timing")
    parser.add_argument("--only", default=None, help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--dry-run", action="store_true", help="print the commands; run nothing")
    args = parser.parse_args(argv)
    jobs = plan(args.full, [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None)
    results = []
    for name, command in jobs:
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        if args.dry_run:
            continue
        started = time.monotonic()
        code = subprocess.call(command, cwd=HERE.parent)
        results.append((name, code, time.monotonic() - started))
    for name, code, seconds in results:
        print(f"{name:16s} {'ok' if code == 0 else f'FAILED (exit {code})':18s} {seconds:8.1f} s")
    return 1 if any(code for _, code, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
