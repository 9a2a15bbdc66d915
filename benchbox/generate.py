"""The generation grid: N clips per checkpoint x prime x sampling cell of a training run, written with a manifest.

Legend: n clips, B batch, T clip length in samples, P prime samples.

A cell is a checkpoint, a prime length and one value of each generic sampling setting
(:data:`benchbox.generators.base.SAMPLING_SETTINGS`: ``temperature``, ``top_p``,
``sampling_steps``). The sampler passes a generator only the settings it declares in
``sampling_settings``; a setting it lacks is not swept for it (one cell) and its manifest
column reads "n/a" (empty), never a value the clip was not made with; ``generate_config.toml``
lists the values that did not apply. A cell's folder is ``<checkpoint>/prime<ms>`` with
``_<setting><value>`` for each setting away from its neutral value (``best/prime0_topp0.95``,
``last/prime10_steps25``), so the default cells keep their paths. Cells that differ only in
their sampling settings draw from the same seed (paired: the same noise, another sampler).

Any generator makes its clips through ``generate`` (:mod:`benchbox.generators.base`); this
module never asks which one it holds. A primed cell continues the first ``prime_ms`` of a
test-split clip, passed as waves on the run's code grid (``decode(encode(x))`` with the
run's quantisation): ``generate`` returns that prime bit for bit as its first P samples
(checked here), and the 16-bit wav holds it to within one 16-bit step (3e-5). It is the
quantiser's round trip of the real clip, not the real clip: up to half a code step away
(hundreds of 16-bit steps at loud samples on a mu-law run). A generator without the
``prime`` capability gets its unprimed cells only; its primed cells are left out (the tables read "n/a"). Each clip draws from its own
generator, seeded from (seed, checkpoint, prime_ms, clip index), so the same seed gives
byte-identical clips, ``n`` changes no clip (``--n 8`` gives the first 8 clips of ``--n 32``
at the same ``batch``), and ``batch`` changes only float rounding: SaShiMi, the n-gram, LPC and
specdiff give the same bytes at any batch on CPU; WaveNet's step, DiffWave and the GAN round
differently at another batch shape (about 1e-7), so their clips can differ by a quantisation
step, and an autoregressive chain whose sampled token flips on that rounding then diverges
(a reviewer measured 3 of 32 WaveNet clips). Keep ``--batch`` fixed to reproduce clips bit for
bit. Clips generated before this (their ``generate_config.toml``
invocations lack ``randomness = "per-clip"``) drew each cell from one stream and depended
on ``batch`` and ``n``; the same seed now gives other clips. The manifest's ``logprob_*`` columns hold each
clip's log-likelihood under its own checkpoint (nats, the continuation only) for a
generator with the ``likelihood`` capability, and are empty ("n/a") otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from benchbox.audio import decode, encode, header_length, write_wav
from benchbox.checkpoint import build_from_checkpoint
from benchbox.config import from_file, load_toml
from benchbox.data.dataset import Dataset, load_dataset
from benchbox.distributed import resolve_device
from benchbox.errors import CheckpointError, ConfigError, DataError, GeneratorError
from benchbox.generate_options import CHECKPOINT_SUFFIX, parse_names, parse_prime_ms, parse_values  # noqa: F401 (re-exported)
from benchbox.generators.base import SAMPLING_SETTINGS
from benchbox.progress import Progress, no_progress
from benchbox.partial_cells import PartialCells, code_digest, link_or_copy, partial_key, sole_writer
from benchbox.runs import atomic_write_csv, staged_dir, write_run_info
from benchbox.sample import check_sampling
from benchbox.score_notes import off_length, seconds_option, seconds_text
from benchbox.train_config import CONFIG_NAME, TrainConfig, derive_seed

MS_PER_SECOND = 1000.0
SAMPLES_DIR = "samples"
MANIFEST_NAME = "manifest.csv"
GENERATE_CONFIG_NAME = "generate_config.toml"
MANIFEST_COLUMNS = (
    "path", "clip_id", "run", "generator", "preset", "quantisation", "dropout", "checkpoint", "checkpoint_sha256",
    "prime_ms", "prime_source", "seed", "temperature", "top_p", "sampling_steps", "seconds_to_generate", "logprob_sum", "logprob_mean",
)  # fmt: skip
CLIP_RANDOMNESS = "per-clip"  # generate_config.toml: each clip from its own seed (absent: one stream per cell, batch-dependent)
CELL_TAGS = {"temperature": "temp", "top_p": "topp", "sampling_steps": "steps"}  # a setting's tag in a cell's folder name


@dataclass(frozen=True)
class GenerateConfig:
    checkpoints: tuple[str, ...] = ("best", "last")
    prime_ms: tuple[int, ...] = (0, 10, 20, 40)
    n: int = 32
    seconds: float = 0.512
    temperature: tuple[float, ...] = (1.0,)
    top_p: tuple[float, ...] = (1.0,)
    batch: int = 16
    seed: int = 0
    device: str = "auto"
    sampling_steps: tuple[int, ...] = (0,)  # 0 = the model's own count


@dataclass(frozen=True)
class Cell:
    """One checkpoint x prime x sampling-settings cell; ``settings`` holds only those the generator honours."""

    checkpoint: str
    prime_ms: int
    settings: tuple[tuple[str, float], ...]

    @property
    def folder(self) -> str:
        """``<checkpoint>/prime<ms>[_<tag><value>...]``: a tag for each setting away from its neutral value."""
        tags = "".join(f"_{CELL_TAGS[k]}{v:g}" for k, v in self.settings if v != SAMPLING_SETTINGS[k])
        return f"{self.checkpoint}/prime{self.prime_ms}{tags}"


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
    train_cfg = from_file(TrainConfig, run_dir / CONFIG_NAME, load_toml(run_dir / CONFIG_NAME))
    data_path = Path(train_cfg.data.path)
    if not (data_path / "manifest.csv").is_file():
        raise DataError(f"run {run_dir} has no dataset: {data_path} is missing", hint="restore the dataset at that path (see [data] path in the run's config.toml)")
    ds = load_dataset(data_path)
    rate = ds.sample_rate_hz
    length = round(cfg.seconds * rate)
    primes = {ms: round(ms * rate / MS_PER_SECOND) for ms in cfg.prime_ms}
    for ms, p in primes.items():
        for temperature in cfg.temperature:
            for top_p in cfg.top_p:
                check_sampling(n=cfg.n, length=length, prime_samples=p, temperature=temperature, top_p=top_p, batch=cfg.batch)
        if p > ds.clip_samples:
            raise ConfigError(f"a {ms} ms prime is longer than the dataset's {ds.clip_samples}-sample clips", hint="use a shorter --prime-ms")
    test_ids, test_waves = [], None
    if any(primes.values()):
        test = ds.rows("test")
        if test.empty:
            raise DataError(f"{data_path}: no test clips to prime from", hint="use --prime-ms 0, or re-import with a test split")
        scheme = train_cfg.data.quantisation
        test_ids, test_waves = list(test["id"].astype(str)), decode(encode(ds.load_clips("test"), scheme), scheme)
    _check_checkpoints(run_dir, cfg.checkpoints)
    device = resolve_device(cfg.device)
    models = {name: build_from_checkpoint(run_dir / "ckpt" / f"{name}{CHECKPOINT_SUFFIX}", device) for name in cfg.checkpoints}
    return _Plan(run_dir, cfg, train_cfg, ds, models, primes, length, test_ids, test_waves)


def _check_checkpoints(run_dir: Path, names: Sequence[str]) -> None:
    """CheckpointError naming the first of ``names`` that RUN_DIR/ckpt/ lacks, and the ones it has."""
    folder = run_dir / "ckpt"
    missing = [name for name in names if not (folder / f"{name}{CHECKPOINT_SUFFIX}").is_file()]
    if missing:
        have = sorted(p.stem for p in folder.glob(f"*{CHECKPOINT_SUFFIX}"))
        hint = f"this run has {', '.join(have)}: e.g. --checkpoint {','.join(have)}" if have else "the run saved no checkpoint yet: train it first (`benchbox train`)"
        raise CheckpointError(f"checkpoint not found: {folder / (missing[0] + CHECKPOINT_SUFFIX)}", hint=hint)


def _axes(cfg: GenerateConfig) -> dict[str, tuple]:
    return {"temperature": cfg.temperature, "top_p": cfg.top_p, "sampling_steps": cfg.sampling_steps}


def plan_cells(cfg: GenerateConfig, capabilities: dict[str, frozenset[str]], honoured: dict[str, frozenset[str]]) -> tuple[list[Cell], list[str]]:
    """The cells to generate and a note for each axis value that does not apply.

    Per checkpoint (``capabilities`` / ``honoured``: checkpoint -> the generator's capabilities
    and ``sampling_settings``): primed cells only with ``"prime"``; each honoured setting's
    values swept; a setting the generator lacks is left out of its cells (n/a), one cell."""
    cells, notes = [], []
    for name in cfg.checkpoints:
        own = [(k, vals) for k, vals in _axes(cfg).items() if k in honoured[name]]
        for k, vals in _axes(cfg).items():
            if k not in honoured[name] and any(v != SAMPLING_SETTINGS[k] for v in vals):
                notes.append(f"{name}: {k} = {', '.join(f'{v:g}' for v in vals)} does not apply (the generator has no {k} setting): n/a")
        for ms in cfg.prime_ms:
            if ms and "prime" not in capabilities[name]:
                notes.append(f"{name}/prime{ms}: the generator cannot continue a prime: n/a")
                continue
            combos = [()]
            for k, vals in own:
                combos = [(*c, (k, float(v))) for c in combos for v in vals]
            cells += [Cell(name, ms, combo) for combo in combos]
    return cells, notes


def _cell_rows(plan: _Plan, stage: Path, cell: Cell, progress: Progress, done: int, total: int) -> list[dict]:
    """Generate one cell into the staging copy of samples/; return its manifest rows."""
    cfg, model, meta = plan.cfg, *plan.models[cell.checkpoint]
    name, ms = cell.checkpoint, cell.prime_ms
    p = plan.primes[ms]
    settings = {k: (int(v) if k == "sampling_steps" else v) for k, v in cell.settings}
    gens = clip_generators(cfg.seed, name, ms, cfg.n, model.device)  # paired across sampling settings
    sources = [plan.test_ids[i % len(plan.test_ids)] if p else "" for i in range(cfg.n)]
    prime = torch.stack([plan.test_waves[i % len(plan.test_ids), :p] for i in range(cfg.n)]) if p else None  # (n, P)
    rows = []
    for s in range(0, cfg.n, cfg.batch):
        started = time.perf_counter()
        chunk = None if prime is None else prime[s : s + cfg.batch]  # (B, P)
        count = min(cfg.batch, cfg.n - s)
        waves = model.generate(count, plan.length, prime=chunk, rng=gens[s : s + count], batch=cfg.batch, **settings).cpu()  # (B, T)
        seconds = (time.perf_counter() - started) / count
        _check_output(plan, name, waves, chunk, count)
        lp_sum = _log_likelihood(model, waves, p)  # (B,)
        for j, clip in enumerate(waves):
            i = s + j
            rel = Path(SAMPLES_DIR) / cell.folder / f"clip_{i:04d}.wav"
            write_wav(stage / rel.relative_to(SAMPLES_DIR), clip.numpy(), plan.dataset.sample_rate_hz)
            rows.append(_row(plan, meta, rel, cell, i, sources[i], seconds, float(lp_sum[j]), float(lp_sum[j]) / (plan.length - p)))
        done += count
        progress("generate", done, total, cell=cell.folder, **{"samples/s": round((plan.length - p) / max(seconds, 1e-9))})
    return rows


def clip_generators(seed: int, checkpoint: str, prime_ms: int, n: int, device: torch.device) -> list[torch.Generator]:
    """One generator per clip, seeded from (seed, checkpoint, prime_ms, clip index): clip i is the
    same whatever ``--batch`` and ``--n`` (the first 8 of ``--n 32`` are ``--n 8``'s)."""
    return [torch.Generator(device=device).manual_seed(derive_seed(seed, checkpoint, prime_ms, i)) for i in range(n)]


def _check_output(plan: _Plan, name: str, waves: torch.Tensor, prime: torch.Tensor | None, count: int) -> None:
    """The contract every ``generate`` keeps: shape, finite values in [-1, 1], the prime (as passed: the quantiser round trip) verbatim."""
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


def _row(plan: _Plan, meta: dict, rel: Path, cell: Cell, i: int, source: str, seconds: float, lp_sum: float, lp_mean: float) -> dict:
    run = plan.run_dir.name
    settings = {k: math.nan for k in SAMPLING_SETTINGS} | dict(cell.settings)  # NaN: the generator has no such setting (n/a)
    return {
        "path": rel.as_posix(), "clip_id": f"{run}/{cell.folder}/{i:04d}", "run": run,
        "generator": plan.train_cfg.generator, "preset": plan.train_cfg.preset,
        "quantisation": plan.train_cfg.data.quantisation, "dropout": float(meta["generator_config"].get("dropout", 0.0)),
        "checkpoint": cell.checkpoint, "checkpoint_sha256": meta["sha256"], "prime_ms": cell.prime_ms, "prime_source": source,
        "seed": plan.cfg.seed, **settings, "seconds_to_generate": seconds, "logprob_sum": lp_sum, "logprob_mean": lp_mean,
    }  # fmt: skip


def generate_run(
    run_dir: str | Path,
    *,
    checkpoints: str | Sequence[str] = ("best", "last"),
    prime_ms: str | Sequence[Any] = (0, 10, 20, 40),
    n: int = 32,
    seconds: float = 0.512,
    temperature: float | str | Sequence[float] = 1.0,
    top_p: float | str | Sequence[float] = 1.0,
    batch: int = 16,
    seed: int = 0,
    device: str = "auto",
    progress: Progress | None = None,
    overwrite: bool = False,
    sampling_steps: int | str | Sequence[int] = 0,
) -> Path:
    """Write ``n`` clips per checkpoint x prime x sampling cell under RUN_DIR/samples; return the manifest path.

    ``temperature``, ``top_p`` and ``sampling_steps`` each take one value or several (an axis).

    All inputs are checked before anything is written. Rows of cells not regenerated
    this time are kept in the manifest; a regenerated cell replaces its rows and clips.
    samples/ is built in a staging folder and replaces the old one whole when every
    cell is done, so an interrupt or error leaves it (clips and manifest) as it was; the
    cells it finished are kept in RUN_DIR/.samples-partial and taken, not generated again, by
    the next call with the same request (:mod:`benchbox.partial_cells`).
    Replacing clips that ``scores/clips.csv`` lists needs ``overwrite=True``
    (ConfigError otherwise): their scores would then describe audio that is gone.
    """
    run_dir = Path(run_dir)
    cfg = GenerateConfig(parse_names(checkpoints), parse_prime_ms(prime_ms), int(n), float(seconds), parse_values(temperature, "--temperature"),
                         parse_values(top_p, "--top-p"), int(batch), int(seed), device, parse_values(sampling_steps, "--sampling-steps", whole=True))
    if not (math.isfinite(cfg.seconds) and cfg.seconds > 0):
        raise ConfigError(f"--seconds must be > 0, got {cfg.seconds}", hint="e.g. --seconds 0.512")
    plan = _plan(run_dir, cfg)
    models = {name: model for name, (model, _) in plan.models.items()}
    cells, notes = plan_cells(cfg, {k: m.capabilities for k, m in models.items()}, {k: m.sampling_settings for k, m in models.items()})
    if not cells:
        raise ConfigError(f"no cell of this request applies to {run_dir}'s generator: {'; '.join(notes)}", hint="drop the settings it lacks (a GAN cannot continue a prime: --prime-ms 0)")
    with sole_writer(run_dir):  # before the run's samples are read: another generate cannot publish in between
        return _generate_cells(plan, cells, notes, overwrite, progress or no_progress)


def length_warnings(length: int, ds: Dataset) -> list[str]:
    """One warning when clips of ``length`` samples are not the dataset's clip length: ``benchbox score``
    judges them against the reference's clips, and the category model, realism and the distances are
    calibrated at that length only (docs/verdict.md, "Clip length"); empty otherwise."""
    if not off_length(length, ds.clip_samples):  # score's own test: it names such clips' group
        return []
    ref, rate = ds.clip_samples, ds.sample_rate_hz
    return [f"clips of {length} samples ({seconds_text(length, rate)}) against the run's dataset's {ref} ({seconds_text(ref, rate)}): "
            f"the verdict and the distances are calibrated at the dataset's length, so scores of these clips are not comparable "
            f"with the real clips' (use {seconds_option(ref, rate)})"]


def _generate_cells(plan: _Plan, cells: list[Cell], notes: list[str], overwrite: bool, progress: Progress) -> Path:
    """Check what the run keeps, make ``cells`` (taking those an interrupted call finished) and publish samples/ whole."""
    cfg, run_dir = plan.cfg, plan.run_dir
    samples = run_dir / SAMPLES_DIR
    manifest = samples / MANIFEST_NAME
    kept = _kept_rows(manifest, {c.folder for c in cells})
    _refuse_mixed_lengths(samples, kept, plan.length, cfg.seconds)
    if not overwrite:
        _refuse_replacing_scored(run_dir, manifest, kept)
    rows: list[dict] = []
    total = cfg.n * len(cells)
    partial = PartialCells(run_dir, _partial_key(plan, cells), SAMPLES_DIR, list(MANIFEST_COLUMNS))
    resumed = []
    with staged_dir(samples) as stage:
        _link_kept(samples, stage, kept)
        for cell in cells:
            taken = partial.take(stage, cell.folder, cfg.n)
            if taken is not None:  # finished by an interrupted invocation of this same request
                rows += taken
                resumed.append(cell.folder)
                progress("generate", len(rows), total, cell=cell.folder, resumed="kept from an interrupted generate")
                continue
            made = _cell_rows(plan, stage, cell, progress, len(rows), total)
            partial.add(stage, cell.folder, made)
            rows += made
        frame = pd.concat([kept, pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))], ignore_index=True)
        atomic_write_csv(stage / MANIFEST_NAME, frame)
        record = {"run": str(run_dir), **_config_dict(cfg), "randomness": CLIP_RANDOMNESS, "not_applicable": notes, "resumed": resumed,
                  "warnings": length_warnings(plan.length, plan.dataset)}
        now = [c.folder for c in cells]
        write_run_info(stage, {**record, "invocations": _invocations(samples / GENERATE_CONFIG_NAME, record, now)}, name=GENERATE_CONFIG_NAME)
    partial.clear()
    return manifest


def _partial_key(plan: _Plan, cells: list[Cell]) -> str:
    """What decides a cell's clips and rows (:mod:`benchbox.partial_cells`): the request, with the
    resolved device type for ``device`` (CPU and CUDA generators draw different streams from one
    seed), the run's name (in every row), each checkpoint's sha256, the clip and prime lengths, the
    prime sources (ids and audio) and the code (:func:`benchbox.partial_cells.code_digest`)."""
    request = {k: v for k, v in _config_dict(plan.cfg).items() if k != "device"}
    devices = sorted({str(model.device.type) for model, _ in plan.models.values()})
    prime_audio = hashlib.sha256(plan.test_waves.numpy().tobytes()).hexdigest() if plan.test_waves is not None else ""
    return partial_key(request=request, devices=devices, run=plan.run_dir.name, cells=[c.folder for c in cells], length=plan.length,
                       primes=plan.primes, checkpoints={name: meta["sha256"] for name, (_, meta) in plan.models.items()},
                       test_ids=plan.test_ids, prime_audio=prime_audio, rate=plan.dataset.sample_rate_hz,
                       code=code_digest(*(model for model, _ in plan.models.values())))


def _invocations(path: Path, record: dict, now: list[str]) -> dict[str, dict]:
    """Every invocation whose cells are still in the manifest, oldest first, this one last.

    ``generate_config.toml`` keeps the latest invocation's settings at the top level and
    ``[invocations.N]`` tables with each contributing invocation's settings and ``cells``
    (:attr:`Cell.folder`); an invocation whose cells were all regenerated is dropped.
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
    kept = [{**inv, "cells": [c for c in inv.get("cells", []) if c not in now]} for inv in earlier]
    kept = [inv for inv in kept if inv["cells"]] + [{**record, "cells": now}]
    return {str(i + 1): inv for i, inv in enumerate(kept)}


def _config_dict(cfg: GenerateConfig) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.__dict__.items()}


def _kept_rows(manifest: Path, folders: set[str]) -> pd.DataFrame:
    """Rows of an earlier manifest whose cell (its clips' folder) is not regenerated now. A
    manifest written before ``sampling_steps`` was recorded reads that column as n/a. DataError
    for one that cannot be read or lacks a column: its rows were dropped, silently, and the
    clips they listed fell out of the new manifest."""
    if not manifest.is_file():
        return pd.DataFrame(columns=list(MANIFEST_COLUMNS))
    fix = f"restore {manifest}, or move {manifest.parent} aside and generate every cell again"
    try:
        old = pd.read_csv(manifest, dtype={"checkpoint": str, "prime_source": str}, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"{manifest}: unreadable ({str(e).splitlines()[0]})", hint=fix) from None
    if "sampling_steps" not in old.columns and "top_p" in old.columns:
        old.insert(list(old.columns).index("top_p") + 1, "sampling_steps", "")
    missing = [c for c in MANIFEST_COLUMNS if c not in old.columns]
    if missing:
        raise DataError(f"{manifest}: missing column(s) {', '.join(missing)}", hint=fix)
    old = old[list(MANIFEST_COLUMNS)]
    regenerated = [_folder_of(p) in folders for p in old["path"].astype(str)]
    return old[~pd.Series(regenerated, index=old.index, dtype=bool)]


def _folder_of(path: str) -> str:
    """``samples/best/prime0/clip_0000.wav`` -> ``best/prime0`` (its cell's :attr:`Cell.folder`)."""
    parts = Path(path).parent.parts
    return "/".join(parts[1:]) if parts[:1] == (SAMPLES_DIR,) else ""


def _refuse_mixed_lengths(samples: Path, kept: pd.DataFrame, length: int, seconds: float) -> None:
    """ConfigError when the clips this run keeps are of another length than ``length`` samples: one
    run's cells would mix clip lengths (the cell's name does not carry it), which scores rank side
    by side and the blinded review would give away. Checked on the first kept clip's header."""
    if kept.empty:
        return
    header = header_length(samples.parent / str(kept["path"].iloc[0]))  # None: unreadable, the scorer reports it
    frames = header[0] if header else length
    if frames != length:
        raise ConfigError(f"{samples}: the run's other cells hold clips of {frames} samples, --seconds {seconds:g} makes {length}: "
                          "one run would mix clip lengths", hint="generate at the run's length, or into a copy of the run folder")


def _refuse_replacing_scored(run_dir: Path, manifest: Path, kept: pd.DataFrame) -> None:
    """ConfigError when clips about to be replaced or deleted are listed in scores/clips.csv or
    hold a listening-review tag in tags.sqlite."""
    scores = run_dir / "scores" / "clips.csv"
    if not manifest.is_file():
        return
    try:
        listed = set(pd.read_csv(manifest, usecols=["path"])["path"].astype(str))
        scored = set(pd.read_csv(scores, usecols=["path"])["path"].astype(str)) if scores.is_file() else set()
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return  # unreadable scores describe nothing that could be lost
    lost = sorted((listed - set(kept["path"].astype(str))) & scored)
    if lost:
        raise ConfigError(
            f"{len(lost)} scored clip(s) would be replaced or deleted (first: {lost[0]}); scores/ describes them",
            hint="pass --overwrite to regenerate them anyway (then re-run `benchbox score`), or generate other checkpoint/prime cells",
        )
    tagged = sorted((listed - set(kept["path"].astype(str))) & _tagged_sources(run_dir / "tags.sqlite"))
    if tagged:
        raise ConfigError(
            f"{len(tagged)} clip(s) a listener tagged would be replaced or deleted (first: {tagged[0]}); tags.sqlite holds their tags",
            hint="pass --overwrite to regenerate them anyway (their tags then read as stale), or generate other checkpoint/prime cells",
        )


def _tagged_sources(db: Path) -> set[str]:
    """Run-relative paths of every clip (and recorded copy) that holds a listening-review tag in ``db``."""
    if not db.is_file():
        return set()
    import sqlite3

    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            out = {r[0] for r in conn.execute("SELECT DISTINCT c.source FROM tags t JOIN clips c USING (sha256)")}
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'clip_copies'").fetchone() is not None:
                out |= {r[0] for r in conn.execute("SELECT DISTINCT k.source FROM tags t JOIN clip_copies k USING (sha256)")}
    except sqlite3.Error:
        return set()  # unreadable: `benchbox tag` itself names the problem
    return {str(p) for p in out}


def _link_kept(samples: Path, stage: Path, kept: pd.DataFrame) -> None:
    """Hard-link (or copy) the clips of cells not regenerated into the staging folder."""
    for rel in kept["path"].astype(str):
        src = samples.parent / rel
        if not src.is_file():
            continue
        link_or_copy(src, stage / Path(rel).relative_to(SAMPLES_DIR))
