"""Next-sample negative log-likelihood of codes under a generator with the ``likelihood`` capability.

Legend: B batch, T time in samples, C = 256 classes, N clips.

A clip of codes ``x0 .. x_{T-1}`` is fed as ``[SILENCE, x0 .. x_{T-2}]`` and scored on
predicting ``x0 .. x_{T-1}`` (cross-entropy over C classes), exactly as generation
starts from the silence token. NLL is reported in nats inside the trainer and in
**bits/sample** (nats / ln 2) everywhere a person reads it. A generator without the
capability has no NLL: its cells read :data:`NOT_AVAILABLE`, never a number.
"""

from __future__ import annotations

import contextlib
import math

import torch

from benchbox.audio import QUANT_CLASSES, SILENCE_CODE

NATS_PER_BIT = math.log(2.0)
NOT_AVAILABLE = "n/a"  # what an NLL cell reads for a generator without the likelihood capability


def _inputs(codes: torch.Tensor) -> torch.Tensor:
    """(B, T) targets -> (B, T) inputs ``[SILENCE, x0 .. x_{T-2}]``."""
    silence = torch.full_like(codes[:, :1], SILENCE_CODE)  # (B, 1)
    return torch.cat([silence, codes[:, :-1]], dim=1)


def next_sample_loss(model: torch.nn.Module, codes: torch.Tensor, amp: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy (nats) over (B, T) codes and the number of correct argmax predictions.

    ``amp`` opens a bf16 autocast here; without it the caller's autocast (if any) applies."""
    target = codes.long()  # (B, T)
    cast = torch.autocast(device_type=target.device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()
    with cast:
        logits = model(_inputs(target))  # (B, T, C)
    logits = logits.float().reshape(-1, QUANT_CLASSES)  # (B*T, C)
    loss = torch.nn.functional.cross_entropy(logits, target.reshape(-1))
    correct = (logits.argmax(dim=-1) == target.reshape(-1)).sum()
    return loss, correct


@torch.no_grad()
def clip_log_likelihood(model: torch.nn.Module, codes: torch.Tensor, start: int = 0) -> torch.Tensor:
    """(B, T) codes -> (B,) float64 summed log-probability (nats) of tokens ``start .. T-1``,
    each given every token before it (one parallel forward pass)."""
    target = codes.long()  # (B, T)
    logp = torch.log_softmax(model(_inputs(target)).float(), dim=-1)  # (B, T, C)
    picked = logp.gather(2, target[:, :, None])[:, start:, 0]  # (B, T - start)
    return picked.double().sum(dim=1)


@torch.no_grad()
def split_nll(model: torch.nn.Module, codes: torch.Tensor, batch: int, *, device: torch.device | str = "cpu", amp: bool = False, rank: int = 0, world: int = 1) -> tuple[float, float, int]:
    """Summed NLL (nats), correct predictions and sample count over every clip of ``codes``
    (N, T), full length, in batches of ``batch``; process ``rank`` of ``world`` takes every
    world-th batch (sum the triples over processes). The model is used as given (eval mode
    is the caller's choice)."""
    loss_sum, correct, count = 0.0, 0.0, 0
    for s in list(range(0, len(codes), batch))[rank::world]:
        chunk = codes[s : s + batch].to(device)  # (b, T)
        loss, right = next_sample_loss(model, chunk, amp)
        loss_sum, correct, count = loss_sum + float(loss) * chunk.numel(), correct + float(right), count + chunk.numel()
    return loss_sum, correct, count


def bits_text(value: float | None, digits: int = 3) -> str:
    """An NLL in bits/sample as a table cell: the number, or "n/a" when there is none."""
    return NOT_AVAILABLE if value is None or not math.isfinite(value) else f"{value:.{digits}f}"
