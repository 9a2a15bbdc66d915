"""Time-to-quality of generators without a likelihood (diffusion): useful rate, 1-NN two-sample
accuracy and memorised share against training minutes (``bench_quality.py --diffusion``).

For each preset: ``benchbox train`` for the first stage's minutes (capped by the preset's
``max_steps`` when its ``[train]`` table sets one), then ``--resume`` for each
further stage, copying ``ckpt/last.pt`` to ``ckpt/min<minutes>.pt`` after each; then ``benchbox
generate --checkpoint min5,... --prime-ms 0 --n N`` and ``benchbox score --embedder aisfx``.
The memorisation threshold is the 5th percentile of the real val clips' nearest-training
distances (aisfx), measured by scoring the val clips themselves. This is a benchmark, not a
test: nothing here asserts a figure. Stage wall times on a shared machine are upper bounds;
the JSON records threads, load averages and each checkpoint's own ``train_seconds``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
MEMORISED_PERCENTILE = 5.0
EMBEDDER = "aisfx"
GATE = {"useful": 0.30, "nn1": 0.80, "memorised": 0.10}


def _cli(*args: str, threads: int) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "benchbox.cli.main", *args], env=env, cwd=REPO, check=True)


def _sets(values: dict) -> list[str]:
    return [part for k, v in values.items() for part in ("--set", f"{k}={v}")]


def run_folder(preset: str) -> str:
    """The folder name of ``preset``'s run: the preset's name, or a preset file's stem
    (``models/x.toml`` -> ``x``), so a path never nests folders under ``runs/``."""
    return Path(preset).stem if preset.endswith(".toml") else preset


def stage_name(minutes: float) -> str:
    """The checkpoint kept after ``minutes`` of training: ``min5``, ``min45``, ``min0p5``."""
    return "min" + f"{minutes:g}".replace(".", "p")


def train_staged(preset: str, data: Path, run: Path, stages: list[float], threads: int, seed: int | None = None) -> list[str]:
    """Train ``preset`` in stages of wall minutes (``seed``: train.seed, else the preset's);
    returns the stage checkpoint names."""
    from benchbox.generators import registry

    generator, _ = registry.load_preset(preset)
    # The recipe is the preset's [train] table: a wall budget (max_minutes; max_steps 0 unless the
    # table sets a step budget, which also fixes the lr schedule's length); the stages set, or cap,
    # the minutes.
    settings: dict = {} if registry.preset_train(preset).get("max_steps") else {"train.max_steps": 0}
    if seed is not None:
        settings["train.seed"] = seed
    names, done = [], False
    for minutes in stages:
        name = stage_name(minutes)
        names.append(name)
        if (run / "ckpt" / f"{name}.pt").is_file():
            done = True
            continue
        budget = {"train.max_minutes": minutes}  # the run's wall time over every session: a stage's own mark, not its increment
        if not done:
            _cli("train", generator, "--data", str(data), "--preset", preset, "--out", str(run), "--quiet", *_sets({**settings, **budget}), threads=threads)
        else:
            _cli("train", "--resume", str(run), "--quiet", *_sets(budget), threads=threads)
        shutil.copyfile(run / "ckpt" / "last.pt", run / "ckpt" / f"{name}.pt")
        done = True
    return names


def memorisation_threshold(data: Path, out: Path, threads: int) -> float:
    """5th percentile of the real val clips' nearest-training distances (aisfx)."""
    from benchbox.data.dataset import load_dataset

    folder = out / "real_val"
    scores = folder / "scores" / "clips.csv"
    if not scores.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        for path in load_dataset(data).clip_paths("val"):
            shutil.copyfile(path, folder / path.name)
        _cli("score", str(folder), "--out", str(folder), "--reference", str(data), "--embedder", EMBEDDER, "--bootstrap", "0", "--quiet", threads=threads)
    return float(np.percentile(pd.read_csv(scores)[f"memorisation/{EMBEDDER}/train_distance"], MEMORISED_PERCENTILE))


def resynthesis_reference(preset: str, data: Path, out: Path, threads: int) -> Path | None:
    """Real val clips through a specdiff preset's analysis and resynthesis alone, scored."""
    import torch

    from benchbox.audio import write_wav
    from benchbox.data.dataset import load_dataset
    from benchbox.generators import registry

    generator, cfg = registry.load_preset(preset)
    if generator != "specdiff":
        return None
    folder = out / f"resynthesis_{run_folder(preset)}"
    if not (folder / "scores" / "clips.csv").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        waves = torch.as_tensor(load_dataset(data).load_clips("val"))
        model = registry.build(generator, cfg)
        for i, wave in enumerate(model.reconstruct(waves, torch.Generator().manual_seed(0)).numpy()):
            write_wav(folder / f"clip_{i:04d}.wav", wave)
        _cli("score", str(folder), "--out", str(folder), "--reference", str(data), "--embedder", EMBEDDER, "--bootstrap", "200", "--quiet", threads=threads)
    return folder


def row_of(group: dict, clips: pd.DataFrame, threshold: float, n_real: int) -> dict:
    """Gate figures of one scored group: useful (Wilson CI), 1-NN (p), memorised share (Wilson CI),
    and recall and coverage against the real test clips (bootstrap CIs; mode collapse)."""
    from benchbox.stats import wilson_interval
    from mode_collapse import recall_coverage

    n = len(clips)
    useful = int(clips["useful/auto"].sum())
    memorised = int((clips[f"memorisation/{EMBEDDER}/train_distance"] < threshold).sum())
    u, u_lo, u_hi = wilson_interval(useful, n)
    m, m_lo, m_hi = wilson_interval(memorised, n)
    return {
        "n": n, "useful": u, "useful_lo": u_lo, "useful_hi": u_hi, "nn1": group.get(f"nn1/{EMBEDDER}"), "nn1_p": group.get(f"nn1/{EMBEDDER}/p"),
        "memorised": m, "memorised_lo": m_lo, "memorised_hi": m_hi, "kad": group.get(f"kad/{EMBEDDER}"),
        "reasons": clips["useful/reason"].value_counts().to_dict(), **recall_coverage(group, n_real),
    }  # fmt: skip


def summarise_run(run: Path, names: list[str], threshold: float, data: Path) -> list[dict]:
    """One row per stage checkpoint: :func:`row_of` and the share of near-duplicate clips."""
    import torch
    from mode_collapse import run_collapse

    from benchbox.data.dataset import load_dataset

    collapse, n_real = run_collapse(run, data, names), len(load_dataset(data).clip_paths("test"))
    groups = pd.read_csv(run / "scores" / "groups.csv", dtype={"checkpoint": str})
    clips = pd.read_csv(run / "scores" / "clips.csv", dtype={"checkpoint": str})
    rows = []
    for name in names:
        ckpt = torch.load(run / "ckpt" / f"{name}.pt", map_location="cpu", weights_only=False)
        group = groups[(groups["checkpoint"] == name) & (groups["kind"] == "generated")].iloc[0].to_dict()
        row = row_of(group, clips[clips["checkpoint"] == name], threshold, n_real)
        rows.append({"checkpoint": name, "step": int(ckpt["step"]), "train_minutes": float(ckpt.get("train_seconds", 0.0)) / 60, **row, **collapse[name]})
    return rows


def summarise_folder(folder: Path, threshold: float, data: Path) -> dict:
    from benchbox.data.dataset import load_dataset

    groups, n_real = pd.read_csv(folder / "scores" / "groups.csv"), len(load_dataset(data).clip_paths("test"))
    return row_of(groups[groups["kind"] == "generated"].iloc[0].to_dict(), pd.read_csv(folder / "scores" / "clips.csv"), threshold, n_real)


def floor_row(folder: Path, threshold: float, data: Path) -> dict:
    """The real val clips scored as a set: the floor a generator is compared with."""
    from mode_collapse import embed, near_duplicates

    from benchbox.data.dataset import load_dataset

    dataset = load_dataset(data)
    return {**summarise_folder(folder, threshold, data), **near_duplicates(embed(dataset.clip_paths("val")), embed(dataset.clip_paths("train")))}


def plot(summary: dict, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(16.0, 4.2))
    FigureCanvasAgg(fig)
    gates = summary.get("gate", GATE)
    panels = (("useful", "useful rate (verdict)", gates["useful"]), ("nn1", "1-NN two-sample accuracy vs real test", gates["nn1"]),
              ("memorised", "memorised share", gates["memorised"]), ("coverage", "coverage of the real test clips (mode collapse)", None))  # fmt: skip
    for i, (key, label, gate) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for preset, rows in summary["presets"].items():
            minutes = [r["train_minutes"] for r in rows]
            (line,) = ax.plot(minutes, [r[key] for r in rows], marker="o", label=preset)
            if key in ("useful", "memorised", "coverage"):
                ax.fill_between(minutes, [r[f"{key}_lo"] for r in rows], [r[f"{key}_hi"] for r in rows], color=line.get_color(), alpha=0.15)
        for name, row in summary.get("ar_runs", {}).items():
            ax.plot([row["train_minutes"]], [row[key]], marker="s", linestyle="none", label=f"{name} (AR)")
        for name, row in summary.get("references", {}).items():
            ax.axhline(row[key], linestyle=":", linewidth=1, color="grey" if name == "real val (floor)" else "k", label=name)
        if gate is not None:
            ax.axhline(gate, color="r", linestyle="--", linewidth=1, label=f"gate {gate}")
        ax.set_xlabel("training wall time (min)")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7)
    fig.suptitle(f"time to quality, {summary['threads']} thread(s), n = {summary['n']} unprimed clips per point (shared machine: wall times are upper bounds)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def spectrograms(out: Path, stages: dict[str, list[str]], data: Path) -> str:
    """``out/spectrograms.png``: per preset, its first and last stage's clips beside the real
    test clips (benchbox.study.figures' strip rule: quantiles of footstep/p). Returns the caption."""
    from benchbox.data.dataset import load_dataset
    from benchbox.study.figures import spectrogram_figure

    frames = []
    for preset, names in stages.items():
        clips = pd.read_csv(out / "runs" / run_folder(preset) / "scores" / "clips.csv")
        clips = clips[clips["checkpoint"].astype(str).isin({names[0], names[-1]}) & (clips["prime_ms"] == 0)]
        frames.append(clips.assign(run=preset))
    path, caption = spectrogram_figure(out, pd.concat(frames), load_dataset(data).clip_paths("test"), out / "spectrograms.png", EMBEDDER)
    return caption if path is not None else ""


DIFFUSION_TRAINING_FIGURES = ("machine", "threads", "load_average_before", "load_average_after", "wall_seconds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-nll", "--diffusion", dest="diffusion", default="specdiff-cpu", help="comma-separated presets of generators without NLL (diffusion, GAN)")
    parser.add_argument("--diffusion-summarise", action="store_true", help="only summarise runs already trained, generated and scored")
    parser.add_argument("--stages", default="5,10,20,30,45", help="cumulative training minutes at which a checkpoint is kept")
    parser.add_argument("--n", type=int, default=32, help="unprimed clips per stage")
    parser.add_argument("--gate-useful", type=float, default=GATE["useful"], help="the gate line of the useful panel (GAN issue: 0.20)")
    parser.add_argument("--gate-nn1", type=float, default=GATE["nn1"], help="the gate line of the 1-NN panel (GAN issue: 0.85)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=None, help="training and sampling seed (default: the preset's train.seed, and generate's default)")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "footsteps-dev"), help="an imported dataset folder (default: ../shared/data/footsteps-dev beside the checkout)")
    parser.add_argument("--ar-runs", type=Path, nargs="*", default=[], help="scored AR run folders to plot beside (their best, unprimed)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "quality")
    args, _ = parser.parse_known_args()
    out, data = args.out / "diffusion", Path(args.data)
    out.mkdir(parents=True, exist_ok=True)
    stages = [float(s) for s in args.stages.split(",")]
    load_before, started = os.getloadavg(), time.time()
    threshold = memorisation_threshold(data, out, args.threads)
    summary = {"format": 1, "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}, "threads": args.threads, "n": args.n,
               "stages_minutes": stages, "gate": {"useful": args.gate_useful, "nn1": args.gate_nn1, "memorised": GATE["memorised"]}, "memorised_threshold": threshold, "load_average_before": load_before, "presets": {}, "references": {}, "ar_runs": {}}  # fmt: skip
    summary["references"]["real val (floor)"] = floor_row(out / "real_val", threshold, data)
    for preset in args.diffusion.split(","):
        run = out / "runs" / run_folder(preset)
        names = [stage_name(m) for m in stages]
        if not args.diffusion_summarise:
            names = train_staged(preset, data, run, stages, args.threads, args.seed)
            seed = [] if args.seed is None else ["--seed", str(args.seed)]
            _cli("generate", str(run), "--checkpoint", ",".join(names), "--prime-ms", "0", "--n", str(args.n), "--batch", str(args.n), "--quiet", *seed, threads=args.threads)
            _cli("score", str(run), "--embedder", EMBEDDER, "--bootstrap", "200", "--quiet", threads=args.threads)
            reference = resynthesis_reference(preset, data, out, args.threads)
        else:
            resynthesis = out / f"resynthesis_{run_folder(preset)}"
            reference = resynthesis if resynthesis.is_dir() else None
        summary["presets"][preset] = summarise_run(run, names, threshold, data)
        if reference is not None:
            summary["references"][f"resynthesis only ({preset})"] = summarise_folder(reference, threshold, data)
    for run in args.ar_runs:
        summary["ar_runs"][run.name] = {**summarise_run(run, ["best"], threshold, data)[0]}
    summary["load_average_after"], summary["wall_seconds"] = os.getloadavg(), time.time() - started
    if args.diffusion_summarise:  # nothing trained now: keep the training-time figures of the earlier quality.json
        from bench_quality import training_figures

        previous = json.loads((out / "quality.json").read_text()) if (out / "quality.json").is_file() else None
        summary.update(training_figures(summary, previous, True, keys=DIFFUSION_TRAINING_FIGURES))
    summary["spectrograms"] = spectrograms(out, {p: [r["checkpoint"] for r in rows] for p, rows in summary["presets"].items()}, data)
    (out / "quality.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    plot(summary, out / "quality.png")
    for preset, rows in summary["presets"].items():
        for r in rows:
            print(f"{preset:>22} {r['checkpoint']} ({r['train_minutes']:.1f} min, step {r['step']}): useful {r['useful']:.2f} [{r['useful_lo']:.2f}, {r['useful_hi']:.2f}], "
                  f"1-NN {r['nn1']:.3f} (p = {r['nn1_p']:.3f}), memorised {r['memorised']:.2f}, n = {r['n']}; recall {r['recall']:.2f} [{r['recall_lo']:.2f}, {r['recall_hi']:.2f}], "
                  f"coverage {r['coverage']:.2f} [{r['coverage_lo']:.2f}, {r['coverage_hi']:.2f}] (same-distribution {r['coverage_expected']:.2f}), near-duplicates {r['near_duplicates']:.2f} [{r['near_duplicates_lo']:.2f}, {r['near_duplicates_hi']:.2f}]")
    for name, r in summary["references"].items():
        print(f"{name:>40}: useful {r['useful']:.2f}, 1-NN {r['nn1']:.3f} (p = {r['nn1_p']:.3f}), memorised {r['memorised']:.2f}, n = {r['n']}")


if __name__ == "__main__":
    main()
