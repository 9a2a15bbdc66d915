"""Scoped intra-op thread count for CPU work.

Autoregressive sampling at small batch is per-op overhead, not arithmetic: on a 2-core
machine one thread is several times faster than two, and two threads collapse when
another process is busy. Training and embedding want every core. ``scoped_threads``
sets the count for one block and restores the caller's setting afterwards, so the
library never leaves global torch state changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from benchbox.errors import ConfigError

AUTO = 0  # keep whatever the process has


@contextlib.contextmanager
def scoped_threads(threads: int) -> Iterator[None]:
    """``threads`` intra-op threads for the block (:data:`AUTO`: unchanged); ConfigError below AUTO.

    Both pools: torch's intra-op pool and the BLAS libraries numpy and scipy call (OpenBLAS,
    MKL; through threadpoolctl). Several processes on one machine each at every core's count
    oversubscribe it: on 2 cores, two ``benchbox run`` processes at torch's default 2 threads
    each trained specdiff-cpu at 0.19-0.36 M samples/s, against 1.76 M at 1 thread each
    (2026-12-07, the families study; README, protocols)."""
    if threads < AUTO:  # a negative count once read as AUTO, silently
        raise ConfigError(f"--threads must be >= 1, or 0 for torch's default; got {threads}", hint="--threads 1 is safest on a busy machine")
    if threads == AUTO:
        yield
        return
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        with threadpool_limits(limits=int(threads), user_api="blas"):
            yield
    finally:
        torch.set_num_threads(before)
