"""Where a WaveGAN's digital-zero gaps come from: its last hidden layer, all off.

Legend: N clips, C channels of the last hidden layer (the one the output conv reads), L its
length (T / 4; T with ``post_channels``), T samples per clip.

The ``dropout`` detector (``benchbox.metrics.steadiness``) flags thin gaps of digital silence
inside a generated clip's body. A ReLU generator writes digital zero where every channel the
output conv reads is off (then the output is tanh of that conv's bias). For each checkpoint
this script samples N clips from the generator the sampler uses (the EMA copy when there is
one), with ``seed``, and reports:

- ``off_share``: the share of the last hidden layer's activations that are exactly 0;
- ``inner_all_off_share``: the share of positions inside a clip's sounding span (first to last
  position where any channel is on) at which all C channels are off, averaged over clips;
- ``zero_sample_share``: the share of output samples under half a 16-bit code (1.5e-5),
  which a 16-bit WAV writes as digital zero;
- ``clips_with_inner_gap``: clips whose output holds a run of at least ``gap_samples`` (80:
  one 5 ms detector frame at 16 kHz) such zeros inside its sounding span (first to last
  sample over half a code): a gap as a WAV writes it;
- ``output_bias``: the output conv's bias.

Prints one JSON object per checkpoint (``--json``: one list)::

    PYTHONPATH=. .venv/bin/python benchmarks/gan_gaps.py RUN/ckpt/min45.pt --n 64 --seed 0
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from benchbox.checkpoint import build_from_checkpoint

HALF_CODE = 0.5 / 32768  # under this a 16-bit WAV writes 0


def inner_runs(off: np.ndarray) -> list[int]:
    """Lengths of the runs of True in the boolean row ``off`` (L,) strictly inside its span of
    False values (before the first and after the last False do not count)."""
    on = np.flatnonzero(~off)
    if on.size < 2:
        return []
    inner = np.concatenate([[False], off[on[0] : on[-1]], [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(inner))  # starts and ends, alternating
    return list(edges[1::2] - edges[::2])


@torch.no_grad()
def gap_anatomy(path: str, n: int = 64, seed: int = 0, gap_samples: int = 80) -> dict:
    """The statistics above for the WaveGAN checkpoint at ``path`` (n clips, seed ``seed``).
    Raises ValueError for a checkpoint of another family."""
    model, meta = build_from_checkpoint(path)
    if meta["generator"] != "wavegan":
        raise ValueError(f"{path}: a '{meta['generator']}' checkpoint; gan_gaps reads wavegan ones")
    net = model.sampling_generator
    output = net.post if net.post is not None else net.ups[-1]  # the conv to 1 channel (after the last upsampling, or post_channels' own)
    seen = []  # the output layer's input, (N, C, L)
    hook = output.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    z = torch.randn(n, model.config.latent_dim, generator=torch.Generator().manual_seed(seed))  # (N, Z)
    out = net(z).numpy()  # (N, T)
    hook.remove()
    hidden = seen[0]  # (N, C, L)
    all_off = (hidden == 0).all(dim=1).numpy()  # (N, L)
    spans = [np.flatnonzero(~row) for row in all_off]
    shares = [sum(inner_runs(row)) / max(1, int(on[-1] - on[0]) if on.size else 1) for row, on in zip(all_off, spans)]
    zero = np.abs(out) < HALF_CODE  # (N, T)
    gapped = sum(any(r >= gap_samples for r in inner_runs(row)) for row in zero)
    return {
        "checkpoint": path,
        "step": int(meta.get("step", -1)),
        "n": n,
        "seed": seed,
        "channels": int(hidden.shape[1]),
        "off_share": float((hidden == 0).float().mean()),
        "inner_all_off_share": float(np.mean(shares)),
        "zero_sample_share": float(zero.mean()),
        "gap_samples": gap_samples,
        "clips_with_inner_gap": int(gapped),
        "output_bias": float(getattr(output, "conv", output).bias.reshape(-1)[0]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+", help="wavegan checkpoints (RUN/ckpt/*.pt)")
    ap.add_argument("--n", type=int, default=64, help="clips per checkpoint")
    ap.add_argument("--seed", type=int, default=0, help="latent seed")
    ap.add_argument("--gap-samples", type=int, default=80, help="shortest run of output zeros counted as a gap")
    ap.add_argument("--json", action="store_true", help="one JSON list instead of one object per line")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = [gap_anatomy(p, args.n, args.seed, args.gap_samples) for p in args.checkpoints]
    print(json.dumps(rows, indent=1) if args.json else "\n".join(json.dumps(r) for r in rows))


if __name__ == "__main__":
    main()
