"""One training loop for any Generator: next-sample cross-entropy over 256 classes.

Legend: B batch (per process), T time in samples, C = 256 classes, N clips, W processes.

Each clip is quantised as it is stored (no rescaling) and the model learns
``input = [SILENCE, x0 .. x_{T-2}] -> target = [x0 .. x_{T-1}]``, matching generation,
which starts from the silence token (:mod:`benchbox.nll`). The loop never asks which
generator it holds: it uses ``fit``, ``trainable``, ``forward`` and ``param_groups`` only.
A generator with nothing to train (the ``ngram`` and ``lpc`` baselines) is fitted, scored
and saved at step 0.

Every eval scores the **whole** val and test splits (every clip, full length) and a
fixed subset of train clips (``train.val_batches`` batches), in bits/sample; ``best.pt``
is chosen on the full val NLL. Each record also carries the ngram and lpc baselines'
NLL on the same splits and quantisation (:mod:`benchbox.baselines`).

Determinism: the data order is a stream of per-epoch permutations drawn from
(seed, epoch); crop offsets come from (seed, step); dropout uses the torch RNG, whose
state is saved in every checkpoint. So ``--resume`` continues bit-for-bit on CPU. The
caller's global RNG states are restored when ``train`` returns.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from benchbox import checkpoint as ckpt_io
from benchbox import memory
from benchbox.audio import encode
from benchbox.baselines import baseline_bits
from benchbox.config import from_dict, load_toml, merge, parse_overrides, to_dict
from benchbox.data.dataset import load_dataset
from benchbox.distributed import DistContext
from benchbox.errors import CheckpointError, ConfigError, DataError, GeneratorError
from benchbox.nll import NATS_PER_BIT, next_sample_loss, split_nll
from benchbox.progress import Progress, no_progress
from benchbox.runs import append_jsonl, atomic_write_text, write_run_info

SECONDS_PER_MINUTE = 60.0
CURVES_EVERY_SECONDS = 30.0  # redraw curves.png at most this often while training
CONFIG_NAME = "config.toml"
LOG_NAME = "log.jsonl"
CURVES_NAME = "curves.png"


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
    max_minutes: float = 0.0  # 0 = no time limit
    lr: float = 2e-3
    lr_min: float = 1e-5
    warmup_steps: int = 50
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


@dataclass(frozen=True)
class TrainResult:
    out: Path
    best_val: float
    last_step: int
    stopped_early: bool
    wall_seconds: float
    first_step: int = 0  # the step training started from: 0, or the resumed checkpoint's step


# ------------------------------------------------------------------ config + device


def resolve_config(*, generator: str, data: Path, preset: str | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Preset (default :func:`registry.default_preset`) + data path + ``--set`` overrides -> TrainConfig."""
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
    base = {"generator": generator, "preset": str(preset), "data": {"path": str(Path(data).resolve())}, "model": model_cfg}
    return from_dict(TrainConfig, merge(base, {k: v for k, v in over.items() if k != "model"}))


def resume_config(run_dir: Path, overrides: Sequence[str] = ()) -> TrainConfig:
    """The run's recorded config with overrides: ``train.*`` may change (e.g. max_steps),
    other keys only restate their recorded values."""
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"cannot resume: {path} not found", hint="--resume takes a run folder written by `benchbox train`")
    recorded = to_dict(from_dict(TrainConfig, load_toml(path)))
    cfg = from_dict(TrainConfig, merge(recorded, parse_overrides(overrides)))
    changed = [k for k, v in to_dict(cfg).items() if k != "train" and v != recorded[k]]
    if changed:
        raise ConfigError(f"cannot change '{changed[0]}' when resuming {run_dir}", hint="only train.* keys may change on --resume; start a new run otherwise")
    return cfg


def derive_seed(*parts: Any) -> int:
    """A 63-bit seed from any printable parts, stable across processes and platforms."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


# ------------------------------------------------------------------------- data


def augment(waves: torch.Tensor, cfg: AugmentConfig, sample_rate_hz: int, gen: torch.Generator) -> torch.Tensor:
    """(B, T) float waveforms -> (B, T) randomly gained, flipped and shifted copies."""
    batch, length = waves.shape
    out = waves.clone()
    if cfg.gain_db > 0:
        db = (torch.rand(batch, generator=gen) * 2 - 1) * cfg.gain_db  # (B,)
        out = (out * (10.0 ** (db / 20.0))[:, None]).clamp(-1.0, 1.0)
    if cfg.polarity:
        out = out * torch.where(torch.rand(batch, generator=gen) < 0.5, -1.0, 1.0)[:, None]
    max_shift = int(round(cfg.shift_ms * sample_rate_hz / 1000.0))
    if max_shift > 0:
        shifts = torch.randint(-max_shift, max_shift + 1, (batch,), generator=gen)  # (B,)
        src = torch.arange(length)[None, :] - shifts[:, None]  # (B, T): sample t comes from t - shift
        valid = (src >= 0) & (src < length)
        out = torch.where(valid, torch.gather(out, 1, src.clamp(0, length - 1)), 0.0)
    return out


MINMAX_GUARD = 1e-6  # the official loader's guard against a constant clip


def minmax_scale(waves: torch.Tensor) -> torch.Tensor:
    """(N, T) -> (N, T): each clip's minimum to -1 and maximum to +1, as the official
    SaShiMi data loader does before it quantises (state-spaces/s4,
    ``src/dataloaders/audio.py``: ``minmax_scale(x, -1, 1)`` = -1 + 2 (x - min) / (max - min + 1e-6)).
    Silence then lands at -(max + min) / (max - min), off zero unless the clip is
    symmetric: the suspected source of the seed study's non-zero means."""
    low = waves.amin(dim=1, keepdim=True)  # (N, 1)
    high = waves.amax(dim=1, keepdim=True)  # (N, 1)
    return -1.0 + 2.0 * (waves - low) / (high - low + MINMAX_GUARD)


def load_waves(data: DataConfig, split: str) -> tuple[torch.Tensor, int]:
    """(N, T) float32 waveforms of one split (scaled per ``data.normalise``) and the sample rate."""
    ds = load_dataset(data.path)
    waves = torch.as_tensor(ds.load_clips(split), dtype=torch.float32)  # (N, T)
    return (minmax_scale(waves) if data.normalise == "minmax" else waves), ds.sample_rate_hz


def load_codes(data: DataConfig) -> dict[str, torch.Tensor]:
    """{"train", "val", "test"} -> (N, T) uint8 codes of the dataset, quantised as stored
    (after :func:`minmax_scale` when ``data.normalise = "minmax"``).
    Train and val must hold clips; an empty test split gives a (0, T) tensor."""
    ds = load_dataset(data.path)
    if data.crop_samples > ds.clip_samples:
        raise ConfigError(f"data.crop_samples = {data.crop_samples} exceeds the clips' {ds.clip_samples} samples", hint="lower data.crop_samples or set it to 0")
    out = {}
    for split in ("train", "val", "test"):
        if ds.rows(split).empty:
            if split == "test":
                out[split] = torch.zeros(0, ds.clip_samples, dtype=torch.uint8)
                continue
            raise DataError(f"{data.path}: no clips in the '{split}' split", hint="re-import with a split that gives train and val clips")
        waves, _ = load_waves(data, split)
        out[split] = encode(waves, data.quantisation).to(torch.uint8)  # (N, T)
    return out


class BatchStream:
    """An endless stream of clip indices: one seeded permutation per epoch, concatenated.

    Each step takes ``batch * world`` indices; process ``rank`` uses every ``world``-th.
    ``state()`` = (epoch, position) is all it takes to continue the stream exactly.
    """

    def __init__(self, n: int, batch: int, seed: int, world: int = 1, rank: int = 0, epoch: int = 0, position: int = 0):
        self.n, self.batch, self.seed, self.world, self.rank = n, batch, seed, world, rank
        self.epoch, self.position = epoch, position

    def _order(self, epoch: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(derive_seed(self.seed, "order", epoch))
        return torch.randperm(self.n, generator=gen)  # (N,)

    def next(self) -> torch.Tensor:
        need, parts = self.batch * self.world, []
        while need:
            order = self._order(self.epoch)[self.position :]
            take = order[:need]
            parts.append(take)
            need -= len(take)
            self.position += len(take)
            if self.position == self.n:
                self.epoch, self.position = self.epoch + 1, 0
        return torch.cat(parts)[self.rank :: self.world]  # (B,)

    def epochs_done(self) -> float:
        return self.epoch + self.position / self.n

    def state(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}


def crop(codes: torch.Tensor, crop_samples: int, gen: torch.Generator | None) -> torch.Tensor:
    """(B, T) -> (B, crop_samples): random windows (gen) or the first samples (gen None)."""
    if crop_samples == 0 or crop_samples == codes.shape[1]:
        return codes
    if gen is None:
        return codes[:, :crop_samples]
    starts = torch.randint(0, codes.shape[1] - crop_samples + 1, (codes.shape[0],), generator=gen)  # (B,)
    idx = starts[:, None] + torch.arange(crop_samples)[None, :]  # (B, T')
    return torch.gather(codes, 1, idx)


def lr_factor(step: int, cfg: TrainSection, total_steps: int | None) -> float:
    """Linear warmup to 1, then cosine down to lr_min/lr at ``total_steps`` (flat if unknown)."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if total_steps is None:
        return 1.0
    floor = cfg.lr_min / cfg.lr
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def total_steps(cfg: TrainSection, n_train: int, world: int) -> int | None:
    """Steps until max_steps or epochs, whichever comes first (None: time limit only)."""
    limits = []
    if cfg.max_steps > 0:
        limits.append(cfg.max_steps)
    if cfg.epochs > 0:
        limits.append(max(1, math.ceil(cfg.epochs * n_train / (cfg.batch_size * world))))
    return min(limits) if limits else None


# -------------------------------------------------------------------------- loop


class Loop:
    """Model, optimiser, data stream and counters of one training process."""

    def __init__(self, cfg: TrainConfig, dist: DistContext, codes: dict[str, torch.Tensor], run_dir: Path, progress: Progress):
        from benchbox.generators import registry

        t = cfg.train
        self.cfg, self.dist, self.device, self.run_dir, self.progress = cfg, dist, dist.device, run_dir, progress
        self.codes, self.train_codes = codes, codes["train"]
        self.train_waves, self.sample_rate_hz = load_waves(cfg.data, "train") if cfg.data.augment.enabled else (None, 0)
        self.baselines: dict[str, float] = {}
        torch.manual_seed(t.seed)  # the same initial weights in every process
        self.model = registry.build(cfg.generator, dict(cfg.model)).to(self.device)
        torch.manual_seed(derive_seed(t.seed, "dropout", dist.rank))
        self.net = self.model
        if dist.world > 1:
            ids = [self.device] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        groups = [g for g in self.model.param_groups(t.lr, t.weight_decay) if g["params"]]
        for g in groups:
            g["base_lr"] = g.get("lr", t.lr)  # the model's own lr hint, scaled by the schedule
        # A closed-form generator (no trainable parameter) has no optimiser and no steps.
        self.opt = torch.optim.AdamW(groups, lr=t.lr, weight_decay=t.weight_decay) if groups else None
        self.batches = BatchStream(len(self.train_codes), t.batch_size, t.seed, dist.world, dist.rank)
        self.total = total_steps(t, len(self.train_codes), dist.world) if self.opt else 0
        self.amp = t.amp and self.device.type == "cuda"
        self.step, self.best_val, self.evals_since_best, self.lr = 0, math.inf, 0, t.lr
        self.elapsed_before, self.run_started = 0.0, time.monotonic()  # wall seconds of earlier sessions, this one's start
        self.point = self._snapshot()
        self._curves_drawn_at = -math.inf

    # state ------------------------------------------------------------------
    def _snapshot(self) -> dict[str, Any]:
        """Data position + RNG after the last completed step: what a checkpoint resumes from."""
        return {"data_state": self.batches.state(), "rng": ckpt_io.capture_rng(self.device)}

    def restore(self, ckpt: dict[str, Any]) -> None:
        self.model.load_state_dict(ckpt_io.clean_state_dict(ckpt["model"]))
        if self.opt is not None:
            self.opt.load_state_dict(ckpt["optimizer"])
        self.step, self.best_val = int(ckpt["step"]), float(ckpt["best_val"])
        self.evals_since_best = int(ckpt.get("evals_since_best", 0))
        self.elapsed_before = float(ckpt.get("train_seconds", 0.0))
        self.batches.epoch, self.batches.position = int(ckpt["data_state"]["epoch"]), int(ckpt["data_state"]["position"])
        per_rank = ckpt.get("rng_ranks") or []
        rng = per_rank[self.dist.rank] if len(per_rank) == self.dist.world else ckpt["rng"]
        ckpt_io.restore_rng(rng, self.device)
        self.point = self._snapshot()

    def _save(self, names: Sequence[str], collective: bool = True) -> None:
        rngs = self.dist.gather(self.point["rng"]) if collective else [self.point["rng"]]
        if self.dist.rank != 0:
            return
        payload = {
            "generator": self.cfg.generator,
            "generator_config": dict(self.cfg.model),
            "model": ckpt_io.unwrap(self.model).state_dict(),
            "optimizer": self.opt.state_dict() if self.opt is not None else {},
            "step": self.step,
            "best_val": self.best_val,
            "evals_since_best": self.evals_since_best,
            "train_seconds": self._train_seconds(),
            "train_config": to_dict(self.cfg),
            "rng": self.point["rng"],
            "data_state": self.point["data_state"],
        }
        if len(rngs) > 1:
            payload["rng_ranks"] = rngs
        for name in names:
            ckpt_io.save_checkpoint(self.run_dir / "ckpt" / f"{name}.pt", payload)

    # steps ------------------------------------------------------------------
    def train_step(self) -> tuple[float, int]:
        t = self.cfg.train
        self.lr = t.lr * lr_factor(self.step, t, self.total)
        for g in self.opt.param_groups:
            g["lr"] = g["base_lr"] * self.lr / t.lr
        idx = self.batches.next()  # (B,)
        gen = torch.Generator().manual_seed(derive_seed(t.seed, "crop", self.step, self.dist.rank))
        batch = crop(self._train_batch(idx), self.cfg.data.crop_samples, gen).to(self.device)  # (B, T)
        self.net.train()
        loss, _ = next_sample_loss(self.net, batch, self.amp)
        if not torch.isfinite(loss):
            message = f"training diverged: loss/train is {float(loss.detach())} at step {self.step + 1}"
            raise GeneratorError(message, hint="lower train.lr, raise train.warmup_steps or set train.grad_clip")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if t.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), t.grad_clip)
        self.opt.step()
        self.step += 1
        return float(loss.item()), batch.numel()

    def _train_batch(self, idx: torch.Tensor) -> torch.Tensor:
        """Codes of training clips ``idx``, augmented (seeded by step and rank) when configured."""
        if self.train_waves is None:
            return self.train_codes[idx]
        gen = torch.Generator().manual_seed(derive_seed(self.cfg.train.seed, "augment", self.step, self.dist.rank))
        waves = augment(self.train_waves[idx], self.cfg.data.augment, self.sample_rate_hz, gen)  # (B, T)
        return encode(waves, self.cfg.data.quantisation).to(torch.uint8)

    def _eval_split(self, codes: torch.Tensor) -> tuple[float, float]:
        """Mean loss (nats) and accuracy over every clip of ``codes``, full length."""
        sums = split_nll(self.model, codes, self.cfg.train.batch_size, device=self.device, amp=self.amp, rank=self.dist.rank, world=self.dist.world)
        loss_sum, correct, count = self.dist.all_sum(list(sums))
        return loss_sum / count, correct / count

    def evaluate(self) -> dict[str, float]:
        """Full val and test splits, and the first ``val_batches`` batches of train clips."""
        self.model.eval()
        metrics: dict[str, float] = {}
        train_subset = self.train_codes[: self.cfg.train.batch_size * self.cfg.train.val_batches]
        for split, codes in (("train", train_subset), ("val", self.codes["val"]), ("test", self.codes["test"])):
            if len(codes) == 0:
                continue
            loss, acc = self._eval_split(codes)
            metrics.update({f"loss/{split}": loss, f"bits/{split}": loss / NATS_PER_BIT, f"acc/{split}": acc})
        self.model.train()
        return metrics

    def _eval_and_save(self, samples_per_second: float) -> dict[str, float]:
        metrics = self.evaluate()
        improved = metrics["loss/val"] < self.best_val
        self.best_val = min(self.best_val, metrics["loss/val"])
        self.evals_since_best = 0 if improved else self.evals_since_best + 1
        record = {"step": self.step, "epoch": self.batches.epochs_done(), "train_seconds": self._train_seconds(), **metrics, **self.baselines, "lr": self.lr, "samples_per_second": samples_per_second}
        self._save(("last", "best") if improved else ("last",))
        if self.dist.rank == 0:
            append_jsonl(self.run_dir / LOG_NAME, record)
            self._draw_curves(force=False)
        return record

    def _train_seconds(self) -> float:
        """Wall seconds spent in ``run`` over every session of this run (resumes add up)."""
        return self.elapsed_before + time.monotonic() - self.run_started

    def _draw_curves(self, force: bool) -> None:
        from benchbox.plots import plot_curves

        now = time.monotonic()
        if self.dist.rank == 0 and (force or now - self._curves_drawn_at > CURVES_EVERY_SECONDS):
            plot_curves(self.run_dir / LOG_NAME, self.run_dir / CURVES_NAME)
            self._curves_drawn_at = now

    # driver -----------------------------------------------------------------
    def _finished(self, started: float) -> bool:
        t = self.cfg.train
        done = self.total is not None and self.step >= self.total
        if t.max_minutes > 0:
            timed_out = time.monotonic() - started > t.max_minutes * SECONDS_PER_MINUTE
            done = self.dist.any(done or timed_out)
        return done

    def _eval_due(self, epoch_before: int) -> bool:
        every = self.cfg.train.eval_every
        return self.step % every == 0 if every > 0 else self.batches.epoch != epoch_before

    def run(self) -> tuple[float, bool]:
        """Train until a limit or early stop; returns (best val loss, stopped early)."""
        started = window_start = self.run_started = time.monotonic()
        window_samples, stopped_early = 0, False
        if self.opt is None:  # fitted in closed form: score and save once, at step 0
            if self.step == 0 and not (self.run_dir / "ckpt" / "best.pt").exists():
                self._eval_and_save(0.0)
            self._draw_curves(force=True)
            return self.best_val, False
        try:
            while not self._finished(started):
                epoch_before = self.batches.epoch
                loss, n = self.train_step()
                self.point = self._snapshot()
                window_samples += n * self.dist.world
                speed = window_samples / max(time.monotonic() - window_start, 1e-9)
                if self._eval_due(epoch_before) or self._finished(started):
                    self._eval_and_save(speed)
                    window_samples, window_start = 0, time.monotonic()
                    stopped_early = 0 < self.cfg.train.patience <= self.evals_since_best
                self.progress("train", self.step, self.total, loss=loss, **{"samples/s": round(speed), "best": self.best_val})
                if stopped_early:
                    break
        except KeyboardInterrupt:
            self._save(("last",), collective=False)  # stop cleanly: last.pt resumes exactly
            raise
        self._draw_curves(force=True)
        return self.best_val, stopped_early


def _truncate_log(path: Path, step: int) -> None:
    """Drop log records past ``step`` (written after the checkpoint a run resumes from)."""
    import json

    if not path.is_file():
        return
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    keep = [ln for ln in lines if json.loads(ln).get("step", 0) <= step]
    if len(keep) != len(lines):
        atomic_write_text(path, "".join(ln + "\n" for ln in keep))


# ------------------------------------------------------------------------ entry


def train(
    *,
    generator: str | None = None,
    data: Path | None = None,
    out: Path,
    preset: str | None = None,
    overrides: Sequence[str] = (),
    device: str = "auto",
    resume: bool = False,
    progress: Progress | None = None,
) -> TrainResult:
    """Train ``generator`` on the dataset at ``data`` into run folder ``out``.

    With ``resume=True``, ``out`` is an existing run: its config and ``ckpt/last.pt`` are
    used (``generator``/``data`` may be omitted) and training continues exactly.
    """
    started = time.monotonic()
    out = Path(out)
    cfg, ckpt = _prepare(generator=generator, data=data, out=out, preset=preset, overrides=overrides, resume=resume)
    codes = load_codes(cfg.data)
    with DistContext(device) as dist, ckpt_io.isolated_rng(dist.device), memory.reuse_freed_memory():
        loop = Loop(cfg, dist, codes, out, progress or no_progress)
        if cfg.train.baselines:
            loop.baselines = baseline_bits(codes, cfg.data.quantisation, cache_dir=Path(cfg.data.path) / "cache")
        if ckpt is not None:
            loop.restore(ckpt)
        else:
            loop.model.fit(codes["train"].long(), cfg.data.quantisation)  # closed-form models; a no-op otherwise
        first_step = loop.step
        if dist.rank == 0:
            _truncate_log(out / LOG_NAME, loop.step)  # records past the checkpoint never happened
            write_run_info(out, to_dict(cfg), name=CONFIG_NAME)
        best_val, stopped_early = loop.run()
    return TrainResult(out, best_val, loop.step, stopped_early, time.monotonic() - started, first_step)


def _prepare(*, generator, data, out, preset, overrides, resume) -> tuple[TrainConfig, dict | None]:
    """Resolve the config (and the checkpoint to resume) before the run folder is touched."""
    if not resume:
        if generator is None or data is None:
            raise ConfigError("train needs a generator and --data", hint="e.g. benchbox train sashimi --data DATASET_DIR")
        if (out / "ckpt" / "last.pt").exists():
            raise ConfigError(f"{out} already holds a training run", hint=f"continue it with --resume {out}, or pick another --out")
        return resolve_config(generator=generator, data=data, preset=preset, overrides=overrides), None
    cfg = resume_config(out, overrides)
    if generator is not None and generator != cfg.generator:
        raise ConfigError(f"run {out} trains '{cfg.generator}', not '{generator}'", hint=f"resume with generator {cfg.generator} or omit it")
    if data is not None and Path(data).resolve() != Path(cfg.data.path).resolve():
        raise ConfigError(f"run {out} was trained on {cfg.data.path}, not {data}", hint="omit --data when resuming")
    if preset is not None and str(preset) != cfg.preset:
        raise ConfigError(f"run {out} uses preset '{cfg.preset}', not '{preset}'", hint="omit --preset when resuming")
    last = out / "ckpt" / "last.pt"
    if not last.is_file():
        raise CheckpointError(f"cannot resume: {last} not found", hint="the run never saved a checkpoint; start it again without --resume")
    ckpt = ckpt_io.load_checkpoint(last)
    if ckpt["generator"] != cfg.generator:
        raise CheckpointError(f"{last} holds generator '{ckpt['generator']}', but its {CONFIG_NAME} says '{cfg.generator}'", hint="start a new run")
    return cfg, ckpt


def default_run_dir(preset: str, root: Path = Path("results/runs")) -> Path:
    """``results/runs/<preset>-<YYYYmmdd-HHMMSS>``: a new folder per run."""
    return root / f"{Path(preset).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
