"""Primed autoregressive generation for any Generator, through init_state / prefill / step.

Legend: n clips, B batch, T clip length in samples, P prime samples, C = 256 classes.

Every clip starts from the silence token. A primed clip then feeds the first ``prime_ms``
of a test-split clip (quantised with the run's scheme) and samples the rest; the
written clip is prime + continuation, so its first P samples decode to the quantised
prime exactly. Each checkpoint x prime cell draws from its own generator, seeded from
(seed, checkpoint, prime_ms), so the same seed gives byte-identical clips.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import math
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from benchbox import native
from benchbox.audio import SILENCE_CODE, decode, encode, write_wav
from benchbox.checkpoint import build_from_checkpoint
from benchbox.config import from_dict, load_toml
from benchbox.data.dataset import Dataset, load_dataset
from benchbox.errors import ConfigError, DataError
from benchbox.progress import Progress, no_progress
from benchbox.runs import atomic_write_csv, staged_dir, write_run_info
from benchbox.distributed import resolve_device
from benchbox.train import CONFIG_NAME, TrainConfig, derive_seed

MS_PER_SECOND = 1000.0
SAMPLES_DIR = "samples"
MANIFEST_NAME = "manifest.csv"
GENERATE_CONFIG_NAME = "generate_config.toml"
MANIFEST_COLUMNS = (
    "path", "clip_id", "run", "generator", "preset", "quantisation", "dropout", "checkpoint", "checkpoint_sha256",
    "prime_ms", "prime_source", "seed", "temperature", "top_p", "seconds_to_generate", "logprob_sum", "logprob_mean",
)  # fmt: skip


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


def choose(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator) -> torch.Tensor:
    """(B, C) logits -> (B,) tokens: argmax at temperature 0, else nucleus sampling."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1).to(generator.device)  # (B, C)
    if top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)  # (B, C)
        mass_before = sorted_p.cumsum(dim=-1) - sorted_p  # (B, C)
        sorted_p = sorted_p.masked_fill(mass_before >= top_p, 0.0)  # the top token always stays
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
    # Inverse-CDF draw, one uniform per row: the same distribution as torch.multinomial at a
    # third of its cost (its checks dominate a native step at batch 1).
    cdf = probs.cumsum(dim=-1)  # (B, C)
    u = torch.rand(cdf.shape[0], 1, generator=generator, device=cdf.device) * cdf[:, -1:]  # (B, 1)
    token = torch.searchsorted(cdf, u, right=True).clamp_(max=cdf.shape[1] - 1)[:, 0]  # (B,): first cdf > u
    return token.to(logits.device)


_ptr, _i32 = ctypes.c_void_p, ctypes.c_int
SAMPLING_SIGNATURES = {"sample_rows": ([_ptr, _i32, _i32, ctypes.c_float, _ptr, _ptr, _ptr, _ptr], None)}


def _sampling_library():
    return native.load("sampling", SAMPLING_SIGNATURES)


def draw(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, C) logits -> ((B,) tokens, (B,) log-probability of each at temperature 1).

    The sampler's per-token call. At top-p 1 on float32 CPU logits it is one compiled call
    (``benchbox/native/sampling.c``) drawing from the same uniforms as ``choose``: the same
    token but for a rounding tie at a CDF boundary (measured: 1 draw in 80,000). Otherwise
    ``choose`` and a log-softmax.
    """
    if temperature > 0 and top_p >= 1.0 and logits.dtype == torch.float32 and logits.device.type == "cpu" and generator.device.type == "cpu":
        lib = _sampling_library()
        if lib is not None:
            logits = logits.contiguous()
            batch, classes = logits.shape
            u = torch.rand(batch, generator=generator)  # (B,): the stream choose draws from
            token, logprob = torch.empty(batch, dtype=torch.long), torch.empty(batch)
            cdf = torch.empty(classes)
            lib.sample_rows(logits.data_ptr(), batch, classes, temperature, u.data_ptr(), token.data_ptr(), logprob.data_ptr(), cdf.data_ptr())
            return token, logprob
    token = choose(logits, temperature, top_p, generator)
    return token, torch.log_softmax(logits.float(), dim=-1).gather(1, token[:, None])[:, 0]


@torch.no_grad()
def _sample_batch(model, prime: torch.Tensor, length: int, temperature: float, top_p: float, generator: torch.Generator):
    """One batch: (B, P) prime -> ((B, T) codes, (B,) summed log-prob of the continuation)."""
    device = model.device
    b, p = prime.shape
    state = model.init_state(b, device)
    start = torch.full((b, 1), SILENCE_CODE, dtype=torch.long)
    logits, state = model.prefill(torch.cat([start, prime.long()], dim=1).to(device), state)  # (B, C)
    tokens, logprobs = [], []
    with paused_gc():
        for t in range(length - p):
            token, logprob = draw(logits, temperature, top_p, generator)  # (B,), (B,)
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
    generator: torch.Generator,
    batch: int = 16,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Generate ``n`` clips of ``length`` samples (prime included), ``batch`` at a time.

    ``prime`` is (n, P) codes or None. Returns codes (n, length), and the sum and
    per-sample mean over the continuation of the chosen tokens' log-probs at temperature 1.
    """
    prime = torch.zeros(n, 0, dtype=torch.long) if prime is None else torch.as_tensor(prime)
    if prime.dim() == 1:
        prime = prime[None, :].expand(n, -1)  # one prime for every clip: (n, P)
    if prime.shape[0] != n:
        raise ConfigError(f"prime has {prime.shape[0]} rows for {n} clips", hint="pass one prime row per clip, or a single (P,) prime")
    _check_sampling(n=n, length=length, prime_samples=prime.shape[1], temperature=temperature, top_p=top_p, batch=batch)
    was_training = model.training
    model.eval()
    codes, sums = [], []
    try:
        for s in range(0, n, batch):
            c, lp = _sample_batch(model, prime[s : s + batch], length, temperature, top_p, generator)
            codes.append(c)
            sums.append(lp)
    finally:
        model.train(was_training)
    logprob_sum = torch.cat(sums)  # (n,)
    return torch.cat(codes), logprob_sum, logprob_sum / (length - prime.shape[1])


def _check_sampling(*, n: int, length: int, prime_samples: int, temperature: float, top_p: float, batch: int) -> None:
    if n < 1 or batch < 1:
        raise ConfigError(f"need n >= 1 and batch >= 1, got n={n}, batch={batch}", hint="pass positive --n and --batch")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ConfigError(f"--temperature must be >= 0, got {temperature}", hint="0 = argmax, 1 = the model's distribution")
    if not 0 < top_p <= 1:
        raise ConfigError(f"--top-p must be in (0, 1], got {top_p}", hint="1 keeps every token; 0.9 keeps the top 90% of the mass")
    if prime_samples >= length:
        raise ConfigError(f"a prime of {prime_samples} samples is not shorter than the {length}-sample clip", hint="use a shorter --prime-ms or longer --seconds")


# ---------------------------------------------------------------------- run grid


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
    test_codes: torch.Tensor | None  # (N_test, T_clip)


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
        _check_sampling(n=cfg.n, length=length, prime_samples=p, temperature=cfg.temperature, top_p=cfg.top_p, batch=cfg.batch)
        if p > ds.clip_samples:
            raise ConfigError(f"a {ms} ms prime is longer than the dataset's {ds.clip_samples}-sample clips", hint="use a shorter --prime-ms")
    test_ids, test_codes = [], None
    if any(primes.values()):
        test = ds.rows("test")
        if test.empty:
            raise DataError(f"{data_path}: no test clips to prime from", hint="use --prime-ms 0, or re-import with a test split")
        test_ids, test_codes = list(test["id"].astype(str)), encode(ds.load_clips("test"), train_cfg.data.quantisation)
    device = resolve_device(cfg.device)
    models = {name: build_from_checkpoint(run_dir / "ckpt" / f"{name}.pt", device) for name in cfg.checkpoints}
    return _Plan(run_dir, cfg, train_cfg, ds, models, primes, length, test_ids, test_codes)


def _cell_rows(plan: _Plan, stage: Path, name: str, ms: int, progress: Progress, done: int, total: int) -> list[dict]:
    """Generate one checkpoint x prime cell into the staging copy of samples/; return its manifest rows."""
    cfg, model, meta = plan.cfg, *plan.models[name]
    p, scheme = plan.primes[ms], plan.train_cfg.data.quantisation
    device = model.device
    gen = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, name, ms))
    sources = [plan.test_ids[i % len(plan.test_ids)] if p else "" for i in range(cfg.n)]
    if p:
        prime = torch.stack([plan.test_codes[i % len(plan.test_ids), :p] for i in range(cfg.n)])  # (n, P)
    else:
        prime = torch.zeros(cfg.n, 0, dtype=torch.long)  # (n, 0)
    rows = []
    for s in range(0, cfg.n, cfg.batch):
        started = time.perf_counter()
        chunk = prime[s : s + cfg.batch]  # (B, P)
        codes, lp_sum, lp_mean = sample(
            model, n=len(chunk), length=plan.length, prime=chunk, temperature=cfg.temperature, top_p=cfg.top_p, generator=gen, batch=cfg.batch
        )
        seconds = (time.perf_counter() - started) / len(codes)
        for j, clip in enumerate(codes):
            i = s + j
            rel = Path(SAMPLES_DIR) / name / f"prime{ms}" / f"clip_{i:04d}.wav"
            write_wav(stage / rel.relative_to(SAMPLES_DIR), decode(clip, scheme).numpy(), plan.dataset.sample_rate_hz)
            rows.append(_row(plan, meta, rel, name, ms, i, sources[i], seconds, float(lp_sum[j]), float(lp_mean[j])))
        done += len(codes)
        progress("generate", done, total, cell=f"{name}/prime{ms}", **{"samples/s": round((plan.length - p) / max(seconds, 1e-9))})
    return rows


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
    total = cfg.n * len(cfg.checkpoints) * len(cfg.prime_ms)
    with staged_dir(samples) as stage:
        _link_kept(samples, stage, kept)
        for name in cfg.checkpoints:
            for ms in cfg.prime_ms:
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
