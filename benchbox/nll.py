"""Next-sample negative log-likelihood: the one loss every generator is trained and ranked on.

Legend: B batch, T time in samples, C = 256 classes, N clips.

A clip of codes ``x0 .. x_{T-1}`` is fed as ``[SILENCE, x0 .. x_{T-2}]`` and scored on
predicting ``x0 .. x_{T-1}`` (cross-entropy over C classes), exactly as generation
starts from the silence token. NLL is reported in nats inside the trainer and in
**bits/sample** (nats / ln 2) everywhere a person reads it.
"""

from __future__ import annotations

import math

import torch

from benchbox.audio import QUANT_CLASSES, SILENCE_CODE

NATS_PER_BIT = math.log(2.0)


def next_sample_loss(model: torch.nn.Module, codes: torch.Tensor, amp: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy (nats) over (B, T) codes and the number of correct argmax predictions."""
    target = codes.long()  # (B, T)
    silence = torch.full_like(target[:, :1], SILENCE_CODE)  # (B, 1)
    inputs = torch.cat([silence, target[:, :-1]], dim=1)  # (B, T)
    with torch.autocast(device_type=target.device.type, dtype=torch.bfloat16, enabled=amp):
        logits = model(inputs)  # (B, T, C)
    logits = logits.float().reshape(-1, QUANT_CLASSES)  # (B*T, C)
    loss = torch.nn.functional.cross_entropy(logits, target.reshape(-1))
    correct = (logits.argmax(dim=-1) == target.reshape(-1)).sum()
    return loss, correct


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
