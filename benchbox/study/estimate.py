"""Cost estimate of a protocol, for ``benchbox run --dry-run``.

Each preset is built once and timed for a couple of training steps and a few dozen
generation steps on this machine; the plan's step counts scale those measurements.
Generation counts the cells each generator really gets (:func:`benchbox.generate.plan_cells`:
primed cells only with the ``prime`` capability, sampling axes only where honoured) and times
a whole-clip sampler once per distinct sampling setting (e.g. each ``sampling_steps``).
It is an estimate: early stopping, other load and caches change the real figure.
"""

from __future__ import annotations

import math
import time

import torch

from benchbox.audio import PROJECT_SAMPLE_RATE_HZ, QUANT_CLASSES
from benchbox.config import from_dict
from benchbox.generators.registry import build, load_preset
from benchbox.study.protocol import ProtocolConfig, train_jobs

TIMED_TRAIN_STEPS = 2
TIMED_GEN_STEPS = 32
SCORE_SECONDS_PER_CLIP = 0.06  # aisfx + mel on 2 cores, cold cache (benchmarks/bench_embed.py)
DEFAULT_CLIP_SAMPLES = 8192


def _time_preset(preset: str, batch: int, clip_samples: int, gen_batch: int, gen_samples: int, proto: ProtocolConfig,
                 time_train: bool = True, time_generate: bool = True) -> tuple[float | None, float, int]:
    """(seconds per training step, seconds to generate one clip in each of the run's cells summed
    over its cells, cells), at ``gen_batch``, through the calls the trainer and sampler make for
    any family: ``train_step`` and ``generate``. A fitted model (no optimisers) trains in 0 s a step.
    ``time_train=False`` (every run of this preset and batch size trained) gives None for the step;
    ``time_generate=False`` (every such run generated) gives 0 for generation; the cells are always counted."""
    from benchbox.audio import encode
    from benchbox.generate import GenerateConfig, plan_cells
    from benchbox.generators.base import Batch, StepContext

    name, cfg = load_preset(preset)
    torch.manual_seed(0)
    model = build(name, cfg)
    optimizers = model.make_optimizers(lr=1e-4, weight_decay=0.0)
    waves = (torch.randn(batch, clip_samples, generator=torch.Generator().manual_seed(0)) * 0.1).clamp(-1, 1)  # (B, T)
    data = Batch(waves, encode(waves, getattr(model, "quantisation", "mulaw")).long())
    ctx = StepContext(step=0, device=torch.device("cpu"))
    model.train()
    train_step = 0.0 if time_train else None  # no optimisers: fitted in closed form at step 0 (FIT_SECONDS)
    if optimizers and time_train:
        for i in range(TIMED_TRAIN_STEPS + 1):
            if i == 1:
                start = time.perf_counter()
            model.train_step(data, optimizers, ctx)
        train_step = (time.perf_counter() - start) / TIMED_TRAIN_STEPS
    model.eval()
    ckpts = proto.sweep.checkpoint
    gen_cfg = GenerateConfig(ckpts, tuple(int(p) for p in proto.sweep.prime_ms), **proto.sweep.sampling_axes(proto.generate))
    cells, _ = plan_cells(gen_cfg, dict.fromkeys(ckpts, model.capabilities), dict.fromkeys(ckpts, model.sampling_settings))
    if not time_generate:
        return train_step, 0.0, len(cells)
    per_clip = {}
    with torch.no_grad():
        if "step" in model.capabilities:  # a token loop: time TIMED_GEN_STEPS tokens, scale to the clip (any setting)
            state = model.init_state(gen_batch, "cpu")
            tok = torch.full((gen_batch,), QUANT_CLASSES // 2, dtype=torch.long)
            _, state = model.step(tok, state)
            start = time.perf_counter()
            for _ in range(TIMED_GEN_STEPS):
                _, state = model.step(tok, state)
            seconds = (time.perf_counter() - start) / TIMED_GEN_STEPS * gen_samples / gen_batch
            per_clip = {c.settings: seconds for c in cells}
        for settings in dict.fromkeys(c.settings for c in cells):  # a whole-clip sampler: one small batch per setting
            if settings not in per_clip:
                start = time.perf_counter()
                model.generate(TIMED_GEN_CLIPS, gen_samples, rng=torch.Generator().manual_seed(0), batch=TIMED_GEN_CLIPS,
                               **{k: int(v) if k == "sampling_steps" else v for k, v in settings})
                per_clip[settings] = (time.perf_counter() - start) / TIMED_GEN_CLIPS
    return train_step, sum(per_clip[c.settings] for c in cells), len(cells)


TIMED_GEN_CLIPS = 2
FIT_SECONDS = 30.0  # a closed-form fit (ngram, lpc) and its evaluation
ASSUMED_STEPS = 1000  # when neither max_steps nor (epochs with a known train split) gives a count


def estimate_protocol(proto: ProtocolConfig, n_train: int | None = None, done: frozenset[str] = frozenset()) -> dict:
    """Seconds per stage of ``proto`` on this machine: ``{stages, total_seconds, basis}``.

    Training steps follow the protocol's limits (:func:`benchbox.train.total_steps`):
    ``max_steps``, or ``epochs`` over ``n_train`` clips when the train split's size is
    known (an imported dataset), else ``max_steps`` as a bound, else ``ASSUMED_STEPS``. Stages named in ``done`` (already
    finished, with unchanged inputs) cost 0.
    """
    from benchbox.train import TrainSection, total_steps

    g = proto.generate
    gen_samples = int(round(g.seconds * PROJECT_SAMPLE_RATE_HZ))
    jobs = train_jobs(proto)
    tcfgs = {job.run_id: from_dict(TrainSection, job.train_settings(proto), where="train.") for job in jobs}
    finished = {job.run_id for job in jobs if {f"{s}/{job.run_id}" for s in ("train", "generate", "score")} <= done}
    by_key: dict[tuple[str, int], list[str]] = {}  # one timing per (preset, batch size): the grid's and the extra runs'
    for job in jobs:
        by_key.setdefault((job.preset, tcfgs[job.run_id].batch_size), []).append(job.run_id)
    pending = lambda stage, runs: any(f"{stage}/{run}" not in done for run in runs)  # noqa: E731
    timings = {key: _time_preset(key[0], key[1], proto.data.crop_samples or DEFAULT_CLIP_SAMPLES, g.batch, gen_samples, proto,
                                 time_train=pending("train", runs), time_generate=pending("generate", runs))
               for key, runs in by_key.items()}  # a stage done in every run of a key is not timed (its cells still count)
    stages, basis, clips, runs = {"data": 10.0}, set(), 0, {}
    for job in jobs:
        tcfg = tcfgs[job.run_id]
        if job.run_id in finished:
            clips += timings[(job.preset, tcfg.batch_size)][2] * g.n
            continue  # its stages cost 0 below
        counted = total_steps(tcfg, n_train, 1) if (n_train or tcfg.epochs <= 0) else None
        steps = counted or tcfg.max_steps or ASSUMED_STEPS  # epochs over an unknown split: max_steps bounds it
        train_s, cells_clip_s, cells = timings[(job.preset, tcfg.batch_size)]
        seconds = train_s * steps * 1.1 if train_s else FIT_SECONDS  # + evaluation
        if f"train/{job.run_id}" in done:
            seconds = 0.0  # trained already (train_s may be None: not timed)
        elif not train_s:
            basis.add(f"{job.run_id}: fitted, {FIT_SECONDS:g} s")
        elif tcfg.max_minutes > 0:
            seconds = min(seconds, tcfg.max_minutes * 60) if (counted or tcfg.max_steps) else tcfg.max_minutes * 60
            basis.add(f"{job.run_id}: at most {tcfg.max_minutes:g} min")
        elif not counted:
            unknown = f"{tcfg.epochs:g} epochs of a train split not imported yet"
            basis.add(f"{steps} steps per run" + (f" (at most max_steps: {unknown})" if tcfg.max_steps else f" (assumed: {unknown})"))
        else:
            basis.add(f"{steps} steps per run")
        stages[f"train/{job.run_id}"] = seconds
        stages[f"generate/{job.run_id}"] = cells_clip_s * g.n
        stages[f"score/{job.run_id}"] = SCORE_SECONDS_PER_CLIP * cells * g.n + 5.0
        clips += cells * g.n
    stages["leaderboard"] = 10.0
    stages["report"] = 5.0
    stages |= {f"{s}/{run}": 0.0 for run in finished for s in ("train", "generate", "score")}
    stages = {key: (0.0 if key in done else seconds) for key, seconds in stages.items()}
    timed = [f"{TIMED_TRAIN_STEPS} train steps"] if any(pending("train", r) for r in by_key.values()) else []
    timed += [f"{TIMED_GEN_STEPS} generation steps"] if any(pending("generate", r) for r in by_key.values()) else []
    parts = [f"timed {' and '.join(timed)} per preset that needs them, {torch.get_num_threads()} threads"] if timed else ["nothing timed: every run is trained and generated"]
    parts += sorted(basis) + ([f"{len(done)} stages already done"] if done else [])
    return {
        "stages": stages,
        "total_seconds": sum(stages.values()),
        "two_process_seconds": two_process_seconds(stages),
        "clips": clips,
        "basis": "; ".join(parts),
    }




def two_process_seconds(stages: dict[str, float]) -> float:
    """Wall time if two processes shared the runs, one thread each on its own core: each run
    (train, generate, score) whole on one process, longest first onto the less loaded one, plus
    the shared stages (data, leaderboard, report)."""
    per_run: dict[str, float] = {}
    shared = 0.0
    for key, seconds in stages.items():
        kind, _, run = key.partition("/")
        if run:
            per_run[run] = per_run.get(run, 0.0) + seconds
        else:
            shared += seconds
    loads = [0.0, 0.0]
    for seconds in sorted(per_run.values(), reverse=True):
        loads[loads.index(min(loads))] += seconds
    return max(loads) + shared
