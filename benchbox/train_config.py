"""The training run's configuration: frozen dataclasses from a preset, the data path and
``--set`` overrides, and the learning-rate schedule they imply.

Legend: N clips, W processes.

Only settings every family shares live here. A family's own train-time settings (EMA,
diffusion steps, a discriminator's lr) live in its model config (``[model]`` of its preset).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from benchbox.config import from_dict, from_file, load_toml, merge, parse_overrides, to_dict
from benchbox.errors import CheckpointError, ConfigError

CONFIG_NAME = "config.toml"


@dataclass(frozen=True)
class AugmentConfig:
    """Random waveform changes applied to each training clip before quantisation
    (val and test are never augmented). All off by default."""

    gain_db: float = 0.0  # uniform gain in [-gain_db, +gain_db] dB per clip (then clipped to [-1, 1])
    polarity: bool = False  # flip the sign of each clip with probability 1/2
    shift_ms: float = 0.0  # move each clip by up to +-shift_ms (silence fills the gap)

    def __post_init__(self):
        if self.gain_db < 0 or self.shift_ms < 0:
            raise ValueError("data.augment.gain_db and data.augment.shift_ms must be >= 0")

    @property
    def enabled(self) -> bool:
        return self.gain_db > 0 or self.polarity or self.shift_ms > 0


@dataclass(frozen=True)
class DataConfig:
    path: Path = Path(".")
    quantisation: Literal["linear", "mulaw"] = "mulaw"
    crop_samples: int = 0  # 0 = whole clips; otherwise random crops of this many samples
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # "minmax": the official SaShiMi loader's per-clip scaling to [-1, 1] before quantising
    # (see minmax_scale); "none" quantises the clips as stored.
    normalise: Literal["none", "minmax"] = "none"

    def __post_init__(self):
        if self.crop_samples < 0:
            raise ValueError("data.crop_samples must be >= 0 (0 = whole clips)")


@dataclass(frozen=True)
class TrainSection:
    seed: int = 0
    batch_size: int = 8
    max_steps: int = 1000  # 0 = no step limit (then epochs or max_minutes must be set)
    epochs: float = 0.0  # 0 = no epoch limit
    max_minutes: float = 0.0  # 0 = no time limit; the run's wall time over every session (a resume continues it)
    lr: float = 2e-3
    lr_min: float = 1e-5
    warmup_steps: int = 50
    decay_from: int = 0  # step where the cosine decay starts (0: at the end of warmup); the rate holds at lr until then
    weight_decay: float = 0.01
    grad_clip: float = 1.0  # 0 = no clipping
    eval_every: int = 100  # steps; 0 = once per epoch
    val_batches: int = 4  # batches of train clips scored at each eval (val and test are scored whole)
    patience: int = 0  # evals without a new best val loss before stopping; 0 = never
    amp: bool = True  # bf16 autocast, on CUDA only
    baselines: bool = True  # log the ngram/lpc baselines' NLL beside every eval (cached per dataset)

    def __post_init__(self):
        checks = {
            "batch_size >= 1": self.batch_size >= 1,
            "max_steps >= 0": self.max_steps >= 0,
            "epochs >= 0": self.epochs >= 0,
            "max_minutes >= 0": self.max_minutes >= 0,
            "one of max_steps, epochs, max_minutes > 0": max(self.max_steps, self.epochs, self.max_minutes) > 0,
            "lr > 0": self.lr > 0,
            "0 <= lr_min <= lr": 0 <= self.lr_min <= self.lr,
            "warmup_steps >= 0": self.warmup_steps >= 0,
            "decay_from >= 0": self.decay_from >= 0,
            "decay_from 0, or a step budget (max_steps or epochs > 0) for it to decay over": not self.decay_from or self.max_steps > 0 or self.epochs > 0,
            "decay_from < max_steps": not self.decay_from or not self.max_steps or self.decay_from < self.max_steps,
            "weight_decay >= 0": self.weight_decay >= 0,
            "grad_clip >= 0": self.grad_clip >= 0,
            "eval_every >= 0": self.eval_every >= 0,
            "val_batches >= 1": self.val_batches >= 1,
            "patience >= 0": self.patience >= 0,
        }
        failed = [rule for rule, ok in checks.items() if not ok]
        if failed:
            raise ValueError(f"train needs {failed[0]}")


@dataclass(frozen=True)
class TrainConfig:
    generator: str
    preset: str
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainSection = field(default_factory=TrainSection)
    model: dict = field(default_factory=dict)


def resolve_config(*, generator: str, data: Path, preset: str | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Preset (default :func:`registry.default_preset`; its ``[train]`` table as defaults) + data path +
    ``--set`` overrides -> TrainConfig."""
    from benchbox.generators import registry

    registry.get(generator)  # an unknown generator names the generators, not the presets
    over = parse_overrides(overrides)
    extra = sorted(set(over) - {"data", "train", "model"})
    if extra:
        raise ConfigError(f"unknown config key '{extra[0]}'", hint="--set keys start with data., train. or model.")
    preset = preset or registry.default_preset(generator)
    preset_generator, model_cfg = registry.load_preset(preset, over.get("model"))
    if preset_generator != generator:
        raise ConfigError(f"preset '{preset}' is for generator '{preset_generator}', not '{generator}'", hint=f"pick a {generator}-* preset, or train {preset_generator}")
    base = {"generator": generator, "preset": str(preset), "data": {"path": str(Path(data).resolve())}, "model": model_cfg, "train": registry.preset_train(preset)}
    return from_dict(TrainConfig, merge(base, {k: v for k, v in over.items() if k != "model"}))


# What a resumed run may change: how long it trains and how often it is measured, never what
# the recorded steps were trained with (seed, batch, optimiser, schedule shape), or config.toml
# would describe steps it did not take.
RESUMABLE_TRAIN_KEYS = ("max_steps", "epochs", "max_minutes", "eval_every", "val_batches", "patience", "baselines", "amp")


def resume_config(run_dir: Path, overrides: Sequence[str] = ()) -> TrainConfig:
    """The run's recorded config with overrides: the budget and measuring keys of ``train``
    (:data:`RESUMABLE_TRAIN_KEYS`) may change; every other key only restates its recorded value."""
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"cannot resume: {path} not found", hint="--resume takes a run folder written by `benchbox train`")
    from benchbox.generators import registry

    stored = load_toml(path)
    if "generator" in stored and isinstance(stored.get("model"), dict):
        stored["model"] = registry.stored_config(str(stored["generator"]), stored["model"])  # keys the run predates
    recorded = to_dict(from_file(TrainConfig, path, stored))
    cfg = from_dict(TrainConfig, merge(recorded, parse_overrides(overrides)))
    now = to_dict(cfg)
    changed = [k for k, v in now.items() if k != "train" and v != recorded[k]]
    changed += [f"train.{k}" for k, v in now["train"].items() if k not in RESUMABLE_TRAIN_KEYS and v != recorded["train"].get(k)]
    if changed:
        raise ConfigError(f"cannot change '{changed[0]}' when resuming {run_dir}: the steps already trained used the recorded value",
                          hint=f"on --resume only {', '.join(f'train.{k}' for k in RESUMABLE_TRAIN_KEYS)} may change; start a new run otherwise")
    return cfg


def derive_seed(*parts: Any) -> int:
    """A 63-bit seed from any printable parts, stable across processes and platforms."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def lr_factor(step: int, cfg: TrainSection, total_steps: int | None) -> float:
    """The factor on ``lr`` at ``step``: linear warmup to 1 over ``warmup_steps``, 1 until
    ``decay_from`` (warmup-stable-decay; a GAN's constant-then-decay recipe, as in CycleGAN, Zhu
    et al. 2017), then cosine (Loshchilov & Hutter 2017) down to ``lr_min / lr`` at ``total_steps``;
    flat after warmup when ``total_steps`` is None (a wall budget only). The factor scales every
    optimiser's own rate (a GAN's ``lr_g`` / ``lr_d`` too), so its floor is ``lr_min / lr`` with
    ``lr`` = ``train.lr``, whatever the model's own rates."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    start = max(cfg.warmup_steps, cfg.decay_from)
    if total_steps is None or step < start:
        return 1.0
    floor = cfg.lr_min / cfg.lr
    progress = min(1.0, (step - start) / max(1, total_steps - start))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def total_steps(cfg: TrainSection, n_train: int, world: int) -> int | None:
    """Steps until max_steps or epochs, whichever comes first (None: time limit only)."""
    limits = []
    if cfg.max_steps > 0:
        limits.append(cfg.max_steps)
    if cfg.epochs > 0:
        limits.append(max(1, math.ceil(cfg.epochs * n_train / (cfg.batch_size * world))))
    return min(limits) if limits else None


