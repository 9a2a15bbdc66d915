"""footplug: a complete benchbox generator plugin in one file.

Legend: B batch, T time in tokens, C = 256 classes.

A learned bigram over the quantised codes: the logits of token t+1 depend on token t only.
benchbox finds it through the entry point in this folder's pyproject.toml; nothing in
benchbox changes. ``tests/generators/test_plugins.py`` installs exactly this file.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from benchbox.generators.autoregressive import Autoregressive

CLASSES = 256  # benchbox's quantised codes are int64 in [0, 256)


@dataclass(frozen=True)
class BigramConfig:
    init_scale: float = 0.01  # std of the initial logits
    dropout: float = 0.0  # benchbox's sweeps may set it; a bigram has nothing to drop


class Bigram(Autoregressive):  # next-sample NLL, sampling and priming come with the family
    name = "bigram"
    config_class = BigramConfig

    def __init__(self, config: BigramConfig):
        super().__init__(config)
        self.table = nn.Embedding(CLASSES, CLASSES)  # previous code -> logits of the next
        nn.init.normal_(self.table.weight, std=config.init_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, T, C)
        return self.table(x)

    def init_state(self, batch: int, device: torch.device | str = "cpu") -> None:
        return None  # a bigram keeps no state beyond the token it is given

    def step(self, x_t: torch.Tensor, state: None) -> tuple[torch.Tensor, None]:  # (B,) -> (B, C)
        return self.table(x_t), state

    @property
    def receptive_field(self) -> int:
        return 1
