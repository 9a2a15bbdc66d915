"""The one autoregressive sampling loop, through ``init_state`` / ``prefill`` / ``step`` only.

Legend: n clips, B batch, T clip length in samples, P prime samples, C = 256 classes.

Every clip starts from the silence token. A primed clip then feeds its P prime codes and
samples the rest; the result is prime + continuation, so its first P codes are the prime
exactly. Generators with the ``step`` capability (:mod:`benchbox.generators.autoregressive`)
make their clips here; the checkpoint x prime grid that writes them is :mod:`benchbox.generate`.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import math
from collections.abc import Iterator

import torch

from benchbox import native
from benchbox.audio import SILENCE_CODE
from benchbox.errors import ConfigError
from benchbox.generators import clip_rng


# ---------------------------------------------------------------------- sampling


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a token loop, then restore it.

    Every step allocates a few tensor objects, so the collector runs every few hundred
    steps and walks the young heap: about 14% of a native SaShiMi step at batch 16. A token
    loop makes no reference cycles; anything left over is collected after the block.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def choose(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator | None = None, *, u: torch.Tensor | None = None) -> torch.Tensor:
    """(B, C) logits -> (B,) tokens: argmax at temperature 0, else nucleus sampling with one
    uniform per row: ``u`` (B,) when given, else drawn from ``generator``."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1).to(u.device if u is not None else generator.device)  # (B, C)
    if top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)  # (B, C)
        mass_before = sorted_p.cumsum(dim=-1) - sorted_p  # (B, C)
        sorted_p = sorted_p.masked_fill(mass_before >= top_p, 0.0)  # the top token always stays
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
    # Inverse-CDF draw, one uniform per row: the same distribution as torch.multinomial at a
    # third of its cost (its checks dominate a native step at batch 1).
    cdf = probs.cumsum(dim=-1)  # (B, C)
    u = (torch.rand(cdf.shape[0], 1, generator=generator, device=cdf.device) if u is None else u.reshape(-1, 1)) * cdf[:, -1:]  # (B, 1)
    token = torch.searchsorted(cdf, u, right=True).clamp_(max=cdf.shape[1] - 1)[:, 0]  # (B,): first cdf > u
    return token.to(logits.device)


_ptr, _i32 = ctypes.c_void_p, ctypes.c_int
SAMPLING_SIGNATURES = {"sample_rows": ([_ptr, _i32, _i32, ctypes.c_float, _ptr, _ptr, _ptr, _ptr], None)}


def _sampling_library():
    return native.load("sampling", SAMPLING_SIGNATURES)


def draw(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator | None = None, *,
         u: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, C) logits -> ((B,) tokens, (B,) log-probability of each at temperature 1); the uniforms
    are ``u`` (B,) when given (the sampler draws them per clip), else drawn from ``generator``.

    The sampler's per-token call. At top-p 1 on float32 CPU logits it is one compiled call
    (``benchbox/native/sampling.c``) drawing from the same uniforms as ``choose``: the same
    token but for a rounding tie at a CDF boundary (measured: 1 draw in 80,000). Otherwise
    ``choose`` and a log-softmax.
    """
    stream = u if u is not None else generator  # None at temperature 0 (argmax draws nothing)
    if temperature > 0 and top_p >= 1.0 and logits.dtype == torch.float32 and logits.device.type == "cpu" and stream.device.type == "cpu":
        lib = _sampling_library()
        if lib is not None:
            logits = logits.contiguous()
            batch, classes = logits.shape
            u = torch.rand(batch, generator=generator) if u is None else u.contiguous()  # (B,): the stream choose draws from
            token, logprob = torch.empty(batch, dtype=torch.long), torch.empty(batch)
            cdf = torch.empty(classes)
            lib.sample_rows(logits.data_ptr(), batch, classes, temperature, u.data_ptr(), token.data_ptr(), logprob.data_ptr(), cdf.data_ptr())
            return token, logprob
    token = choose(logits, temperature, top_p, generator, u=u)
    return token, torch.log_softmax(logits.float(), dim=-1).gather(1, token[:, None])[:, 0]


@torch.no_grad()
def _sample_batch(model, prime: torch.Tensor, length: int, temperature: float, top_p: float, generator: clip_rng.Rng):
    """One batch: (B, P) prime -> ((B, T) codes, (B,) summed log-prob of the continuation).

    Each clip's T - P uniforms are drawn up front, row by row (from its own generator when
    ``generator`` is per clip), so a clip's tokens never depend on the batch it is drawn in."""
    device = model.device
    b, p = prime.shape
    uniforms = clip_rng.rand(generator, (b, length - p)).T.contiguous() if temperature > 0 else None  # (T - P, B)
    state = model.init_state(b, device)
    start = torch.full((b, 1), SILENCE_CODE, dtype=torch.long)
    logits, state = model.prefill(torch.cat([start, prime.long()], dim=1).to(device), state)  # (B, C)
    tokens, logprobs = [], []
    with paused_gc():
        for t in range(length - p):
            token, logprob = draw(logits, temperature, top_p, u=None if uniforms is None else uniforms[t])  # (B,), (B,)
            logprobs.append(logprob)
            tokens.append(token)
            if t + 1 < length - p:
                logits, state = model.step(token, state)  # (B, C)
    out = torch.stack(tokens, dim=1).cpu()  # (B, T - P)
    logprob = torch.stack(logprobs, dim=1).double().sum(dim=1).cpu()  # (B,)
    return torch.cat([prime.long().cpu(), out], dim=1), logprob


def sample(
    model: torch.nn.Module,
    *,
    n: int,
    length: int,
    prime: torch.Tensor | None,
    temperature: float = 1.0,
    top_p: float = 1.0,
    generator: clip_rng.Rng,
    batch: int = 16,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Generate ``n`` clips of ``length`` samples (prime included), ``batch`` at a time.

    ``generator``: one torch.Generator, or n of them, one per clip (:mod:`benchbox.generators.clip_rng`):
    then clip i's tokens come from ``generator[i]`` alone, whatever ``batch`` and ``n``.

    ``prime`` is (n, P) codes or None. Returns codes (n, length), and the sum and
    per-sample mean over the continuation of the chosen tokens' log-probs at temperature 1.
    """
    prime = torch.zeros(n, 0, dtype=torch.long) if prime is None else torch.as_tensor(prime)
    if prime.dim() == 1:
        prime = prime[None, :].expand(n, -1)  # one prime for every clip: (n, P)
    if prime.shape[0] != n:
        raise ConfigError(f"prime has {prime.shape[0]} rows for {n} clips", hint="pass one prime row per clip, or a single (P,) prime")
    check_sampling(n=n, length=length, prime_samples=prime.shape[1], temperature=temperature, top_p=top_p, batch=batch)
    was_training = model.training
    model.eval()
    codes, sums = [], []
    try:
        for s in range(0, n, batch):
            c, lp = _sample_batch(model, prime[s : s + batch], length, temperature, top_p, clip_rng.rows(generator, s, s + batch))
            codes.append(c)
            sums.append(lp)
    finally:
        model.train(was_training)
    logprob_sum = torch.cat(sums)  # (n,)
    return torch.cat(codes), logprob_sum, logprob_sum / (length - prime.shape[1])


def check_sampling(*, n: int, length: int, prime_samples: int, temperature: float, top_p: float, batch: int) -> None:
    if n < 1 or batch < 1:
        raise ConfigError(f"need n >= 1 and batch >= 1, got n={n}, batch={batch}", hint="pass positive --n and --batch")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ConfigError(f"--temperature must be a finite number >= 0, got {temperature}", hint="0 = argmax, 1 = the model's distribution")
    if not 0 < top_p <= 1:
        raise ConfigError(f"--top-p must be in (0, 1], got {top_p}", hint="1 keeps every token; 0.9 keeps the top 90% of the mass")
    if prime_samples >= length:
        raise ConfigError(f"a prime of {prime_samples} samples is not shorter than the {length}-sample clip", hint="use a shorter --prime-ms or longer --seconds")
