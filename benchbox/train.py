"""One training loop for any Generator: it asks for a training step and an eval objective, never which model it holds.

Legend: B batch (per process), T time in samples, N clips, W processes.

The loop hands the generator a :class:`~benchbox.generators.base.Batch` (waves and codes
of real clips) and its own optimisers (``make_optimizers``), calls ``train_step`` and
steps the learning-rate schedule of every optimiser it was given. A generator without
optimisers (capability ``"fit"`` alone: the ``ngram`` and ``lpc`` baselines) is fitted,
scored and saved at step 0.

Every eval scores the generator's own objective, ``loss(batch)``, on the **whole** val
and test splits (every clip, full length) and on a fixed subset of train clips
(``train.val_batches`` batches): ``loss/<split>`` and each metric it reports as
``<metric>/<split>``. The draws of a stochastic objective are seeded per split, so every
eval scores the same noise. ``best.pt`` is the checkpoint with the lowest ``loss/val``.
For a generator with the ``likelihood`` capability that objective is the next-sample NLL
(nats; ``bits/<split>`` in bits/sample) and each record also carries the ngram and lpc
baselines' NLL on the same splits (:mod:`benchbox.baselines`); any other generator has no
NLL and no baseline keys in the log, and its NLL reads "n/a" wherever one is shown.

Determinism: the data order is a stream of per-epoch permutations drawn from
(seed, epoch); crop offsets and augmentation come from (seed, step, rank); dropout and any
other draw of a train step use the torch RNG, whose state is saved in every checkpoint.
So ``--resume`` continues bit-for-bit on CPU. The caller's global RNG states are
restored when ``train`` returns.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchbox import checkpoint as ckpt_io
from benchbox import memory
from benchbox.baselines import baseline_bits
from benchbox.data.batches import MINMAX_GUARD, BatchStream, Clips, augment, crop, load_clips, load_codes, minmax_scale, train_batch  # noqa: F401  (re-exported)
from benchbox.data.dataset import DATASET_INFO, load_dataset
from benchbox.data.fingerprint import check_resume, content_fingerprint
from benchbox.data.fingerprint import record as record_fingerprint
from benchbox.distributed import DistContext
from benchbox.errors import CheckpointError, ConfigError, GeneratorError
from benchbox.generators.base import StepContext
from benchbox.progress import Progress, no_progress
from benchbox.runs import append_jsonl, atomic_write_text, signals_deferred, write_run_info
from benchbox.train_config import (  # noqa: F401  (re-exported: the run's config lives in train_config)
    CONFIG_NAME, AugmentConfig, DataConfig, TrainConfig, TrainSection, derive_seed, lr_factor, resolve_config, resume_config, total_steps,
)  # fmt: skip
from benchbox.config import to_dict

SECONDS_PER_MINUTE = 60.0
CURVES_EVERY_SECONDS = 30.0  # redraw curves.png at most this often while training
LOG_NAME = "log.jsonl"
CURVES_NAME = "curves.png"
BEST_KEY = "loss/val"  # the logged metric best.pt minimises: each generator's own val objective


@dataclass(frozen=True)
class TrainResult:
    out: Path
    best_val: float  # the lowest ``loss/val``: the generator's own objective
    last_step: int
    stopped_early: bool
    wall_seconds: float
    first_step: int = 0  # the step training started from: 0, or the resumed checkpoint's step
    best_val_bits: float | None = None  # val NLL (bits/sample) at that checkpoint; None without likelihood


class Loop:
    """Model, optimisers, data stream and counters of one training process."""

    def __init__(self, cfg: TrainConfig, dist: DistContext, clips: dict[str, Clips], run_dir: Path, progress: Progress):
        from benchbox.generators import registry

        t = cfg.train
        self.cfg, self.dist, self.device, self.run_dir, self.progress = cfg, dist, dist.device, run_dir, progress
        self.clips = clips
        self.sample_rate_hz = load_dataset(cfg.data.path).sample_rate_hz
        self.baselines: dict[str, float] = {}
        torch.manual_seed(t.seed)  # the same initial weights in every process
        self.model = registry.build(cfg.generator, dict(cfg.model)).to(self.device)
        self.model.quantisation = cfg.data.quantisation
        self.likelihood = "likelihood" in self.model.capabilities
        torch.manual_seed(derive_seed(t.seed, "dropout", dist.rank))
        # A closed-form generator (no trainable parameter) has no optimiser and no steps.
        self.opts = self.model.make_optimizers(lr=t.lr, weight_decay=t.weight_decay)
        for opt in self.opts.values():
            for g in opt.param_groups:
                g["base_lr"] = g["lr"]  # the model's own lr hint, scaled by the schedule
        self.batches = BatchStream(len(clips["train"]), t.batch_size, t.seed, dist.world, dist.rank)
        self.total = total_steps(t, len(clips["train"]), dist.world) if self.opts else 0
        self.amp = t.amp and self.device.type == "cuda"
        self.step, self.best_val, self.best_bits, self.evals_since_best, self.lr = 0, math.inf, None, 0, t.lr
        self.elapsed_before, self.run_started = 0.0, time.monotonic()  # wall seconds of earlier sessions, this one's start
        self.point = self._snapshot()
        self._curves_drawn_at = -math.inf

    # state ------------------------------------------------------------------
    def _snapshot(self) -> dict[str, Any]:
        """Data position + RNG after the last completed step: what a checkpoint resumes from."""
        return {"data_state": self.batches.state(), "rng": ckpt_io.capture_rng(self.device)}

    def restore(self, ckpt: dict[str, Any]) -> None:
        self.model.load_state_dict(ckpt_io.clean_state_dict(ckpt["model"]))
        for name, opt in self.opts.items():
            opt.load_state_dict(ckpt["optimizer"][name])
        self.step, self.best_val = int(ckpt["step"]), float(ckpt["best_val"])
        self.best_bits = ckpt.get("best_val_bits")
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
            "optimizer": {name: opt.state_dict() for name, opt in self.opts.items()},
            "step": self.step,
            "best_val": self.best_val,
            "best_val_bits": self.best_bits,
            "evals_since_best": self.evals_since_best,
            "train_seconds": self._train_seconds(),
            "train_config": to_dict(self.cfg),
            "rng": self.point["rng"],
            "data_state": self.point["data_state"],
        }
        if self.best_bits is None:
            del payload["best_val_bits"]  # weights_only checkpoints hold no None
        if len(rngs) > 1:
            payload["rng_ranks"] = rngs
        for name in names:
            ckpt_io.save_checkpoint(self.run_dir / "ckpt" / f"{name}.pt", payload)

    # steps ------------------------------------------------------------------
    def train_step(self) -> tuple[float, int]:
        t = self.cfg.train
        self.lr = t.lr * lr_factor(self.step, t, self.total)
        for opt in self.opts.values():
            for g in opt.param_groups:
                g["lr"] = g["base_lr"] * self.lr / t.lr
        idx = self.batches.next()  # (B,)
        batch = train_batch(self.clips["train"], idx, data=self.cfg.data, sample_rate_hz=self.sample_rate_hz, seed=t.seed, step=self.step, rank=self.dist.rank)
        self.model.train()
        ctx = StepContext(step=self.step, device=self.device, amp=self.amp, grad_clip=t.grad_clip, world=self.dist.world)
        metrics = self.model.train_step(batch.to(self.device), self.opts, ctx)
        loss = float(metrics["loss"])
        if not math.isfinite(loss):
            message = f"training diverged: loss/train is {loss} at step {self.step + 1}"
            raise GeneratorError(message, hint="lower train.lr, raise train.warmup_steps or set train.grad_clip")
        self.step += 1
        return loss, batch.codes.numel()

    @torch.no_grad()
    def _eval_split(self, split: str, clips: Clips) -> dict[str, float]:
        """The objective and its metrics, averaged over every clip of ``clips``, full length."""
        size = self.cfg.train.batch_size
        starts = list(range(0, len(clips), size))
        mine = starts[self.dist.rank :: self.dist.world]
        weight = 1.0 if mine else 0.0  # a process without a batch scores one at weight 0, for the metric keys
        sums: dict[str, float] = {}
        with ckpt_io.isolated_rng(self.device), self.model.evaluating():
            torch.manual_seed(derive_seed(self.cfg.train.seed, "eval", split))  # the same draws at every eval
            ctx = StepContext(step=self.step, device=self.device, amp=self.amp)
            for s in mine or starts[:1]:
                batch = clips.batch(slice(s, s + size)).to(self.device)
                with ctx.autocast():
                    loss, metrics = self.model.loss(batch)
                for key, value in {"loss": loss, **metrics}.items():
                    sums[key] = sums.get(key, 0.0) + float(value) * len(batch) * weight
        keys = sorted(sums, key=lambda k: k != "loss")  # loss first, then the generator's order
        totals = self.dist.all_sum([sums[k] for k in keys])
        return {k: v / len(clips) for k, v in zip(keys, totals)}

    def evaluate(self) -> dict[str, float]:
        """Full val and test splits, and the first ``val_batches`` batches of train clips."""
        t = self.cfg.train
        train = self.clips["train"]
        subset = Clips(*(x[: t.batch_size * t.val_batches] for x in (train.waves, train.codes, train.labels)))
        metrics: dict[str, float] = {}
        for split, clips in (("train", subset), ("val", self.clips["val"]), ("test", self.clips["test"])):
            if len(clips):
                metrics.update({f"{key}/{split}": value for key, value in self._eval_split(split, clips).items()})
        return metrics

    def _eval_and_save(self, samples_per_second: float) -> dict[str, float]:
        metrics = self.evaluate()
        improved = metrics[BEST_KEY] < self.best_val
        if improved:
            self.best_val, self.best_bits = metrics[BEST_KEY], metrics.get("bits/val")
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
    def _finished(self) -> bool:
        t = self.cfg.train
        done = self.total is not None and self.step >= self.total
        if t.max_minutes > 0:  # the run's wall time over every session: a resume continues the budget, it does not restart it
            timed_out = self._train_seconds() > t.max_minutes * SECONDS_PER_MINUTE
            done = self.dist.any(done or timed_out)
        return done

    def _eval_due(self, epoch_before: int) -> bool:
        every = self.cfg.train.eval_every
        return self.step % every == 0 if every > 0 else self.batches.epoch != epoch_before

    def run(self) -> tuple[float, bool]:
        """Train until a limit or early stop; returns (best val loss, stopped early)."""
        window_start = self.run_started = time.monotonic()
        window_samples, stopped_early, mid_step = 0, False, False
        if not self.opts:  # fitted in closed form: score and save once, at step 0
            if self.step == 0 and not (self.run_dir / "ckpt" / "best.pt").exists():
                self._eval_and_save(0.0)
            self._draw_curves(force=True)
            return self.best_val, False
        try:
            finished = self._finished()
            while not finished:
                epoch_before = self.batches.epoch
                # A step and the eval it makes due are one unit: a Ctrl-C or SIGTERM inside it is held
                # until both are done, so last.pt is never saved half-way through an update (a GAN's
                # discriminator stepped, its generator not) and never skips an eval that was due.
                with signals_deferred():
                    mid_step = True
                    loss, n = self.train_step()
                    self.point = self._snapshot()
                    window_samples += n * self.dist.world
                    speed = window_samples / max(time.monotonic() - window_start, 1e-9)
                    finished = self._finished()  # decided once per step: the loop never ends between a step and its last eval and save
                    if self._eval_due(epoch_before) or finished:
                        self._eval_and_save(speed)
                        window_samples, window_start = 0, time.monotonic()
                        stopped_early = 0 < self.cfg.train.patience <= self.evals_since_best
                    mid_step = False
                self.progress("train", self.step, self.total, loss=loss, **{"samples/s": round(speed), "best": self.best_val})
                if stopped_early:
                    break
        except KeyboardInterrupt:
            if not mid_step:  # a second Ctrl-C forces a stop mid-step: keep the last consistent last.pt
                self._save(("last",), collective=False)  # stop cleanly: last.pt resumes exactly
            raise
        self._draw_curves(force=True)
        return self.best_val, stopped_early


def _truncate_log(path: Path, step: int) -> None:
    """Drop log records past ``step`` (written after the checkpoint a run resumes from)."""
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
    force_data_change: bool = False,
    progress: Progress | None = None,
    own_files: Sequence[str] = (),
) -> TrainResult:
    """Train ``generator`` on the dataset at ``data`` into run folder ``out``.

    With ``resume=True``, ``out`` is an existing run: its config and ``ckpt/last.pt`` are
    used (``generator``/``data`` may be omitted) and training continues exactly. A dataset
    whose content changed since the run recorded it is refused (DataError naming both
    fingerprints) unless ``force_data_change``; see :mod:`benchbox.data.fingerprint`.
    A new run's ``out`` must be new or empty (ConfigError otherwise), except for ``own_files``:
    names the caller wrote there for this run (a study's fingerprint marker).
    """
    started = time.monotonic()
    out = Path(out)
    cfg, ckpt = _prepare(generator=generator, data=data, out=out, preset=preset, overrides=overrides, resume=resume, own_files=tuple(own_files))
    clips = load_clips(cfg.data)
    fingerprint = content_fingerprint(clips)
    data_changed = ckpt is not None and check_resume(out, fingerprint, cfg.data.path, force=force_data_change)
    with DistContext(device) as dist, ckpt_io.isolated_rng(dist.device), memory.reuse_freed_memory():
        loop = Loop(cfg, dist, clips, out, progress or no_progress)
        if cfg.train.baselines and loop.likelihood:  # NLL baselines sit beside an NLL only
            codes = {split: c.codes for split, c in clips.items()}
            loop.baselines = baseline_bits(codes, cfg.data.quantisation, cache_dir=Path(cfg.data.path) / "cache")
        if ckpt is not None:
            loop.restore(ckpt)
            if loop.opts and loop.total is not None and loop.step >= loop.total and _budget_changed(out, cfg):  # before config.toml is rewritten
                raise ConfigError(f"{out}: the checkpoint is at step {loop.step} and this budget ends at step {loop.total} "
                                  f"(max_steps {cfg.train.max_steps}, epochs {cfg.train.epochs:g}): nothing to train",
                                  hint="raise --set train.max_steps (or train.epochs) past the checkpoint's step; config.toml is unchanged")
            spent = cfg.train.max_minutes > 0 and loop.elapsed_before >= cfg.train.max_minutes * SECONDS_PER_MINUTE
            if loop.opts and spent and _budget_changed(out, cfg, ("max_steps", "epochs", "max_minutes")):
                raise ConfigError(f"{out}: the run has trained for {loop.elapsed_before / SECONDS_PER_MINUTE:.1f} min and this budget ends at "
                                  f"{cfg.train.max_minutes:g} min (max_minutes counts every session of the run): nothing to train",
                                  hint="raise --set train.max_minutes past the time already trained; config.toml is unchanged")
            if data_changed:  # the old best_val was measured on another val split
                loop.best_val, loop.best_bits, loop.evals_since_best = math.inf, None, 0
        elif "fit" in loop.model.capabilities:
            loop.model.fit(clips["train"].codes.long(), cfg.data.quantisation)  # closed-form statistics
        first_step = loop.step
        made: list[Path] | None = None  # the folders this call's claim created; None: it claimed nothing
        try:
            if dist.rank == 0:
                if ckpt is None:
                    made = _claim(out, tuple(own_files))
                _truncate_log(out / LOG_NAME, loop.step)  # records past the checkpoint never happened
                write_run_info(out, to_dict(cfg), name=CONFIG_NAME, resumed=ckpt is not None,  # a resume keeps versions.json as the first run wrote it
                               note={"from_step": int(loop.step)})
                record_fingerprint(out, fingerprint, cfg.data.path, step=loop.step)
            best_val, stopped_early = loop.run()
        except BaseException:
            if made is not None and not (out / "ckpt").exists():  # failed before its first checkpoint: nothing to resume
                with contextlib.suppress(OSError):  # a cleanup that fails must not hide the error that stopped training
                    _unclaim(out, tuple(own_files), made)
            raise
    return TrainResult(out, best_val, loop.step, stopped_early, time.monotonic() - started, first_step, loop.best_bits)


def _budget_changed(out: Path, cfg: TrainConfig, keys: tuple[str, ...] = ("max_steps", "epochs")) -> bool:
    """Whether this resume sets another budget (``keys`` of [train]: the step budget, or max_minutes) than the run's config.toml:
    a resume with the recorded budget may find nothing left to do (a run killed after its last
    checkpoint was written), one that lowers the budget below the checkpoint would only rewrite
    the record."""
    import tomllib

    try:
        saved = tomllib.loads((out / CONFIG_NAME).read_text()).get("train", {})
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return tuple(saved.get(k) for k in keys) != tuple(getattr(cfg.train, k) for k in keys)


def _prepare(*, generator, data, out, preset, overrides, resume, own_files: tuple[str, ...] = ()) -> tuple[TrainConfig, dict | None]:
    """Resolve the config (and the checkpoint to resume) before the run folder is touched."""
    if not resume:
        if generator is None or data is None:
            raise ConfigError("train needs a generator and --data", hint="e.g. benchbox train sashimi --data DATASET_DIR")
        if (out / "ckpt" / "last.pt").exists():
            raise ConfigError(f"{out} already holds a training run", hint=f"continue it with --resume {out}, or pick another --out")
        cfg = resolve_config(generator=generator, data=data, preset=preset, overrides=overrides)
        if int(os.environ.get("RANK", "0")) == 0:  # torchrun's other ranks share rank 0's folder
            _check_empty(out, own_files)  # nothing is written yet: train() claims the folder once the run can start
        return cfg, None
    _check_resumable(out)
    cfg = resume_config(out, overrides)
    if generator is not None and generator != cfg.generator:
        raise ConfigError(f"run {out} trains '{cfg.generator}', not '{generator}'", hint=f"resume with generator {cfg.generator} or omit it")
    if data is not None and Path(data).resolve() != Path(cfg.data.path).resolve():
        raise ConfigError(f"run {out} was trained on {cfg.data.path}, not {data}", hint="omit --data when resuming")
    if preset is not None and str(preset) != cfg.preset:
        raise ConfigError(f"run {out} uses preset '{cfg.preset}', not '{preset}'", hint="omit --preset when resuming")
    last = out / "ckpt" / "last.pt"
    if not last.is_file():
        saved = sorted(p.name for p in (out / "ckpt").glob("*.pt")) if (out / "ckpt").is_dir() else []
        hint = ("the run never saved a checkpoint; start it again without --resume" if not saved else
                f"its ckpt/ holds {', '.join(saved)} but not last.pt, the only one --resume continues from (deleted or lost?): "
                "restore it, or start the run again without --resume")
        raise CheckpointError(f"cannot resume: {last} not found", hint=hint)
    ckpt = ckpt_io.load_checkpoint(last)
    if ckpt["generator"] != cfg.generator:
        raise CheckpointError(f"{last} holds generator '{ckpt['generator']}', but its {CONFIG_NAME} says '{cfg.generator}'", hint="start a new run")
    return cfg, ckpt


def _check_resumable(out: Path) -> None:
    """CheckpointError naming ``out`` when it holds no checkpoint and no run config: a dataset (whose own
    config.toml would be read as a run's), or any other folder. A run that never saved one is refused later."""
    last = out / "ckpt" / "last.pt"
    if last.is_file():
        return
    if not out.exists():
        raise CheckpointError(f"cannot resume: {out} not found", hint="check the path; --resume takes a run folder written by `benchbox train`")
    if (out / DATASET_INFO).is_file():  # its config.toml records how it was built, not a run
        raise CheckpointError(f"{out} is not a training run (no checkpoint {last}): it is a dataset",
                              hint=f"train on it with `benchbox train GENERATOR --data {out}`; --resume takes a run folder written by `benchbox train`")
    if (out / CONFIG_NAME).is_file():  # a run that never saved a checkpoint: refused once its config is checked
        return
    raise CheckpointError(f"{out} is not a training run (no checkpoint {last})", hint="--resume takes a run folder written by `benchbox train`")


def _check_empty(out: Path, own_files: tuple[str, ...] = ()) -> None:
    """Refuse an ``out`` that holds anything but ``own_files`` (a dataset, another run, someone's
    files: training would write its config, log and checkpoints among them). ConfigError names ``out``."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output path is a file: {out}", hint="pick a new or empty folder for --out")
    if out.exists() and set(os.listdir(out)) - set(own_files):
        raise ConfigError(f"{out} is not empty and holds no training run to resume", hint="pick a new or empty folder for --out")


def _claim(out: Path, own_files: tuple[str, ...] = ()) -> list[Path]:
    """Make ``out`` this training's own, before its first write: :func:`_check_empty` again, then
    create the log exclusively, so a second training started into the same folder at the same
    moment is refused instead of interleaving with this one. ConfigError names ``out``. Returns
    the folders it created, deepest first (for :func:`_unclaim`)."""
    _check_empty(out, own_files)
    made = [p for p in (out, *out.parents) if not p.exists()]  # deepest first
    out.mkdir(parents=True, exist_ok=True)
    try:
        with open(out / LOG_NAME, "x"):
            pass
    except FileExistsError:
        raise ConfigError(f"another training is writing into {out}", hint="pick another --out") from None
    return made


def _unclaim(out: Path, own_files: tuple[str, ...], made: list[Path]) -> None:
    """Undo :func:`_claim` for a run that failed before its first checkpoint: remove what it wrote
    (everything in ``out`` but ``own_files``, the only names there at the claim) and the folders
    the claim created, so the same command can run again and a folder that existed stays."""
    for name in sorted(set(os.listdir(out)) - set(own_files)):
        entry = out / name
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    for folder in made:
        with contextlib.suppress(OSError):  # not empty (own_files, or another process's): keep it
            folder.rmdir()


RUNS_ROOT = Path("results/runs")  # where a run without --out goes


def default_run_dir(preset: str, root: Path = RUNS_ROOT, *, create: bool = False) -> Path:
    """``results/runs/<preset>-<YYYYmmdd-HHMMSS>[-k]``: a folder no earlier run has (``-2``, ``-3``, ...
    when one started within the same second). ``create``: make it, exclusively, so two trainings
    started at the same moment get two folders (:func:`train` then claims it)."""
    base = root / f"{Path(preset).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    for k in range(1, 1000):
        out = base if k == 1 else base.with_name(f"{base.name}-{k}")
        if not create and not out.exists():
            return out
        if create:
            root.mkdir(parents=True, exist_ok=True)
            try:
                out.mkdir()
                return out
            except FileExistsError:
                continue
    raise ConfigError(f"no free run folder name under {root} for {base.name}", hint="pass --out")
