"""Training checkpoints: one versioned format, written atomically, read with clear errors.

A checkpoint is a dict::

    {"format": CHECKPOINT_FORMAT, "generator": "sashimi", "generator_config": {...},
     "model": state_dict, "optimizer": {name: state_dict}, "step": int, "best_val": float,
     "train_config": {...}, "rng": {...}, "data_state": {"epoch": int, "position": int},
     "provider": {"distribution": "benchbox", "version": "0.1.0", "target": "module:Class"}}

``provider`` names the installed distribution (and version) whose ``benchbox.generators``
entry point supplied the generator, so loading a plugin's checkpoint without the plugin says
which package to install.

``optimizer`` maps each of the generator's named optimisers (``make_optimizers``: one
``"main"`` for most, two for a GAN) to its state; ``best_val`` is the lowest ``loss/val``,
the generator's own objective, and ``best_val_bits`` its NLL in bits/sample where the
generator has the likelihood capability. Format 1 (one unnamed optimiser state) is read
as format 2 with that state under ``"main"``; any other format is refused.

``model`` is the *unwrapped* state dict: no ``module.`` (DistributedDataParallel) or
``_orig_mod.`` (torch.compile) prefixes, so a checkpoint saved under any wrapper loads
into a bare generator. :func:`build_from_checkpoint` rebuilds the model from the file
alone. Files load with ``weights_only=True``: RNG states are stored as tensors and lists.
"""

from __future__ import annotations

import contextlib
import io
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from benchbox.errors import CheckpointError
from benchbox.runs import atomic_torch_save, sha256_bytes

CHECKPOINT_FORMAT = 2
READABLE_FORMATS = (1, 2)  # 1: ``optimizer`` was one state dict, now ``{"main": ...}``
REQUIRED_KEYS = ("format", "generator", "generator_config", "model", "step", "best_val", "train_config")
WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def unwrap(model: nn.Module) -> nn.Module:
    """The bare module inside DistributedDataParallel / torch.compile wrappers."""
    while True:
        inner = next((getattr(model, a) for a in ("module", "_orig_mod") if isinstance(getattr(model, a, None), nn.Module)), None)
        if inner is None:
            return model
        model = inner


def clean_state_dict(state: dict[str, Any]) -> dict[str, Any]:
    """Strip wrapper prefixes from every key (repeatedly: ``module._orig_mod.x`` -> ``x``)."""
    out = {}
    for key, value in state.items():
        changed = True
        while changed:
            changed = False
            for prefix in WRAPPER_PREFIXES:
                if key.startswith(prefix):
                    key, changed = key[len(prefix):], True
        out[key] = value
    return out


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (with ``format`` added and the model state cleaned) atomically."""
    from benchbox.generators import registry

    payload = dict(payload)
    payload["format"] = CHECKPOINT_FORMAT
    payload.setdefault("provider", registry.provider(payload["generator"]).record())
    payload["model"] = clean_state_dict(payload["model"])
    return atomic_torch_save(path, payload)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint; add ``path`` and ``sha256`` (of the file bytes) to the result.

    Raises CheckpointError for a missing, truncated or foreign file, or an unknown format.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}", hint="train first (`benchbox train`) or check the run folder and --checkpoint names")
    data = path.read_bytes()
    try:
        ckpt = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001  the unpickler fails on foreign bytes with almost any type (seen: IndexError)
        reason = "empty file" if not data else (str(e).splitlines() or [type(e).__name__])[0].split(". ")[0][:80]
        raise CheckpointError(f"{path}: corrupt or not a benchbox checkpoint ({reason})", hint="re-train, or use the other checkpoint (best/last) of the run") from None
    if not isinstance(ckpt, dict) or "format" not in ckpt:
        raise CheckpointError(f"{path}: not a benchbox checkpoint (no 'format' key)", hint="pass a ckpt/*.pt file written by `benchbox train`")
    if ckpt["format"] not in READABLE_FORMATS:
        raise CheckpointError(
            f"{path}: unknown checkpoint format {ckpt['format']!r}",
            hint=f"this benchbox reads formats {', '.join(map(str, READABLE_FORMATS))}; use the benchbox version that wrote it or re-train",
        )
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks keys {missing}", hint="re-train; the file was not written by `benchbox train`")
    if ckpt["format"] == 1:
        old = ckpt.get("optimizer") or {}
        ckpt["optimizer"], ckpt["format"] = ({"main": old} if old else {}), CHECKPOINT_FORMAT
    ckpt["path"] = str(path)
    ckpt["sha256"] = sha256_bytes(data)
    return ckpt


def build_from_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the generator from the checkpoint alone; return (model in eval mode, meta).

    ``meta`` is the checkpoint without the model and optimizer states.
    """
    from benchbox.generators import registry

    ckpt = load_checkpoint(path)
    _check_provider(path, ckpt)
    model = registry.build(ckpt["generator"], registry.stored_config(ckpt["generator"], dict(ckpt["generator_config"])))
    try:
        model.load_state_dict(clean_state_dict(ckpt["model"]))
    except RuntimeError as e:
        reason = str(e).splitlines()[0][:160]
        message = f"{path}: weights do not fit generator '{ckpt['generator']}' ({reason})"
        raise CheckpointError(message, hint="the generator code changed since training; re-train") from None
    bad = next((name for name, p in model.state_dict().items() if p.is_floating_point() and not torch.isfinite(p).all()), None)
    if bad is not None:
        raise CheckpointError(f"{path}: weight '{bad}' holds NaN or inf", hint="use the run's other checkpoint (best/last) or re-train")
    model.quantisation = ckpt["train_config"].get("data", {}).get("quantisation", model.quantisation)
    model.to(device).eval()
    meta = {k: v for k, v in ckpt.items() if k not in ("model", "optimizer")}
    return model, meta


def _check_provider(path: str | Path, ckpt: dict[str, Any]) -> None:
    """CheckpointError naming the package to install when the checkpoint's generator is not registered."""
    from benchbox.generators import registry

    name, origin = ckpt["generator"], ckpt.get("provider") or {}
    if name in registry.names():
        return
    dist, version = origin.get("distribution"), origin.get("version")
    if dist and dist != registry.BENCHBOX_DISTRIBUTION:
        raise CheckpointError(f"{path}: generator '{name}' comes from the plugin package '{dist}' {version}, which is not installed",
                              hint=f"pip install '{dist}=={version}' (it registers '{name}' under the '{registry.ENTRY_POINT_GROUP}' entry-point group)")
    raise CheckpointError(f"{path}: generator '{name}' is not registered in this benchbox",
                          hint=f"use the benchbox version that wrote it (registered now: {', '.join(registry.names())})")


# ---------------------------------------------------------------- RNG states


def capture_rng(device: torch.device | None = None) -> dict[str, Any]:
    """torch (+ CUDA), numpy and python RNG states as weights_only-loadable values."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, words, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": [version, list(words), gauss_next],
    }
    if device is not None and device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng(state: dict[str, Any], device: torch.device | None = None) -> None:
    """Undo :func:`capture_rng` (call inside :func:`isolated_rng` from library code)."""
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    keys = np_state["keys"].numpy().astype(np.uint32)
    np.random.set_state((np_state["kind"], keys, np_state["pos"], np_state["has_gauss"], np_state["cached"]))
    version, words, gauss_next = state["python"]
    random.setstate((version, tuple(words), gauss_next))
    if "cuda" in state and device is not None and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


@contextlib.contextmanager
def isolated_rng(device: torch.device | None = None) -> Iterator[None]:
    """Let the body seed and draw freely; the caller's RNG states come back afterwards."""
    saved = capture_rng(device)
    try:
        yield
    finally:
        restore_rng(saved, device)
