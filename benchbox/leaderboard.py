"""Collect every scored run into ``leaderboard.md``, ``leaderboard.csv`` and ``leaderboard.html``.

Legend: T samples per clip, G leaderboard rows.

Every ``scores/groups.csv`` under the RESULTS_DIRs (symlinks followed, see
:mod:`benchbox.scored_runs`) contributes its groups, unless its scores are stale
(:mod:`benchbox.freshness`: the clips changed since scoring); a stale run is left out with a
note that says why and how to re-score. Scores whose audio is absent (a fresh clone) stand as
scores of record, marked so. Reference rows put
the numbers in context, each scored against the same reference test split:

* ``floor``   - real vs real (the reference val split), taken from the runs' scores;
* ``synth``   - the procedural corpus (a ``kind = "synth"`` dataset), when one is found;
* ``noise``   - 16 clips of white noise; ``silence`` - 16 all-zero clips.

The noise, silence and synth clips and their scores are cached under
``OUT/references/``; they are rescored only when the reference, embedders, bootstrap
or seed change. Human usefulness rates join in from ``RUN_DIR/tags.sqlite`` through
``benchbox.review.stats.group_rates`` when that module and the tags exist. The HTML is
self-contained: inline CSS/JS, audio and images as base64 data URIs.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from benchbox.audio import write_wav
from benchbox.data.dataset import load_dataset
from benchbox.errors import AudioError, BenchboxError, DataError
from benchbox.progress import Progress, no_progress
from benchbox.runs import atomic_write_bytes, publish_files, sha256_file
from benchbox.stats import CI_ONLY, DIFFERS_CI, INDISTINGUISHABLE, SEPARATED, TWO_SAMPLE_ALPHA, nn1_text, two_sample_of, vs_floor
from benchbox.score import FLOOR_GROUP, FLOOR_SPLIT, GROUP_COLUMNS, REFERENCE_SPLIT, SCORER_VERSION, SCORES_DIR, decode, group_key, score_run
from benchbox.scored_runs import REFERENCES_DIR, Scored, load_scored, with_human

REFERENCE_CLIPS = 16
NOISE_RMS_DBFS = -20.0
PLAYERS_PER_ROW = 2
SEED = 0


# -------------------------------------------------------------- reference rows


def _reference_dir(out: Path, reference: Path, *content: object) -> Path:
    """The cache folder of one reference's rows, keyed by its path and ``content`` (what the
    cached clips depend on: rate, clip length, the synth manifest's hash), never by path alone."""
    key = "|".join([str(reference.resolve()), *map(str, content)])
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return out / REFERENCES_DIR / f"{reference.resolve().name}-{digest}"


def _write_clips(folder: Path, waves: list[np.ndarray], rate_hz: int) -> None:
    for i, wave in enumerate(waves):
        path = folder / f"clip_{i:04d}.wav"
        if not path.is_file():
            write_wav(path, wave, rate_hz)


def _synthetic_waves(kind: str, n_samples: int) -> list[np.ndarray]:
    if kind == "silence":
        return [np.zeros(n_samples, dtype=np.float32) for _ in range(REFERENCE_CLIPS)]
    rng = np.random.default_rng(SEED)
    sigma = 10.0 ** (NOISE_RMS_DBFS / 20.0)
    return [rng.normal(0.0, sigma, n_samples).astype(np.float32) for _ in range(REFERENCE_CLIPS)]


def _score_cached(folder: Path, reference: Path, embedders: list[str], bootstrap: int, seed: int, progress: Progress, weights: str | None = None) -> pd.DataFrame:
    """Score a reference-row folder once; reuse its scores while the inputs are unchanged."""
    info_path = folder / SCORES_DIR / "scores.json"
    wanted = {"reference": str(reference), "embedders": list(embedders), "bootstrap": bootstrap, "seed": seed, "weights": weights,
              "reference_manifest_sha256": sha256_file(reference / "manifest.csv"),  # a re-imported reference rescores
              "scorer_version": SCORER_VERSION}  # so does a change of the detectors or the verdict
    if info_path.is_file():
        info = json.loads(info_path.read_text())
        if all(info.get(k) == v for k, v in wanted.items()):
            return pd.read_csv(folder / SCORES_DIR / "groups.csv", keep_default_na=False, na_values=[""])
    return score_run(folder, reference=reference, embedders=embedders, bootstrap=bootstrap, seed=seed, progress=progress, weights=weights).groups


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


def reference_rows(reference: Path, *, out: Path, embedders: list[str], bootstrap: int, seed: int, synth: Path | None, progress: Progress, weights: str | None = None, warn=None) -> tuple[list[dict], list[str]]:
    """Noise, silence and (when available) synth rows scored against ``reference``.

    ``weights`` are the VGGish weights the runs were scored with (their scores.json).
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
        for i, path in enumerate(clips if not absent else []):
            target = base / "synth" / f"clip_{i:04d}{path.suffix}"
            if not target.is_file():
                atomic_write_bytes(target, path.read_bytes())
    for kind in ("noise", "silence"):
        _write_clips(base / kind, _synthetic_waves(kind, ds.clip_samples), ds.sample_rate_hz)
    for kind in kinds:
        groups = _score_cached(base / kind, reference, embedders, bootstrap, seed, progress, weights)
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
    keys = [group_key(r) for r in clips[list(GROUP_COLUMNS)].to_dict("records")]
    return [str(scored.root / p) for p, k in zip(clips["path"], keys) if k == group and (scored.root / p).is_file()][:PLAYERS_PER_ROW]


def _folder_media(folder: Path) -> list[str]:
    return [str(p) for p in sorted(folder.glob("clip_*.*"))[:PLAYERS_PER_ROW]]


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
        for row in with_human(s).to_dict("records"):
            rows.append({**row, "_media": _clip_media(s, str(row["group"]))})
        floor = s.groups[s.groups["kind"] == FLOOR_GROUP]
        ref = s.info.get("reference", "")
        if ref and not floor.empty and ref not in floors:
            floors[ref] = {**floor.iloc[0].to_dict(), "_scored": s}
        progress("collect", i + 1, len(scored))
    synth = synth if synth is not None else next((f for d in _dirs(results_dir) if (f := find_synth(d, out)) is not None), None)
    for ref, floor in floors.items():
        s, ref_path = floor.pop("_scored"), Path(ref)
        try:
            val = [p for p in load_dataset(ref_path).clip_paths(FLOOR_SPLIT) if p.is_file()][:PLAYERS_PER_ROW]
            extra, ref_notes = reference_rows(
                ref_path, out=out, embedders=list(s.info.get("embedders", [])), bootstrap=int(s.info.get("bootstrap", 0)),
                seed=int(s.info.get("seed", 0)), synth=synth, progress=progress, weights=s.info.get("weights"), warn=warn,
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
VS_FLOOR = "vs_floor"


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


def nn1_p(table: pd.DataFrame, embedder: str) -> list[float]:
    """Each row's 1-NN two-sample p-value in ``embedder`` (:func:`benchbox.stats.two_sample_of`)."""
    return [two_sample_of(row, embedder)[1] for row in table.to_dict("records")]


def _order(table: pd.DataFrame, embedder: str, metric: str = "kad") -> pd.DataFrame:
    """Rank by ``rank/<metric>/<embedder>`` (missing last), mark rows whose CI overlaps the
    floor's, number the rows, tidy the columns.

    KAD is the default: its estimator is unbiased, so with tens of clips per group its
    value and CI mean the same at any n, while FAD's bias grows as n shrinks (Kilgour et
    al. 2019; Bińkowski et al. 2018 for the KID/KAD estimator).
    """
    if table.empty:
        return table
    spaces = sorted({c.split("/")[1] for c in table.columns if c.startswith(("fad/", "kad/"))})
    for m in RANK_METRICS:
        for e in spaces or [embedder]:  # every space is displayed from its rank/ columns
            rank_columns(table, m, e)
    key, lo, hi = (f"rank/{metric}/{embedder}{suffix}" for suffix in ("", "/lo", "/hi"))
    table = table.sort_values(key, na_position="last", kind="stable").reset_index(drop=True)
    floor = table[table["kind"] == FLOOR_GROUP]
    f_lo, f_hi = (float(floor[lo].iloc[0]), float(floor[hi].iloc[0])) if not floor.empty else (math.nan, math.nan)
    p = nn1_p(table, embedder)
    table[VS_FLOOR] = [vs_floor(float(a), float(b), f_lo, f_hi, float(q)) if kind != FLOOR_GROUP else ""
                       for kind, a, b, q in zip(table["kind"], table[lo], table[hi], p)]
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    first = ["rank", "kind", "run", "group", *GROUP_COLUMNS, "n"]
    ranks = [c for c in table.columns if c.startswith("rank/")]
    metrics = [c for prefix in ("fad/", "kad/", "diversity/") for c in table.columns if c.startswith(prefix)]
    useful = [c for c in table.columns if c.startswith("useful/") or c == "n_human"]
    rest = [c for c in table.columns if c not in first + ranks + [VS_FLOOR] + metrics + useful]
    return table[first + ranks + [VS_FLOOR] + metrics + useful + rest]


def build_leaderboard(results_dir: str | Path | list[Path], *, out: str | Path, synth: str | Path | None = None, embedder: str | None = None, metric: str = "kad", progress: Progress | None = None, warn=None) -> Path:
    """Write ``leaderboard.{md,csv,html}`` into ``out``; return ``out``.

    Rows are ranked by ``metric`` (``kad``, the default, or ``fad``) in the ``embedder``
    space (default: the first embedder the first scored run used), on the continuation
    (see :func:`rank_columns`); a row whose CI overlaps the real floor's is marked
    "indistinguishable from real at this n". Raises DataError for an unknown metric or
    an embedder no run was scored with. ``synth`` names the procedural corpus dataset (default:
    the first ``kind = "synth"`` dataset found under ``results_dir``). ``warn(line)``
    hears of every run left out because its scores are stale and of every reference row
    skipped. ``results_dir`` may be several folders (``results/quickstart MYRUNS``); their run
    names are then prefixed with each folder's name. Runs whose audio is absent stand as scores
    of record (:mod:`benchbox.freshness`), marked in the run column.
    """
    results_dir, out, progress = _dirs(results_dir), Path(out), progress or no_progress
    if metric not in RANK_METRICS:
        raise DataError(f"unknown ranking metric {metric!r}", hint=f"use one of: {', '.join(RANK_METRICS)}")
    for folder in results_dir:
        if not folder.is_dir():
            raise DataError(f"results folder not found: {folder}", hint="pass the folders that hold your scored runs")
    scored, stale_notes = load_scored(results_dir, out, warn)
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


# ----------------------------------------------------------------------- render


def fmt_ci(value, lo=None, hi=None, digits: int = 3) -> str:
    """``12.3 [10.1, 14.8]``; ``-`` when the value is missing; no brackets without a CI."""
    if not _finite(value):
        return "-"
    if not (_finite(lo) and _finite(hi)):
        return f"{value:.{digits}g}"
    return f"{value:.{digits}g} [{lo:.{digits}g}, {hi:.{digits}g}]"


def _finite(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(float(value))


def _display_columns(table: pd.DataFrame, embedder: str, metric: str = "kad") -> list[tuple[str, str]]:
    """(header, base key) pairs: a base key with ``/lo`` ``/hi`` siblings renders with its CI."""
    cols = [("#", "rank"), ("kind", "kind"), ("run", "run"), ("group", "group"), ("n", "n")]
    ordered = sorted({c.split("/")[1] for c in table.columns if c.startswith(("fad/", "kad/"))}, key=lambda e: e != embedder)
    other = "fad" if metric == "kad" else "kad"
    for e in ordered:
        cols += [(f"{metric}/{e}", f"rank/{metric}/{e}"), (f"{other}/{e}", f"rank/{other}/{e}"), (f"diversity/{e}", f"diversity/{e}")]
        if e == embedder:
            cols += [("vs floor", VS_FLOOR), (f"1-NN acc (p), {e}", f"nn1/{e}")]
    if "cont/useful/auto_rate" in table.columns:  # the verdict on the generated part (continuation of primed clips)
        cols.append(("useful/auto (continuation)", "cont/useful/auto_rate"))
    else:
        cols.append(("useful/auto", "useful/auto_rate"))
    if "useful/human_rate" in table.columns:
        cols.append(("useful/human", "useful/human_rate"))
    return cols


def _heading(embedder: str, metric: str) -> str:
    what = "unbiased KAD (MMD^2, cubic kernel)" if metric == "kad" else "FAD"
    return (f"Ranked by `{metric}/{embedder}`, the {what} to the real test split (lower is closer), on the continuation: "
            "a primed clip is scored without its real prime, against the reference clips' same span (whole-clip values are "
            f"in leaderboard.csv). 95% CIs in brackets. *vs floor* compares the row's `{metric}` CI with the real floor's "
            f"(real val vs real test): \"{DIFFERS_CI}\" when they do not overlap; when they do, \"{INDISTINGUISHABLE}\" if the "
            f"1-NN two-sample test does not tell the row's clips from real ones (p >= {TWO_SAMPLE_ALPHA:g}), \"{SEPARATED}\" if "
            f"it does, and \"{CI_ONLY}\" where it was not run. *1-NN acc* is that test's balanced leave-one-out accuracy of "
            "telling the row's clips from the real test clips (about 0.5 when they cannot be told apart; with tens of clips, "
            "values down to about 0.3 are chance too) with its permutation p-value.")


def _markdown_inline(text: str) -> str:
    """One line of Markdown as HTML (code spans, emphasis; raw HTML escaped)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).renderInline(text)


def _cell(row: dict, key: str) -> tuple[str, str]:
    """(display text, sort value) of one cell."""
    value = row.get(key)
    if key.startswith(("useful/", "cont/useful/")):
        stem = key.rsplit("_", 1)[0]
        return fmt_ci(value, row.get(f"{stem}_lo"), row.get(f"{stem}_hi"), 2), (f"{value}" if _finite(value) else "")
    if key.startswith("nn1/"):  # the continuation's test; the whole clip's only for unprimed rows
        acc, p = two_sample_of(row, key.split("/", 1)[1])
        return (nn1_text(acc, p), f"{acc}") if _finite(acc) else ("", "")
    if key.startswith(("fad/", "kad/", "rank/")):
        return fmt_ci(value, row.get(f"{key}/lo"), row.get(f"{key}/hi")), (f"{value}" if _finite(value) else "")
    if _finite(value):
        return (fmt_ci(value) if isinstance(value, (float, np.floating)) else str(value)), f"{value}"
    return ("" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)), ""


def render_markdown(table: pd.DataFrame, embedder: str, notes: list[str], metric: str = "kad") -> str:
    cols = _display_columns(table, embedder, metric)
    lines = ["# benchbox leaderboard", "", _heading(embedder, metric), ""]
    lines.append("| " + " | ".join(h for h, _ in cols) + " | flags |")
    lines.append("|" + "---|" * (len(cols) + 1))
    for row in table.to_dict("records"):
        cells = [_cell(row, key)[0].replace("|", "\\|") for _, key in cols]
        lines.append("| " + " | ".join(cells) + f" | {_flags(row)} |")
    lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _flags(row: dict) -> str:
    rates = {k.split("/")[0]: row[k] for k in row if k.endswith("/flag_rate") and not k.startswith("cont/") and _finite(row[k]) and row[k] > 0}
    return " ".join(f"{k} {v:.0%}" for k, v in rates.items()) or "none"


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _wav_uri(path: str) -> str:
    wave, rate = decode(Path(path))  # (T,)
    buf = io.BytesIO()
    sf.write(buf, np.clip(np.nan_to_num(wave), -1.0, 1.0), rate, subtype="PCM_16", format="WAV")
    return _data_uri("audio/wav", buf.getvalue())


def spectrogram_png(path: str) -> bytes:
    """A thumbnail on the one fixed scale stated under the table (``plots.THUMB_SCALE_NOTE``)."""
    from benchbox.plots import spectrogram_thumb_png

    wave, rate = decode(Path(path))  # (T,)
    return spectrogram_thumb_png(wave, rate)


def _media_html(paths: list[str]) -> tuple[str, str]:
    """Audio players and a spectrogram for a row; nothing when a clip cannot be decoded."""
    try:
        return _players_and_thumb(paths)
    except AudioError:
        return "", ""


def _players_and_thumb(paths: list[str]) -> tuple[str, str]:
    players = "".join(f'<audio controls preload="none" src="{_wav_uri(p)}"></audio>' for p in paths)
    thumb = f'<img alt="spectrogram" src="{_data_uri("image/png", spectrogram_png(paths[0]))}">' if paths else ""
    return players, thumb


MEDIA_AFTER = "n"  # the audio and spectrogram columns follow this one, so they stay in view


def _html_cell(text: str, sort: str) -> str:
    """A table cell; a CI ``v [lo, hi]`` wraps onto a second line so wide tables fit the window."""
    value, sep, ci = text.partition(" [")
    shown = _breakable(value) + (f'<br><span class="ci">[{html.escape(ci)}</span>' if sep else "")
    return f'<td data-sort="{html.escape(sort)}">{shown}</td>'


def _breakable(text: str) -> str:
    """Escaped text that may wrap after each '/' and '_' (group keys, run names, metric headers)."""
    return html.escape(text).replace("/", "/<wbr>").replace("_", "_<wbr>")


def render_html(table: pd.DataFrame, embedder: str, notes: list[str], curves: dict[str, Path], progress: Progress, metric: str = "kad") -> str:
    """The self-contained page: sortable table, audio, spectrograms, loss curves."""
    from benchbox.plots import THUMB_SCALE_NOTE

    cols = _display_columns(table, embedder, metric)
    split = [h for h, k in cols].index(MEDIA_AFTER) + 1
    heads = [f"<th>{_breakable(h)}</th>" for h, _ in cols]
    head = "".join(heads[:split]) + "<th>audio</th><th>spectrogram</th>" + "".join(heads[split:]) + "<th>flags</th>"
    body = []
    records = table.to_dict("records")
    for i, row in enumerate(records):
        cells = [_html_cell(*_cell(row, key)) for _, key in cols]
        players, thumb = _media_html([p for p in row.get("_media", []) if Path(p).is_file()])
        cells = cells[:split] + [f'<td class="media">{players}</td>', f"<td>{thumb}</td>"] + cells[split:]
        cells.append(f"<td>{html.escape(_flags(row))}</td>")
        body.append(f'<tr class="{html.escape(str(row.get("kind", "")))}">' + "".join(cells) + "</tr>")
        progress("render", i + 1, len(records))
    figures = "".join(
        f"<figure><figcaption>Loss curves of {html.escape(name)}: NLL in bits / sample and accuracy against step</figcaption>"
        f'<img alt="loss curves of {html.escape(name)}" src="{_data_uri("image/png", path.read_bytes())}"></figure>'
        for name, path in curves.items()
    )
    notes_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return _PAGE.format(
        heading=_markdown_inline(_heading(embedder, metric)), head=head, body="\n".join(body), notes=notes_html, scale=html.escape(THUMB_SCALE_NOTE),
        curves=figures or "<p>no run has a curves.png</p>", script=_SCRIPT,
    )  # fmt: skip


_SCRIPT = """
function sortValue(row, col) {
  const cell = row.cells[col];
  const raw = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent;
  if (raw === "") return null;
  const num = Number(raw);
  return Number.isNaN(num) ? raw.toLowerCase() : num;
}
function sortTable(th) {
  const table = th.closest("table"), body = table.tBodies[0];
  const col = Array.from(th.parentNode.children).indexOf(th);
  const asc = th.dataset.dir !== "asc";
  table.querySelectorAll("th").forEach(h => delete h.dataset.dir);
  th.dataset.dir = asc ? "asc" : "desc";
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = sortValue(a, col), y = sortValue(b, col);
    if (x === null || y === null) return (x === null) - (y === null);
    const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return asc ? order : -order;
  });
  rows.forEach(r => body.appendChild(r));
}
document.querySelectorAll("th").forEach(th => th.addEventListener("click", () => sortTable(th)));
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>benchbox leaderboard</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
.board {{ overflow-x: auto; }}
table {{ border-collapse: collapse; font-size: 0.75em; }}
td .ci {{ color: #666; font-size: 0.9em; white-space: nowrap; }}
td.media {{ min-width: 9.5em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.5em; vertical-align: middle; }}
th {{ background: #f0f0f0; cursor: pointer; user-select: none; position: sticky; top: 0; }}
th[data-dir="asc"]::after {{ content: " \\25B2"; }}
th[data-dir="desc"]::after {{ content: " \\25BC"; }}
tr.floor, tr.synth, tr.noise, tr.silence {{ background: #fff8e0; }}
audio {{ width: 9.5em; height: 2em; display: block; }}
td img {{ width: 100px; height: auto; display: block; }}
figure {{ display: inline-block; margin: 0.5em; max-width: 100%; }}
figure img {{ max-width: 100%; }}
figcaption {{ font-size: 0.9em; margin-bottom: 0.3em; }}
</style></head><body>
<h1>benchbox leaderboard</h1>
<p>{heading}
Click a column header to sort. Shaded rows are references: real floor (val vs test), procedural corpus, white noise, silence.</p>
<p>{scale}</p>
<ul>{notes}</ul>
<div class="board"><table><thead><tr>{head}</tr></thead>
<tbody>
{body}
</tbody></table></div>
<h2>Loss curves</h2>
{curves}
<script>{script}</script>
</body></html>
"""
