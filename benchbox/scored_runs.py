"""Find the scored runs under one or more results folders, for the leaderboard.

Every ``scores/groups.csv`` below each folder is a scored run, also through symlinked
folders (a run linked in from elsewhere counts; a link cycle is followed once). The cached
reference rows of any leaderboard (``references/`` beside a ``leaderboard.csv``) are not runs.
Each run's freshness (:mod:`benchbox.freshness`) decides whether it is shown, shown as
scores of record (its audio is absent, as in a fresh clone), or left out with a note. A run
with generated clips (``samples/manifest.csv``) but no scores is left out with a note too,
naming the ``benchbox score`` command that puts it on the board.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchbox.errors import BenchboxError, DataError
from benchbox.external import BOARD_CSV, BOARD_REFERENCES_DIR, import_record
from benchbox.freshness import RECORD, REGENERATE, RESCORE, RESTORE_REFERENCE, STALE, UPGRADE, Freshness, scores_freshness
from benchbox.provenance import regenerate_text
from benchbox.score import GROUP_COLUMNS, RUN_MANIFEST_COLUMNS, SAMPLES_MANIFEST, SCORES_DIR, group_key, with_group_columns
from benchbox.scores_record import read_scores_info, recorded_reference_path

HUMAN_COLUMNS = ("useful/human_rate", "useful/human_lo", "useful/human_hi", "n_human")
REFERENCES_DIR = BOARD_REFERENCES_DIR
LEADERBOARD_CSV = BOARD_CSV
RECORD_MARK = " (scores of record)"


@dataclass(frozen=True)
class Scored:
    """One scored folder: its groups, the scoring inputs from scores.json, and whether its
    scores stand as scores of record (audio absent)."""

    root: Path
    name: str
    groups: pd.DataFrame
    info: dict
    of_record: bool = False


def _walk_groups_csv(top: Path, folder_name: str = SCORES_DIR, file_name: str = "groups.csv"):
    """Every ``scores/groups.csv`` (or ``<folder_name>/<file_name>``) under ``top``, following
    symlinked folders (each real folder once)."""
    seen: set[str] = set()
    for folder, dirs, files in os.walk(top, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        if Path(folder).name == folder_name and file_name in files:
            yield Path(folder) / file_name


def _is_reference_cache(path: Path) -> bool:
    """A leaderboard's cached reference rows: ``.../references/<ref>/<kind>/scores/groups.csv`` beside a leaderboard.csv."""
    parts = path.parents  # [0] scores, [1] <kind>, [2] <reference>, [3] references, [4] the leaderboard's folder
    return len(parts) > 4 and parts[3].name == REFERENCES_DIR and (parts[4] / LEADERBOARD_CSV).is_file()


def find_scored(results_dirs: list[Path], exclude: Path) -> list[tuple[Path, Path]]:
    """``(results_dir, groups.csv)`` of every scored run, skipping ``exclude`` (the output's reference cache)."""
    exclude = exclude.resolve()
    found, seen = [], set()
    for top in results_dirs:
        for path in sorted(_walk_groups_csv(top)):
            real = path.resolve()
            if exclude in real.parents or _is_reference_cache(path) or real in seen:
                continue
            seen.add(real)
            found.append((top, path))
    return found


def import_source(root: Path) -> Path | None:
    """The clip folder a scored import was made from (``benchbox score SOURCE --out root``):
    its marker's ``source`` (:func:`benchbox.external.import_record`), else the ``source`` its
    scores.json records; None for a run, or a folder scored in place."""
    found = []
    for read in (lambda: import_record(root) or {}, lambda: read_scores_info(root / SCORES_DIR)):
        try:
            found.append(str(read().get("source") or ""))
        except DataError:  # unreadable: the other record may still say (the scores.json one is reported when the run is loaded)
            continue
    source = next((s for s in found if s), "")
    return Path(source) if source else None


def find_unscored(results_dirs: list[Path], exclude: Path) -> list[tuple[Path, Path]]:
    """``(results_dir, samples/manifest.csv)`` of every run with generated clips (a run's manifest:
    :func:`_is_run_manifest`) but no ``scores/groups.csv``: left off the board, with a note (:func:`load_scored`)."""
    exclude = exclude.resolve()
    found, seen = [], set()
    for top in results_dirs:
        for path in sorted(_walk_groups_csv(top, SAMPLES_MANIFEST.parent.name, SAMPLES_MANIFEST.name)):
            real = path.resolve()
            if exclude in real.parents or real in seen or (path.parent.parent / SCORES_DIR / "groups.csv").is_file() or not _is_run_manifest(path):
                continue
            seen.add(real)
            found.append((top, path))
    return found


def _is_run_manifest(path: Path) -> bool:
    """Whether ``samples/manifest.csv`` is a run's (``benchbox generate``'s): beside the run's
    config.toml, or with a run manifest's columns (RUN_MANIFEST_COLUMNS); a dataset's manifest
    copied into a ``samples/`` folder is not, and `benchbox score` would refuse that folder."""
    if (path.parent.parent / "config.toml").is_file():
        return True
    try:
        columns = pd.read_csv(path, nrows=0).columns
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return False
    return set(RUN_MANIFEST_COLUMNS) <= set(columns)


def _name(groups_csv: Path, results_dir: Path, prefix: bool) -> str:
    root = groups_csv.parent.parent
    name = root.relative_to(results_dir).as_posix() if root != results_dir else root.name
    return f"{results_dir.name}/{name}" if prefix and root != results_dir else name


def _load(groups_csv: Path, results_dir: Path, prefix: bool) -> Scored:
    """One scored run; DataError (naming the file and the fix) when its scores.json or groups.csv cannot be read."""
    info = read_scores_info(groups_csv.parent)
    try:
        groups = pd.read_csv(groups_csv, dtype={"group": str, **{c: str for c in GROUP_COLUMNS}}, keep_default_na=False, na_values=[""])
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(f"{groups_csv}: unreadable ({str(e).splitlines()[0][:80]})", hint=f"re-score the folder: `benchbox score {groups_csv.parent.parent}`") from None
    return Scored(groups_csv.parent.parent, _name(groups_csv, results_dir, prefix), with_group_columns(groups), info)


def category_model_of(s: Scored) -> str:
    """The category model file a run was scored with ("" the shipped one), from its scores.json."""
    return str(((s.info.get("settings") or {}).get("verdict") or {}).get("category_model") or "")


def rescore_command(s: Scored) -> str:
    """The command that re-scores ``s`` as it was scored: its folder, the reference and the (non-default) category model its scores.json records."""
    found = recorded_reference_path(s.info, s.root / SCORES_DIR)
    recorded = str(s.info.get("reference") or "")
    ref = str(found) if found is not None else ("DATA_DIR" if recorded else "")  # the recorded path is not found: name the slot, not a dead path
    model = category_model_of(s)
    model = model if not model or Path(model).expanduser().is_file() else "MODEL_FILE"  # a model that is gone: name the slot, not a dead path
    return (f"benchbox score {shlex.quote(str(s.root))}" + (f" --reference {shlex.quote(ref)}" if ref else "")
            + (f" --category-model {shlex.quote(model)}" if model else ""))


def fix_text(s: Scored, fresh: Freshness) -> str:
    """What mends ``s``'s stale scores, as the command(s) to run: each reason of
    :func:`benchbox.freshness.scores_freshness` carries its own fix; "" when re-scoring would not
    help (scores of a newer benchbox: the reason says to upgrade)."""
    score = f"`{rescore_command(s)}`"
    if fresh.fix == REGENERATE:
        if not (s.root / "config.toml").is_file():  # a folder of clips: nothing here can remake them
            return f"restore its clips, then re-run {score}"
        return (f"regenerate its clips from the checkpoints now in {s.root / 'ckpt'} with the options it was generated with "
                f"({regenerate_text(s.root)}), then re-run {score}")
    if fresh.fix == RESTORE_REFERENCE:  # `benchbox score` refuses a reference whose clips are not what its manifest records
        ref = recorded_reference_path(s.info, s.root / SCORES_DIR) or Path(str(s.info.get("reference") or "DATA_DIR"))
        return (f"restore the reference clips as {ref / 'manifest.csv'} records them, or re-import the dataset into a fresh folder "
                f"(`benchbox data import`; `benchbox data synth` for a procedural corpus), then re-run {score} (--reference naming the new folder after a re-import)")
    if fresh.fix != RESCORE:
        return ""
    if not clips_on_disk(s.root):
        if not (s.root / "config.toml").is_file():  # a folder of clips (an import): no run to regenerate them from
            return f"its clips are not on disk: restore its clips, then re-run {score}"
        return "its clips are not on disk (a committed study keeps scores, not audio): regenerate them (`benchbox run` for a study's run), then re-score"
    return f"re-run {score}"


ALL_STALE_HINTS = {
    REGENERATE: "regenerate the clips (`benchbox generate RUN_DIR --overwrite`), then re-score them (`benchbox score RUN_DIR`)",
    RESTORE_REFERENCE: "restore the reference dataset's clips (or re-import it), then re-score the runs with `benchbox score RUN_DIR`",
    RESCORE: "re-score the runs with `benchbox score RUN_DIR`",
    UPGRADE: "upgrade benchbox to the version that scored them (this one would score them by older rules)",
}
FIX_NAMES = {REGENERATE: "regenerate", RESTORE_REFERENCE: "restore the reference", RESCORE: "re-score", UPGRADE: "upgrade benchbox"}  # the all-stale hint's list


def clips_on_disk(root: Path) -> bool:
    """Whether every clip a run's ``scores/clips.csv`` lists is on disk (relative paths under
    ``root``, absolute ones as written); True when the table cannot be read, so the usual hint
    stands. Re-scoring a run with missing clips would silently score fewer, so any missing clip
    means: regenerate first."""
    try:
        paths = pd.read_csv(Path(root) / "scores" / "clips.csv", usecols=["path"])["path"].astype(str)
    except (OSError, ValueError, pd.errors.EmptyDataError):
        return True
    return all((Path(root) / p).exists() for p in paths)


def load_scored(results_dirs: Path | list[Path], out: Path, warn=None) -> tuple[list[Scored], list[str]]:
    """Every scored run under ``results_dirs`` whose scores are fresh or of record, and notes on the rest."""
    dirs = [Path(results_dirs)] if isinstance(results_dirs, (str, Path)) else [Path(d) for d in results_dirs]
    found = find_scored(dirs, Path(out) / REFERENCES_DIR)
    unscored = [(path.parent.parent, _name(path, top, len(dirs) > 1)) for top, path in find_unscored(dirs, Path(out) / REFERENCES_DIR)]
    where = ", ".join(map(str, dirs))
    if not found:
        named = f"`benchbox score {shlex.quote(str(unscored[0][0]))}`" if unscored else "`benchbox score RUN_DIR`"
        more = f" (and the {len(unscored) - 1} other unscored runs)" if len(unscored) > 1 else ""
        raise DataError(f"no scored runs under {where} (no scores/groups.csv)", hint=f"score runs first with {named}{more}")
    unscored_notes = [f"{name}: not on the board, it is not scored (clips in {SAMPLES_MANIFEST.parent}/, no {SCORES_DIR}/groups.csv); "
                      f"run `benchbox score {shlex.quote(str(root))}`" for root, name in unscored]  # generated, never scored: never left out in silence
    for note in unscored_notes if warn is not None else []:
        warn(note)
    scored, notes, records, fixes = [], [], [], []
    regenerate: list[tuple[str, str]] = []  # (run name, its fix) for each run whose clips must be regenerated
    for top, path in found:
        try:
            s = _load(path, top, prefix=len(dirs) > 1)
        except DataError as e:  # one damaged run is left out with a note, as a stale one is; the board still stands
            notes.append(f"{_name(path, top, len(dirs) > 1)}: scores left out, they cannot be read ({e.message}); {e.hint}")
            fixes.append(RESCORE)
            if warn is not None:
                warn(notes[-1])
            continue
        fresh = scores_freshness(s.root)
        if fresh.state == RECORD:
            scored.append(Scored(s.root, s.name + RECORD_MARK, s.groups, s.info, of_record=True))
            records.append(s.name)
        elif fresh.state == STALE:  # never shown beside clips it does not describe
            fix = fix_text(s, fresh)
            fixes.append(fresh.fix)
            regenerate += [(s.name, fix)] if fresh.fix == REGENERATE and fix else []
            notes.append(f"{s.name}: scores left out, they are stale ({fresh.reason})" + (f"; {fix}" if fix else ""))
            if warn is not None:
                warn(notes[-1])
        else:
            scored.append(s)
    if not scored:
        more = f" (and {len(notes) - 1} more)" if len(notes) > 1 else ""
        kinds = set(fixes)
        named = [name for fix, name in FIX_NAMES.items() if fix in kinds]  # the fixes these runs need, no other
        either = ", ".join(named[:-1]) + (", or " if len(named) > 2 else " or ") + named[-1] if len(named) > 1 else "".join(named)
        hint = ALL_STALE_HINTS.get(kinds.pop()) if len(kinds) == 1 else f"each run's note names its fix ({either})"
        if set(fixes) == {REGENERATE} and regenerate:  # each run's own generate options, not generate's defaults
            hint = "; ".join(fix if len(regenerate) == 1 else f"{name}: {fix}" for name, fix in regenerate)
        raise DataError(f"every scored run under {where} is stale or unreadable ({len(notes)}): {notes[0]}{more}", hint=hint)
    notes += unscored_notes
    if records:
        notes.append(f"scores of record (their audio is not on disk, so they were not re-checked; regenerate it to check them): {', '.join(records)}")
    return scored, notes


def with_human(scored: Scored) -> pd.DataFrame:
    """Generated rows of one run, joined with human usefulness rates when tags exist."""
    rows = scored.groups[scored.groups["kind"] == "generated"].copy()
    rows["run"] = scored.name
    if not (scored.root / "tags.sqlite").is_file():
        return rows
    try:
        from benchbox.review.stats import group_rates

        human = group_rates(scored.root)
    except (ImportError, BenchboxError):  # no review module, or tags it cannot read: skip cleanly
        return rows
    if human.empty:
        return rows
    human = human.assign(_key=[group_key(r) for r in human.reindex(columns=list(GROUP_COLUMNS)).to_dict("records")])
    rows["_key"] = [group_key(r) for r in rows.reindex(columns=list(GROUP_COLUMNS)).to_dict("records")]  # = its "group", unless an older scorer keyed it otherwise
    return rows.merge(human[["_key", *HUMAN_COLUMNS]], on="_key", how="left").drop(columns="_key")
