"""Differentiable augmentation for the WaveGAN family's discriminators, fixed or adaptive.

Legend: B batch, T samples per clip.

:func:`diff_augment` applies DiffAugment-style transforms (Zhao et al. 2020, "Differentiable
augmentation for data-efficient GAN training") to real and generated clips alike before every
discriminator call: random gain, polarity and shift, each with probability ``p`` per clip.
Because the generator's clips go through the same transforms and the transforms are
differentiable, the generator is still trained towards the un-augmented data (each transform
is invertible in distribution for ``p < 1``: Karras et al. 2020's "non-leaking" condition).

:func:`ada_update` is ADA's controller (Karras et al. 2020, "Training generative adversarial
networks with limited data", section 3): the overfitting heuristic r_t = E[sign(D(x_real))]
over the discriminator's scores on its (augmented) training clips, here with LSGAN's targets
0 (generated) and 1 (real), so the sign is taken of D - 0.5. Every ``interval`` steps ``p``
moves by ``sign(r_t - target) x clips seen / (kimg x 1000)``: up when the discriminator is too
sure of its training clips, down when it is not, clamped to [0, ``P_MAX``]. ADA's image
defaults (target 0.6, 500 kimg for p to travel 0 -> 1) assume millions of images; a 45-min CPU
run sees ~25,000 clips, so the speed is a setting. One process only: with several, each would
adapt its own p from its own scores (not summed across processes).
"""

from __future__ import annotations

import torch

ADA_INTERVAL = 4  # steps between moves of p (ADA)
P_MAX = 0.95  # this repo's cap (StyleGAN2-ADA clamps only at 0): at p = 1 nothing un-augmented anchors the level and timing


def diff_augment(x: torch.Tensor, p: float, gain_db: float, shift_samples: int) -> torch.Tensor:
    """(B, 1, T) clips -> (B, 1, T), each transform with probability ``p`` per clip: gain in
    +-``gain_db`` dB, polarity flip, shift by up to +-``shift_samples`` (zeros fill the gap).
    ``p <= 0`` returns ``x`` itself."""
    if p <= 0:
        return x
    b, dev = x.shape[0], x.device
    on = lambda: (torch.rand(b, 1, 1, device=dev) < p).float()  # noqa: E731  (B, 1, 1) in {0, 1}
    gain = (torch.rand(b, 1, 1, device=dev) * 2 - 1) * gain_db * on()  # (B, 1, 1) dB
    x = x * 10 ** (gain / 20)
    x = x * (1 - 2 * on())
    if shift_samples > 0:
        shift = (torch.randint(-shift_samples, shift_samples + 1, (b,), device=dev) * on().view(b)).long()  # (B,)
        t = torch.arange(x.shape[-1], device=dev)[None, :] - shift[:, None]  # (B, T): source index
        valid = ((t >= 0) & (t < x.shape[-1])).float()
        x = x.gather(2, t.clamp(0, x.shape[-1] - 1)[:, None, :]) * valid[:, None, :]
    return x


def overfit_sign(real_scores: list[torch.Tensor]) -> tuple[float, int]:
    """(sum of sign(D - 0.5), count) over every sub-discriminator's scores on real clips:
    the numerator and denominator of ADA's r_t for LSGAN targets 0 / 1."""
    total, count = 0.0, 0
    for s in real_scores:
        total += float(torch.sign(s.detach() - 0.5).sum())
        count += s.numel()
    return total, count


@torch.no_grad()
def ada_update(p: torch.Tensor, acc: torch.Tensor, real_scores: list[torch.Tensor], *, target: float, kimg: float, batch: int, step: int, interval: int = ADA_INTERVAL) -> None:
    """ADA's controller, in place on the model's buffers (so a checkpoint resumes it): ``p`` (0-d)
    the current probability, ``acc`` (3,) the running (sum of signs, count) since the last move
    and the last r_t. Adds one step's real scores; every ``interval`` steps sets r_t and moves
    ``p`` by ``batch x interval / (kimg x 1000)`` towards more augmentation if r_t > ``target``,
    less otherwise, within [0, ``P_MAX``]. Raises ValueError for ``kimg`` <= 0."""
    if kimg <= 0:
        raise ValueError(f"augment_kimg must be > 0, got {kimg}")
    signs, count = overfit_sign(real_scores)
    acc[0] += signs
    acc[1] += count
    if (step + 1) % interval:
        return
    r_t = float(acc[0] / max(float(acc[1]), 1.0))
    move = batch * interval / (kimg * 1000.0) * (1.0 if r_t > target else -1.0)
    p.copy_((p + move).clamp(0.0, P_MAX))
    acc[0], acc[1], acc[2] = 0.0, 0.0, r_t
