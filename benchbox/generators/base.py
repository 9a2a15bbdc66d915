"""The Generator interface: what the trainer and the sampler may ask of any model, and nothing else.

Legend: B batch, T time in samples, P prime samples, C = 256 classes.

Every generator, whatever its family, answers two questions:

* **"loss on this batch"**: ``loss(batch) -> (scalar loss, {metric: value})``. ``batch`` is a
  :class:`Batch`: float waves (B, T) in [-1, 1], the same clips quantised to codes (B, T)
  int64, and optional labels. Metric names carry no split; the trainer logs ``loss/<split>``
  and ``<metric>/<split>`` (``bits/val``, ``acc/val``). The trainer keeps the checkpoint
  with the lowest ``loss/val``: each generator's own objective picks its best.pt.
* **"sample N clips, optionally continuing this prime"**:
  ``generate(n, length, *, prime=None, rng, batch=16, **settings)`` returns
  (n, length) float32 waves in [-1, 1]. ``prime`` is (n, P) float waves on the run's code grid
  (the sampler passes ``decode(encode(x))``); then ``out[:, :P]`` equals ``prime`` bit for bit:
  the quantiser's round trip of the real clip, not the real clip (up to half a code step away:
  128 16-bit steps on the linear grid, hundreds at loud samples on the mu-law grid).
  All randomness comes from ``rng``: one ``torch.Generator``, or n of them, one per clip (the
  sampler passes these, so ``batch`` and ``n`` never change a clip); draw through
  :mod:`benchbox.generators.clip_rng`, which takes either. ``settings`` are the generic sampling settings of
  ``SAMPLING_SETTINGS`` (``temperature``, ``top_p``: a token distribution's; ``sampling_steps``:
  an iterative sampler's, 0 = the model's own count). A generator declares the ones it honours
  in ``sampling_settings``; the sampler passes only those, and records the others as "n/a"
  (one cell, never a value the clip did not use).

Training is one call: ``train_step(batch, optimizers, ctx)`` returns metrics with ``"loss"``.
The default takes one optimiser (``"main"``) over :meth:`param_groups`, as nanoGPT's loop
does; a family with more (a GAN's generator and discriminators) overrides
:meth:`make_optimizers` and :meth:`train_step`, and the trainer sets each optimiser's
learning-rate schedule, saves and restores them by name without knowing what they are.
Gradients pass through ``ctx.finish_grads`` (summed over processes, then clipped).

What else a generator can do it declares in ``capabilities``; callers ask
``"likelihood" in gen.capabilities``, never which class they hold:

* ``"likelihood"``: ``loss`` is the next-sample NLL, reported as ``bits`` (bits/sample) and
  ``acc``; :meth:`log_likelihood` scores codes. Only these get NLL and baseline columns;
  every other family reads "n/a" there.
* ``"step"``: ``forward`` / ``init_state`` / ``step`` / ``prefill`` (autoregression, see
  :mod:`benchbox.generators.autoregressive`); T steps reproduce ``forward``.
* ``"prime"``: ``generate`` continues a prime. Without it, a prime is a GeneratorError and
  the sampler skips primed cells (their tables read "n/a").
* ``"fit"``: ``fit(codes, quantisation)`` sets closed-form statistics from the training split
  (the ngram and lpc baselines). A generator with nothing to optimise is complete after it.

Train-time settings a family needs (EMA, diffusion steps, a second lr) live in its own model
config, never in the trainer. ``quantisation`` is the run's code scheme (``data.quantisation``),
set by the trainer and by :func:`benchbox.checkpoint.build_from_checkpoint`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import torch
from torch import nn

from benchbox.generators import clip_rng
from benchbox.audio import QUANT_CLASSES

State = Any
CAPABILITIES = frozenset({"likelihood", "step", "prime", "fit"})
# The generic sampling settings ``generate`` may take, each with its neutral value (what a
# sampler does when not asked otherwise): the keys of Generator.sampling_settings.
SAMPLING_SETTINGS = {"temperature": 1.0, "top_p": 1.0, "sampling_steps": 0}
MAIN_OPTIMIZER = "main"


@dataclass(frozen=True)
class Batch:
    """A batch of real clips in both forms a generator may learn from."""

    waves: torch.Tensor  # (B, T) float32 in [-1, 1]
    codes: torch.Tensor  # (B, T) int64 in [0, C): the waves quantised with the run's scheme
    labels: torch.Tensor | None = None  # (B,) int64 index into the run's label names, -1 = none

    def to(self, device: torch.device | str) -> Batch:
        labels = None if self.labels is None else self.labels.to(device)
        return replace(self, waves=self.waves.to(device), codes=self.codes.to(device), labels=labels)

    def __len__(self) -> int:
        return self.codes.shape[0]


@dataclass
class StepContext:
    """What the trainer lends one ``train_step``: mixed precision, gradient sync and clipping."""

    step: int  # steps completed before this one
    device: torch.device
    amp: bool = False  # bf16 autocast (CUDA only)
    grad_clip: float = 0.0  # max global grad norm; 0 = none
    world: int = 1  # processes training together (torchrun)

    def autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def finish_grads(self, params: Iterable[nn.Parameter]) -> None:
        """Average the gradients over processes (one flat all-reduce), then clip their norm."""
        grads = [p.grad for p in params if p.grad is not None]
        if self.world > 1 and grads:
            flat = torch.cat([g.reshape(-1) for g in grads])
            torch.distributed.all_reduce(flat)
            flat /= self.world
            offset = 0
            for g in grads:
                g.copy_(flat[offset : offset + g.numel()].view_as(g))
                offset += g.numel()
        if self.grad_clip > 0 and grads:
            torch.nn.utils.clip_grad_norm_(grads, self.grad_clip)


class Generator(nn.Module):
    name: ClassVar[str]
    config_class: ClassVar[type]
    capabilities: ClassVar[frozenset[str]] = frozenset()
    sampling_settings: ClassVar[frozenset[str]] = frozenset()  # the SAMPLING_SETTINGS keys generate() honours
    # Values for config keys that a stored config (checkpoint, run config.toml) may lack because
    # it was written before the key existed: the behaviour it was trained with, not today's default.
    legacy_config: ClassVar[dict[str, Any]] = {}
    quantisation: str = "mulaw"  # the run's code scheme: how codes and waves map onto each other
    # A generator may step through compiled C (``benchbox.native``) on float32 CPU tensors;
    # False forces its torch reference step (tests compare the two).
    use_native: bool = True

    def __init__(self, config: Any):
        super().__init__()
        self.config = config

    # ------------------------------------------------------------- every family

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The training objective on a batch: (scalar loss, metrics named without a split)."""
        raise NotImplementedError

    def generate(
        self, n: int, length: int, *, prime: torch.Tensor | None = None, rng: clip_rng.Rng,
        temperature: float = 1.0, top_p: float = 1.0, batch: int = 16, sampling_steps: int = 0,
    ) -> torch.Tensor:  # fmt: skip
        """(n, length) float32 waves in [-1, 1]; ``out[:, :P] == prime`` exactly. Settings not in
        ``sampling_settings`` are never passed by the sampler (their cells read "n/a")."""
        raise NotImplementedError

    def make_optimizers(self, *, lr: float, weight_decay: float) -> dict[str, torch.optim.Optimizer]:
        """Named optimisers; none for a generator without trainable parameters.

        Each param group may carry its own ``lr`` hint; the trainer scales every group by one
        schedule (warmup, cosine) relative to the ``lr`` it was created with.
        """
        groups = [g for g in self.param_groups(lr, weight_decay) if g["params"]]
        return {MAIN_OPTIMIZER: torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)} if groups else {}

    def train_step(self, batch: Batch, optimizers: dict[str, torch.optim.Optimizer], ctx: StepContext) -> dict[str, torch.Tensor]:
        """One optimisation step; returns metrics with ``"loss"`` (checked for divergence)."""
        opt = optimizers[MAIN_OPTIMIZER]
        with ctx.autocast():
            loss, metrics = self.loss(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        ctx.finish_grads(self.parameters())
        opt.step()
        return {"loss": loss.detach(), **{k: v.detach() if torch.is_tensor(v) else v for k, v in metrics.items()}}

    def fit(self, codes: torch.Tensor, quantisation: str) -> None:
        """Closed-form statistics from training codes (N, T) int (capability ``"fit"``)."""

    # ---------------------------------------------------------------- helpers

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
        """Samples of context the model sees (None: unbounded, as for an SSM, or not causal)."""
        return None

    @property
    def num_classes(self) -> int:
        return QUANT_CLASSES

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        """Eval mode for the block; the caller's train/eval mode comes back afterwards."""
        was_training = self.training
        self.eval()
        try:
            yield
        finally:
            self.train(was_training)
