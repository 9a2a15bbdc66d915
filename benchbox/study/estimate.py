"""Cost estimate of a protocol, for ``benchbox run --dry-run``.

Each preset is built once and timed for a couple of training steps and a few dozen
generation steps on this machine; the plan's step counts scale those measurements.
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


def _time_preset(preset: str, batch: int, clip_samples: int, gen_batch: int) -> tuple[float, float]:
    """(seconds per training step, seconds per generation step at ``gen_batch``)."""
    name, cfg = load_preset(preset)
    torch.manual_seed(0)
    model = build(name, cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randint(0, QUANT_CLASSES, (batch, clip_samples))  # (B, T)
    for i in range(TIMED_TRAIN_STEPS + 1):
        if i == 1:
            start = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x).reshape(-1, QUANT_CLASSES), x.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    train_step = (time.perf_counter() - start) / TIMED_TRAIN_STEPS
    model.eval()
    with torch.no_grad():
        state = model.init_state(gen_batch, "cpu")
        tok = torch.full((gen_batch,), QUANT_CLASSES // 2, dtype=torch.long)
        _, state = model.step(tok, state)
        start = time.perf_counter()
        for _ in range(TIMED_GEN_STEPS):
            _, state = model.step(tok, state)
    return train_step, (time.perf_counter() - start) / TIMED_GEN_STEPS


ASSUMED_STEPS = 1000  # when neither max_steps nor (epochs with a known train split) gives a count


def estimate_protocol(proto: ProtocolConfig, n_train: int | None = None, done: frozenset[str] = frozenset()) -> dict:
    """Seconds per stage of ``proto`` on this machine: ``{stages, total_seconds, basis}``.

    Training steps follow the protocol's limits (:func:`benchbox.train.total_steps`):
    ``max_steps``, or ``epochs`` over ``n_train`` clips when the train split's size is
    known (an imported dataset), else ``max_steps`` as a bound, else ``ASSUMED_STEPS``. Stages named in ``done`` (already
    finished, with unchanged inputs) cost 0.
    """
    from benchbox.train import TrainSection, total_steps

    tcfg = from_dict(TrainSection, proto.train, where="train.")
    counted = total_steps(tcfg, n_train, 1) if (n_train or tcfg.epochs <= 0) else None
    steps = counted or tcfg.max_steps or ASSUMED_STEPS  # epochs over an unknown split: max_steps bounds it
    g = proto.generate
    gen_samples = int(round(g.seconds * PROJECT_SAMPLE_RATE_HZ))
    cells = len(proto.sweep.checkpoint) * len(proto.sweep.prime_ms)
    presets = sorted({job.preset for job in train_jobs(proto)})  # the grid's and the extra runs'
    timings = {p: _time_preset(p, tcfg.batch_size, proto.data.crop_samples or DEFAULT_CLIP_SAMPLES, g.batch) for p in presets}
    stages = {"data": 10.0}
    for job in train_jobs(proto):
        train_s, gen_s = timings[job.preset]
        stages[f"train/{job.run_id}"] = train_s * steps * 1.1  # + evaluation
        stages[f"generate/{job.run_id}"] = gen_s * gen_samples * cells * math.ceil(g.n / g.batch)
        stages[f"score/{job.run_id}"] = SCORE_SECONDS_PER_CLIP * cells * g.n + 5.0
    stages["leaderboard"] = 10.0
    stages["report"] = 5.0
    stages = {key: (0.0 if key in done else seconds) for key, seconds in stages.items()}
    unknown = f"{tcfg.epochs:g} epochs of a train split not imported yet"
    basis_steps = f"{steps} steps per run" + ("" if counted else f" (at most max_steps: {unknown})" if tcfg.max_steps else f" (assumed: {unknown})")
    return {
        "stages": stages,
        "total_seconds": sum(stages.values()),
        "basis": f"timed {TIMED_TRAIN_STEPS} train steps and {TIMED_GEN_STEPS} generation steps per preset, "
        f"{torch.get_num_threads()} threads; {basis_steps}" + (f"; {len(done)} stages already done" if done else ""),
    }


