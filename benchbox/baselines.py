"""Reference NLLs of the closed-form baselines (``ngram``, ``lpc``) on a dataset's splits.

Every neural run logs these beside its own NLL (``baseline/<name>/bits/<split>`` in
``log.jsonl``), so each figure sits next to what a count table and a linear predictor
achieve on the same clips and quantisation. Both are fitted on the train split with
their presets in ``models/`` (:mod:`benchbox.generators.ngram`,
:mod:`benchbox.generators.lpc`) and scored with :func:`benchbox.nll.split_nll`, the same
loss as the models. Results are cached in ``<dataset>/cache/`` under the SHA-256 of the
codes, the quantisation and the presets, so a changed dataset or preset never reuses them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from benchbox.nll import NATS_PER_BIT, split_nll
from benchbox.runs import atomic_write_json

BASELINE_PRESETS = ("ngram", "lpc")
EVAL_BATCH = 8
CACHE_FORMAT = 1


def baseline_key(codes: dict[str, torch.Tensor], quantisation: str) -> str:
    """SHA-256 of the splits' codes, the quantisation and the baseline presets."""
    from benchbox.generators import registry

    h = hashlib.sha256(f"{CACHE_FORMAT}|{quantisation}".encode())
    for name in BASELINE_PRESETS:
        h.update(json.dumps(registry.load_preset(name), sort_keys=True).encode())
    for split in sorted(codes):
        h.update(split.encode() + str(tuple(codes[split].shape)).encode())
        h.update(codes[split].to(torch.uint8).contiguous().numpy().tobytes())
    return h.hexdigest()


def fit_baselines(codes: dict[str, torch.Tensor], quantisation: str) -> dict[str, float]:
    """Fit each baseline on ``codes["train"]`` (N, T); bits/sample on every other split."""
    from benchbox.generators import registry

    out: dict[str, float] = {}
    for name in BASELINE_PRESETS:
        generator, config = registry.load_preset(name)
        model = registry.build(generator, config).eval()
        model.fit(codes["train"].long(), quantisation)
        for split, split_codes in codes.items():
            if split == "train" or len(split_codes) == 0:
                continue
            loss_sum, _, count = split_nll(model, split_codes, EVAL_BATCH)
            out[f"baseline/{name}/bits/{split}"] = loss_sum / count / NATS_PER_BIT
    return out


def baseline_bits(codes: dict[str, torch.Tensor], quantisation: str, cache_dir: Path | None = None) -> dict[str, float]:
    """:func:`fit_baselines`, read from or written to ``cache_dir`` when one is given."""
    path = Path(cache_dir) / f"baselines-{baseline_key(codes, quantisation)[:24]}.json" if cache_dir else None
    if path is not None and path.is_file():
        try:
            return {k: float(v) for k, v in json.loads(path.read_text())["bits"].items()}
        except (ValueError, KeyError, TypeError):
            pass  # a damaged cache entry is recomputed and replaced
    bits = fit_baselines(codes, quantisation)
    if path is not None:
        try:
            atomic_write_json(path, {"format": CACHE_FORMAT, "quantisation": quantisation, "bits": bits})
        except OSError:
            pass  # a read-only dataset folder only costs the recomputation
    return bits
