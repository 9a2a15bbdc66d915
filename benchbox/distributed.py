"""torchrun support: a process group per run (gloo on CPU, NCCL on CUDA) and the few
collectives the training loop needs. With one process every method is a local no-op.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; ``DistContext`` reads them, joins the
group on entry (unless the caller already did) and leaves it on exit.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from benchbox.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if device not in DEVICES:
        raise ConfigError(f"unknown device '{device}'", hint=f"use one of: {', '.join(DEVICES)}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda, but torch sees no CUDA GPU", hint="use --device cpu (or auto)")
    if device == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", local_rank)


class DistContext:
    """The torchrun environment: a process group (gloo on CPU, NCCL on CUDA) when W > 1."""

    def __init__(self, device: str):
        env = os.environ
        self.rank, self.world = int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1))
        self.local_rank = int(env.get("LOCAL_RANK", 0))
        self.device = resolve_device(device, self.local_rank)
        self._owns_group = False

    def __enter__(self) -> DistContext:
        if self.world > 1 and not torch.distributed.is_initialized():
            if self.device.type == "cuda":
                torch.distributed.init_process_group("nccl", device_id=self.device)
            else:
                torch.distributed.init_process_group("gloo")
            self._owns_group = True
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if self._owns_group:
            if exc_type is None:
                # Every rank reaches this point before any rank tears its connections down: a rank
                # that destroyed its gloo pairs while the other was still finishing its last
                # collective made the other abort (SIGABRT, "connection closed by peer").
                # After an error the other ranks may never arrive, so no barrier then.
                torch.distributed.barrier()
            torch.distributed.destroy_process_group()

    def all_sum(self, values: list[float]) -> list[float]:
        if self.world == 1:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(t)
        return t.tolist()

    def any(self, flag: bool) -> bool:
        return self.all_sum([float(flag)])[0] > 0

    def gather(self, obj: Any) -> list[Any]:
        if self.world == 1:
            return [obj]
        out: list[Any] = [None] * self.world
        torch.distributed.all_gather_object(out, obj)
        return out
