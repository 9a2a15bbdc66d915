"""Quality benchmark: NLL (bits/sample) against wall time for each CPU preset, beside the
ngram and lpc baselines on the same data and quantisation.

Trains every ``--presets`` x ``--quantisation`` pair on the real dev footsteps for a fixed
wall budget (``train.max_minutes``), whole clips, B = 8, evaluating the full val and test
splits every ``--eval-every`` steps, then writes ``<out>/quality.json`` (every eval's
train/val/test NLL with its wall time, the best-val and last checkpoints, the
baselines, threads, CPU and load average) and ``<out>/quality.png``. ``--parallel`` trains
the pairs side by side (each with ``--threads`` threads); the figures then describe a
shared machine, which the JSON records. ``--summarise RUN_DIR ...`` only reads runs that
already exist: the training-time figures (threads, parallel, minutes per run, load average
before and after, wall time, machine) are kept from the ``quality.json`` already in ``--out``
(null when there is none), never replaced by the load at summarise time, which is recorded
apart (``summarised``). This is a benchmark, not a test: nothing here asserts a figure.

    .venv/bin/python benchmarks/bench_quality.py --minutes 40 --parallel --threads 1 --out benchmarks/results/quality
    .venv/bin/python benchmarks/bench_quality.py --summarise RUN_DIR [RUN_DIR ...] --out benchmarks/results/quality

Families without a likelihood (diffusion, GAN) have no NLL curve: ``--no-nll PRESET,...`` (alias ``--diffusion``) trains
each in stages (``--stages`` minutes of wall time, resuming the run between stages and
keeping each stage's last checkpoint as ``ckpt/min<minutes>.pt``), generates ``--n`` unprimed clips
per stage and scores them (aisfx). Its time-to-quality figure, ``<out>/diffusion/quality.json``
and ``quality.png``, gives the useful rate (Wilson CI), the 1-NN two-sample accuracy against
the real test clips (permutation p) and the memorised share (nearest training clip closer
than the 5th percentile of the real val clips' nearest-training distances) against training
minutes; a ``specdiff`` preset also gets its resynthesis reference row (real val clips through
analysis and resynthesis alone). Rows of autoregressive runs scored the same way join the
figure with ``--ar-runs RUN_DIR ...`` (their best checkpoint, unprimed).

    .venv/bin/python benchmarks/bench_quality.py --diffusion specdiff-cpu --stages 5,10,20,30,45 --threads 1 --out benchmarks/results/quality
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CURVE_KEYS = ("train_seconds", "step", "epoch", "bits/train", "bits/val", "bits/test")
BASELINE_NAMES = ("ngram", "lpc")


def train_command(preset: str, quantisation: str, data: Path, out: Path, args: argparse.Namespace) -> list[str]:
    from benchbox.generators import registry

    generator, _ = registry.load_preset(preset)
    sets = {
        "data.quantisation": f'"{quantisation}"', "train.max_steps": 0, "train.max_minutes": args.minutes,
        "train.eval_every": args.eval_every, "train.batch_size": 8, "train.val_batches": 2, "train.lr": args.lr,
        "train.warmup_steps": 50, "data.crop_samples": 0,
    }  # fmt: skip
    cmd = [sys.executable, "-m", "benchbox.cli.main", "train", generator, "--data", str(data), "--preset", preset, "--out", str(out), "--quiet"]
    for key, value in sets.items():
        cmd += ["--set", f"{key}={value}"]
    return cmd


def run_training(args: argparse.Namespace) -> list[Path]:
    from bench_quality_diffusion import run_folder

    from benchbox.data.importer import import_folder

    data = args.out / "data"
    if not (data / "dataset.json").is_file():
        import_folder(args.data, data)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(REPO)}
    runs, procs = [], []
    for quantisation in args.quantisation.split(","):
        for preset in args.presets.split(","):
            run = args.out / "runs" / f"{run_folder(preset)}_{quantisation}"
            runs.append(run)
            cmd = train_command(preset, quantisation, data, run, args)
            proc = subprocess.Popen(cmd, env=env, cwd=REPO)
            if args.parallel:
                procs.append(proc)
            elif proc.wait() != 0:
                raise SystemExit(f"training {run} failed")
    if any(p.wait() != 0 for p in procs):
        raise SystemExit("a training run failed")
    return runs


def summarise_run(run: Path) -> dict:
    from benchbox.config import load_toml
    from benchbox.plots import read_log

    records = [r for r in read_log(run / "log.jsonl") if "bits/val" in r]
    cfg = load_toml(run / "config.toml")
    best = min(records, key=lambda r: r["bits/val"])
    pick = lambda r: {k: r.get(k) for k in CURVE_KEYS}  # noqa: E731
    return {
        "run": str(run), "preset": cfg["preset"], "generator": cfg["generator"], "quantisation": cfg["data"]["quantisation"],
        "curve": [pick(r) for r in records], "best": pick(best), "last": pick(records[-1]),
        "baselines": {k: v for k, v in records[-1].items() if k.startswith("baseline/")},
        "samples_per_second": records[-1].get("samples_per_second"),
    }  # fmt: skip


def plot(summary: dict, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    quants = sorted({r["quantisation"] for r in summary["runs"]})
    fig = Figure(figsize=(6.0 * len(quants), 4.2))
    FigureCanvasAgg(fig)
    for i, q in enumerate(quants):
        ax = fig.add_subplot(1, len(quants), i + 1)
        runs = [r for r in summary["runs"] if r["quantisation"] == q]
        for r in runs:
            minutes = [c["train_seconds"] / 60 for c in r["curve"]]
            (line,) = ax.plot(minutes, [c["bits/val"] for c in r["curve"]], marker=".", label=f"{r['preset']} val")
            ax.plot(minutes, [c["bits/test"] for c in r["curve"]], marker=".", alpha=0.5, linestyle=":", color=line.get_color(), label=f"{r['preset']} test")
        for name, style in zip(BASELINE_NAMES, ("--", "-.")):
            for split, alpha in (("val", 1.0), ("test", 0.5)):
                value = runs[0]["baselines"].get(f"baseline/{name}/bits/{split}")
                if value is not None:
                    ax.axhline(value, color="k", alpha=alpha, linestyle=style, linewidth=1, label=f"{name} {split} ({value:.2f})")
        ax.set_title(f"{q}: NLL vs wall time ({summary['threads'] if summary['threads'] is not None else '?'} thread(s) per run{', side by side' if summary['parallel'] else ''})", fontsize=9)
        ax.set_xlabel("training wall time (min)")
        ax.set_ylabel("NLL (bits/sample)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


TRAINING_FIGURES = ("machine", "threads", "parallel", "minutes_per_run", "load_average_before", "load_average_after", "wall_seconds")


SUMMARISE_FIGURES = ("machine", "load_average_before", "load_average_after", "wall_seconds")


def training_figures(measured: dict, previous: dict | None, summarise: bool, keys: tuple[str, ...] = TRAINING_FIGURES) -> dict:
    """The training-time figures (``keys``) of a quality.json: ``measured`` now when this call
    trained; when it only summarised, those of ``previous`` (the earlier quality.json, or None:
    each figure null), plus ``summarised``: what was measured while summarising."""
    if not summarise:
        return {k: measured[k] for k in keys}
    kept = {k: (previous or {}).get(k) for k in keys}
    return {**kept, "summarised": {k: measured[k] for k in SUMMARISE_FIGURES if k in measured}}


def main() -> None:
    if {"--diffusion", "--no-nll", "--diffusion-summarise"} & set(sys.argv):
        from bench_quality_diffusion import main as diffusion_main  # the time-to-quality figure of families without NLL

        return diffusion_main()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="sashimi-cpu,wavenet-cpu")
    parser.add_argument("--quantisation", default="mulaw", help="comma-separated: mulaw,linear")
    parser.add_argument("--minutes", type=float, default=40.0, help="wall budget per run")
    parser.add_argument("--eval-every", type=int, default=40)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads per run")
    parser.add_argument("--parallel", action="store_true", help="train the runs side by side")
    parser.add_argument("--data", default="footsteps-dev", help="recordings folder or built-in corpus")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "quality")
    parser.add_argument("--summarise", type=Path, nargs="*", help="only summarise these existing run folders")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    started = time.time()
    runs = args.summarise if args.summarise is not None else run_training(args)
    import torch

    measured = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "torch": torch.__version__},
        "threads": args.threads, "parallel": args.parallel, "minutes_per_run": args.minutes,
        "load_average_before": load_before, "load_average_after": os.getloadavg(), "wall_seconds": time.time() - started,
    }  # fmt: skip
    path = args.out / "quality.json"
    previous = json.loads(path.read_text()) if path.is_file() else None
    summary = {"format": 1, **training_figures(measured, previous, args.summarise is not None), "runs": [summarise_run(Path(r)) for r in runs]}
    path.write_text(json.dumps(summary, indent=2) + "\n")
    plot(summary, args.out / "quality.png")
    for r in summary["runs"]:
        b = r["baselines"]
        print(f"{r['preset']:>12} {r['quantisation']:>6}: best val {r['best']['bits/val']:.3f} (test {r['best']['bits/test']:.3f}) at step {r['best']['step']}, "
              f"last val {r['last']['bits/val']:.3f}; ngram val {b.get('baseline/ngram/bits/val', float('nan')):.3f}, lpc val {b.get('baseline/lpc/bits/val', float('nan')):.3f}")


if __name__ == "__main__":
    main()
