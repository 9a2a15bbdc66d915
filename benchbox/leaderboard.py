"""Collect every scored run into ``leaderboard.md``, ``leaderboard.csv`` and ``leaderboard.html``.

Legend: T samples per clip, G leaderboard rows.

Every ``scores/groups.csv`` under the RESULTS_DIRs (symlinks followed, see
:mod:`benchbox.scored_runs`) contributes its groups, unless its scores are stale
(:mod:`benchbox.freshness`: the clips changed since scoring); a stale run is left out with a
note that says why and how to re-score. Scores whose audio is absent (a fresh clone) stand as
scores of record, marked so. A row whose clips are not the reference's length, or whose group
lost files to decoding, carries a ``note`` (:func:`benchbox.score_notes.row_notes`, from its
scores.json), marked after its group and said under the table. Reference rows put
the numbers in context, each scored against the same reference test split:

* ``floor``   - real vs real (the reference val split), taken from the runs' scores (the first run's
  of each reference, with the continuation-span floors ``floor@<ms>ms/...`` of every run scored
  against it; a reference is told by its manifest's content, not its folder: a reference
  imported again elsewhere gives one set of reference rows);
* ``synth``   - the procedural corpus (a ``kind = "synth"`` dataset), when one is found;
* ``noise``   - 16 clips of white noise; ``silence`` - 16 all-zero clips.

The noise, silence and synth clips and their scores are cached under
``OUT/references/<name>-<digest>/`` (the digest of the reference's manifest, not its path); they are rescored only when the reference's content, embedders, bootstrap,
seed or scorer version change, or their clips no longer hash as scored (a clip missing or
overwritten is first written again from its source). Human usefulness rates join in from ``RUN_DIR/tags.sqlite`` through
``benchbox.review.stats.group_rates`` when that module and the tags exist. The HTML is
self-contained: inline CSS/JS, audio and images as base64 data URIs (:mod:`benchbox.leaderboard_render`).
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.audio import as_written, write_wav
from benchbox.data.dataset import clip_sha256, load_dataset
from benchbox.errors import BenchboxError, DataError
from benchbox.external import refuse_out_inside
from benchbox.progress import Progress, no_progress
from benchbox.freshness import clips_reason
from benchbox.runs import atomic_write_bytes, publish_files, sha256_audio, sha256_file
from benchbox.stats import two_sample_of, vs_floor
from benchbox.score import FLOOR_GROUP, FLOOR_SPLIT, GROUP_COLUMNS, REFERENCE_SPLIT, SCORER_VERSION, SCORES_DIR, ScoreConfig, group_key, score_run, with_group_columns
from benchbox.score_notes import row_notes
from benchbox.score_verdict import floor_span_of
from benchbox.scored_runs import REFERENCES_DIR, Scored, category_model_of, find_scored, import_source, load_scored, with_human
from benchbox.scores_record import read_scores_info, recorded_reference_path
from benchbox.leaderboard_render import NOTE, NOTE_MARK, VS_FLOOR, fmt_ci, render_html, render_markdown, span_label, span_ms  # noqa: F401 - fmt_ci is part of this module's API

REFERENCE_CLIPS = 16
NOISE_RMS_DBFS = -20.0
PLAYERS_PER_ROW = 2
SEED = 0


# -------------------------------------------------------------- reference rows


def _reference_dir(out: Path, reference: Path, *content: object) -> Path:
    """The cache folder of one reference's rows, keyed by the reference's content (its
    manifest's SHA-256, which holds every clip's hash and split) and ``content`` (what the
    cached clips depend on: rate, clip length, the synth manifest's hash), never by its path:
    the same corpus imported at another path (a fresh clone, another machine) finds the rows
    a committed study ships. The clips' audio is trusted to match the manifest's hashes, as
    everywhere the freshness checks read a dataset (``benchbox.freshness``)."""
    key = "|".join([sha256_file(reference / "manifest.csv"), *map(str, content)])
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return out / REFERENCES_DIR / f"{reference.resolve().name}-{digest}"


def _keep_only(folder: Path, names: set[str]) -> None:
    """Remove what a reference row's folder holds beyond its clip files ``names``, its scores/
    and hidden (staging) entries: the folder is benchbox's own cache, and the scorer would take
    any other audio in it for more clips of the row."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name in names or entry.name == SCORES_DIR or entry.name.startswith("."):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _write_clips(folder: Path, waves: list[np.ndarray], rate_hz: int) -> None:
    """Write each wave as ``clip_<i>.wav`` unless the file already holds it (by content hash): a
    clip missing or overwritten since is written again, and anything else in the folder is
    removed (:func:`_keep_only`), so the row's clips are exactly what its kind says."""
    _keep_only(folder, {f"clip_{i:04d}.wav" for i in range(len(waves))})
    for i, wave in enumerate(waves):
        path = folder / f"clip_{i:04d}.wav"
        if clip_sha256(path) != sha256_audio(as_written(wave), rate_hz):
            write_wav(path, wave, rate_hz)


def _synthetic_waves(kind: str, n_samples: int) -> list[np.ndarray]:
    if kind == "silence":
        return [np.zeros(n_samples, dtype=np.float32) for _ in range(REFERENCE_CLIPS)]
    rng = np.random.default_rng(SEED)
    sigma = 10.0 ** (NOISE_RMS_DBFS / 20.0)
    return [rng.normal(0.0, sigma, n_samples).astype(np.float32) for _ in range(REFERENCE_CLIPS)]


def _score_cached(folder: Path, reference: Path, embedders: list[str], bootstrap: int, seed: int, progress: Progress, weights: str | None = None,
                  category_model: str = "") -> pd.DataFrame:
    """Score a reference-row folder once, with the runs' category model (``""``: the shipped one);
    reuse its scores while the inputs are unchanged: the settings below, and its clips, which must
    be the ones scored, by content hash (:func:`benchbox.freshness.clips_reason`, as a run's are checked)."""
    from benchbox.metrics.category import model_file
    from benchbox.metrics.verdict import VerdictConfig

    info_path = folder / SCORES_DIR / "scores.json"
    wanted = {"embedders": list(embedders), "bootstrap": bootstrap, "seed": seed, "weights": weights,  # not the reference's path: its content
              "reference_manifest_sha256": sha256_file(reference / "manifest.csv"),  # a re-imported reference rescores
              "category_model_sha256": sha256_file(model_file(category_model)),  # so does another category model
              "scorer_version": SCORER_VERSION}  # and a change of the detectors or the verdict
    if info_path.is_file():
        try:
            info = read_scores_info(info_path.parent)
        except DataError:  # a damaged cache entry: score it again
            info = {}
        if all(info.get(k) == v for k, v in wanted.items()) and clips_reason(folder) is None:
            return pd.read_csv(folder / SCORES_DIR / "groups.csv", keep_default_na=False, na_values=[""])
    config = ScoreConfig(verdict=VerdictConfig(category_model=category_model))
    return score_run(folder, reference=reference, embedders=embedders, bootstrap=bootstrap, seed=seed, progress=progress, weights=weights, config=config).groups


def find_synth(results_dir: Path, exclude: Path) -> Path | None:
    """The first dataset folder under ``results_dir`` whose dataset.json says ``kind = "synth"``."""
    exclude = exclude.resolve()
    for meta in sorted(results_dir.rglob("dataset.json")):
        if exclude in meta.resolve().parents:
            continue
        try:
            if json.loads(meta.read_text()).get("kind") == "synth":
                return meta.parent
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            continue
    return None


def reference_rows(reference: Path, *, out: Path, embedders: list[str], bootstrap: int, seed: int, synth: Path | None, progress: Progress, weights: str | None = None, warn=None,
                   category_model: str = "") -> tuple[list[dict], list[str]]:
    """Noise, silence and (when available) synth rows scored against ``reference``.

    ``weights`` are the VGGish weights and ``category_model`` the category model file ("" the
    shipped one) the runs were scored with (their scores.json), so the rows' footstep/p and
    useful rate come from the same model as the runs'.
    """
    ds = load_dataset(reference)
    synth_key = sha256_file(Path(synth) / "manifest.csv") if synth is not None and (Path(synth) / "manifest.csv").is_file() else ""
    base = _reference_dir(out, reference, ds.sample_rate_hz, ds.clip_samples, synth_key)
    rows, notes = [], []
    kinds = ["noise", "silence"]
    if synth is None:
        notes.append("procedural corpus row omitted: no synth dataset found (pass --synth DATA_DIR or `benchbox data synth`)")
    elif Path(synth).resolve() == reference.resolve():
        notes.append("procedural corpus row omitted: the reference is the synth dataset itself (see the floor row)")
    else:
        clips = load_dataset(synth).clip_paths(REFERENCE_SPLIT)
        absent = [p for p in clips if not p.is_file()]
        if absent:  # a dataset.json without its audio (a fresh clone): no synth row, never a traceback
            notes.append(f"procedural corpus row omitted: {len(absent)} of {len(clips)} test clips of {synth} are missing (regenerate it with `benchbox data synth`)")
            if warn is not None:
                warn(notes[-1])
        else:
            kinds.append("synth")
        _keep_only(base / "synth", {f"clip_{i:04d}{p.suffix}" for i, p in enumerate(clips)} if not absent else set())
        for i, path in enumerate(clips if not absent else []):
            target = base / "synth" / f"clip_{i:04d}{path.suffix}"
            source_sha256 = clip_sha256(path)
            if source_sha256 is None or clip_sha256(target) != source_sha256:  # missing, or overwritten since: copied again
                atomic_write_bytes(target, path.read_bytes())
    for kind in ("noise", "silence"):
        _write_clips(base / kind, _synthetic_waves(kind, ds.clip_samples), ds.sample_rate_hz)
    for kind in kinds:
        groups = _score_cached(base / kind, reference, embedders, bootstrap, seed, progress, weights, category_model)
        row = groups[groups["kind"] == "generated"].iloc[0].to_dict()
        row.update({"kind": kind, "run": f"reference: {reference.name}", "group": kind, "_media_root": str(base / kind)})
        row.update({c: "" for c in GROUP_COLUMNS})
        rows.append(row)
    return rows, notes


# ------------------------------------------------------------------------ build


def _clip_media(scored: Scored, group: str) -> list[str]:
    clips_csv = scored.root / SCORES_DIR / "clips.csv"
    if not clips_csv.is_file():
        return []
    clips = pd.read_csv(clips_csv, dtype={c: str for c in GROUP_COLUMNS}, keep_default_na=False, na_values=[""])
    keys = [group_key(r) for r in clips.reindex(columns=list(GROUP_COLUMNS)).to_dict("records")]
    return [str(scored.root / p) for p, k in zip(clips["path"], keys) if k == group and (scored.root / p).is_file()][:PLAYERS_PER_ROW]


def _folder_media(folder: Path) -> list[str]:
    return [str(p) for p in sorted(folder.glob("clip_*.*"))[:PLAYERS_PER_ROW]]


def _some(runs: list[str], shown: int = 3) -> str:
    """``a, b, c and 2 more``: the first ``shown`` names of a list."""
    return ", ".join(runs[:shown]) + (f" and {len(runs) - shown} more" if len(runs) > shown else "")


def comparable(scored: list[Scored], warn=None) -> list[str]:
    """Refuse runs scored against different reference datasets (their distances, floors and
    verdicts are measured against different real clips: one ranking of them means nothing);
    return a note (and ``warn`` it) when runs were scored with different detector or verdict
    settings (``settings_sha256`` in scores.json; older scores do not record it)."""
    refs: dict[str, tuple[str, list[str]]] = {}  # reference identity -> (its folder's name, runs)
    settings: dict[str, list[str]] = {}
    for s in scored:
        key = s.info.get("reference_manifest_sha256") or s.info.get("reference") or ""
        if key:
            refs.setdefault(key, (Path(str(s.info.get("reference", ""))).name or "?", []))[1].append(s.name)
        if s.info.get("settings_sha256"):
            settings.setdefault(s.info["settings_sha256"], []).append(s.name)
    if len(refs) > 1:
        named = "; ".join(f"{ref}: {_some(runs)}" for ref, runs in refs.values())
        raise DataError(f"the runs were scored against {len(refs)} different reference datasets ({named}); one ranking of them would compare distances to different real clips",
                        hint="rank the runs of one reference at a time, or re-score them all with the same --reference")  # fmt: skip
    if len(settings) < 2:
        return []
    note = (f"the runs were scored with {len(settings)} different detector/verdict settings ({'; '.join(_some(r) for r in settings.values())}): "
            "their flags, useful rates and the floor row are not comparable across those groups (scores.json `settings` gives each)")
    if warn is not None:
        warn(note)
    return [note]


def _dirs(results_dirs: Path | list[Path]) -> list[Path]:
    return [Path(results_dirs)] if isinstance(results_dirs, (str, Path)) else [Path(d) for d in results_dirs]


def collect_rows(results_dir: Path | list[Path], *, out: Path, synth: Path | None, progress: Progress, warn=None,
                 loaded: tuple[list[Scored], list[str]] | None = None) -> tuple[pd.DataFrame, list[Scored], list[str]]:
    """All leaderboard rows (generated + reference rows), the scored runs and notes."""
    scored, notes = loaded if loaded is not None else load_scored(results_dir, out, warn)
    notes = list(notes)
    rows: list[dict] = []
    floors: dict[str, dict] = {}
    for i, s in enumerate(scored):
        per_row, loose = row_notes(s.info, s.root / SCORES_DIR / "skipped.csv")  # clips off the reference's length, files that did not decode
        for row in with_human(s).to_dict("records"):
            said = per_row.get(str(row["group"]), [])
            rows.append({**row, "_media": _clip_media(s, group_key(row)), **({NOTE: "; ".join(said)} if said else {})})  # keyed as its clips are, whatever key the run's scores wrote
            notes += [f"{NOTE_MARK} {s.name}, group {row['group']}: {n}" for n in said]
        notes += [f"{s.name}: {n}" for n in loose]
        floor = s.groups[s.groups["kind"] == FLOOR_GROUP]
        ref = s.info.get("reference", "")
        key = s.info.get("reference_manifest_sha256") or ref  # one reference by content, whatever folder it was imported to
        if ref and not floor.empty:
            if key not in floors:
                floors[key] = {**floor.iloc[0].to_dict(), "_scored": s, "_paths": [], "_models": {}}
            else:  # span floors (floor@<ms>ms/...) a later run measured on spans the first did not have
                for col, value in floor.iloc[0].items():
                    if str(col).startswith("floor@") and pd.isna(floors[key].get(col, np.nan)) and pd.notna(value):
                        floors[key][col] = value
            floors[key]["_paths"].append(str(recorded_reference_path(s.info, s.root / SCORES_DIR) or ref))  # found from any folder
            floors[key]["_models"].setdefault(category_model_of(s), []).append(s.name)
        progress("collect", i + 1, len(scored))
    synth = synth if synth is not None else next((f for d in _dirs(results_dir) if (f := find_synth(d, out)) is not None), None)
    for floor in floors.values():
        s, paths, models = floor.pop("_scored"), floor.pop("_paths"), floor.pop("_models")
        if len(models) > 1:  # one set of reference rows per reference: scored with the first run's model
            named = "; ".join(f"{m or 'the shipped model'}: {_some(runs)}" for m, runs in models.items())
            note = (f"the runs scored against {Path(paths[0]).name} used {len(models)} category models ({named}); its noise/silence/synth rows "
                    f"are scored with {category_model_of(s) or 'the shipped model'} only, so their footstep/p and useful rates compare with those runs alone")
            notes += [note] if note not in notes else []
            if warn is not None:
                warn(note)
        ref_path = Path(next((p for p in paths if Path(p).is_dir()), paths[0]))  # a copy still on disk gives the reference rows
        try:
            val = [p for p in load_dataset(ref_path).clip_paths(FLOOR_SPLIT) if p.is_file()][:PLAYERS_PER_ROW]
            extra, ref_notes = reference_rows(
                ref_path, out=out, embedders=list(s.info.get("embedders", [])), bootstrap=int(s.info.get("bootstrap", 0)),
                seed=int(s.info.get("seed", 0)), synth=synth, progress=progress, weights=s.info.get("weights"), warn=warn,
                category_model=category_model_of(s),
            )  # fmt: skip
        except (BenchboxError, OSError) as e:  # the reference moved, broke or lost its audio: keep the floor, note the rest
            reason = e.message if isinstance(e, BenchboxError) else f"{e.strerror or type(e).__name__}: {e.filename}"
            val, extra, ref_notes = [], [], [f"noise/silence/synth rows for {ref_path} omitted: {reason}"]
            if warn is not None:
                warn(ref_notes[0])
        rows.append({**floor, "run": f"reference: {ref_path.name}", "_media": [str(p) for p in val]})
        rows += [{**r, "_media": _folder_media(Path(r.pop("_media_root")))} for r in extra]
        notes += [n for n in ref_notes if n not in notes]
    if not floors:
        notes.append("no reference rows: the scored runs carry no reference dataset")
    return pd.DataFrame(rows), scored, notes


RANK_METRICS = ("kad", "fad")


def rank_columns(table: pd.DataFrame, metric: str, embedder: str) -> tuple[str, str, str]:
    """(value, lo, hi) columns a row is ranked by: ``rank/<metric>/<embedder>``.

    The continuation's value (``cont/<metric>/<embedder>``: the generated part of a primed
    clip against the reference clips' same span; the whole clip when unprimed) where a
    row has it, else the whole clip's for an unprimed row (reference rows). A primed clip's
    whole-clip score includes the real prime, which flatters it, so a primed row without a
    continuation score (one too short to embed) is ranked last rather than by it, as
    :func:`benchbox.stats.two_sample_of` does for the 1-NN test.
    """
    key = f"rank/{metric}/{embedder}"
    prime = pd.to_numeric(table.get("prime_ms", pd.Series(np.nan, index=table.index)), errors="coerce")
    unprimed = prime.isna() | (prime == 0)  # only these may stand in with the whole clip (it is their continuation)
    for suffix in ("", "/lo", "/hi"):
        whole = pd.to_numeric(table.get(f"{metric}/{embedder}{suffix}", pd.Series(np.nan, index=table.index)), errors="coerce")
        cont = pd.to_numeric(table.get(f"cont/{metric}/{embedder}{suffix}", pd.Series(np.nan, index=table.index)), errors="coerce")
        table[key + suffix] = cont.fillna(whole.where(unprimed))
    return key, key + "/lo", key + "/hi"


def floor_intervals(table: pd.DataFrame, metric: str, embedder: str, lo: str, hi: str) -> list[tuple[float, float]]:
    """Per row, the floor interval its *vs floor* mark compares with: for a primed row the floor on
    its own continuation span and kernel (real val vs real test from the same sample,
    :func:`benchbox.score_verdict.floor_span_key`) where the scores have it, else the whole-clip
    floor (scores of version 8 before the span floors, and unprimed rows)."""
    floor = table[table["kind"] == FLOOR_GROUP]
    if floor.empty:
        return [(math.nan, math.nan)] * len(table)
    first = floor.iloc[0].to_dict()
    whole = (float(first[lo]), float(first[hi]))
    prime = pd.to_numeric(table.get("prime_ms", pd.Series(np.nan, index=table.index)), errors="coerce")
    keys = [floor_span_of(first, ms, metric, embedder) for ms in prime]
    return [(float(first[k + "/lo"]), float(first[k + "/hi"])) if k else whole for k in keys]


def nn1_p(table: pd.DataFrame, embedder: str) -> list[float]:
    """Each row's 1-NN two-sample p-value in ``embedder`` (:func:`benchbox.stats.two_sample_of`)."""
    return [two_sample_of(row, embedder)[1] for row in table.to_dict("records")]


def rank_within_spans(table: pd.DataFrame, ranked: bool = True) -> pd.DataFrame:
    """``table`` (in ranking order) grouped by the span its rows are scored on, whole clips first
    (unprimed and reference rows), then each prime's continuation by length, each keeping its order;
    ``rank`` numbers the rows 1.. again within each span (empty when not ``ranked``) and ``span``
    names it. FAD/KAD on two spans are measured against different cuts of the real clips, each with
    its own kernel, so one rank order across them would compare numbers on different scales."""
    spans = table.get("prime_ms", pd.Series(np.nan, index=table.index)).map(span_ms)
    table = table.assign(_span=spans.to_numpy()).sort_values("_span", kind="stable").reset_index(drop=True)
    rank = table.groupby("_span").cumcount() + 1 if ranked else pd.Series(np.nan, index=table.index)
    labels = table["_span"].map(span_label)
    table = table.drop(columns=["_span", "rank", "span"], errors="ignore")
    table.insert(0, "rank", rank.astype("Int64") if ranked else rank)
    table.insert(1, "span", labels)
    return table


def _order(table: pd.DataFrame, embedder: str, metric: str = "kad") -> pd.DataFrame:
    """Rank by ``rank/<metric>/<embedder>`` (missing last) within each span
    (:func:`rank_within_spans`), mark rows whose CI overlaps the floor's, tidy the columns.

    KAD is the default: its estimator is unbiased, so with tens of clips per group its
    value and CI mean the same at any n, while FAD's bias grows as n shrinks (Kilgour et
    al. 2019; Bińkowski et al. 2018 for the KID/KAD estimator).
    """
    if table.empty:
        return table
    spaces = sorted({c.split("/")[1] for c in table.columns if c.startswith(("fad/", "kad/"))})
    if not embedder and not spaces:
        return _unranked(table)
    for m in RANK_METRICS:
        for e in spaces or [embedder]:  # every space is displayed from its rank/ columns
            rank_columns(table, m, e)
    key, lo, hi = (f"rank/{metric}/{embedder}{suffix}" for suffix in ("", "/lo", "/hi"))
    table = rank_within_spans(table.sort_values(key, na_position="last", kind="stable"))
    floors = floor_intervals(table, metric, embedder, lo, hi)
    p = nn1_p(table, embedder)
    table[VS_FLOOR] = [vs_floor(float(a), float(b), *f, float(q)) if kind != FLOOR_GROUP else ""
                       for kind, a, b, f, q in zip(table["kind"], table[lo], table[hi], floors, p)]
    table = with_group_columns(table)  # rows scored before the sampling columns existed
    first = ["rank", "span", "kind", "run", "group", *GROUP_COLUMNS, "n"]
    ranks = [c for c in table.columns if c.startswith("rank/")]
    metrics = [c for prefix in ("fad/", "kad/", "diversity/") for c in table.columns if c.startswith(prefix)]
    useful = [c for c in table.columns if c.startswith("useful/") or c == "n_human"]
    rest = [c for c in table.columns if c not in first + ranks + [VS_FLOOR] + metrics + useful]
    return table[first + ranks + [VS_FLOOR] + metrics + useful + rest]


def _unranked(table: pd.DataFrame) -> pd.DataFrame:
    """A board of runs scored without an embedder (detectors only): no distance to rank by, so
    no rank (the ``rank`` column is empty) and no ``rank/`` or *vs floor* columns; a stable
    order instead, span by span: the floor, then every run's groups as collected, then the other reference rows."""
    order = table["kind"].map(lambda kind: 0 if kind == FLOOR_GROUP else 1 if kind == "generated" else 2)
    table = rank_within_spans(table.assign(_order=order).sort_values("_order", kind="stable").drop(columns="_order"), ranked=False)
    table[VS_FLOOR] = ""
    table = with_group_columns(table)
    first = ["rank", "span", "kind", "run", "group", *GROUP_COLUMNS, "n", VS_FLOOR]
    return table[first + [c for c in table.columns if c not in first]]


def build_leaderboard(results_dir: str | Path | list[Path], *, out: str | Path, synth: str | Path | None = None, embedder: str | None = None, metric: str = "kad", progress: Progress | None = None, warn=None) -> Path:
    """Write ``leaderboard.{md,csv,html}`` into ``out``; return ``out``.

    Rows are ranked by ``metric`` (``kad``, the default, or ``fad``) in the ``embedder``
    space (default: the first embedder the first scored run used), on the continuation
    (see :func:`rank_columns`), and only among rows of the same span (:func:`rank_within_spans`:
    one table of whole clips, then one per prime length, the ``span`` column naming it); a row
    whose CI overlaps the real floor's is marked "indistinguishable from real at this n". Raises
    DataError for an unknown metric or an embedder no run was scored with. ``synth`` names the
    procedural corpus dataset (default:
    the first ``kind = "synth"`` dataset found under ``results_dir``). ``warn(line)``
    hears of every run left out because its scores are stale and of every reference row
    skipped. ``results_dir`` may be several folders (``results/quickstart MYRUNS``); their run
    names are then prefixed with each folder's name. Runs whose audio is absent stand as scores
    of record (:mod:`benchbox.freshness`), marked in the run column. DataError for an ``out``
    that is, or lies inside, a scored folder it ranks or the clip folder a scored import was
    made from (:func:`benchbox.external.refuse_out_inside`: scoring that folder again would take
    the cached reference clips for its own).
    """
    results_dir, out, progress = _dirs(results_dir), Path(out), progress or no_progress
    if metric not in RANK_METRICS:
        raise DataError(f"unknown ranking metric {metric!r}", hint=f"use one of: {', '.join(RANK_METRICS)}")
    for folder in results_dir:
        if not folder.is_dir():
            raise DataError(f"results folder not found: {folder}", hint="pass the folders that hold your scored runs")
    for _, groups_csv in find_scored(results_dir, out / REFERENCES_DIR):  # before anything is written or embedded
        refuse_out_inside(groups_csv.parent.parent, out, role="the scored folder ", example="results/board",
                          why=f"the board's reference clips ({REFERENCES_DIR}/) would lie among its clips, and scoring it again would take them for its own")  # fmt: skip
        source = import_source(groups_csv.parent.parent)
        if source is not None:  # an import's clip folder: `benchbox score SOURCE` walks it again
            refuse_out_inside(source, out, role=f"the clip folder that {groups_csv.parent.parent} was imported from, ", example="results/board",
                              why=f"the board's reference clips ({REFERENCES_DIR}/) would lie among its clips, and scoring it again would take them for its own")  # fmt: skip
    scored, stale_notes = load_scored(results_dir, out, warn)
    stale_notes = [*stale_notes, *comparable(scored, warn)]
    embedders = [e for s in scored for e in s.info.get("embedders", [])]
    embedder = embedder or (embedders[0] if embedders else "")
    if embedder and not any(f"fad/{embedder}" in s.groups.columns for s in scored):  # checked before any reference is embedded
        raise DataError(f"no scored run has scores in the '{embedder}' embedding space", hint=f"rank in one of: {', '.join(sorted(set(embedders))) or 'none'}, or score the runs with that embedder")
    rows, scored, notes = collect_rows(results_dir, out=out, synth=Path(synth) if synth else None, progress=progress, warn=warn, loaded=(scored, stale_notes))
    table = _order(rows, embedder, metric)
    public = table[[c for c in table.columns if not c.startswith("_")]]
    markdown = render_markdown(public, embedder, notes, metric)
    curves = {s.name: s.root / "curves.png" for s in scored if (s.root / "curves.png").is_file()}
    page = render_html(table, embedder, notes, curves, progress, metric)
    # the three files are one output: rendered first, then published together
    publish_files({out / "leaderboard.csv": public.to_csv(index=False), out / "leaderboard.md": markdown, out / "leaderboard.html": page})
    return out
