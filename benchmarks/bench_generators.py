"""Generator speed benchmark: the same library call as ``benchbox bench generators``.

Legend: B batch, T time in samples.

Measures, per preset and each in a fresh child process, training samples/s
(B=8, T=16000, AdamW), generation samples/s at B=1 and B=16 for each thread count,
the step-vs-forward error and the peak RSS, and prints the summary with the ratio to
the official state-spaces/s4 figures. Usage::

    .venv/bin/python benchmarks/bench_generators.py [--presets wavenet-tiny,wavenet-sc09] [--threads 1,2] [--out bench.json] [--quick]
"""

from __future__ import annotations

import argparse
import json

from benchbox.bench import REFERENCE_NOTE, run_benchmark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=None, help="comma-separated preset labels (default: all five)")
    parser.add_argument("--threads", default=None, help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--out", default=None, help="JSON output file")
    parser.add_argument("--quick", action="store_true", help="tiny presets, short runs")
    args = parser.parse_args()
    presets = args.presets.split(",") if args.presets else None
    threads = [int(n) for n in args.threads.split(",")] if args.threads else None

    def progress(task: str, done: int, total: int | None, **info) -> None:
        print(f"[{done}/{total}] {' '.join(f'{k}={v}' for k, v in info.items())}", flush=True)

    result = run_benchmark(presets, threads, quick=args.quick, out=args.out, progress=progress)
    print(json.dumps(result["machine"]))
    for row in result["summary"]:
        ratio = "" if row["ratio"] is None else f"  {row['ratio']:.2f}x ref {row['reference']}"
        target = "" if row["target"] is None else f"  target {row['target']} {'ok' if row['meets_target'] else 'MISSED'}"
        print(f"{row['preset']:28s} {row['metric']:26s} {row['value']:12.4g}  threads={row['threads']}{ratio}{target}")
    for m in result["measurements"]:
        if m.get("error"):
            print(f"FAILED {m['preset']} {m['kind']} threads={m['threads']} batch={m['batch']}: {m['error']}")
    print(f"{REFERENCE_NOTE}; load average at the end {result['loadavg_end'][0]:.2f}")


if __name__ == "__main__":
    main()
