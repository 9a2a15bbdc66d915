"""The Generator interface that the trainer and the sampler use, and nothing else.

Legend: B batch, T time in tokens, C = 256 classes.

A generator is an ``nn.Module`` over int64 tokens in [0, 256):

* ``forward(x)``: (B, T) -> (B, T, C) causal logits, computed in parallel (training).
  Logit t depends on tokens 0..t only and predicts token t+1.
* ``init_state(batch, device)``: the recurrent state before any token; any warm-up a
  model needs (discretising SSMs, zeroed WaveNet queues) happens here.
* ``step(x_t, state)``: (B,) -> ((B, C) logits, state); T calls of ``step`` reproduce
  ``forward`` on the same tokens.
* ``prefill(x, state)``: feed a (B, T) prefix, return the last logits and the state.
  The default loops ``step``; a generator may override it with something faster as long
  as the result is the same.
* ``use_native``: whether ``init_state`` may pick a compiled fast step (same results,
  see ``benchbox.native``); the torch step stays the reference.
* ``param_groups(lr, weight_decay)``: AdamW groups, with each model's own lr hints.
* ``fit(codes, quantisation)``: closed-form statistics from the training clips (the
  count and linear-prediction baselines); a no-op for gradient-trained models. A
  generator with no trainable parameters is complete after ``fit``.

The trainer and sampler never test which generator they hold.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from benchbox.audio import QUANT_CLASSES

State = Any


class Generator(nn.Module):
    name: ClassVar[str]
    config_class: ClassVar[type]
    # A generator may step through compiled C (``benchbox.native``) on float32 CPU tensors;
    # False forces its torch reference step (tests compare the two).
    use_native: bool = True

    def __init__(self, config: Any):
        super().__init__()
        self.config = config

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, T, C)
        raise NotImplementedError

    def init_state(self, batch: int, device: torch.device | str = "cpu") -> State:
        raise NotImplementedError

    def step(self, x_t: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:  # (B,) -> (B, C)
        raise NotImplementedError

    def prefill(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Feed tokens (B, T) one by one; return the logits after the last one, (B, C)."""
        logits = None
        for t in range(x.shape[1]):
            logits, state = self.step(x[:, t], state)
        return logits, state

    def fit(self, codes: torch.Tensor, quantisation: str) -> None:
        """Fit closed-form statistics on training codes (N, T) int; default: nothing to fit."""

    @property
    def device(self) -> torch.device:
        """Where the weights live: the first parameter's or buffer's device (CPU if none)."""
        for tensor in (*self.parameters(), *self.buffers()):
            return tensor.device
        return torch.device("cpu")

    @property
    def trainable(self) -> bool:
        """Whether gradient steps can change the model (any parameter requires grad)."""
        return any(p.requires_grad for p in self.parameters())

    def weights_key(self) -> tuple:
        """Changes whenever a parameter is replaced, updated in place, cast or moved: the key
        under which a generator caches matrices derived for its step."""
        return tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in self.parameters())

    def param_groups(self, lr: float, weight_decay: float) -> list[dict]:
        """Default: decay matrices, not biases/norms/embeddings-as-vectors."""
        decay, no_decay = [], []
        for p in self.parameters():
            if not p.requires_grad:
                continue
            (decay if p.dim() >= 2 else no_decay).append(p)
        return [
            {"params": decay, "lr": lr, "weight_decay": weight_decay},
            {"params": no_decay, "lr": lr, "weight_decay": 0.0},
        ]

    @property
    def receptive_field(self) -> int | None:
        """Tokens of context the model sees (None: unbounded, as for an SSM)."""
        return None

    @property
    def num_classes(self) -> int:
        return QUANT_CLASSES

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
