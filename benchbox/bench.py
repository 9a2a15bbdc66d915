"""Generator benchmark: training and generation throughput per model preset.

Legend: B batch, T time in samples (= tokens), C = 256 classes.

Every measurement runs in a fresh child process (``python -m benchbox.bench SPEC OUT``)
so that its thread count and its peak RSS are its own. A measurement is one of

* ``train``: the generator's own ``train_step`` (any family: next-sample NLL, a diffusion
  loss, ...) on random clips, (B, T) = (8, 16000) in micro-batches of 4; audio samples per
  second over the timed iterations, after warm-up;
* ``generate``: for a generator that can ``step``, ``init_state`` then a ``step`` +
  ``sample.choose`` loop at batch B (the sampler's own draw, garbage collector paused as in
  the sampler); for any other family, ``generate`` of B clips of ``gen_clip_samples`` each
  (a diffusion model's whole reverse process and resynthesis). Timed over ``gen_repeats``
  windows after a warm-up: the best window is the figure (as ``timeit`` takes the minimum),
  the median is recorded beside it; samples per second = B * samples / seconds;
* ``check`` (``step`` generators only): max abs logit error between T ``step`` calls and one
  ``forward`` (a sanity column: a speed-up that breaks it does not count).

A preset label is a preset name with optional ``:key=value`` model overrides, e.g.
``sashimi-sc09:kernel=dplr``. Results go to a JSON file (atomic) with the machine's
load average, CPU, core count and torch version, and a summary row per preset and
metric with the ratio to the reference figures below. Those were measured with the
official state-spaces/s4 code on a 2-core machine; rerun it side by side for a fair ratio.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchbox.audio import SILENCE_CODE
from benchbox.config import parse_overrides
from benchbox.errors import ConfigError, GeneratorError
from benchbox.progress import Progress, no_progress
from benchbox.runs import atomic_write_json

BENCH_FORMAT = 1
DEFAULT_PRESETS = ("sashimi-tiny", "wavenet-tiny", "sashimi-sc09", "wavenet-sc09", "sashimi-sc09:kernel=dplr")
QUICK_PRESETS = ("sashimi-tiny", "wavenet-tiny")
DEFAULT_THREADS = (1, 2)
REFERENCE_NOTE = "reference measured on a 2-core machine; rerun side by side for a fair ratio"
KIB_PER_MIB = 1024
CHILD_TIMEOUT_SECONDS = 3600
OMP_WAIT_POLICY = "PASSIVE"

# Official state-spaces/s4 code at 2 threads (samples/s), and this project's targets.
REFERENCE = {
    ("sashimi-sc09", "train/samples_per_s"): 6384,
    ("sashimi-sc09:kernel=dplr", "train/samples_per_s"): 2517,
    ("sashimi-sc09", "gen_b1/samples_per_s"): 533,
    ("sashimi-sc09", "gen_b16/samples_per_s"): 3701,
    ("sashimi-sc09:kernel=dplr", "gen_b1/samples_per_s"): 241,  # dense exact step; the inexact diagonal one ran 566
    ("wavenet-sc09", "train/samples_per_s"): 1549,
    ("wavenet-sc09", "gen_b1/samples_per_s"): 284,
    ("wavenet-sc09", "gen_b16/samples_per_s"): 1321,
}
TARGET = {
    ("sashimi-sc09", "train/samples_per_s"): 9500,
    ("sashimi-sc09", "gen_b1/samples_per_s"): 2100,
    ("sashimi-sc09", "gen_b16/samples_per_s"): 16000,
    ("wavenet-sc09", "gen_b1/samples_per_s"): 1200,
    ("wavenet-sc09", "gen_b16/samples_per_s"): 5000,
}


@dataclasses.dataclass(frozen=True)
class BenchSettings:
    train_batch: int = 8
    train_micro_batch: int = 4  # gradients accumulate over train_batch / train_micro_batch chunks
    train_samples: int = 16000
    train_warmup: int = 1
    train_iters: int = 2
    gen_batches: tuple[int, ...] = (1, 16)
    gen_warmup: int = 50
    gen_steps: int = 400  # per timed window
    gen_repeats: int = 3  # timed windows; the best is the figure, the median is kept beside it
    gen_clip_samples: int = 8192  # clip length for generators without ``step`` (one whole sampler run per window)
    check_samples: int = 256
    seed: int = 0


QUICK_SETTINGS = BenchSettings(
    train_batch=2, train_micro_batch=2, train_samples=1024, train_warmup=1, train_iters=1, gen_batches=(1, 4), gen_warmup=5, gen_steps=20, gen_repeats=1, gen_clip_samples=1024, check_samples=64
)


def parse_label(label: str) -> tuple[str, dict]:
    """``"sashimi-sc09:kernel=dplr"`` -> (``"sashimi-sc09"``, ``{"kernel": "dplr"}``)."""
    name, *items = label.strip().split(":")
    if not name:
        raise ConfigError(f"benchmark preset '{label}' has no name", hint="write a preset name, e.g. wavenet-tiny or sashimi-sc09:kernel=dplr")
    return name, parse_overrides(items)


def run_benchmark(
    presets: list[str] | None = None,
    threads: list[int] | None = None,
    *,
    quick: bool = False,
    out: str | Path | None = None,
    progress: Progress | None = None,
) -> dict:
    """Measure every preset; write JSON to ``out`` when given; return the result dict."""
    from benchbox.generators import registry

    progress = progress or no_progress
    presets = list(presets or (QUICK_PRESETS if quick else DEFAULT_PRESETS))
    threads = sorted(set(threads or ((1,) if quick else DEFAULT_THREADS)))
    if any(n < 1 for n in threads):
        raise ConfigError(f"thread counts must be >= 1, got {threads}", hint="pass --threads 1,2")
    for label in presets:  # fail fast on a bad preset, before any child starts
        registry.load_preset(*parse_label(label))
    settings = QUICK_SETTINGS if quick else BenchSettings()
    started = machine_info()
    jobs = _plan(presets, threads, settings, quick)
    measurements: list[dict] = []
    for i, group in enumerate(jobs):
        progress("bench", i, len(jobs), preset=group[0]["preset"], kind=group[0]["kind"])
        measurements.extend(_run_child(group))
    progress("bench", len(jobs), len(jobs))
    result = {
        "format": BENCH_FORMAT,
        "quick": quick,
        "settings": dataclasses.asdict(settings),
        "threads": threads,
        "omp_wait_policy": OMP_WAIT_POLICY,
        "machine": started,
        "loadavg_end": list(os.getloadavg()),
        "reference_note": REFERENCE_NOTE,
        "measurements": measurements,
        "summary": summarise(measurements),
    }
    if out is not None:
        atomic_write_json(out, result)
    return result


def _plan(presets: list[str], threads: list[int], settings: BenchSettings, quick: bool) -> list[list[dict]]:
    """Child jobs: one measurement each (quick mode: one child per preset and thread count).
    The step-vs-forward check runs only for generators that can ``step``."""
    from benchbox.generators import registry

    base = dataclasses.asdict(settings)
    jobs: list[list[dict]] = []
    for label in presets:
        steps = "step" in registry.get(registry.load_preset(parse_label(label)[0])[0]).capabilities
        per_preset = [{"preset": label, "kind": "check", "threads": threads[0], "batch": 2, **base}] if steps else []
        per_preset.append({"preset": label, "kind": "train", "threads": threads[-1], "batch": settings.train_batch, **base})
        per_preset += [
            {"preset": label, "kind": "generate", "threads": n, "batch": b, **base} for b in settings.gen_batches for n in threads
        ]
        if quick:
            for n in threads:
                jobs.append([spec for spec in per_preset if spec["threads"] == n])
        else:
            jobs.extend([spec] for spec in per_preset)
    return jobs


def _run_child(specs: list[dict]) -> list[dict]:
    n_threads = str(specs[0]["threads"])
    # Passive waiting: on a shared machine, spinning OpenMP threads stall whenever another
    # process holds a core (measured: 2 threads fell from ~900 to ~100 samples/s at B=16).
    env = {**os.environ, "OMP_NUM_THREADS": n_threads, "MKL_NUM_THREADS": n_threads, "OMP_WAIT_POLICY": OMP_WAIT_POLICY}
    with tempfile.TemporaryDirectory(prefix="benchbox-bench-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        atomic_write_json(spec_path, specs)
        cmd = [sys.executable, "-m", "benchbox.bench", str(spec_path), str(out_path)]
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise GeneratorError(f"benchmark of '{specs[0]['preset']}' ran past {CHILD_TIMEOUT_SECONDS} s", hint="use --quick or fewer presets") from None
        if proc.returncode != 0 or not out_path.is_file():
            return [_failed(spec, proc) for spec in specs]
        return json.loads(out_path.read_text(encoding="utf-8"))


def _failed(spec: dict, proc: subprocess.CompletedProcess) -> dict:
    """A child that died (an exception, or killed: -9 is usually the OOM killer) is a row, not an abort."""
    last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    keep = ("preset", "kind", "threads", "batch")
    return {**{k: spec[k] for k in keep}, "loadavg": list(os.getloadavg()), "metrics": {}, "error": f"exit {proc.returncode}: {last}"}


def summarise(measurements: list[dict]) -> list[dict]:
    """One row per (preset, metric): the largest value (fastest thread count, worst error,
    peak RSS), with the reference, ratio and target where there are ones."""
    best: dict[tuple[str, str], dict] = {}
    for m in measurements:
        for key, value in m["metrics"].items():
            slot = (m["preset"], key)
            if slot not in best or value > best[slot]["value"]:  # best speed; worst error and RSS
                best[slot] = {"preset": m["preset"], "metric": key, "value": value, "threads": m["threads"]}
    rows = []
    for (label, key), row in best.items():
        ref, target = REFERENCE.get((label, key)), TARGET.get((label, key))
        row["reference"] = ref
        row["ratio"] = None if ref is None else row["value"] / ref
        row["target"] = target
        row["meets_target"] = None if target is None else row["value"] >= target
        rows.append(row)
    return rows


def machine_info() -> dict:
    import torch

    return {
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads_default": torch.get_num_threads(),
        "python": platform.python_version(),
        "loadavg": list(os.getloadavg()),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# --------------------------------------------------------------------------- child side


def measure(spec: dict) -> dict:
    """Run one measurement in this process (the child); returns its record."""
    import torch

    from benchbox.generators import registry

    torch.set_num_threads(int(spec["threads"]))
    torch.manual_seed(int(spec["seed"]))
    name, overrides = parse_label(spec["preset"])
    model = registry.build(*registry.load_preset(name, overrides))
    kinds = {"train": _measure_train, "generate": _measure_generate, "check": _measure_check}
    metrics = kinds[spec["kind"]](model, spec)
    metrics["mem/peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / KIB_PER_MIB
    return {
        "preset": spec["preset"],
        "kind": spec["kind"],
        "threads": int(spec["threads"]),
        "batch": int(spec["batch"]),
        "parameters": model.num_parameters(),
        "loadavg": list(os.getloadavg()),
        "metrics": metrics,
    }


def _measure_train(model: Any, spec: dict) -> dict:
    """Samples/s of the generator's own ``train_step`` over (B, T) random clips, B split into
    micro-batches of ``train_micro_batch`` (one optimiser step each).

    Micro-batches keep the peak memory of the 4 M-parameter presets at B=8, T=16000 near
    half of a full batch (WaveNet-SC09: ~12 GB; SaShiMi-SC09: ~11 GB). Every family is
    measured through the same call the trainer makes, whatever its objective.
    """
    import torch

    from benchbox.audio import encode
    from benchbox.generators.base import Batch, StepContext
    from benchbox.memory import reuse_freed_memory

    batch, micro, length = int(spec["train_batch"]), int(spec["train_micro_batch"]), int(spec["train_samples"])
    model.train()
    optimizers = model.make_optimizers(lr=1e-3, weight_decay=0.01)
    waves = (torch.randn(batch, length, generator=torch.Generator().manual_seed(int(spec["seed"]))) * 0.1).clamp(-1, 1)  # (B, T)
    chunks = [Batch(w, encode(w, model.quantisation).long()) for w in waves.split(micro)]
    ctx = StepContext(step=0, device=torch.device("cpu"))

    def one_step() -> None:
        for chunk in chunks:
            model.train_step(chunk, optimizers, ctx)

    with reuse_freed_memory():  # as benchbox train runs
        for _ in range(int(spec["train_warmup"])):
            one_step()
        iters = int(spec["train_iters"])
        start = time.perf_counter()
        for _ in range(iters):
            one_step()
        seconds = time.perf_counter() - start
    return {"train/samples_per_s": batch * length * iters / seconds, "train/seconds_per_step": seconds / iters}


def _measure_generate(model: Any, spec: dict) -> dict:
    """Samples/s of generation: the token loop for a generator that can ``step``, else its
    ``generate`` of B clips of ``gen_clip_samples`` (a diffusion model's whole sampler, warm-up included once)."""
    import torch

    batch, steps = int(spec["batch"]), int(spec["gen_steps"])
    model.eval()
    if "step" not in model.capabilities:
        rates, length = [], int(spec["gen_clip_samples"])
        for window in range(1 + int(spec.get("gen_repeats", 1))):  # window 0 is the warm-up
            rng = torch.Generator().manual_seed(int(spec["seed"]))
            start = time.perf_counter()
            model.generate(batch, length, rng=rng, batch=batch)
            if window:
                rates.append(batch * length / (time.perf_counter() - start))
        return {f"gen_b{batch}/samples_per_s": max(rates), f"gen_b{batch}/samples_per_s_median": statistics.median(rates)}
    from benchbox.sample import draw, paused_gc

    generator = torch.Generator().manual_seed(int(spec["seed"]))
    rates = []
    with torch.no_grad(), paused_gc():  # as benchbox.sample runs its token loop
        state = model.init_state(batch)
        token = torch.full((batch,), SILENCE_CODE, dtype=torch.long)
        for window in range(1 + int(spec.get("gen_repeats", 1))):  # window 0 is the warm-up
            start = time.perf_counter()
            for _ in range(int(spec["gen_warmup"]) if window == 0 else steps):
                logits, state = model.step(token, state)  # (B, C)
                token, _ = draw(logits, 1.0, 1.0, generator)  # (B,), the sampler's own per-token call
            if window:
                rates.append(batch * steps / (time.perf_counter() - start))
    # On a shared machine a window can lose half its time to a neighbour: best of N, as timeit.
    return {f"gen_b{batch}/samples_per_s": max(rates), f"gen_b{batch}/samples_per_s_median": statistics.median(rates)}


def _measure_check(model: Any, spec: dict) -> dict:
    import torch

    model.eval()
    x = torch.randint(0, model.num_classes, (int(spec["batch"]), int(spec["check_samples"])))  # (B, T)
    with torch.no_grad():
        parallel = model(x)  # (B, T, C)
        state = model.init_state(x.shape[0])
        err = 0.0
        for t in range(x.shape[1]):
            logits, state = model.step(x[:, t], state)
            err = max(err, (logits - parallel[:, t]).abs().max().item())
    return {"check/step_max_abs_err": err}


def _child_main(argv: list[str]) -> None:
    spec_path, out_path = argv
    specs = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    atomic_write_json(out_path, [measure(spec) for spec in specs])


if __name__ == "__main__":
    _child_main(sys.argv[1:])
