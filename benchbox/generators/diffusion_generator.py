"""What every diffusion generator shares: EMA weights for eval and sampling, the EMA update
after each optimiser step, and batched generation.

Legend: n clips, T length in samples, P prime length in samples.

A subclass sets ``self.net`` (the denoiser backbone), ``self.diffusion``
(``benchbox.generators.diffusion.Diffusion``) and ``self.ema``
(``benchbox.generators.diffusion.EMA``) in ``__init__``, and implements
``_generate(n, length, prime, rng, sampling_steps) -> (n, T)`` (``sampling_steps``: the
reverse steps to take, None = the config's ``sampling_steps``).
"""

from __future__ import annotations

import torch
from torch.func import functional_call

from benchbox.errors import GeneratorError
from benchbox.generators import clip_rng
from benchbox.generators.base import Generator


class DiffusionGenerator(Generator):
    sampling_settings = frozenset({"sampling_steps"})  # no token distribution: temperature and top_p read n/a
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
    def generate(self, n: int, length: int, *, prime: torch.Tensor | None = None, rng: clip_rng.Rng, temperature: float = 1.0, top_p: float = 1.0,
                 batch: int = 16, sampling_steps: int = 0) -> torch.Tensor:
        """(n, length) waves in [-1, 1], ``batch`` clips at a time; ``prime`` (n, P) lands bit-exactly in out[:, :P].
        ``rng``: one generator, or n (one per clip; :mod:`benchbox.generators.clip_rng`).
        ``sampling_steps``: reverse steps (0 = the config's ``sampling_steps``), at most the
        diffusion's ``steps``. ``temperature`` and ``top_p`` are not in ``sampling_settings``:
        the sampler never passes them (their cells read n/a)."""
        if not 0 <= sampling_steps <= self.config.steps:
            raise GeneratorError(f"sampling_steps = {sampling_steps} is outside 0..{self.config.steps} (the model's diffusion steps)",
                                 hint=f"sample with at most {self.config.steps} steps, or 0 for the model's own {self.config.sampling_steps}")
        steps = sampling_steps or None
        with self.evaluating():
            parts = [self._generate(min(batch, n - i), length, None if prime is None else prime[i : i + batch], clip_rng.rows(rng, i, i + batch), steps)
                     for i in range(0, n, batch)]
        return torch.cat(parts) if parts else torch.zeros(0, length)

    def _generate(self, n: int, length: int, prime: torch.Tensor | None, rng: clip_rng.Rng, sampling_steps: int | None = None) -> torch.Tensor:
        raise NotImplementedError
