"""``benchbox score``: artefact flags, realism and the usefulness verdict per clip; FAD/KAD, PRDC, the 1-NN test and memorisation per group; written to scores/."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from benchbox.cli.common import JsonOpt, QuietOpt, SeedOpt, SetOpt, console, examples, id_table, interrupted, print_json, print_table, rich_progress, warn

EXAMPLES = examples(
    "benchbox score results/runs/s1",
    "benchbox score results/runs/s1 --embedder mel --bootstrap 200 --json",
    "benchbox score my_clips/ --reference data/dev --out results/my_clips",
    "benchbox score results/runs/s1 --category-model models/steps.json",
)

EmbedderOpt = Annotated[str, typer.Option("--embedder", help="Comma-separated embedders (aisfx, mel, vggish) for FAD/KAD, realism, PRDC, the 1-NN test and memorisation; empty = none of those (the verdict's footstep/p is measured either way, with the category model's own embedder).")]


def score_cmd(
    path: Annotated[Path, typer.Argument(help="A run folder (with samples/manifest.csv) or a folder of wav clips.")],
    reference: Annotated[Path | None, typer.Option("--reference", help="Reference dataset folder; default: data.path in the run's config.toml.")] = None,
    embedder: EmbedderOpt = "aisfx,mel",
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap resamples for the PRDC intervals; > 0 also turns on the FAD/KAD jackknife intervals (no resamples); 0 = no intervals.")] = 1000,
    weights: Annotated[Path | None, typer.Option("--weights", help="VGGish weights for --embedder vggish: vggish-10086976.pth or a folder holding it (default $BENCHBOX_WEIGHTS_DIR, else ~/.cache/benchbox/weights).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="For a folder of clips: the run folder to create (default results/<name>); the clips are converted to the reference's format into OUT/clips and scored there, so PATH is never written. --out PATH scores in place, unconverted. A run folder keeps its scores in RUN/scores.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="For a folder of clips: replace the clips (and scores) that --out holds from another folder's import; without it that is refused.")] = False,
    name: Annotated[str | None, typer.Option("--name", help="For a folder of clips: the generator name its groups carry (default: the folder's name); subfolders become groups NAME/SUBFOLDER.")] = None,
    seed: SeedOpt = 0,
    config: Annotated[Path | None, typer.Option("--config", help="TOML file with score settings and a detectors table of thresholds.")] = None,
    overrides: SetOpt = None,
    category_model: Annotated[Path | None, typer.Option("--category-model", help="Category model file for footstep/p and useful/auto (from `benchbox category fit`); default: the shipped model (same as --set verdict.category_model=PATH; either is recorded as an absolute path, and the two may not differ).")] = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Score every clip and every group against the reference dataset.

    PATH is a run folder, or a folder of clips from any generator: its subfolders (or an optional benchbox-clips.csv) give the groups, and the clips are converted to the reference's format (resampled, downmixed, cropped or padded, each with a warning) into --out, a new run folder (docs/external.md).

    Per clip (scores/clips.csv): the artefact detectors (DC, silence, clipping, clicks, hum, no transient, noise wall, dropouts, spectral line, crackle, wall with late bursts, NaN), realism against the reference train split (in_distribution), the nearest training clip, footstep/p (the category model) and useful/auto (no detector fired and a footstep) with useful/reason. Per group (scores/groups.csv): FAD and KAD with jackknife 95% intervals (one KAD kernel per reference and span), diversity, precision / recall / density / coverage, the 1-NN two-sample test (nn1: balanced accuracy, 0.5 when the clips cannot be told from real ones, and its permutation p), the memorisation share, the useful rate and the three axes (quality/artefact_free_rate, footstep/p_mean and footstep/share, recall and coverage), plus a floor row (real val vs real test; and the useful rate of the reference's held-out real clips, val + test, whole and cut where each prime ends, which the table shows beside each row as 'real useful, same cut'). Primed clips are also scored on their continuation (cont/ columns). See docs/verdict.md and docs/detectors.md.
    """
    from benchbox.external import imported
    from benchbox.score import SAMPLES_MANIFEST, json_records, score_run
    from benchbox.score_config import load_score_config

    if out is None and path.is_dir() and not (path / SAMPLES_MANIFEST).is_file() and not imported(path):
        out = Path("results") / (name or path.resolve().name)  # a folder of clips is never written into unasked
    score_config = load_score_config(config, overrides, category_model=category_model)
    embedders = tuple(e.strip() for e in embedder.split(",") if e.strip())
    started = _marker_stamp(out)
    try:
        with rich_progress(enabled=not quiet and not as_json) as progress:
            result = score_run(path, reference=reference, embedders=embedders, bootstrap=bootstrap, seed=seed, config=score_config, progress=progress, weights=weights, out=out, name=name, overwrite=overwrite)
    except KeyboardInterrupt as e:
        interrupted(e, _kept(path, out, started), "run the same command again")
    for line in result.warnings:
        warn(line)
    if as_json:
        print_json("score", result.out, clips=len(result.clips), skipped=len(result.skipped), warnings=list(result.warnings),
                   groups=json_records(result.groups))
        return
    print_table(_table(result.groups, embedders))
    console.print(f"{len(result.clips)} clips scored, {len(result.skipped)} skipped; wrote {result.out}", markup=False)


def _marker_stamp(out: Path | None) -> tuple[int, int] | None:
    """The import marker's (inode, mtime_ns) in ``out``, or None: a change says an import completed since."""
    from benchbox.external import IMPORT_MARKER

    try:
        st = (out / IMPORT_MARKER).stat() if out is not None else None
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns) if st else None


def _kept(path: Path, out: Path | None, started: tuple[int, int] | None) -> str:
    """What an interrupted score left: the scores folder it was writing (OUT/scores for an
    import), and whether this run's import of the clips into OUT/clips completed."""
    from benchbox.external import CLIPS_DIR

    importing = out is not None and out.resolve() != path.resolve()
    kept = f"{(out if importing else path) / 'scores'} is unchanged (scores are published whole); embeddings computed so far are cached"
    if not importing:
        return kept
    stamp = _marker_stamp(out)
    if stamp is not None and stamp != started:
        return f"the clips were imported into {out / CLIPS_DIR} but not scored; {kept}"
    return f"{out / CLIPS_DIR} is unchanged (an import is swapped in whole); {kept}"


REAL_CUT = "real useful, same cut"  # the column of the floor's useful rate at the row's prime (benchbox.score_floor)


def _table(groups, embedders: tuple[str, ...]):
    from benchbox.leaderboard import fmt_ci
    from benchbox.metrics.artifacts import DETECTORS
    from benchbox.score_floor import floor_useful_of

    first = embedders[:1]
    from benchbox.score_clip_verdict import verdict_prefix

    pfx = verdict_prefix(groups.columns)  # the generated part's verdict and flags, as the leaderboard shows them
    columns = ["group", "n", *(f"fad/{e}" for e in first), *(f"kad/{e}" for e in first), *(f"diversity/{e}" for e in first), f"{pfx}useful/auto", REAL_CUT, f"{pfx}flags"]
    records = groups.to_dict("records")
    floor = next((r for r in records if r.get("kind") == "floor"), {})
    rows = []
    for row in records:
        cells = [str(row["group"]), str(row["n"])]
        for e in first:
            cells.append(fmt_ci(row.get(f"fad/{e}"), row.get(f"fad/{e}/lo"), row.get(f"fad/{e}/hi")))
            cells.append(fmt_ci(row.get(f"kad/{e}"), row.get(f"kad/{e}/lo"), row.get(f"kad/{e}/hi")))
            cells.append(fmt_ci(row.get(f"diversity/{e}"), None, None))
        cells.append(fmt_ci(row.get(f"{pfx}useful/auto_rate"), row.get(f"{pfx}useful/auto_lo"), row.get(f"{pfx}useful/auto_hi"), 2))
        real = floor_useful_of(floor, row.get("prime_ms"))  # the floor row: its held-out clips whole
        cells.append("-" if real is None else fmt_ci(*real[:3], 2))
        rates = {d: row.get(f"{pfx}{d}/flag_rate") for d in DETECTORS}
        cells.append(" ".join(f"{d}={v:.0%}" for d, v in rates.items() if v is not None and not math.isnan(v) and v > 0) or "none")
        rows.append(cells)
    right = set(columns) - {"group", f"{pfx}flags"}
    return id_table(f"scores per group (floor = reference val vs test; {REAL_CUT} = the useful rate of the reference's held-out real clips, val + test, "
                    "cut where the row's prime ends and judged as its clips are: a primed row's like-for-like; - where not measured)",
                    columns, rows, ids=["group"], right=right)
