"""The autoregressive family: next-sample models over 256 codes (sashimi, wavenet, ngram, lpc).

Legend: B batch, T time in tokens, P prime tokens, C = 256 classes.

An autoregressive generator is an ``nn.Module`` over int64 tokens in [0, 256):

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

From these the family answers the whole :class:`~benchbox.generators.base.Generator`
interface: its ``loss`` is the next-sample NLL (:mod:`benchbox.nll`), ``generate`` runs the
one token loop of :mod:`benchbox.sample` and decodes the codes with ``quantisation``, and
:meth:`log_likelihood` scores clips for likelihood-ranked curation.
"""

from __future__ import annotations

import torch

from benchbox.generators import clip_rng
from benchbox.audio import decode, encode
from benchbox.errors import GeneratorError
from benchbox.generators.base import Batch, Generator, State


class Autoregressive(Generator):
    capabilities = frozenset({"likelihood", "step", "prime"})
    sampling_settings = frozenset({"temperature", "top_p"})

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

    # --------------------------------------------------------- the interface

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Mean next-sample NLL (nats); metrics ``bits`` (bits/sample) and ``acc``."""
        from benchbox.nll import NATS_PER_BIT, next_sample_loss

        loss, correct = next_sample_loss(self, batch.codes)
        return loss, {"bits": loss.detach() / NATS_PER_BIT, "acc": correct / batch.codes.numel()}

    def log_likelihood(self, codes: torch.Tensor, start: int = 0) -> torch.Tensor:
        """(B, T) codes -> (B,) summed log-probability (nats) of tokens ``start..T-1``."""
        from benchbox.nll import clip_log_likelihood

        return clip_log_likelihood(self, codes, start)

    def generate(
        self, n: int, length: int, *, prime: torch.Tensor | None = None, rng: clip_rng.Rng,
        temperature: float = 1.0, top_p: float = 1.0, batch: int = 16,
    ) -> torch.Tensor:  # fmt: skip
        """The token loop of :func:`benchbox.sample.sample`, decoded: (n, length) float32 waves."""
        from benchbox.sample import sample

        codes = None if prime is None else encode(prime, self.quantisation)  # (n, P)
        out, _, _ = sample(self, n=n, length=length, prime=codes, temperature=temperature, top_p=top_p, generator=rng, batch=batch)
        waves = decode(out, self.quantisation)  # (n, T)
        if prime is not None and not torch.equal(waves[:, : prime.shape[1]], prime.to(waves.dtype).cpu()):
            raise GeneratorError(
                f"the prime is not on the {self.quantisation} code grid", hint="pass decode(encode(prime)) with the run's quantisation"
            )
        return waves
