"""``benchbox category``: fit the category model behind ``footstep/p`` on your own datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from benchbox.cli.common import HonestHelpCommand, HonestHelpGroup, JsonOpt, QuietOpt, SeedOpt, console, err_console, examples, id_table, interrupted, print_json, print_table, printable, rich_progress

app = typer.Typer(cls=HonestHelpGroup, help="Fit the category model that decides footstep/p (and with it useful/auto).", no_args_is_help=True,
                  epilog=examples("benchbox category fit --positives data/steps --negatives data/other --out models/steps.json"))

FIT_EXAMPLES = examples(
    "benchbox data import ~/steps --out data/steps && benchbox data import ~/not-steps --out data/other",
    "benchbox category fit --positives data/steps --negatives data/other --out models/steps.json",
    "benchbox category fit --positives data/steps --negatives data/other --embedder vggish --weights ~/w/vggish-10086976.pth --out models/steps-vggish.json --json",
    "benchbox score results/runs/s1 --category-model models/steps.json",
)


@app.command("fit", cls=HonestHelpCommand, epilog=FIT_EXAMPLES)
def fit_cmd(
    positives: Annotated[Path, typer.Option("--positives", help="Dataset of the category's clips (a folder made by `benchbox data import`).")],
    negatives: Annotated[Path, typer.Option("--negatives", help="Dataset of other sounds (a folder made by `benchbox data import`).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write (.json); the report goes beside it as .md, the log as .log.jsonl.")],
    embedder: Annotated[str, typer.Option("--embedder", help="Registered embedder of the feature <name>_norm (aisfx, mel, vggish with --weights).")] = "aisfx",
    l2: Annotated[float, typer.Option("--l2", help="L2 penalty of the logistic probe, finite and >= 0 (the shipped model: 0.03).")] = 0.03,
    synthetic_per_kind: Annotated[int, typer.Option("--synthetic-per-kind", help="Synthetic failure negatives per kind (5 kinds) on the training side; 0 = none.")] = 100,
    group_by: Annotated[str, typer.Option("--group-by", help="Held-out groups: package (first folder of each clip's source), folder, source, or none (evaluate on the test split).")] = "package",
    weights: Annotated[Path | None, typer.Option("--weights", help="VGGish weights for --embedder vggish: vggish-10086976.pth or a folder holding it.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing model, report and log at --out.")] = False,
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Fit a category model (level-normalised embedding, logistic probe, Platt calibration) and evaluate it leave-one-group-out.

    Groups come from each clip's source (by default its first folder, e.g. the game package); a group whose fold cannot be fitted is skipped, with a note. The threshold is Youden's J on the held-out probabilities. When fewer than two groups hold both classes the model is calibrated and thresholded on the val split and evaluated on the test split (on the val split when the test split lacks a class: optimistic), and says so. Writes OUT (the model), OUT's .md report and .log.jsonl log; use the model with `benchbox score --category-model OUT` (docs/verdict.md).
    """
    from benchbox.metrics.category_fit import fit_category, fit_warnings
    from benchbox.score_config import cache_dir_of, load_score_config

    try:
        with rich_progress(enabled=not quiet and not as_json) as progress:
            result = fit_category(positives=positives, negatives=negatives, out=out, embedder=embedder, l2=l2, synthetic_per_kind=synthetic_per_kind, seed=seed,
                                  group_by=group_by, weights=weights, overwrite=overwrite, cache_dir=cache_dir_of(load_score_config()), progress=progress)
    except KeyboardInterrupt as e:
        interrupted(e, f"{out} is unchanged (the model, its report and its log are published together); embeddings computed so far are cached", "run the same command again")
    m = result.model
    warnings = fit_warnings(result)
    held = [r for r in result.table if r["group"] != "pooled"]
    pooled = result.table[-1]
    if as_json:
        print_json("category fit", result.model_path, report=str(result.report_path), log=str(result.log_path), embedder=m.embedder, framing=m.framing, feature_set=m.feature_set,
                   l2=m.l2, seed=m.seed, threshold=m.threshold, data_sha256=m.data_sha256, evaluation=result.evaluation, group_by=result.group_by,
                   counts=result.counts, split_counts=result.split_counts, sample_rate_hz=result.sample_rate_hz, clip_samples=result.clip_samples,
                   platt_a=m.platt_a, platt_b=m.platt_b, groups=held, pooled=pooled, notes=result.notes,
                   warning="; ".join(warnings) or None, warnings=warnings)
        _warn(warnings)
        return
    rows = [[str(r["group"]), f"{r['auc']:.3f} [{r['lo']:.3f}, {r['hi']:.3f}]", _share(r, "positives"), _share(r, "negatives")] for r in result.table]
    print_table(id_table(f"{m.feature_set}, {result.evaluation}, threshold {m.threshold:g}", ["group", "AUC [95% CI]", "positives accepted", "negatives accepted"], rows, ids=["group"]))
    for note in result.notes:
        console.print(f"note: {printable(note)}", highlight=False)
    _warn(warnings)
    console.print(f"wrote {result.model_path} and {result.report_path} (data {m.data_sha256[:12]})", markup=False)


def _warn(warnings: list[str]) -> None:
    for line in warnings:
        err_console.print(f"[bold yellow]warning:[/] {printable(line)}", highlight=False, soft_wrap=True)


def _share(row: dict, kind: str) -> str:
    from benchbox.metrics.category_eval import share

    return share(row[f"{kind}_accepted"], row[kind])
