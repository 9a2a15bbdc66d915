"""Random draws for ``generate``: one stream for the batch, or one stream per clip.

Legend: n clips (rows), X the shape of one clip's draw.

``generate`` takes ``rng`` as either

* one ``torch.Generator``: every clip draws from one stream, so what a clip gets can depend on
  the clips drawn before it and on how they were batched; or
* a sequence of n generators, one per clip (what :mod:`benchbox.generate` passes): row i of
  every draw comes from ``rng[i]`` alone, so a clip depends on its own seed only, never on
  ``--batch`` or ``--n``.

A generator draws through these helpers, which take either form (and None: the global RNG),
and splits ``rng`` with :func:`rows` when it works through the clips a batch at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from benchbox.errors import GeneratorError

Rng = torch.Generator | Sequence[torch.Generator] | None


def per_clip(rng: Rng) -> bool:
    """Whether ``rng`` is a sequence of per-clip generators."""
    return rng is not None and not isinstance(rng, torch.Generator)


def rows(rng: Rng, start: int, stop: int) -> Rng:
    """The streams of clips ``start..stop-1``: a slice of per-clip generators; one shared generator as it is."""
    return list(rng[start:stop]) if per_clip(rng) else rng


def _draw(rng: Rng, shape: tuple[int, ...], device: torch.device | str | None, fn) -> torch.Tensor:
    shape = tuple(int(s) for s in shape)
    if not per_clip(rng):
        where = rng.device if rng is not None else device
        out = fn(shape, rng, where)  # (n, *X)
    else:
        if len(rng) != shape[0]:
            raise GeneratorError(f"{len(rng)} per-clip generators for a draw of {shape[0]} clips", hint="pass one generator per clip")
        parts = [fn(shape[1:], g, g.device).to(device or g.device) for g in rng]  # n x (*X,)
        out = torch.stack(parts) if parts else fn(shape, None, device)  # (n, *X)
    return out if device is None else out.to(device)


def randn(rng: Rng, shape: Sequence[int], *, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
    """(n, *X) standard normal draws on ``device`` (default: the generator's); row i from ``rng[i]`` when per clip."""
    return _draw(rng, tuple(shape), device, lambda s, g, d: torch.randn(s, generator=g, device=d, dtype=dtype))


def rand(rng: Rng, shape: Sequence[int], *, device: torch.device | str | None = None) -> torch.Tensor:
    """(n, *X) uniform draws in [0, 1); row i from ``rng[i]`` when per clip."""
    return _draw(rng, tuple(shape), device, lambda s, g, d: torch.rand(s, generator=g, device=d))


def randint(rng: Rng, high: int, shape: Sequence[int], *, device: torch.device | str | None = None) -> torch.Tensor:
    """(n, *X) integers in [0, high); row i from ``rng[i]`` when per clip."""
    return _draw(rng, tuple(shape), device, lambda s, g, d: torch.randint(high, s, generator=g, device=d))
