"""``benchbox category fit``: fit and evaluate a category model on your own datasets.

Legend: N clips, D feature dimension.

Positives and negatives are two datasets from ``benchbox data import`` (their clips read at
16 kHz). The feature is ``<embedder>_norm`` (:mod:`benchbox.metrics.category`): each clip
level-normalised, embedded, mean-pooled, L2-normalised; for aisfx exactly the shipped
``aisfx_norm``. Synthetic failure negatives (:func:`synthetic_negatives`) join the training
side only. Evaluation (:mod:`benchbox.metrics.category_eval`): leave one group out when at
least two groups (``--group-by``: by default each clip's package, the first folder of its
source) hold both classes (a group whose fold cannot be fitted is skipped, with a note), the
threshold Youden's J on the held-out probabilities; otherwise the model fitted on the train
splits, calibrated and thresholded on the val split and evaluated on the test split (on the val
split when the test split lacks a class: optimistic), said so in the result and the report.
The model is then fitted on every
clip's train split and Platt-calibrated on the val split, and written with a Markdown report
beside it and a log (``model.json``, ``model.md``, ``model.log.jsonl``, published together: the log is
written to a temporary file beside them while the fit runs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.errors import DataError, MetricError
from benchbox.metrics import category as cat
from benchbox.metrics import category_eval as ce
from benchbox.progress import Progress, no_progress

DEFAULT_EMBEDDER = "aisfx"
DEFAULT_L2 = 0.03  # the shipped model's penalty (chosen leave-one-package-out, docs/verdict.md)
SYNTHETIC_PER_KIND = 100
SYNTHETIC_KINDS = ("noise", "noise bursts", "noise+periodic clicks", "silence+isolated clicks", "hum")
SYNTHETIC = "synthetic"  # their dataset name (the counts, the report)
SYNTHETIC_GROUP = "<synthetic>"  # their group: no folder name, so a user group called "synthetic" stays apart
GROUP_BY = ("package", "folder", "source", "none")
LOGO, VAL_SPLIT, TEST_SPLIT = "leave-one-group-out", "val split", "test split"
REPORT_SUFFIX, LOG_SUFFIX = ".md", ".log.jsonl"


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit_category` wrote and measured; ``table`` rows as :func:`category_eval.evaluation_rows` (pooled last)."""

    model: cat.CategoryModel
    model_path: Path
    report_path: Path
    log_path: Path
    evaluation: str  # LOGO, TEST_SPLIT or VAL_SPLIT
    group_by: str
    table: list[dict]
    counts: dict[str, int]
    notes: list[str] = field(default_factory=list)
    split_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # dataset -> split -> clips
    sample_rate_hz: int = 0  # both datasets'
    clip_samples: int = 0


def synthetic_negatives(real: list[np.ndarray], *, seed: int, per_kind: int) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """``per_kind`` clips of each of ``SYNTHETIC_KINDS`` (:func:`benchbox.metrics.failures.negatives`, seeded) at the
    loudness of the (T,) 16 kHz positive ``real`` clips, with their rows: train split, label 0, group ``<synthetic>``
    (:data:`SYNTHETIC_GROUP`, which no folder is called), train only.

    A smaller ``per_kind`` draws the first clips of the larger draw."""
    from benchbox.audio import PROJECT_SAMPLE_RATE_HZ
    from benchbox.metrics.failures import negatives
    from benchbox.runs import sha256_audio

    if per_kind <= 0:
        return pd.DataFrame(columns=["source", "split", "y", "sha256", "group", "train_only"]), []
    drawn = negatives(np.stack(real), np.random.default_rng(seed), n=per_kind)  # (per_kind, T) per kind
    waves = [w for k in SYNTHETIC_KINDS for w in drawn[k]]
    meta = pd.DataFrame({"source": [f"{k}/{i}" for k in SYNTHETIC_KINDS for i in range(per_kind)], "split": "train", "y": 0,
                         "sha256": [sha256_audio(w, PROJECT_SAMPLE_RATE_HZ) for w in waves], "group": SYNTHETIC_GROUP, "train_only": True})
    return meta, waves


def groups_of(sources: pd.Series, group_by: str) -> pd.Series:
    """Each clip's held-out group from its manifest ``source``: ``package`` its first folder, ``folder`` its
    folder, ``source`` the file itself; ``none`` one group."""
    if group_by == "package":
        return sources.str.split("/").str[0]
    if group_by == "folder":
        return sources.map(lambda s: str(Path(s).parent))
    if group_by == "source":
        return sources.copy()
    return pd.Series("all", index=sources.index)


def load_labelled(positives: Path, negatives: Path, group_by: str) -> tuple[pd.DataFrame, list[np.ndarray], tuple[int, int]]:
    """Both datasets' rows (``source``, ``split``, ``y``, ``sha256``, ``group``, ``train_only``, ``dataset``), their (T,) 16 kHz
    waves and their ``(sample rate, clip samples)``; DataError when the two differ in either (the probe could learn the recording chain)."""
    from benchbox.audio import PROJECT_SAMPLE_RATE_HZ, load_audio
    from benchbox.runs import sha256_audio

    if positives.resolve() == negatives.resolve():
        raise DataError(f"--positives and --negatives are the same dataset ({positives}): the model needs two classes", hint="pass a dataset of non-examples as --negatives")
    datasets = {label: _dataset(root, "--positives" if label else "--negatives") for label, root in ((1, positives), (0, negatives))}
    (pos, neg) = datasets[1], datasets[0]
    if (pos.sample_rate_hz, pos.clip_samples) != (neg.sample_rate_hz, neg.clip_samples):
        raise DataError(f"--positives {positives} holds {pos.clip_samples}-sample clips at {pos.sample_rate_hz} Hz, --negatives {negatives} "
                        f"{neg.clip_samples}-sample clips at {neg.sample_rate_hz} Hz: a probe fitted on both could tell them apart by the recording chain",
                        hint="re-import one to match the other: `benchbox data import SRC --out DIR --set sample_rate_hz=RATE --set clip_samples=N`")
    frames, waves = [], []
    for label, root in ((1, positives), (0, negatives)):
        option, ds = ("--positives" if label else "--negatives"), datasets[label]
        rows = ds.rows()[["source", "split", "sha256"]].copy()
        clip_waves = [load_audio(p, PROJECT_SAMPLE_RATE_HZ) for p in ds.clip_paths()]
        known = rows["sha256"].fillna("").astype(str)
        rows["sha256"] = [s if s else sha256_audio(w, PROJECT_SAMPLE_RATE_HZ) for s, w in zip(known, clip_waves)]
        rows["source"] = rows["source"].fillna("").astype(str)
        rows["y"], rows["dataset"], rows["train_only"] = label, "positives" if label else "negatives", False
        rows["group"] = groups_of(rows["source"], group_by)
        for split in (ce.TRAIN, ce.VAL):
            if not (rows["split"] == split).any():
                raise DataError(f"{option} {root} has no clips in its {split} split: the model is fitted on train and calibrated on val",
                                hint="re-import it with more recordings (each split needs some), e.g. `benchbox data import SRC --out DIR --overwrite`")
        frames.append(rows)
        waves += clip_waves
    return pd.concat(frames, ignore_index=True), waves, (pos.sample_rate_hz, pos.clip_samples)


def _dataset(root: Path, option: str):
    """The dataset at ``root``; DataError naming ``option`` when it is no folder or no dataset."""
    from benchbox.data.dataset import load_dataset

    if not root.is_dir():
        raise DataError(f"{option} {root} is not a folder", hint=f"pass {option} a dataset folder made by `benchbox data import SRC --out DIR`")
    try:
        return load_dataset(root)
    except DataError as e:
        raise DataError(f"{option} {root}: {e.message}", hint=e.hint or f"pass {option} a dataset folder made by `benchbox data import SRC --out DIR`") from None


def check_out(out: Path, datasets: tuple[Path, ...], overwrite: bool) -> tuple[Path, Path]:
    """``(report path, log path)`` beside ``out``; DataError for an out that is no .json file, lies inside a
    dataset, or exists (it, its report or its log) without ``overwrite``."""
    if out.suffix != ".json":
        raise DataError(f"--out {out} is not a .json file", hint="name the model file, e.g. --out models/footstep.json (the report goes beside it as .md)")
    if out.is_dir():
        raise DataError(f"--out {out} is a folder", hint="name the model file inside it, e.g. --out {}".format(out / "category.json"))
    for root in datasets:
        if out.resolve().is_relative_to(root.resolve()):
            raise DataError(f"--out {out} is inside the dataset {root}", hint="write the model outside the datasets, e.g. --out models/category.json")
    report, log = out.with_suffix(REPORT_SUFFIX), out.with_suffix(LOG_SUFFIX)
    folders = [p for p in (report, log) if p.is_dir()]
    if folders:
        raise DataError(f"{folders[0]} is a folder, where the fit writes its {'report' if folders[0] == report else 'log'}", hint="choose another --out")
    existing = [p for p in (out, report, log) if p.exists()]
    if existing and not overwrite:
        raise DataError(f"{existing[0]} already exists", hint="pass --overwrite to replace the model, its report and its log, or choose another --out")
    return report, log


def check_embedder(embedder: str, weights: Path | None) -> None:
    """MetricError for an unknown embedder, weights for one that takes none, or an embedder that cannot load."""
    if weights is not None and embedder != "vggish":
        raise MetricError(f"--weights is for the vggish embedder, not '{embedder}'", hint="drop --weights, or use --embedder vggish")
    try:
        cat.feature_embedder_instance(embedder, weights=weights).load()
    except MetricError as e:
        if embedder != "vggish" or "weights not found" not in e.message:
            raise
        from benchbox.metrics.vggish import VGGISH_WEIGHTS_URL

        raise MetricError(f"--embedder vggish needs its weights ({e.message})" if weights is None else f"--weights: {e.message}",
                          hint=f"download {VGGISH_WEIGHTS_URL} and pass it: benchbox category fit ... --embedder vggish --weights PATH") from None


def fit_category(
    *,
    positives: str | Path,
    negatives: str | Path,
    out: str | Path,
    embedder: str = DEFAULT_EMBEDDER,
    l2: float = DEFAULT_L2,
    synthetic_per_kind: int = SYNTHETIC_PER_KIND,
    seed: int = 0,
    group_by: str = "package",
    weights: str | Path | None = None,
    overwrite: bool = False,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
) -> FitResult:
    """Fit, evaluate and write a category model (see the module docstring); nothing is written before the data is read.

    The log goes to a temporary file beside ``out`` while the fit runs and is published with the model and
    report, so a failed or interrupted fit leaves an earlier log (and model and report) as they were."""
    import os
    import tempfile

    from benchbox.runs import append_jsonl, publish_files

    progress = progress or no_progress
    positives, negatives, out = Path(positives), Path(negatives), Path(out)
    weights = Path(weights).expanduser() if weights else None
    _check_settings(l2=l2, seed=seed, synthetic_per_kind=synthetic_per_kind, group_by=group_by)
    report_path, log_path = check_out(out, (positives, negatives), overwrite)
    check_embedder(embedder, weights)
    rows, waves, (rate_hz, clip_samples) = load_labelled(positives, negatives, group_by)
    real = [w for w, y, s in zip(waves, rows["y"], rows["split"]) if y == 1 and s == ce.TRAIN]
    synth, synth_waves = synthetic_negatives(real, seed=seed, per_kind=synthetic_per_kind)
    rows = pd.concat([rows, synth.assign(dataset=SYNTHETIC)], ignore_index=True)
    waves = waves + synth_waves
    feature_set = f"{embedder}{cat.NORM_SUFFIX}"
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{log_path.name}.", suffix=".partial", dir=out.parent)
    os.close(fd)
    log = lambda event, **info: append_jsonl(partial, {"event": event, **info})  # noqa: E731
    try:
        counts = {"positives": int((rows["dataset"] == "positives").sum()), "negatives": int((rows["dataset"] == "negatives").sum()), "synthetic": len(synth)}
        log("start", positives_dir=str(positives), negatives_dir=str(negatives), embedder=embedder, feature_set=feature_set, l2=l2, seed=seed, group_by=group_by, clips=counts)
        from benchbox.metrics.category_features import FEATURE_RATE_HZ

        x = cat.clip_features(waves, FEATURE_RATE_HZ, feature_set, cache_dir=cache_dir, progress=progress, weights=weights)  # (N, D)
        log("features", clips=len(waves), dimension=int(x.shape[1]))
        y, split, sha = rows["y"].to_numpy(), rows["split"].to_numpy(), rows["sha256"].to_numpy()
        p, tested, chosen_on, eval_groups, mode, notes = _evaluate(x, rows, feature_set=feature_set, l2=l2, seed=seed, group_by=group_by, progress=progress)
        threshold = ce.choose_threshold(p[chosen_on], y[chosen_on])
        sources = (rows["dataset"] + ":" + rows["source"]).to_numpy()
        table = ce.evaluation_rows(p, y, eval_groups, sources, threshold, tested=tested, seed=seed)
        for r in table:
            log("evaluation", **r)
        model = ce.fit_masked(x, y, split, sha, np.ones(len(y), bool), feature_set=feature_set, l2=l2, threshold=threshold, seed=seed)
        split_counts = {d: {sp: int(n) for sp, n in part["split"].value_counts().sort_index().items()} for d, part in rows.groupby("dataset", sort=False)}
        result = FitResult(model, out, report_path, log_path, mode, group_by, table, counts, notes, split_counts, rate_hz, clip_samples)
        log("written", model=str(out), report=str(report_path), threshold=threshold, data_sha256=model.data_sha256)
        publish_files({out: model.to_json(), report_path: report_markdown(result, positives=positives, negatives=negatives, synthetic_per_kind=synthetic_per_kind),
                       log_path: Path(partial).read_text(encoding="utf-8")})
    finally:
        Path(partial).unlink(missing_ok=True)
    return result


def _check_settings(*, l2: float, seed: int, synthetic_per_kind: int, group_by: str) -> None:
    """MetricError for a non-finite or negative --l2, a negative --seed or --synthetic-per-kind, an unknown --group-by."""
    if not math.isfinite(l2) or l2 < 0:
        raise MetricError(f"--l2 must be a finite number >= 0, got {l2}", hint=f"the shipped model uses {DEFAULT_L2}")
    if seed < 0:
        raise MetricError(f"--seed must be >= 0, got {seed}", hint="pass a non-negative integer, e.g. --seed 0")
    if synthetic_per_kind < 0:
        raise MetricError(f"--synthetic-per-kind must be >= 0, got {synthetic_per_kind}", hint="0 turns the synthetic negatives off")
    if group_by not in GROUP_BY:
        raise MetricError(f"unknown --group-by '{group_by}'", hint=f"use one of: {', '.join(GROUP_BY)}")


def _evaluate(x: np.ndarray, rows: pd.DataFrame, *, feature_set: str, l2: float, seed: int, group_by: str,
              progress: Progress) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str, list[str]]:
    """``(probability (N,), tested (N,) bool, threshold chosen on (N,) bool, evaluation group (N,), mode, notes)``.

    Leave one group out when at least two groups hold both classes (a group whose fold cannot be fitted is
    skipped, with a note); else the model fitted on every train split and calibrated on the val split,
    its threshold chosen on the val split and evaluated on the test split (or, when that lacks a class, the val split)."""
    y, split, sha, groups = rows["y"].to_numpy(), rows["split"].to_numpy(), rows["sha256"].to_numpy(), rows["group"].to_numpy()
    train_only = rows["train_only"].to_numpy(bool)
    usable = ce.usable_groups(groups, y, train_only) if group_by != "none" else []
    notes = []
    why = "--group-by none" if group_by == "none" else f"fewer than 2 groups (--group-by {group_by}) hold both classes ({len(usable)})"
    if len(usable) >= 2:
        one_class = sorted(set(groups[~train_only].tolist()) - set(usable))
        if one_class:
            notes.append(f"{len(one_class)} group(s) hold only one class and stay on the training side, untested: {', '.join(one_class[:5])}{' ...' if len(one_class) > 5 else ''}")
        held_out_only = train_only | ~np.isin(groups, usable)
        skipped: list[tuple[str, str]] = []
        p = ce.logo_probability(x, y, split, sha, groups, held_out_only, feature_set=feature_set, l2=l2, progress=progress, skipped=skipped)
        notes += [f"group '{g}' is not evaluated: {problem}" for g, problem in skipped]
        tested = ~held_out_only & ~np.isin(groups, [g for g, _ in skipped])
        if set(y[tested].tolist()) == {0, 1}:
            return p, tested, tested, groups, LOGO, notes
        why = "no group could be held out (see above)"
    model = ce.fit_masked(x, y, split, sha, np.ones(len(y), bool), feature_set=feature_set, l2=l2, threshold=0.5, seed=seed)
    val, test = (split == ce.VAL) & ~train_only, (split == ce.TEST) & ~train_only
    if set(y[test].tolist()) == {0, 1}:
        notes.append(f"evaluated on the test split ({why}): the val split calibrates the model (Platt) and chooses its threshold; the test split, used for neither, is evaluated")
        return model.probability(x), test, val, np.full(len(y), TEST_SPLIT, dtype=object), TEST_SPLIT, notes
    notes.append(f"evaluated on the val split ({why}, and the test split lacks a class): the val split calibrates the model (Platt), chooses its threshold "
                 "and is evaluated on, so its AUC and acceptance rates are optimistic")
    return model.probability(x), val, val, np.full(len(y), VAL_SPLIT, dtype=object), VAL_SPLIT, notes


LOW_AUC = 0.8  # a pooled AUC below this gets a warning line in the report
# Fewer clips of a class than these get a warning (report, CLI, --json): a fit on a handful of clips
# can read AUC 1.000 [1.000, 1.000] and mean little.
MIN_EVALUATED_PER_CLASS = 20  # zero errors among n clips bound the error rate only below about 3/n at 95% (the rule of
#   three): over 15% under 20 clips; and a bootstrap of a perfectly separated sample reads [1, 1] at any n
MIN_VAL_PER_CLASS = 10  # Platt's fit is a logistic regression of the label on the logit; the usual floor for one is 10 events of
#   the rarer class per predictor (Peduzzi et al. 1996); in the split modes the threshold is also chosen on these clips
MIN_TRAIN_PER_CLASS = 20  # real clips (the synthetic negatives are not the sounds it must reject): a linear probe on a 128- to
#   512-dimensional embedding separates any few dozen clips, so the fit itself says nothing; the import's default
#   80/10/10 split gives this many train clips of a class before its val split reaches MIN_VAL_PER_CLASS


def low_auc_warning(result: FitResult) -> str | None:
    """The warning for a pooled AUC below :data:`LOW_AUC` (or none measured), else None."""
    pooled = result.table[-1]["auc"] if result.table else float("nan")
    if pooled >= LOW_AUC:
        return None
    return f"the pooled AUC is {pooled:.3f}, below {LOW_AUC}: this model tells the two classes apart poorly; do not rely on its footstep/p or useful/auto"


def small_sample_warning(result: FitResult) -> str | None:
    """The warning for too few clips of a class where the model is fitted (train split, real clips),
    calibrated (val split) or evaluated (the pooled row): under :data:`MIN_TRAIN_PER_CLASS`,
    :data:`MIN_VAL_PER_CLASS` and :data:`MIN_EVALUATED_PER_CLASS`; else None."""
    pooled = result.table[-1] if result.table else {}
    few = []
    for kind in ("positives", "negatives"):
        splits = result.split_counts.get(kind, {})
        counts = ((splits.get(ce.TRAIN, 0), MIN_TRAIN_PER_CLASS, "train"), (splits.get(ce.VAL, 0), MIN_VAL_PER_CLASS, "val"),
                  (int(pooled.get(kind, 0)), MIN_EVALUATED_PER_CLASS, "evaluated"))
        low = [f"{n} {where}" for n, floor, where in counts if n < floor]
        few += [f"{kind} {', '.join(low)}"] if low else []
    if not few:
        return None
    val_sets = "its Platt calibration" + ("" if result.evaluation == LOGO else " and threshold")
    return (f"too few clips to trust this model ({'; '.join(few)}; wanted per class: {MIN_TRAIN_PER_CLASS} train (real), "
            f"{MIN_VAL_PER_CLASS} val, {MIN_EVALUATED_PER_CLASS} evaluated): the val split sets {val_sets}, the evaluated clips its AUC, CI "
            f"and acceptance rates, and {_few_clips_auc(pooled.get('auc', float('nan')))}; add recordings before relying on its footstep/p or useful/auto")


def _few_clips_auc(auc: float) -> str:
    """What the measured pooled AUC says when it rests on too few clips: only these clips' ranking."""
    if not auc == auc:  # NaN: nothing measured
        return "with this few no AUC was measured"
    how = "were told apart" if auc >= LOW_AUC else "were told apart poorly"
    return f"with this few its AUC of {auc:.3f} says only that these clips {how}, not how others would be"


def fit_warnings(result: FitResult) -> list[str]:
    """Every warning of a fit: too few clips (:func:`small_sample_warning`), a low pooled AUC (:func:`low_auc_warning`)."""
    return [w for w in (small_sample_warning(result), low_auc_warning(result)) if w]


def report_markdown(result: FitResult, *, positives: Path, negatives: Path, synthetic_per_kind: int) -> str:
    """The fit report: settings, clip counts per class and split, the evaluation table and notes."""
    from datetime import datetime, timezone

    from benchbox import __version__
    from benchbox.score import SCORER_VERSION

    m, c = result.model, result.counts
    held = [r for r in result.table if r["group"] != ce.POOLED]
    how = {LOGO: f"leave-one-group-out over {len(held)} groups (--group-by {result.group_by})",
           TEST_SPLIT: "the test split; the val split calibrates (Platt) and chooses the threshold (see notes)",
           VAL_SPLIT: "the val split, which also calibrates (Platt) and chooses the threshold: optimistic (see notes)"}[result.evaluation]
    lines = [f"# Category model `{result.model_path.name}`", ""]
    for warning in fit_warnings(result):
        lines += [f"**Warning: {warning}**", ""]
    lines += ["| setting | value |", "|---|---|",
              f"| positives | `{positives}` ({c['positives']} clips) |", f"| negatives | `{negatives}` ({c['negatives']} clips) |",
              f"| synthetic negatives (training side only) | {c['synthetic']} ({synthetic_per_kind} per kind, seed {m.seed}) |",
              f"| clips | {result.clip_samples} samples at {result.sample_rate_hz} Hz (both datasets; read at 16 kHz) |",
              f"| embedder / feature set | {m.embedder} / `{m.feature_set}`" + (f" ({m.framing} framing of clips under 2.3 s)" if m.framing else "") + " |", f"| L2 | {m.l2:g} |",
              f"| Platt calibration (val split) | p = sigmoid(a z + b), z the probe's logit: slope a = {m.platt_a:.6g}, intercept b = {m.platt_b:.6g} |",
              f"| threshold | {m.threshold:g} (Youden's J on the {'held-out probabilities' if result.evaluation == LOGO else 'val split'}) |", f"| evaluation | {how} |",
              f"| training data sha256 | `{m.data_sha256}` |",
              f"| written by | benchbox {__version__} (scorer version {SCORER_VERSION}), {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} |", ""]  # fmt: skip
    present = {sp for d in result.split_counts.values() for sp in d}
    splits = [sp for sp in (ce.TRAIN, ce.VAL, ce.TEST) if sp in present] + sorted(present - {ce.TRAIN, ce.VAL, ce.TEST})
    lines += ["| clips | " + " | ".join(splits) + " |", "|---|" + "---|" * len(splits)]
    lines += [f"| {d} | " + " | ".join(str(n.get(sp, 0)) for sp in splits) + " |" for d, n in result.split_counts.items()] + [""]
    lines += ce.markdown_table(result.table, f"{m.feature_set}, L2 {m.l2:g}, threshold {m.threshold:g}", group_label="held-out group" if result.evaluation == LOGO else "evaluated on")
    lines += [f"- {n}" for n in result.notes] + ([""] if result.notes else [])
    lines += [f"Use it: `benchbox score RUN --category-model {result.model_path}`", ""]
    return "\n".join(lines)
