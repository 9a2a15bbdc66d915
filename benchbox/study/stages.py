"""The stage runners behind :func:`benchbox.study.runner.run_protocol`.

Each runner takes the study context and one stage and calls exactly one library
function (import/synth, train, generate_run, score_run, build_leaderboard, write_report).
Fingerprints say when a finished stage can be skipped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from benchbox.errors import ProtocolError
from benchbox.study.protocol import SYNTH_SOURCE, Stage, StudyContext, _file_hash, fingerprint, train_jobs
from benchbox.runs import atomic_write_text
from benchbox.threads import scoped_threads
from benchbox.generators.registry import preset_path

RUN_FINGERPRINT_FILE = "stage_fingerprint.txt"
SYNTH_REFERENCE_DIR = "synth-reference"
SYNTH_REFERENCE_CLIPS = 64


def _job(ctx: StudyContext, run_id: str):
    for job in train_jobs(ctx.proto):
        if job.run_id == run_id:
            return job
    raise ProtocolError(f"no training run '{run_id}' in the protocol", hint="check the sweep axes")


def _preset_text(name: str) -> str:
    path = preset_path(name)
    return path.read_text() if path.is_file() else name


def stage_fingerprint(ctx: StudyContext, stage: Stage) -> str:
    p = ctx.proto
    data_hash = _file_hash(ctx.data_dir / "manifest.csv")
    if stage.kind == "data":
        return fingerprint(p.data, p.seed, _source_listing(p.data.source))
    run_dir = ctx.run_dir(stage.run_id) if stage.run_id else None
    if stage.kind == "train":
        job = _job(ctx, stage.run_id)
        return fingerprint(job.overrides(p), _preset_text(job.preset), p.device, data_hash)
    if stage.kind == "generate":
        ckpts = [_file_hash(run_dir / "ckpt" / f"{c}.pt") for c in p.sweep.checkpoint]
        swept = [p.sweep.swept()] if p.sweep.swept() else []  # only then: unswept protocols keep their fingerprints
        return fingerprint(p.generate, p.sweep.checkpoint, p.sweep.prime_ms, p.seed, ckpts, *swept)
    if stage.kind == "score":
        from benchbox.metrics.category import MODEL_PATH
        from benchbox.score import SCORER_VERSION

        return fingerprint(p.score, p.seed, data_hash, _file_hash(run_dir / "samples" / "manifest.csv"), _listed_files_hashes(run_dir, "samples/manifest.csv"), SCORER_VERSION,
                           _file_hash(MODEL_PATH))  # the category model run_score scores with: a changed one re-scores (scores.json records it, benchbox.freshness)
    groups = [_file_hash(ctx.run_dir(j.run_id) / "scores" / "groups.csv") for j in train_jobs(p)]
    tags = [_file_hash(ctx.run_dir(j.run_id) / "tags.sqlite") for j in train_jobs(p)]
    records = [_file_hash(ctx.run_dir(j.run_id) / "scores" / "scores.json") for j in train_jobs(p)]  # a re-score under a new scorer version
    return fingerprint(stage.kind, groups, tags, records)


def outputs_exist(ctx: StudyContext, stage: Stage) -> bool:
    """Whether a stage's outputs are on disk. A committed study folder carries its ledger
    but not its data, checkpoints or clips (they are gitignored), so a matching
    fingerprint alone must not skip a stage."""
    run_dir = ctx.run_dir(stage.run_id) if stage.run_id else None
    if stage.kind == "data":
        return _listed_files_exist(ctx.data_dir, "manifest.csv")
    if stage.kind == "train":
        return all((run_dir / "ckpt" / f"{c}.pt").is_file() for c in ("best", "last"))
    if stage.kind == "generate":
        return _listed_files_exist(run_dir, "samples/manifest.csv")
    if stage.kind == "score":
        return all((run_dir / "scores" / f).is_file() for f in ("clips.csv", "groups.csv"))
    return (ctx.out / f"{stage.kind}.md").is_file()


def _listed_files_exist(root: Path, manifest: str) -> bool:
    import pandas as pd

    path = root / manifest
    if not path.is_file():
        return False
    return all((root / p).is_file() for p in pd.read_csv(path, usecols=["path"])["path"])


def _listed_files_hashes(root: Path, manifest: str) -> list[str]:
    """The SHA-256 of every file the manifest lists (``missing`` for an absent one), in its order:
    a clip edited on disk after scoring changes the score stage's fingerprint, so it is re-scored."""
    import pandas as pd

    path = root / manifest
    if not path.is_file():
        return []
    return [_file_hash(root / p) for p in pd.read_csv(path, usecols=["path"])["path"]]


def _source_listing(source: str) -> list:
    if source == SYNTH_SOURCE:
        return []
    from benchbox.data.corpora import resolve_source

    root = resolve_source(source)  # a built-in corpus name (footsteps-dev) is its folder
    if not root.exists():
        raise ProtocolError(f"dataset source not found: {root}", hint="pass --data DIR with a folder of recordings or a benchbox dataset")
    return sorted((str(f.relative_to(root)), f.stat().st_size) for f in root.rglob("*") if f.is_file())


def run_data(ctx: StudyContext, stage: Stage) -> None:
    p = ctx.proto
    if ctx.data_dir != ctx.out / "data":
        return  # an existing benchbox dataset is used in place
    if ctx.data_dir.exists():
        shutil.rmtree(ctx.data_dir)
    if p.data.source == SYNTH_SOURCE:
        from benchbox.data.synth import SynthConfig, synth_corpus
        from benchbox.config import from_dict

        cfg = from_dict(SynthConfig, p.data.options, where="data.options.") if p.data.options else None
        synth_corpus(ctx.data_dir, n=p.data.n, seed=p.seed, config=cfg, progress=ctx.progress)
    else:
        from benchbox.data.importer import ImportConfig, import_folder
        from benchbox.config import from_dict

        cfg = from_dict(ImportConfig, {"seed": p.seed, **p.data.options}, where="data.options.")
        import_folder(Path(p.data.source), ctx.data_dir, config=cfg, progress=ctx.progress)


def run_train(ctx: StudyContext, stage: Stage) -> None:
    from benchbox.generators.registry import load_preset
    from benchbox.train import train

    job = _job(ctx, stage.run_id)
    run_dir = ctx.run_dir(job.run_id)
    fp = stage_fingerprint(ctx, stage)
    marker = run_dir / RUN_FINGERPRINT_FILE
    resume = (run_dir / "ckpt" / "last.pt").is_file() and marker.is_file() and marker.read_text().strip() == fp
    if run_dir.exists() and not resume:
        shutil.rmtree(run_dir)  # config changed, or never started: start clean
    if not resume:
        atomic_write_text(marker, fp + "\n")
    generator, _ = load_preset(job.preset)
    ctx.log(f"     {'resume' if resume else 'train'} {job.run_id}")
    train(generator=generator, data=ctx.data_dir, out=run_dir, preset=job.preset, overrides=job.overrides(ctx.proto),
          device=ctx.proto.device, resume=resume, progress=ctx.progress, own_files=(RUN_FINGERPRINT_FILE,))


def run_generate(ctx: StudyContext, stage: Stage) -> None:
    from benchbox.generate import generate_run

    g = ctx.proto.generate
    axes = ctx.proto.sweep.sampling_axes(g)
    with scoped_threads(g.threads):
        generate_run(ctx.run_dir(stage.run_id), checkpoints=ctx.proto.sweep.checkpoint, prime_ms=ctx.proto.sweep.prime_ms,
                     n=g.n, seconds=g.seconds, batch=g.batch, seed=ctx.proto.seed, device=ctx.proto.device,
                     progress=ctx.progress, overwrite=True, **axes)  # the score stage follows


def run_score(ctx: StudyContext, stage: Stage) -> None:
    from benchbox.score import score_run

    s = ctx.proto.score
    score_run(ctx.run_dir(stage.run_id), reference=ctx.data_dir, embedders=s.embedders, bootstrap=s.bootstrap,
              seed=ctx.proto.seed, progress=ctx.progress)


def run_leaderboard(ctx: StudyContext, stage: Stage) -> None:
    from benchbox.leaderboard import build_leaderboard

    build_leaderboard(ctx.out / "runs", out=ctx.out, synth=_synth_reference(ctx), progress=ctx.progress)


def _synth_reference(ctx: StudyContext) -> Path:
    """The procedural corpus for the leaderboard's reference row (built once for real-data studies)."""
    if ctx.proto.data.source == SYNTH_SOURCE:
        return ctx.data_dir
    path = ctx.out / SYNTH_REFERENCE_DIR
    if not (path / "dataset.json").is_file():
        from benchbox.data.synth import synth_corpus

        synth_corpus(path, n=SYNTH_REFERENCE_CLIPS, seed=ctx.proto.seed, progress=ctx.progress, overwrite=True)
    return path


def run_report(ctx: StudyContext, stage: Stage) -> None:
    from benchbox.study.report import write_report

    write_report(ctx)
