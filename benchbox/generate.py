"""The generation grid: N clips per checkpoint x prime cell of a training run, written with a manifest.

Legend: n clips, B batch, T clip length in samples, P prime samples.

Any generator makes its clips through ``generate`` (:mod:`benchbox.generators.base`); this
module never asks which one it holds. A primed cell continues the first ``prime_ms`` of a
test-split clip, passed as waves on the run's code grid (``decode(encode(x))`` with the
run's quantisation), and the written clip's first P samples are that prime bit for bit
(checked here). A generator without the ``prime`` capability gets its unprimed cells
only; its primed cells are left out (the tables read "n/a"). Each checkpoint x prime
cell draws from its own generator, seeded from (seed, checkpoint, prime_ms), so the
same seed gives byte-identical clips. The manifest's ``logprob_*`` columns hold each
clip's log-likelihood under its own checkpoint (nats, the continuation only) for a
generator with the ``likelihood`` capability, and are empty ("n/a") otherwise.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from benchbox.audio import decode, encode, write_wav
from benchbox.checkpoint import build_from_checkpoint
from benchbox.config import from_dict, load_toml
from benchbox.data.dataset import Dataset, load_dataset
from benchbox.distributed import resolve_device
from benchbox.errors import ConfigError, DataError, GeneratorError
from benchbox.progress import Progress, no_progress
from benchbox.runs import atomic_write_csv, staged_dir, write_run_info
from benchbox.sample import check_sampling
from benchbox.train_config import CONFIG_NAME, TrainConfig, derive_seed

MS_PER_SECOND = 1000.0
SAMPLES_DIR = "samples"
MANIFEST_NAME = "manifest.csv"
GENERATE_CONFIG_NAME = "generate_config.toml"
MANIFEST_COLUMNS = (
    "path", "clip_id", "run", "generator", "preset", "quantisation", "dropout", "checkpoint", "checkpoint_sha256",
    "prime_ms", "prime_source", "seed", "temperature", "top_p", "seconds_to_generate", "logprob_sum", "logprob_mean",
)  # fmt: skip


@dataclass(frozen=True)
class GenerateConfig:
    checkpoints: tuple[str, ...] = ("best", "last")
    prime_ms: tuple[int, ...] = (0, 10, 20, 40)
    n: int = 32
    seconds: float = 0.512
    temperature: float = 1.0
    top_p: float = 1.0
    batch: int = 16
    seed: int = 0
    device: str = "auto"


def parse_prime_ms(values: str | Sequence[Any]) -> tuple[int, ...]:
    """``"0,10,20"`` or ``[0, 10]`` -> (0, 10, 20): whole, non-negative milliseconds."""
    items = [v.strip() for v in values.split(",") if v.strip()] if isinstance(values, str) else list(values)
    out = []
    for item in items:
        try:
            value = float(item)
        except (TypeError, ValueError):
            raise ConfigError(f"--prime-ms value {item!r} is not a number", hint="write whole milliseconds, e.g. --prime-ms 0,10,20,40") from None
        if not math.isfinite(value) or value < 0 or not value.is_integer():
            raise ConfigError(f"--prime-ms value {item!r} is not a whole number of milliseconds >= 0", hint="e.g. --prime-ms 0,10,20,40")
        out.append(int(value))
    if not out:
        raise ConfigError("--prime-ms is empty", hint="e.g. --prime-ms 0,10,20,40")
    return tuple(dict.fromkeys(out))


def parse_names(values: str | Sequence[str]) -> tuple[str, ...]:
    """``"best,last"`` -> ("best", "last"); names of files in RUN_DIR/ckpt/ without ``.pt``."""
    items = [v.strip() for v in values.split(",")] if isinstance(values, str) else [str(v).strip() for v in values]
    if not items or any(not v or "/" in v or "\\" in v or v.startswith(".") for v in items):
        raise ConfigError(f"bad --checkpoint list {values!r}", hint="name checkpoints in RUN_DIR/ckpt/, e.g. --checkpoint best,last")
    return tuple(dict.fromkeys(items))


@dataclass
class _Plan:
    """Everything validated up front, before any file is written."""

    run_dir: Path
    cfg: GenerateConfig
    train_cfg: TrainConfig
    dataset: Dataset
    models: dict[str, tuple[torch.nn.Module, dict]]
    primes: dict[int, int]  # prime_ms -> prime samples
    length: int
    test_ids: list[str]
    test_waves: torch.Tensor | None  # (N_test, T_clip) float32 on the run's code grid


def _plan(run_dir: Path, cfg: GenerateConfig) -> _Plan:
    if (run_dir / "dataset.json").is_file():
        raise ConfigError(f"{run_dir} is a dataset, not a training run", hint=f"train on it first (`benchbox train sashimi --data {run_dir}`), then generate from the run folder")
    if not (run_dir / CONFIG_NAME).is_file():
        raise ConfigError(f"{run_dir} is not a training run (no {CONFIG_NAME})", hint="pass a folder written by `benchbox train`")
    train_cfg = from_dict(TrainConfig, load_toml(run_dir / CONFIG_NAME))
    data_path = Path(train_cfg.data.path)
    if not (data_path / "manifest.csv").is_file():
        raise DataError(f"run {run_dir} has no dataset: {data_path} is missing", hint="restore the dataset at that path (see [data] path in the run's config.toml)")
    ds = load_dataset(data_path)
    rate = ds.sample_rate_hz
    length = round(cfg.seconds * rate)
    primes = {ms: round(ms * rate / MS_PER_SECOND) for ms in cfg.prime_ms}
    for ms, p in primes.items():
        check_sampling(n=cfg.n, length=length, prime_samples=p, temperature=cfg.temperature, top_p=cfg.top_p, batch=cfg.batch)
        if p > ds.clip_samples:
            raise ConfigError(f"a {ms} ms prime is longer than the dataset's {ds.clip_samples}-sample clips", hint="use a shorter --prime-ms")
    test_ids, test_waves = [], None
    if any(primes.values()):
        test = ds.rows("test")
        if test.empty:
            raise DataError(f"{data_path}: no test clips to prime from", hint="use --prime-ms 0, or re-import with a test split")
        scheme = train_cfg.data.quantisation
        test_ids, test_waves = list(test["id"].astype(str)), decode(encode(ds.load_clips("test"), scheme), scheme)
    device = resolve_device(cfg.device)
    models = {name: build_from_checkpoint(run_dir / "ckpt" / f"{name}.pt", device) for name in cfg.checkpoints}
    return _Plan(run_dir, cfg, train_cfg, ds, models, primes, length, test_ids, test_waves)


def _cell_rows(plan: _Plan, stage: Path, name: str, ms: int, progress: Progress, done: int, total: int) -> list[dict]:
    """Generate one checkpoint x prime cell into the staging copy of samples/; return its manifest rows."""
    cfg, model, meta = plan.cfg, *plan.models[name]
    p = plan.primes[ms]
    gen = torch.Generator(device=model.device).manual_seed(derive_seed(cfg.seed, name, ms))
    sources = [plan.test_ids[i % len(plan.test_ids)] if p else "" for i in range(cfg.n)]
    prime = torch.stack([plan.test_waves[i % len(plan.test_ids), :p] for i in range(cfg.n)]) if p else None  # (n, P)
    rows = []
    for s in range(0, cfg.n, cfg.batch):
        started = time.perf_counter()
        chunk = None if prime is None else prime[s : s + cfg.batch]  # (B, P)
        count = min(cfg.batch, cfg.n - s)
        waves = model.generate(count, plan.length, prime=chunk, rng=gen, temperature=cfg.temperature, top_p=cfg.top_p, batch=cfg.batch).cpu()  # (B, T)
        seconds = (time.perf_counter() - started) / count
        _check_output(plan, name, waves, chunk, count)
        lp_sum = _log_likelihood(model, waves, p)  # (B,)
        for j, clip in enumerate(waves):
            i = s + j
            rel = Path(SAMPLES_DIR) / name / f"prime{ms}" / f"clip_{i:04d}.wav"
            write_wav(stage / rel.relative_to(SAMPLES_DIR), clip.numpy(), plan.dataset.sample_rate_hz)
            rows.append(_row(plan, meta, rel, name, ms, i, sources[i], seconds, float(lp_sum[j]), float(lp_sum[j]) / (plan.length - p)))
        done += count
        progress("generate", done, total, cell=f"{name}/prime{ms}", **{"samples/s": round((plan.length - p) / max(seconds, 1e-9))})
    return rows


def _check_output(plan: _Plan, name: str, waves: torch.Tensor, prime: torch.Tensor | None, count: int) -> None:
    """The contract every ``generate`` keeps: shape, finite values in [-1, 1], the prime verbatim."""
    generator = plan.train_cfg.generator
    if tuple(waves.shape) != (count, plan.length) or not torch.isfinite(waves).all() or waves.abs().max() > 1.0:
        raise GeneratorError(f"generator '{generator}' ({name}) returned clips of shape {tuple(waves.shape)} outside [-1, 1] or not finite", hint="fix its generate()")
    if prime is not None and not torch.equal(waves[:, : prime.shape[1]], prime):
        raise GeneratorError(f"generator '{generator}' ({name}) changed the prime", hint="generate() must return the prime bit-exactly as the first P samples")


def _log_likelihood(model: torch.nn.Module, waves: torch.Tensor, prime_samples: int) -> torch.Tensor:
    """(B,) log-likelihood (nats) of each clip's continuation; NaN ("n/a") without the capability."""
    if "likelihood" not in model.capabilities:
        return torch.full((waves.shape[0],), math.nan, dtype=torch.float64)
    codes = encode(waves, model.quantisation).to(model.device)  # (B, T)
    return model.log_likelihood(codes, start=prime_samples).cpu()


def _row(plan: _Plan, meta: dict, rel: Path, name: str, ms: int, i: int, source: str, seconds: float, lp_sum: float, lp_mean: float) -> dict:
    run = plan.run_dir.name
    return {
        "path": rel.as_posix(), "clip_id": f"{run}/{name}/prime{ms}/{i:04d}", "run": run,
        "generator": plan.train_cfg.generator, "preset": plan.train_cfg.preset,
        "quantisation": plan.train_cfg.data.quantisation, "dropout": float(meta["generator_config"].get("dropout", 0.0)),
        "checkpoint": name, "checkpoint_sha256": meta["sha256"], "prime_ms": ms, "prime_source": source,
        "seed": plan.cfg.seed, "temperature": plan.cfg.temperature, "top_p": plan.cfg.top_p,
        "seconds_to_generate": seconds, "logprob_sum": lp_sum, "logprob_mean": lp_mean,
    }  # fmt: skip


def generate_run(
    run_dir: str | Path,
    *,
    checkpoints: str | Sequence[str] = ("best", "last"),
    prime_ms: str | Sequence[Any] = (0, 10, 20, 40),
    n: int = 32,
    seconds: float = 0.512,
    temperature: float = 1.0,
    top_p: float = 1.0,
    batch: int = 16,
    seed: int = 0,
    device: str = "auto",
    progress: Progress | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``n`` clips per checkpoint x prime cell under RUN_DIR/samples; return the manifest path.

    All inputs are checked before anything is written. Rows of cells not regenerated
    this time are kept in the manifest; a regenerated cell replaces its rows and clips.
    samples/ is built in a staging folder and replaces the old one whole when every
    cell is done, so an interrupt or error leaves it (clips and manifest) as it was.
    Replacing clips that ``scores/clips.csv`` lists needs ``overwrite=True``
    (ConfigError otherwise): their scores would then describe audio that is gone.
    """
    run_dir = Path(run_dir)
    cfg = GenerateConfig(parse_names(checkpoints), parse_prime_ms(prime_ms), int(n), float(seconds), float(temperature), float(top_p), int(batch), int(seed), device)
    if not (math.isfinite(cfg.seconds) and cfg.seconds > 0):
        raise ConfigError(f"--seconds must be > 0, got {cfg.seconds}", hint="e.g. --seconds 0.512")
    plan = _plan(run_dir, cfg)
    samples = run_dir / SAMPLES_DIR
    manifest = samples / MANIFEST_NAME
    kept = _kept_rows(manifest, cfg)
    if not overwrite:
        _refuse_replacing_scored(run_dir, manifest, kept)
    progress = progress or no_progress
    rows: list[dict] = []
    cells = [(name, ms) for name in cfg.checkpoints for ms in cfg.prime_ms if not ms or "prime" in plan.models[name][0].capabilities]
    total = cfg.n * len(cells)
    with staged_dir(samples) as stage:
        _link_kept(samples, stage, kept)
        for name, ms in cells:
            rows += _cell_rows(plan, stage, name, ms, progress, len(rows), total)
        frame = pd.concat([kept, pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))], ignore_index=True)
        atomic_write_csv(stage / MANIFEST_NAME, frame)
        record = {"run": str(run_dir), **_config_dict(cfg)}
        write_run_info(stage, {**record, "invocations": _invocations(samples / GENERATE_CONFIG_NAME, record, cfg)}, name=GENERATE_CONFIG_NAME)
    return manifest


def _cells(cfg: GenerateConfig) -> list[str]:
    return [f"{name}/prime{ms}" for name in cfg.checkpoints for ms in cfg.prime_ms]


def _invocations(path: Path, record: dict, cfg: GenerateConfig) -> dict[str, dict]:
    """Every invocation whose cells are still in the manifest, oldest first, this one last.

    ``generate_config.toml`` keeps the latest invocation's settings at the top level and
    ``[invocations.N]`` tables with each contributing invocation's settings and ``cells``
    (``<checkpoint>/prime<ms>``); an invocation whose cells were all regenerated is dropped.
    """
    earlier: list[dict] = []
    if path.is_file():
        old = load_toml(path)
        listed = old.get("invocations") or {}
        if listed:
            earlier = [listed[k] for k in sorted(listed, key=int)]
        elif "checkpoints" in old and "prime_ms" in old:  # written before invocations were recorded
            legacy = {k: v for k, v in old.items() if k != "invocations"}
            earlier = [{**legacy, "cells": [f"{c}/prime{m}" for c in old["checkpoints"] for m in old["prime_ms"]]}]
    now = _cells(cfg)
    kept = [{**inv, "cells": [c for c in inv.get("cells", []) if c not in now]} for inv in earlier]
    kept = [inv for inv in kept if inv["cells"]] + [{**record, "cells": now}]
    return {str(i + 1): inv for i, inv in enumerate(kept)}


def _config_dict(cfg: GenerateConfig) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.__dict__.items()}


def _kept_rows(manifest: Path, cfg: GenerateConfig) -> pd.DataFrame:
    """Rows of an earlier manifest whose (checkpoint, prime_ms) cell is not regenerated now."""
    empty = pd.DataFrame(columns=list(MANIFEST_COLUMNS))
    if not manifest.is_file():
        return empty
    try:
        old = pd.read_csv(manifest, dtype={"checkpoint": str, "prime_source": str}, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return empty
    if list(old.columns) != list(MANIFEST_COLUMNS):
        return empty
    regenerated = old["checkpoint"].isin(cfg.checkpoints) & old["prime_ms"].isin(cfg.prime_ms)
    return old[~regenerated]


def _refuse_replacing_scored(run_dir: Path, manifest: Path, kept: pd.DataFrame) -> None:
    """ConfigError when clips about to be replaced or deleted are listed in scores/clips.csv."""
    scores = run_dir / "scores" / "clips.csv"
    if not scores.is_file() or not manifest.is_file():
        return
    try:
        scored = set(pd.read_csv(scores, usecols=["path"])["path"].astype(str))
        listed = set(pd.read_csv(manifest, usecols=["path"])["path"].astype(str))
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return  # unreadable scores describe nothing that could be lost
    lost = sorted((listed - set(kept["path"].astype(str))) & scored)
    if lost:
        raise ConfigError(
            f"{len(lost)} scored clip(s) would be replaced or deleted (first: {lost[0]}); scores/ describes them",
            hint="pass --overwrite to regenerate them anyway (then re-run `benchbox score`), or generate other checkpoint/prime cells",
        )


def _link_kept(samples: Path, stage: Path, kept: pd.DataFrame) -> None:
    """Hard-link (or copy) the clips of cells not regenerated into the staging folder."""
    for rel in kept["path"].astype(str):
        src = samples.parent / rel
        if not src.is_file():
            continue
        dst = stage / Path(rel).relative_to(SAMPLES_DIR)
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except OSError:  # another file system: copy
            shutil.copy2(src, dst)
