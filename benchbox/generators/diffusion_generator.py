"""What every diffusion generator shares: EMA weights for eval and sampling, the EMA update
after each optimiser step, and batched generation.

Legend: n clips, T length in samples, P prime length in samples.

A subclass sets ``self.net`` (the denoiser backbone), ``self.diffusion``
(``benchbox.generators.diffusion.Diffusion``) and ``self.ema``
(``benchbox.generators.diffusion.EMA``) in ``__init__``, and implements
``_generate(n, length, prime, rng) -> (n, T)``.
"""

from __future__ import annotations

import torch
from torch.func import functional_call

from benchbox.generators.base import Generator


class DiffusionGenerator(Generator):
    def denoiser(self):
        """The training weights while training, the EMA weights otherwise (eval loss, sampling)."""
        if self.training:
            return self.net
        params = dict(zip(self.ema.names, self.ema.shadows()))
        return lambda z, t: functional_call(self.net, params, (z, t))

    def train_step(self, batch, optimizers, ctx) -> dict[str, torch.Tensor]:
        metrics = super().train_step(batch, optimizers, ctx)
        self.ema.update(self.net, self.config.ema_decay)
        return metrics

    @torch.no_grad()
    def generate(self, n: int, length: int, *, prime: torch.Tensor | None = None, rng: torch.Generator, temperature: float = 1.0, top_p: float = 1.0, batch: int = 16) -> torch.Tensor:
        """(n, length) waves in [-1, 1], ``batch`` clips at a time; ``prime`` (n, P) lands bit-exactly in out[:, :P].
        ``temperature`` and ``top_p`` have no meaning here and are ignored."""
        with self.evaluating():
            parts = [self._generate(min(batch, n - i), length, None if prime is None else prime[i : i + batch], rng) for i in range(0, n, batch)]
        return torch.cat(parts) if parts else torch.zeros(0, length)

    def _generate(self, n: int, length: int, prime: torch.Tensor | None, rng: torch.Generator) -> torch.Tensor:
        raise NotImplementedError
