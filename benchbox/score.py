"""Score a run (or a folder of clips): artefact detectors per clip, FAD/KAD per group.

Legend: N clips in a set, D embedding dimension, G groups.

``score_run`` reads ``RUN_DIR/samples/manifest.csv`` (groups from its columns) or every
audio file under a plain folder (one group: the folder), runs the detectors of
:mod:`benchbox.metrics.artifacts` on every clip at its own sample rate, embeds the
clips and the reference dataset's **test** split, and writes into ``<path>/scores/``:

* ``clips.csv``  - one row per clip: path, sha256, group columns, detector values/flags;
* ``groups.csv`` - one row per group, plus a ``floor`` row (reference val vs test):
  ``n``, ``fad/<emb>`` (+ ``/lo``, ``/hi``: jackknife 95% interval), ``kad/<emb>`` (+ the same),
  ``diversity/<emb>``, ``embedding/left_out`` (clips with NaN/inf samples: in ``n`` and the rates, in no embedding metric),
  ``<detector>/flag_rate`` and ``useful/auto_rate`` with a Wilson 95% CI (the floor row also the held-out
  real clips' rate whole and cut where each prime ends, ``floor@<ms>ms/useful/``: :mod:`benchbox.score_floor`);
* ``scores.json`` - the same groups plus the inputs and warnings, and ``kad_bandwidth``: per embedder
  and span (keyed by its first sample, "0" = whole clips) the one KAD bandwidth all its rows share;
* ``skipped.csv`` - clips that could not be decoded, with the reason and their group (in no ``n``: a warning per group
  says so, as for groups of clips not the reference's length; scores.json ``undecoded``, ``clip_length``: :mod:`benchbox.score_notes`);
* ``score_config.toml`` / ``versions.json`` - the resolved config and library versions.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox import config as cfg
from benchbox.audio import read_audio
from benchbox.data.dataset import load_dataset
from benchbox.errors import AudioError, DataError, MetricError
from benchbox.external import MANIFEST_NAME, folder_table, import_clips, import_skips, rate_notes, recorded_reference, walk_clips  # noqa: F401 (import_skips re-exported)
from benchbox.metrics.artifacts import DETECTORS, FLAG_KEYS, USEFUL_KEY, DetectorConfig, detect
from benchbox.metrics import category
from benchbox.progress import Progress, no_progress
from benchbox.provenance import SAMPLES_MANIFEST, other_dataset_note, retrained_note
from benchbox.runs import atomic_write_csv, atomic_write_json, sha256_audio, sha256_file, staged_dir, write_run_info
from benchbox.score_notes import SAMPLES_COLUMN, SKIPPED_COLUMNS, check_clips, missing_continuations
from benchbox.score_distances import FLOOR_SPLIT, MIN_SET_CLIPS, REFERENCE_SPLIT, WEIGHTS_EMBEDDER, add_distances, distances, diversity, embed_sets  # noqa: F401 (re-exported)
from benchbox.score_floor import add_floor_useful
from benchbox.score_clip_verdict import check_prime_spans, long_enough, prime_samples
from benchbox.score_config import ScoreConfig, cache_dir_of, check_category_model, score_settings
from benchbox.score_verdict import add_verdict_metrics
from benchbox.scores_record import reference_record
from benchbox.stats import wilson_interval
from benchbox.group_keys import CODE_COLUMNS, GROUP_COLUMNS, NUMERIC_GROUP_COLUMNS, RUN_MANIFEST_COLUMNS, SAMPLING_COLUMNS, SAMPLING_NEUTRAL, group_key, key_parts, with_group_columns  # noqa: F401 (re-exported)

SCORES_DIR = "scores"
SCORES_FORMAT = 1
# What the detectors and the verdict mean. Bump it when a change would alter a clip's flags or
# useful/auto: scores.json records it and older scores read as stale (stale_reason).
# 2: clicks detector, flat-top clipping test. 3: a flat top is a run of equal samples at any
# level >= clip_level, not only at the clip's own peak. 4: useful/auto = no flag AND a footstep
# (footstep/p of the category model, docs/verdict.md); realism no longer decides it (in_distribution);
# memorisation's "close" threshold is a quantile of held-out real clips (val + test).
# 5: the category model embeds the level-normalised clip (aisfx_norm), so footstep/p and useful/auto change.
# 6: three detectors (wall, dropout, line: benchbox/metrics/steadiness.py) can fail a clip, so useful/auto changes.
# 7: two more detectors (crackle, burstwall: benchbox/metrics/steadiness.py) can fail a clip.
# 8: KAD's bandwidth is the test split's median distance, one per span (was each row's pooled median); fad/kad intervals are jackknife.
# 9: with --embedder "" (no embedding metrics) the floor row's verdict includes footstep/p, as the clips' always did (it was the flags alone).
# (New group columns that leave flags and verdicts alone, like nn1/<e>, do not bump it: older
# scores just lack them, and renderers show a dash. Columns a study finding is decided on do.)
# 10: an unprimed group is scored on each primed span of its run too (span@<ms>ms/fad|kad/<e>), and
# finding 5 (priming) is decided on them: version-9 scores would decide it on another span and kernel.
# 11: the floor row also carries each detector's rate on every real clip of the reference (all splits,
# real/<detector>/flag_rate, real/n); findings 2 and 3 compare with it (the 21 val clips' 0/21 said little).
# (Not bumped for the floor row's floor@<ms>ms/useful/ columns, the held-out real clips' verdict per
# prime span: new columns, no flag or verdict changes, no finding decided on them; older scores show a dash.)
# 12: a clip with NaN or inf samples is in no embedding metric, whole or cont/ (was zero-filled for cont/, FAD/KAD
# aside), and its continuation is flagged; groups record memorisation/<e>/heldout_n, which the report's copy test
# (an exact beta-binomial p) is decided on. Re-scoring also fills the floor@<ms>ms/useful/ columns above.
# 13: a primed clip with NaN samples only in its prime fails its continuation closed (footstep-p-nan: the category
# model never hears it; version 12 passed it), and groups record memorisation/<e>/n, the clips the copy test counts.
# Also 13: a generated clip too short to embed past its prime (64 ms) is left out of that cut alone; before, it
# emptied every group's continuation metrics at that prime (missing values, not wrong ones: no committed clip is short).
# 14: the category model embeds a clip shorter than aisfx's 2.3 s block centred in digital silence (its `centre`
# framing, model format 3), as sound effects sat in aisfx's training blocks, and its threshold is 0.45 (Youden's J on
# the leave-one-package-out probabilities, as before): footstep/p and useful/auto change (docs/verdict.md).
SCORER_VERSION = 14
FLOOR_GROUP = "floor"
REAL_PREFIX = "real/"  # the floor row's detector rates on every real clip of the reference (all splits)
REAL_N = "real/n"
DEFAULT_EMBEDDERS = ("aisfx", "mel")


@dataclass(frozen=True)
class ScoreResult:
    out: Path  # the scores/ folder
    clips: pd.DataFrame
    groups: pd.DataFrame
    skipped: pd.DataFrame  # path, reason
    warnings: tuple[str, ...] = ()


# ------------------------------------------------------------------------ inputs


def collect_clips(path: str | Path, name: str | None = None) -> tuple[Path, pd.DataFrame, bool]:
    """Clips to score: ``(root, table with path/abs_path/group columns, is_run)``.

    ``name`` is the generator of a plain folder's clips (default: the folder's name)."""
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"not a folder: {root}", hint="pass a run folder (with samples/manifest.csv) or a folder of wavs")
    manifest_path = root / SAMPLES_MANIFEST
    if manifest_path.is_file():
        try:
            table = pd.read_csv(manifest_path, dtype={"checkpoint": str, "quantisation": str, "generator": str})
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            raise DataError(f"{manifest_path}: unreadable ({str(e).splitlines()[0]})", hint="re-run `benchbox generate` for this run") from None
        missing = [c for c in RUN_MANIFEST_COLUMNS if c not in table.columns]
        if missing:  # a missing group column would silently merge groups (no checkpoint: best and last as one)
            raise DataError(f"{manifest_path}: missing column(s) {', '.join(missing)}",
                            hint=f"restore it (a run's manifest needs {', '.join(RUN_MANIFEST_COLUMNS)}), or move {manifest_path.parent} aside and re-run `benchbox generate`")
        for col in GROUP_COLUMNS:
            if col not in table.columns:
                table[col] = ""
        is_run = True
    elif (root / "config.toml").is_file() and manifest_path.parent.is_dir():  # a run whose manifest is gone: not a folder of clips
        raise DataError(f"{root} is a run folder (config.toml, samples/) but {manifest_path} is missing, so its clips' checkpoints, primes and groups are unknown",
                        hint=f"re-run `benchbox generate {root}` to write its clips and their manifest anew")
    else:  # a folder of clips: groups from its subfolders or its benchbox-clips.csv (benchbox.external)
        table = folder_table(root, name, skip=_is_output)
        for col in GROUP_COLUMNS:
            if col not in table.columns:
                table[col] = ""
        is_run = False
    if table.empty:
        raise DataError(f"no clips to score under {root}", hint="generate samples first (`benchbox generate`) or point at a folder of wavs")
    table["abs_path"] = [root / str(p) for p in table["path"]]
    return root, table, is_run


def _is_output(rel: Path) -> bool:
    """scores/ itself, and any hidden folder (a staging folder being built), hold no clips to score."""
    return rel.parts[0] == SCORES_DIR or any(part.startswith(".") for part in rel.parts[:-1])


def resolve_reference(root: Path, reference: str | Path | None, is_run: bool) -> Path | None:
    """``--reference`` wins; a run falls back to ``config.toml`` ``[data] path``, an import to the
    reference it was last scored against (:func:`benchbox.external.recorded_reference`)."""
    if reference is not None:
        return Path(reference)
    if not is_run:
        return recorded_reference(root)
    if not (root / "config.toml").is_file():
        return None
    data_path = cfg.load_toml(root / "config.toml").get("data", {}).get("path")
    if not data_path:
        return None
    candidate = Path(data_path)
    if not candidate.is_absolute() and not candidate.is_dir() and (root / candidate).is_dir():
        candidate = root / candidate
    return candidate


def decode(path: Path) -> tuple[np.ndarray, int]:
    """Decode to mono (T,) float32 at the native rate; NaN/inf are kept (the nan detector reports them).

    Goes through :func:`benchbox.audio.read_audio`, so a lying header is an AudioError
    (the clip is skipped with that reason) and memory follows the real data.
    """
    data, rate = read_audio(path, finite=False)  # (T, channels)
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]  # (T,)
    return mono, int(rate)


def detect_clips(table: pd.DataFrame, config: DetectorConfig, progress: Progress) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Detector rows for every decodable clip (``_samples``: its decoded length), and the ``(path, reason, group)`` of the rest."""
    rows, skipped = [], []
    extra = [c for c in ("logprob_mean", "checkpoint_sha256") if c in table.columns]
    for i, rec in enumerate(table.to_dict("records")):
        try:
            wave, rate = decode(Path(rec["abs_path"]))
        except AudioError as e:
            skipped.append({"path": rec["path"], "reason": e.message, "group": group_key(rec)})
        else:
            row = {"path": rec["path"], "sha256": sha256_audio(wave, rate), "sample_rate_hz": rate, SAMPLES_COLUMN: len(wave)}
            row.update({c: rec[c] for c in GROUP_COLUMNS})
            row.update(detect(wave, rate, config))
            row.update({c: rec[c] for c in extra})
            row["abs_path"] = rec["abs_path"]
            rows.append(row)
        progress("detect", i + 1, len(table))
    return pd.DataFrame(rows), pd.DataFrame(skipped, columns=SKIPPED_COLUMNS)


# ----------------------------------------------------------------------- groups


def flag_rates(clips: pd.DataFrame) -> dict[str, float]:
    """Per-detector flag rates and ``useful/auto`` rate with its Wilson 95% CI."""
    n = len(clips)
    out: dict[str, float] = {f"{name}/flag_rate": float(clips[f"{name}/flag"].mean()) if n else math.nan for name in DETECTORS}
    p, lo, hi = wilson_interval(int(clips[USEFUL_KEY].sum()) if n else 0, n)
    out.update({"useful/auto_rate": p, "useful/auto_lo": lo, "useful/auto_hi": hi})
    return out


def split_groups(clips: pd.DataFrame) -> list[tuple[dict, pd.DataFrame]]:
    """``[(group values, rows)]`` in a stable order; missing values form their own group."""
    records = clips[list(GROUP_COLUMNS)].to_dict("records")
    keyed = clips.assign(_key=[group_key(r) for r in records])
    named: dict[str, set] = {}
    for key, r in zip(keyed["_key"], records):
        named.setdefault(key, set()).add(key_parts(r))
    if clash := next((k for k, parts in named.items() if len(parts) > 1), None):  # two groups under one name would be scored as one
        raise DataError(f"two groups of clips have the same name '{clash}' ({' and '.join(sorted(', '.join(f'{c}={v}' for c, v in zip(GROUP_COLUMNS, p) if v) for p in named[clash]))})",
                        hint="rename a group (a subfolder, or the manifest's generator or group column) so no group's name is another's")
    out = []
    for key in sorted(named):
        rows = keyed[keyed["_key"] == key].drop(columns="_key")
        out.append(({c: rows.iloc[0][c] for c in GROUP_COLUMNS}, rows))
    return out


def _continuation_gaps(clips: pd.DataFrame, groups: list, refused: set[int]) -> tuple[dict[str, int], set[float], dict[str, dict[float, int]]]:
    """What :func:`benchbox.score_notes.missing_continuations` reports, from the clips at one rate: per
    group its clips too short to embed past their own prime; the primes (ms) the reference refused; per
    unprimed group its clips too short for each primed span (ms) of the run."""
    rate = int(clips["sample_rate_hz"].iloc[0])
    lengths = clips[SAMPLES_COLUMN].to_numpy()
    cut = np.array([prime_samples(ms, rate) for ms in clips["prime_ms"]])
    spans = {float(ms): p for ms, p in zip(pd.to_numeric(clips["prime_ms"], errors="coerce"), cut) if p > 0 and p not in refused}
    short, span_short = {}, {}
    for values, g in groups:
        idx = clips.index.get_indexer(g.index)
        short[group_key(values)] = int(((cut[idx] > 0) & ~long_enough(lengths[idx], cut[idx])).sum())
        if len(idx) and (cut[idx] == 0).all():
            span_short[group_key(values)] = {ms: int((~long_enough(lengths[idx], p)).sum()) for ms, p in spans.items()}
    refused_ms = {float(ms) for ms, p in zip(pd.to_numeric(clips["prime_ms"], errors="coerce"), cut) if p in refused}
    return short, refused_ms, span_short


def _group_row(values: dict, rows: pd.DataFrame, run: str) -> dict:
    row = {"group": group_key(values), "kind": "generated", "run": run, **values, "n": len(rows)}
    row.update(flag_rates(rows))
    if "logprob_mean" in rows.columns:
        row["logprob_mean"] = float(pd.to_numeric(rows["logprob_mean"], errors="coerce").mean())
    return row


def _all_real(ref_path: Path) -> list[Path]:
    """Every clip of the reference dataset, all splits (the real rate of each detector)."""
    return load_dataset(ref_path).clip_paths()


def _reference(ref_path: Path | None, embedders: tuple[str, ...]) -> dict[str, list[Path]]:
    """The reference test split (FAD target) and val split (floor row); {} without a reference.
    Raises DataError when a reference clip no longer holds the audio its manifest records
    (:meth:`benchbox.data.dataset.Dataset.changed_clips`): scores against it would be compared
    with scores against the original under one manifest hash."""
    if ref_path is None:
        if embedders:
            raise DataError("no reference dataset to compare against", hint="pass --reference DATA_DIR (a benchbox dataset folder)")
        return {}
    ds = load_dataset(ref_path)
    changed = ds.changed_clips()
    if changed:
        gone = [c for c in changed if not c.is_file()]
        what = (f"{len(gone)} reference clip(s) are missing (first: {gone[0]})" if len(gone) == len(changed) else
                f"{len(changed)} reference clip(s) are missing, unreadable or hold other audio than manifest.csv records (first: {changed[0]})")
        raise DataError(f"{ref_path}: {what}", hint="restore the clips, or rebuild the dataset (`benchbox data import`; "
                        "`benchbox data synth` for a procedural corpus) into a fresh folder")
    test, val = ds.clip_paths(REFERENCE_SPLIT), ds.clip_paths(FLOOR_SPLIT)
    if embedders and len(test) < MIN_SET_CLIPS:
        raise MetricError(
            f"{ref_path}: the reference '{REFERENCE_SPLIT}' split has {len(test)} clip(s); FAD needs at least {MIN_SET_CLIPS}",
            hint="import more recordings so every split gets clips",
        )
    return {REFERENCE_SPLIT: test, FLOOR_SPLIT: val}


def _floor_row(val_paths: list[Path], config: DetectorConfig, run: str, real_paths: list[Path] = ()) -> tuple[dict, list[dict]]:
    """Real-vs-real row: detector rates of the reference val clips (their false-positive rate), and their flags.

    ``real_paths``: every real clip of the reference (all splits): their rates go into
    ``real/<detector>/flag_rate`` with their count ``real/n``, the real rate a generated rate is
    compared with (the val split alone is a few dozen clips). The detectors fit nothing, so
    the train split is as fair a sample of real clips as the held-out ones."""
    every = list(dict.fromkeys([*real_paths, *val_paths]))  # each clip decoded and judged once; the val clips are among them
    table = pd.DataFrame({"path": [str(p) for p in every], "abs_path": every, **{c: "" for c in GROUP_COLUMNS}})
    detected = detect_clips(table, config, no_progress)[0].set_index("path", drop=False)
    clips = detected.loc[[str(p) for p in val_paths if str(p) in detected.index]].reset_index(drop=True)  # in val_paths' order
    row = {"group": FLOOR_GROUP, "kind": FLOOR_GROUP, "run": run, **{c: "" for c in GROUP_COLUMNS}, "n": len(val_paths)}
    row.update(flag_rates(clips) if not clips.empty else {})
    if len(real_paths):
        real = detected.loc[[str(p) for p in real_paths if str(p) in detected.index]]
        row[REAL_N] = len(real)
        row.update({f"{REAL_PREFIX}{name}/flag_rate": float(real[f"{name}/flag"].mean()) if len(real) else math.nan for name in DETECTORS})
    flags = clips[list(FLAG_KEYS)].to_dict("records") if not clips.empty else []
    return row, flags


def score_run(
    path: str | Path,
    *,
    reference: str | Path | None = None,
    embedders: tuple[str, ...] | list[str] = DEFAULT_EMBEDDERS,
    bootstrap: int = 1000,
    seed: int = 0,
    config: ScoreConfig | None = None,
    progress: Progress | None = None,
    weights: str | Path | None = None,
    out: str | Path | None = None,
    name: str | None = None,
    overwrite: bool = False,
) -> ScoreResult:
    """Score every clip of a run or folder against a reference dataset; write ``scores/``.

    ``weights``: the VGGish weights (``vggish-10086976.pth`` or its folder) when
    ``embedders`` holds ``vggish``; MetricError when given without it.

    ``out`` (a plain folder of clips only): import the clips into ``out`` in the reference's
    format (:func:`benchbox.external.import_clips`, one warning per conversion rule applied)
    and score them there, so ``out`` is a run like any other and ``path`` is never written
    to. Without ``out`` the scores go into ``path/scores``. ``name``: the run's generator
    name for a plain folder (default: the folder's name). ``overwrite``: replace an earlier
    import of clips from another folder in ``out`` (DataError without it).

    Every embedder is loaded before anything is written, so an unknown name or missing weights
    leave ``out`` as it was.
    """
    config, progress, embedders = config or ScoreConfig(), progress or no_progress, tuple(embedders)
    if bootstrap < 0:
        raise MetricError(f"--bootstrap must be >= 0, got {bootstrap}", hint="use 0 for no CIs, or e.g. 1000")
    weights = Path(weights).expanduser() if weights else None
    check_category_model(config, embedders, weights)
    from benchbox.metrics.embedders import get_embedder

    for embedder in embedders:  # fail before any clip is converted or scored: an unknown name, or user weights missing
        emb = get_embedder(embedder, **({"weights": weights} if embedder == WEIGHTS_EMBEDDER and weights is not None else {}))
        if embedder == WEIGHTS_EMBEDDER:
            emb.load()  # the shipped embedders' weights come with the install; only these can be absent
    root, table, is_run = collect_clips(path, name)
    left_out = [] if is_run or (root / MANIFEST_NAME).is_file() else [f"not scored: {root / rel} ({why})" for rel, why in walk_clips(root, _is_output)[1]]
    ref_path = resolve_reference(root, reference, is_run)
    run_notes = [note for note in (  # clips of a checkpoint trained further since; a reference other than (or changed since) the data the run trained on
        retrained_note(root) if is_run else None,
        other_dataset_note(root, ref_path, resolve_reference(root, None, is_run)) if is_run and ref_path is not None else None) if note]
    sets = _reference(ref_path, embedders)
    source, import_notes = None, []
    if out is not None and Path(out).resolve() != root.resolve():
        source, (root, table, import_notes, _) = root, _import(root, Path(out), ref_path, is_run, name, overwrite)
    elif not is_run and ref_path is not None:
        import_notes = rate_notes(table["abs_path"], load_dataset(ref_path).sample_rate_hz)
    import_skipped = import_skips(root, key=group_key)  # an import's undecodable clips stay on record however often it is re-scored
    out = root / SCORES_DIR
    clips, skipped = detect_clips(table, config.detectors, progress)
    skipped = pd.concat([pd.DataFrame(import_skipped, columns=SKIPPED_COLUMNS), skipped], ignore_index=True) if import_skipped else skipped
    if clips.empty:
        first = f" (first: {skipped['path'].iloc[0]}: {skipped['reason'].iloc[0]})" if len(skipped) else ""
        raise DataError(f"none of the {len(table)} clips under {root} could be decoded{first}", hint="re-generate the clips; the earlier scores/ is unchanged")
    check_prime_spans(clips)
    run = root.resolve().name
    groups = split_groups(clips)
    rows = [_group_row(values, g, run) for values, g in groups]
    val_flags: list[dict] = []
    if sets:  # real vs real: FAD floor and the detectors' false-positive rate on real clips
        floor, val_flags = _floor_row(sets[FLOOR_SPLIT], config.detectors, run, real_paths=_all_real(ref_path))
        rows.append(floor)
    warnings = left_out + run_notes + import_notes + ([f"{len(skipped)} clip(s) could not be decoded and were skipped (see {out / 'skipped.csv'})"] if len(skipped) else [])
    checks = check_clips([(group_key(values), g) for values, g in groups], skipped, ref_path, skipped_csv=out / "skipped.csv", is_run=is_run)
    warnings += checks.warnings
    bandwidths: dict[str, dict[str, float]] = {}  # embedder -> first sample of the span -> KAD bandwidth
    refused: set[int] = set()  # primes (samples) the reference cannot be cut at
    loaded: dict[str, list[np.ndarray]] = {}  # split -> the reference clips add_verdict_metrics decoded, which the floor reuses
    if embedders:
        warnings += add_distances(rows, groups, sets, embedders, bootstrap=bootstrap, seed=seed, cache_dir=cache_dir_of(config),
                                  max_clips=config.diversity_max_clips, progress=progress, weights=weights, bandwidths=bandwidths)
    clips = add_verdict_metrics(
        clips, rows, groups, reference=ref_path if sets else None, embedders=embedders, config=config.verdict, detectors=config.detectors,
        val_flags=val_flags, cache_dir=cache_dir_of(config), bootstrap=bootstrap, seed=seed, progress=progress,
        decode=decode, distances=distances, weights=weights, bandwidths=bandwidths, refused=refused, loaded=loaded,
    )
    if sets and embedders and clips["sample_rate_hz"].nunique() == 1:  # at several rates nothing is embedded (warned elsewhere)
        warnings += missing_continuations(rows, embedders[0], *_continuation_gaps(clips, groups, refused))
    if sets:  # the continuation verdict's real floor: held-out real clips, whole and cut where each prime ends
        add_floor_useful(rows[-1], clips, ref_path, config=config.verdict, detectors=config.detectors, cache_dir=cache_dir_of(config), progress=progress, weights=weights,
                         loaded=loaded)
    if "footstep/p" not in clips.columns:  # what was measured, not what was asked for
        warnings.append("footstep/p was not measured: useful/auto counts detector flags only")
    result = ScoreResult(out, _clip_columns(clips), _group_columns(pd.DataFrame(rows)), skipped, tuple(warnings))
    with staged_dir(out) as stage:  # scores/ is replaced whole, or (on any failure) left byte-identical
        _write(result, stage, root=root, reference=ref_path, embedders=embedders, bootstrap=bootstrap, seed=seed, config=config, weights=weights, source=source, bandwidths=bandwidths,
               notes=checks.record)
    return result


def _import(source: Path, out: Path, ref_path: Path | None, is_run: bool, name: str | None, overwrite: bool = False):
    """Import a plain folder into ``out`` in the reference's format; the new (root, table, notes, skipped)."""
    if is_run:
        raise DataError(f"{source} is a run: its scores live in {source / SCORES_DIR}", hint="drop --out for a run folder; --out is for a folder of clips from another generator")
    if ref_path is None:
        raise DataError(f"scoring {source} into {out} needs a reference dataset to convert the clips to", hint="pass --reference DATA_DIR (a benchbox dataset folder)")
    ds = load_dataset(ref_path)
    notes, skipped = import_clips(source, out, target_hz=ds.sample_rate_hz, target_samples=ds.clip_samples, name=name or source.resolve().name, skip=_is_output, overwrite=overwrite)
    root, table, _ = collect_clips(out)
    return root, table, notes, skipped


def _clip_columns(clips: pd.DataFrame) -> pd.DataFrame:
    """clips.csv order: path, sha256, group columns, rate, detector values/flags, useful/auto, extras."""
    first = ["path", "sha256", *GROUP_COLUMNS, "sample_rate_hz"]
    return clips[first + [c for c in clips.columns if c not in first and c not in ("abs_path", SAMPLES_COLUMN)]]


def _group_columns(groups: pd.DataFrame) -> pd.DataFrame:
    """groups.csv order: identity, n, distances (fad, kad, diversity), rates, extras."""
    first = ["group", "kind", "run", *GROUP_COLUMNS, "n"]
    distances = [c for prefix in ("fad/", "kad/", "diversity/") for c in groups.columns if c.startswith(prefix)]
    rates = [c for c in groups.columns if c.endswith("/flag_rate") or c.startswith("useful/")]
    rest = [c for c in groups.columns if c not in first + distances + rates]
    return groups[first + distances + rates + rest]


def _write(result: ScoreResult, folder: Path, *, root: Path, reference: Path | None, embedders, bootstrap: int, seed: int, config: ScoreConfig, weights: Path | None = None, source: Path | None = None, bandwidths: dict | None = None, notes: dict | None = None) -> None:
    """Every file of ``scores/`` into ``folder`` (the staging folder that then replaces it); ``notes``: records for scores.json (check_clips)."""
    atomic_write_csv(folder / "skipped.csv", result.skipped)
    atomic_write_csv(folder / "clips.csv", result.clips)
    atomic_write_csv(folder / "groups.csv", result.groups)
    inputs = {"path": str(root), "reference": str(reference) if reference else "", "embedders": list(embedders), "bootstrap": bootstrap, "seed": seed}
    if weights is not None:
        inputs["weights"] = str(weights)
    if source is not None:
        inputs["source"] = str(source.resolve())  # the folder the clips were imported from
    if reference is not None and (Path(reference) / "manifest.csv").is_file():
        inputs["reference_manifest_sha256"] = sha256_file(Path(reference) / "manifest.csv")
    inputs.update(reference_record(reference, root / SCORES_DIR))  # found again from any folder (benchbox.scores_record)
    inputs["settings"] = score_settings(config)
    inputs["category_model_sha256"] = sha256_file(category.model_file(config.verdict.category_model))  # freshness: a changed model makes these scores stale
    inputs["settings_sha256"] = hashlib.sha256(json.dumps(inputs["settings"], sort_keys=True, default=str).encode()).hexdigest()
    atomic_write_json(
        folder / "scores.json",
        {
            "format": SCORES_FORMAT,
            "scorer_version": SCORER_VERSION,
            **inputs,
            "clips": len(result.clips),
            "skipped": len(result.skipped),
            "warnings": list(result.warnings),
            "kad_bandwidth": bandwidths or {},
            **(notes or {}),
            "groups": json_records(result.groups),
        },
    )
    write_run_info(folder, {"score": inputs, **cfg.to_dict(config)}, name="score_config.toml")


def json_records(frame: pd.DataFrame) -> list[dict]:
    """DataFrame rows as JSON-safe dicts: NaN -> None, numpy scalars -> Python."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()} for r in records]
