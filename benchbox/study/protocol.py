"""Protocols: one TOML file runs a whole benchmark study, reproducibly and resumably.

A protocol names a dataset, the generator presets, the sweep axes (quantisation,
dropout, checkpoint, prime_ms), the training budget, the sampling settings and the
embedders. :func:`plan` expands it into stages; :func:`run_protocol` runs them in order:

    data -> for each run (preset x quantisation x dropout, then ``extra`` runs):
                train -> generate -> score
         -> leaderboard -> report

Runs go in ``first`` order, then the grid's: each finished run is complete (trained,
sampled and scored), so an interrupted study already holds its most informative runs,
and ``benchbox run`` picks up where it stopped.

Each stage records a fingerprint of its inputs (resolved config, dataset manifest hash,
checkpoint hashes) in ``OUT/stages.json``. A re-run skips stages whose fingerprint is
unchanged and whose outputs are still on disk, and redoes only what changed; a killed
training run resumes from ``last.pt``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchbox.config import from_file, load_toml, merge, parse_overrides, to_dict
from benchbox.errors import ProtocolError
from benchbox.progress import Progress
from benchbox.runs import atomic_write_json, sha256_file

FIRST_STAGE_KEY = "first_stage_run"  # a study's versions.json: the first stage the recorded invocation ran

STAGES_FILE = "stages.json"
SYNTH_SOURCE = "synth"
REQUIRED_MARK = "REQUIRED"  # a protocol whose data.source starts with this needs --data
EVIDENCE_LEVELS = ("auto", "smoke", "study")  # protocol.evidence: what the report may conclude
RECIPES = ("protocol", "preset")  # an extra run's [train] starts from the protocol's or from its preset's own


@dataclass(frozen=True)
class DataSection:
    source: str = SYNTH_SOURCE  # "synth", a folder of recordings, or a benchbox dataset folder
    n: int = 256  # clips of the procedural corpus
    crop_samples: int = 0  # train on random crops of this many samples (0 = whole clips)
    options: dict = field(default_factory=dict)  # ImportConfig / SynthConfig fields

    def __post_init__(self):
        if self.n < 10:
            raise ValueError("data.n must be at least 10 (train/val/test splits need clips)")


@dataclass(frozen=True)
class SweepSection:
    quantisation: tuple[str, ...] = ("mulaw",)
    dropout: tuple[float, ...] = (0.0,)
    checkpoint: tuple[str, ...] = ("best", "last")
    prime_ms: tuple[float, ...] = (0.0, 10.0, 20.0, 40.0)
    # sampling axes (benchbox.generate): swept for the generators that honour the setting, n/a for
    # the rest; empty = not swept (generate.top_p; each model's own sampling_steps)
    top_p: tuple[float, ...] = ()
    sampling_steps: tuple[int, ...] = ()

    def __post_init__(self):
        for axis in ("quantisation", "dropout", "checkpoint", "prime_ms"):
            if not getattr(self, axis):
                raise ValueError(f"sweep.{axis} is empty: a study needs at least one value (leave the key out for the default)")
        for axis in ("quantisation", "dropout", "checkpoint", "prime_ms", "top_p", "sampling_steps"):
            values = getattr(self, axis)
            twice = sorted({v if isinstance(v, str) else f"{v:g}" for v in values if values.count(v) > 1})  # 10 and 10.0 are one value
            if twice:
                raise ValueError(f"sweep.{axis} lists {', '.join(twice)} more than once: each cell would be planned twice")
        for q in self.quantisation:
            if q not in ("linear", "mulaw"):
                raise ValueError(f"sweep.quantisation: unknown scheme '{q}' (use linear, mulaw)")
        for c in self.checkpoint:
            if c not in ("best", "last"):
                raise ValueError(f"sweep.checkpoint: unknown checkpoint '{c}' (use best, last)")
        if any(not 0.0 <= d < 1.0 for d in self.dropout):
            raise ValueError("sweep.dropout values must be in [0, 1)")
        if any(not 0 <= p < math.inf for p in self.prime_ms):  # NaN fails both comparisons
            raise ValueError("sweep.prime_ms values must be finite and >= 0")
        if any(p != int(p) for p in self.prime_ms):  # generation takes whole ms, as `benchbox generate --prime-ms`
            raise ValueError(f"sweep.prime_ms values must be whole milliseconds (got {', '.join(repr(p) for p in self.prime_ms if p != int(p))})")
        if any(not 0 < p <= 1 for p in self.top_p):
            raise ValueError("sweep.top_p values must be in (0, 1]")
        if any(s < 0 for s in self.sampling_steps):
            raise ValueError("sweep.sampling_steps values must be >= 0 (0 = the model's own)")

    def sampling_axes(self, generate: GenerateSection) -> dict[str, tuple]:
        """The generic sampling settings each cell may take (benchbox.generate): the swept axes, else
        the [generate] value (top_p) or the model's own (sampling_steps = 0)."""
        return {"temperature": (generate.temperature,), "top_p": self.top_p or (generate.top_p,),
                "sampling_steps": self.sampling_steps or (0,)}

    def swept(self) -> dict[str, tuple]:
        """Only the sampling axes this protocol sweeps (for fingerprints: a protocol without them keeps its old ones)."""
        return {k: v for k, v in (("top_p", self.top_p), ("sampling_steps", self.sampling_steps)) if v}


@dataclass(frozen=True)
class GenerateSection:
    n: int = 16
    seconds: float = 0.512
    temperature: float = 1.0
    top_p: float = 1.0
    batch: int = 16
    threads: int = 1  # CPU threads while sampling; 0 = the process's count (torch's default, or `run --threads`)


@dataclass(frozen=True)
class ScoreSection:
    embedders: tuple[str, ...] = ("aisfx", "mel")
    bootstrap: int = 200


@dataclass(frozen=True)
class ExtraRun:
    """A training run beside the grid, e.g. one side of a preprocessing comparison."""

    preset: str
    quantisation: str = "mulaw"
    dropout: float = 0.0  # negative: leave the preset's own model (e.g. a diffusion or GAN preset without model.dropout)
    normalise: str = "none"  # the trainer's data.normalise: "none" or "minmax"
    train: dict = field(default_factory=dict)  # this run's [train] overrides, over its recipe's (e.g. max_minutes)
    # whose [train] the run starts from: "protocol" (the protocol's [train], as the grid) or "preset"
    # (the preset's own [train] table, e.g. a diffusion or GAN preset's measured recipe)
    recipe: str = "protocol"

    def __post_init__(self):
        if self.quantisation not in ("linear", "mulaw") or self.normalise not in ("none", "minmax"):
            raise ValueError("extra runs take quantisation linear/mulaw and normalise none/minmax")
        if self.recipe not in RECIPES:
            raise ValueError(f"extra run recipe must be one of {', '.join(RECIPES)}, got '{self.recipe}'")
        if self.dropout >= 1.0:
            raise ValueError("extra run dropout must be < 1 (negative: the preset's own)")


@dataclass(frozen=True)
class ProtocolConfig:
    name: str = "study"
    description: str = ""
    seed: int = 0
    device: str = "auto"
    presets: tuple[str, ...] = ("sashimi-tiny", "wavenet-tiny")
    gpu_hours: float | None = None  # documented cost on a GPU, for the big protocols
    evidence: str = "auto"  # "smoke": a pipeline check, never evidence; "auto": smoke on the procedural corpus
    first: tuple[str, ...] = ()  # run ids to run before the rest of the grid, in this order
    extra: tuple[ExtraRun, ...] = ()  # runs beside the grid (after it, unless named in first)
    data: DataSection = field(default_factory=DataSection)
    sweep: SweepSection = field(default_factory=SweepSection)
    train: dict = field(default_factory=dict)  # overrides for the trainer's [train] section
    model: dict = field(default_factory=dict)  # overrides for every preset's [model] section
    generate: GenerateSection = field(default_factory=GenerateSection)
    score: ScoreSection = field(default_factory=ScoreSection)
    # preset -> level, for the families study's questions (benchbox/study/family_findings.py): data, not type tests
    families: dict = field(default_factory=dict)  # preset -> "autoregressive" | "diffusion" | "gan" | "baseline"
    backbones: dict = field(default_factory=dict)  # diffusion preset -> "sashimi" | "wavenet"
    representations: dict = field(default_factory=dict)  # diffusion preset -> "spectrogram" | "raw"

    def __post_init__(self):
        if self.evidence not in EVIDENCE_LEVELS:
            raise ValueError(f"evidence must be one of {', '.join(EVIDENCE_LEVELS)}")


def evidence_of(proto: ProtocolConfig, dataset_kind: str | None = None) -> tuple[bool, str]:
    """``(smoke, why)``: whether a study's findings are a smoke test rather than evidence.

    The rule lives in the data, not in a file name: a study on the procedural corpus
    (``data.source = "synth"``, or a dataset whose ``dataset.json`` says ``kind = "synth"``) says nothing about real footsteps, and a protocol may declare
    itself ``evidence = "smoke"`` (training too short to decide anything). ``"study"``
    never overrides the procedural corpus.
    """
    if proto.data.source == SYNTH_SOURCE or dataset_kind == SYNTH_SOURCE:
        return True, "the dataset is the procedural corpus (dataset kind `synth`), not recordings"
    if proto.evidence == "smoke":
        return True, "the protocol declares `evidence = \"smoke\"` (a pipeline check: training this short decides nothing)"
    return False, ""


def protocol_names() -> list[str]:
    """The protocols shipped with benchbox (``protocols/`` in a source tree, packaged when installed)."""
    from benchbox.resources import data_dir

    return sorted(p.stem for p in data_dir("protocols").glob("*.toml"))


def protocol_path(name_or_path: str | Path) -> Path:
    """An existing path stays a path; a shipped protocol's name (``quickstart``) -> its TOML file."""
    from benchbox.resources import data_dir

    path = Path(name_or_path)
    if path.exists() or path.suffix:
        return path
    shipped = data_dir("protocols") / f"{name_or_path}.toml"
    if not shipped.is_file():
        raise ProtocolError(f"protocol not found: {name_or_path}", hint=f"pass a protocol TOML path, or one of the shipped protocols: {', '.join(protocol_names())}")
    return shipped


def load_protocol(path: str | Path, overrides: Sequence[str] = (), data: str | Path | None = None) -> ProtocolConfig:
    """Read a protocol TOML (a path, or a shipped protocol's name), apply ``--set`` overrides and ``--data``; unknown keys are errors."""
    path = protocol_path(path)
    over = parse_overrides(overrides)
    if data is not None:
        over = merge(over, {"data": {"source": str(data)}})
    proto = from_file(ProtocolConfig, path, load_toml(path), over)
    if proto.data.source.startswith(REQUIRED_MARK):
        raise ProtocolError(f"{path} needs a dataset", hint="pass --data DIR (a folder of recordings or a benchbox dataset)")
    _check_grid(path if not overrides else f"{path} with --set {' '.join(overrides)}", proto)  # the file alone may be fine
    return proto


def _check_grid(path: Path | str, proto: ProtocolConfig) -> None:
    """ProtocolError naming ``path`` (the file, and the --set overrides when there are any) and the key for a grid that would fail only after training: no
    preset, a preset named twice, no clips, a prime as long as the clip, an unknown embedder."""
    if not proto.presets and not proto.extra:
        raise ProtocolError(f"{path}: presets is empty and there are no extra runs: nothing to train", hint="name at least one preset, e.g. presets = [\"sashimi-tiny\"]")
    twice = sorted({p for p in proto.presets if proto.presets.count(p) > 1})
    if twice:
        raise ProtocolError(f"{path}: presets names {', '.join(twice)} more than once (one run would train twice)", hint="list each preset once")
    if proto.generate.n < 1 or proto.generate.seconds <= 0:
        raise ProtocolError(f"{path}: [generate] n = {proto.generate.n}, seconds = {proto.generate.seconds:g}: no clips to score",
                            hint="give n >= 1 and seconds > 0")
    g = proto.generate
    if not (math.isfinite(g.temperature) and g.temperature >= 0) or not 0 < g.top_p <= 1:
        raise ProtocolError(f"{path}: [generate] temperature = {g.temperature:g}, top_p = {g.top_p:g}: the sampler takes a finite temperature >= 0 and top_p in (0, 1]",
                            hint="0 = argmax and 1 = the model's distribution; top_p 1 keeps every token")
    if g.threads < 0:
        raise ProtocolError(f"{path}: [generate] threads = {g.threads}: a thread count is >= 1, or 0 for torch's default", hint="1 is safest on a busy machine")
    longest = max(proto.sweep.prime_ms)
    if longest >= proto.generate.seconds * 1000:
        raise ProtocolError(f"{path}: [sweep] prime_ms {longest:g} is not shorter than [generate] seconds = {proto.generate.seconds:g}",
                            hint="shorten the prime or lengthen the clips: a primed clip needs a continuation")
    from benchbox.metrics.embedders import EMBEDDERS
    from benchbox.score_distances import WEIGHTS_EMBEDDER

    known = {*EMBEDDERS, WEIGHTS_EMBEDDER}
    unknown = [e for e in proto.score.embedders if e not in known]
    if unknown:
        raise ProtocolError(f"{path}: [score] embedders names unknown {', '.join(map(repr, unknown))}", hint=f"use some of: {', '.join(sorted(known))}")


def check_source(proto: ProtocolConfig) -> None:
    """Raise ProtocolError unless the dataset source is ``synth``, a built-in corpus or an existing path."""
    from benchbox.data.corpora import builtin_names, resolve_source

    if proto.data.source == SYNTH_SOURCE or resolve_source(proto.data.source).exists():
        return
    raise ProtocolError(f"dataset source not found: {proto.data.source}",
                        hint=f"pass --data with 'synth', a built-in corpus ({', '.join(builtin_names())}), a folder of recordings or a benchbox dataset")


# ------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class TrainJob:
    run_id: str
    preset: str
    quantisation: str
    dropout: float
    normalise: str = "none"
    train: tuple[tuple[str, object], ...] = ()  # this run's own [train] overrides, after its recipe's
    recipe: str = "protocol"  # "protocol": the protocol's [train]; "preset": the preset's own [train] table

    def overrides(self, proto: ProtocolConfig) -> list[str]:
        sets = [f"data.quantisation={json.dumps(self.quantisation)}"]
        sets += [f"model.dropout={self.dropout}"] if self.dropout >= 0 else []  # negative: the preset's own model
        sets += [f"data.crop_samples={proto.data.crop_samples}"]
        if self.normalise != "none":  # only then: the grid's fingerprints stay as they were
            sets.append(f"data.normalise={json.dumps(self.normalise)}")
        sets += [f"train.seed={proto.seed}"]
        sets += [f"train.{k}={_toml_literal(v)}" for k, v in self.train_settings(proto).items()]
        sets += [f"model.{k}={_toml_literal(v)}" for k, v in proto.model.items()]
        return sets

    def train_settings(self, proto: ProtocolConfig) -> dict:
        """This run's [train] settings: its recipe (the protocol's [train] section, or the preset's
        own [train] table, which the protocol's then never touches) with its own overrides on top."""
        if self.recipe == "preset":
            from benchbox.generators.registry import preset_train

            return {**preset_train(self.preset), **dict(self.train)}
        return {**proto.train, **dict(self.train)}


def _toml_literal(v) -> str:
    return json.dumps(v) if isinstance(v, (str, list, tuple, bool)) else str(v)


def run_id(preset: str, quantisation: str, dropout: float, normalise: str = "none") -> str:
    """``<preset>_<quantisation>_do<dropout>`` (+ ``_<normalise>`` when not "none"); a negative
    dropout (the preset's own model) leaves ``_do`` out."""
    base = f"{preset}_{quantisation}" + (f"_do{dropout:g}" if dropout >= 0 else "")
    return base + ("" if normalise == "none" else f"_{normalise}")


def train_jobs(proto: ProtocolConfig) -> list[TrainJob]:
    """The grid's runs and the extra runs, those named in ``first`` first."""
    jobs = [TrainJob(run_id(p, q, d), p, q, float(d)) for p in proto.presets for q in proto.sweep.quantisation for d in proto.sweep.dropout]
    for e in proto.extra:
        job = TrainJob(run_id(e.preset, e.quantisation, e.dropout, e.normalise), e.preset, e.quantisation, float(e.dropout), e.normalise,
                       tuple(sorted(e.train.items())), e.recipe)
        if job.run_id not in {j.run_id for j in jobs}:
            jobs.append(job)
    rank = {name: i for i, name in enumerate(proto.first)}
    return sorted(jobs, key=lambda j: rank.get(j.run_id, len(rank)))  # stable: the grid's order after ``first``


@dataclass(frozen=True)
class Stage:
    key: str  # "data", "train/<run>", "generate/<run>", "score/<run>", "leaderboard", "report"
    kind: str
    run_id: str | None = None
    estimate_seconds: float = 0.0


def plan(proto: ProtocolConfig) -> list[Stage]:
    stages = [Stage("data", "data")]
    for job in train_jobs(proto):  # each run whole before the next: a stopped study keeps finished runs
        stages += [Stage(f"{kind}/{job.run_id}", kind, job.run_id) for kind in ("train", "generate", "score")]
    stages += [Stage("leaderboard", "leaderboard"), Stage("report", "report")]
    return stages


def clips_per_run(proto: ProtocolConfig) -> int:
    """Clips of a run that honours every sampling axis and primes; others get fewer (n/a cells)."""
    cells = len(proto.sweep.checkpoint) * len(proto.sweep.prime_ms)
    for values in proto.sweep.sampling_axes(proto.generate).values():
        cells *= len(values)
    return cells * proto.generate.n


def clips_of_run(proto: ProtocolConfig, job: TrainJob) -> int:
    """The clips the sampler will make for ``job``: its generator's cells
    (:func:`benchbox.generate.plan_cells`: primed cells only with the ``prime`` capability,
    a sampling axis only where the generator honours it) times ``n``. Read from the
    generator's class (its declared ``capabilities`` and ``sampling_settings``); nothing is built."""
    from benchbox.generate import GenerateConfig, plan_cells
    from benchbox.generators.registry import get, load_preset

    cls = get(load_preset(job.preset)[0])
    ckpts = tuple(proto.sweep.checkpoint)
    cfg = GenerateConfig(ckpts, tuple(int(p) for p in proto.sweep.prime_ms), **proto.sweep.sampling_axes(proto.generate))
    cells, _ = plan_cells(cfg, dict.fromkeys(ckpts, cls.capabilities), dict.fromkeys(ckpts, cls.sampling_settings))
    return len(cells) * proto.generate.n


# -------------------------------------------------------------------- stage state


class StageLedger:
    """``stages.json``: stage key -> {fingerprint, finished_at, seconds}.

    ``mark`` re-reads the file under an exclusive lock (``stages.json.lock``) and adds
    its one entry, so two ``benchbox run`` processes working on different runs of one
    study folder never drop each other's entries."""

    def __init__(self, out: Path):
        self.path = out / STAGES_FILE
        self.entries: dict = self._read()

    def _read(self) -> dict:
        return json.loads(self.path.read_text()) if self.path.is_file() else {}

    def is_done(self, key: str, fingerprint: str) -> bool:
        entry = self._read().get(key) or self.entries.get(key)
        return bool(entry) and entry.get("fingerprint") == fingerprint

    def mark(self, key: str, fingerprint: str, seconds: float) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(STAGES_FILE + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.entries = {**self._read(), key: {"fingerprint": fingerprint, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "seconds": round(seconds, 2)}}
            atomic_write_json(self.path, self.entries)


def fingerprint(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(json.dumps(to_dict(p), sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _file_hash(path: Path) -> str:
    return sha256_file(path) if path.is_file() else "missing"


# ------------------------------------------------------------------------ running


@dataclass
class StudyContext:
    proto: ProtocolConfig
    out: Path
    ledger: StageLedger
    progress: Progress
    log: Callable[[str], None]
    protocol_path: Path | None = None
    command: str = ""

    @property
    def data_dir(self) -> Path:
        return study_data_dir(self.proto, self.out)

    def run_dir(self, run_id: str) -> Path:
        return self.out / "runs" / run_id


def study_data_dir(proto: ProtocolConfig, out: Path) -> Path:
    """The dataset a study in ``out`` trains and scores on: ``[data] source`` itself when it is a
    benchbox dataset (used in place), else the study's own import in ``out/data``."""
    src = Path(proto.data.source)
    if proto.data.source != SYNTH_SOURCE and (src / "dataset.json").is_file():
        return src
    return out / "data"


def describe(proto: ProtocolConfig) -> dict:
    """A JSON-able summary of the plan, for --dry-run."""
    jobs = train_jobs(proto)
    return {
        "name": proto.name,
        "dataset": proto.data.source,
        "train_runs": [dataclasses.asdict(j) for j in jobs],
        "clips_per_run": clips_per_run(proto),  # a run that honours every axis; clips_by_run: what each run gets
        "clips_by_run": (by_run := {j.run_id: clips_of_run(proto, j) for j in jobs}),
        "clips_total": sum(by_run.values()),
        "stages": [s.key for s in plan(proto)],
    }
