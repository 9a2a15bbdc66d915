"""S4D vs exact DPLR generation speed, interleaved: SaShiMi-SC09 ``step`` + ``sample.draw``.

Legend: B batch.

On a shared machine, run-to-run noise (up to 30% here) is larger than the difference
between the two kernels, so separate benchmark runs cannot rank them. This builds both
models once and alternates short timed windows between them, then reports the median
samples/s of each and their ratio per batch size (JSON on stdout). It also records why
the exact DPLR step cannot take S4D's diagonal form: the condition number of the
eigenvectors of one DPLR layer's discrete transition (float64), which a diagonal float32
step would multiply its rounding errors by::

    .venv/bin/python benchmarks/compare_kernels.py [--rounds 7] [--steps 300] [--batches 1,16]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time

import numpy as np
import torch

from benchbox.audio import SILENCE_CODE
from benchbox.generators import registry
from benchbox.sample import draw, paused_gc
from benchbox.threads import scoped_threads

KERNELS = ("s4d", "dplr")


def window(model, state, token, steps: int, generator: torch.Generator):
    start = time.perf_counter()
    for _ in range(steps):
        logits, state = model.step(token, state)  # (B, C)
        token, _ = draw(logits, 1.0, 1.0, generator)  # (B,)
    return token.shape[0] * steps / (time.perf_counter() - start), state, token


def eigenvector_condition(model) -> dict[str, float]:
    """Median and max over channels of cond(V), dA = V diag(lambda) V^-1, for the first S4 layer."""
    from benchbox.generators.s4 import DPLRKernel

    kernel = copy.deepcopy(next(m for m in model.modules() if isinstance(m, DPLRKernel))).double()
    with torch.no_grad():
        da, _ = kernel.discretise()  # (H, N, N)
    conds = [float(np.linalg.cond(np.linalg.eig(a)[1])) for a in da.numpy()]
    return {"median": statistics.median(conds), "max": max(conds), "channels": len(conds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed windows per kernel and batch size")
    parser.add_argument("--steps", type=int, default=300, help="tokens per window")
    parser.add_argument("--batches", default="1,16", help="comma-separated batch sizes")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the native SaShiMi step splits B >= 8 over them)")
    args = parser.parse_args()
    torch.manual_seed(0)
    models = {k: registry.build(*registry.load_preset("sashimi-sc09", {"kernel": k})).eval() for k in KERNELS}
    generator = torch.Generator().manual_seed(0)
    result = {"threads": args.threads, "rounds": args.rounds, "steps": args.steps, "batches": {}}
    with torch.no_grad(), paused_gc(), scoped_threads(args.threads):
        for batch in (int(b) for b in args.batches.split(",")):
            states = {k: m.init_state(batch) for k, m in models.items()}
            tokens = {k: torch.full((batch,), SILENCE_CODE, dtype=torch.long) for k in KERNELS}
            rates: dict[str, list[float]] = {k: [] for k in KERNELS}
            for r in range(args.rounds + 1):  # round 0 warms up
                for k in KERNELS if r % 2 else KERNELS[::-1]:
                    rate, states[k], tokens[k] = window(models[k], states[k], tokens[k], args.steps, generator)
                    if r:
                        rates[k].append(rate)
            median = {k: statistics.median(v) for k, v in rates.items()}
            result["batches"][str(batch)] = {"median_samples_per_s": median, "dplr_over_s4d": median["dplr"] / median["s4d"], "windows": rates}
    result["dplr_eigenvector_condition"] = eigenvector_condition(models["dplr"])
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
