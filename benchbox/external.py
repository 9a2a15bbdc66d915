"""Folders of clips from any generator, as runs: groups, an optional manifest, and the
conversion to the reference's format.

Legend: T samples per clip, C channels.

**Groups.** A folder without ``samples/manifest.csv`` is an external run. Its clips are every
audio file below it (symbolic links to folders followed; what is left out is listed, see
:func:`walk_clips`); the generator is the run's name (the folder's name unless given) and a
clip in a subfolder joins the group ``<generator>/<subfolder>`` (``mymodel/temp0.8``), one
group per subfolder; clips directly in the folder form the group ``<generator>``.

**Manifest.** An optional ``benchbox-clips.csv`` in the folder lists the clips instead, with
the columns (only ``path`` is required; no others are allowed):

* ``path``      - the clip, relative to the folder (an absolute path or a ``..`` part is an error:
  the converted clip is written under ``OUT/clips/`` at the same relative path);
* ``generator`` - the generator's name (default: the run's name);
* ``group``     - a label within the generator (``temp0.8``); the group is ``generator/group``;
* ``prime_ms``  - the length of a real prime at the start of the clip, in ms (default, or 0: none; primed clips
  form a group of their own, ``generator/group/prime_ms=20``: :func:`benchbox.group_keys.group_key`); a
  finite number >= 0 and shorter than the clip (after conversion: the reference's clip length),
  else an error: a prime that fills the clip leaves no continuation to judge;
* ``source``    - where an imported clip came from (benchbox writes it; informational).

An import (``OUT``) also holds ``benchbox-import.json``, the marker that tells it from a user's
folder (:func:`imported`): an import is re-scored in place, a user's folder is always converted.

**Conversion** (:func:`import_clips`, what ``benchbox score DIR --out OUT`` does). Every clip is
brought to the reference dataset's format and written to ``OUT/clips/`` as a 16-bit wav at its
own path with the suffix ``.wav`` (``a.flac.wav`` where ``a.wav`` and ``a.flac`` would
collide; :func:`output_names`), with a manifest; each rule that changed a clip adds one warning naming what was done and to how
many clips:

1. channels: more than one is downmixed to mono (:func:`benchbox.audio.downmix`: the mean, or
   the loudest channel when the channels cancel);
2. sample rate: resampled (soxr, high quality) to the reference's rate;
3. length: longer clips are cropped to the reference's clip length, keeping the start (the
   onset); shorter ones are padded with silence at the end;
4. level: samples beyond full scale after resampling are clipped to +-1.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections import Counter
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import pandas as pd

from benchbox.audio import AUDIO_SUFFIXES, FULL_SCALE, downmix, header_length, read_audio, resample, write_wav
from benchbox.errors import AudioError, DataError
from benchbox.runs import atomic_write_csv, atomic_write_json, signals_deferred

MANIFEST_NAME = "benchbox-clips.csv"
MANIFEST_COLUMNS = ("path", "generator", "group", "prime_ms", "source")
CLIPS_DIR = "clips"
IMPORT_MARKER = "benchbox-import.json"  # written by import_clips only: what tells an import from a user's folder
IMPORT_FORMAT = 1
MS_PER_SECOND = 1000.0
LEGACY_IMPORT_COLUMNS = ("path", "generator", "prime_ms", "source")  # an import's manifest before the marker existed
BOARD_CSV = "leaderboard.csv"  # a leaderboard's output; beside it, its cached reference clips
BOARD_REFERENCES_DIR = "references"


def folder_table(root: str | Path, name: str | None = None, *, skip=lambda rel: False, clip_length: tuple[int, int] | None = None) -> pd.DataFrame:
    """``path`` (relative, posix), ``generator`` and ``prime_ms`` of every clip of an external folder.

    ``skip(rel_path)`` leaves files out (the scorer's own outputs). Raises DataError for a
    malformed manifest, one that names a missing clip, or a ``prime_ms`` that leaves no
    continuation (the prime, rounded to samples as the scorer cuts it, covers the clip):
    against ``clip_length`` (samples, Hz: what every clip is converted to), or, without it,
    the clip's own length (its header).
    """
    root = Path(root)
    name = name or root.resolve().name
    manifest = root / MANIFEST_NAME
    if manifest.is_file():
        return _from_manifest(root, manifest, name, clip_length)
    files, _ = walk_clips(root, skip)
    rows = []
    for p in files:
        rel = p.relative_to(root)
        label = rel.parent.as_posix()
        rows.append({"path": rel.as_posix(), "generator": name if label == "." else f"{name}/{label}", "prime_ms": ""})
    return pd.DataFrame(rows, columns=["path", "generator", "prime_ms"])


def walk_clips(root: Path, skip=lambda rel: False) -> tuple[list[Path], list[tuple[str, str]]]:
    """Every audio file under ``root`` (sorted; symbolic links to folders followed, each real
    folder listed once), and the ``(path, reason)`` of every audio-named entry left out: a broken
    link, a FIFO or other non-regular file, a link back into a folder already listed, a file
    that ``skip(rel_path)`` leaves out (the scorer's own output folders), or a leaderboard's
    ``references/`` folder beside its ``leaderboard.csv`` (one entry for the whole folder)."""
    files, ignored, seen = [], [], set()
    for folder, subfolders, names in os.walk(root, followlinks=True):
        here = Path(folder)
        real = os.path.realpath(folder)
        if real in seen:
            ignored.append((here.relative_to(root).as_posix(), f"a symbolic link to {real}, which is already listed: not followed again"))
            subfolders[:] = []
            continue
        seen.add(real)
        subfolders.sort()
        if BOARD_REFERENCES_DIR in subfolders and BOARD_CSV in names:  # a leaderboard's own cached reference rows, not clips of this folder
            subfolders.remove(BOARD_REFERENCES_DIR)
            ignored.append(((here / BOARD_REFERENCES_DIR).relative_to(root).as_posix() + "/",
                            f"a leaderboard's cached reference clips, beside its {BOARD_CSV}: not scored (write boards outside clip folders)"))  # fmt: skip
        for name in sorted(names):
            path = here / name
            if path.suffix.lower() not in AUDIO_SUFFIXES:
                continue
            rel = path.relative_to(root)
            if skip(rel):
                folder = next((part for part in rel.parts[:-1] if part == "scores" or part.startswith(".")), rel.parts[0])
                ignored.append((rel.as_posix(), f"inside {folder}/, a scores/ or hidden folder (where benchbox writes scores and staging folders): not scored"))
            elif path.is_symlink() and not path.exists():
                ignored.append((rel.as_posix(), "a broken symbolic link"))
            elif not path.is_file():
                ignored.append((rel.as_posix(), "not a regular file (a FIFO, socket or device)"))
            else:
                files.append(path)
    return sorted(files), ignored


def imported(folder: str | Path) -> bool:
    """Whether ``folder`` is the output of :func:`import_clips` (re-scored in place, never re-imported).

    Told by the marker only an import writes (``benchbox-import.json``), or, for imports written
    before the marker, by their exact shape: the manifest columns ``path,generator,prime_ms,source``,
    every path under ``clips/`` (which exists) and every source absolute. A user's own manifest
    with a ``source`` column is not an import."""
    folder = Path(folder)
    manifest = folder / MANIFEST_NAME
    if not manifest.is_file():
        return False
    if (folder / IMPORT_MARKER).is_file():
        return True
    try:
        table = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError):
        return False
    return (list(table.columns) == list(LEGACY_IMPORT_COLUMNS) and (folder / CLIPS_DIR).is_dir() and len(table) > 0
            and all(p.startswith(f"{CLIPS_DIR}/") for p in table["path"]) and all(Path(p).is_absolute() for p in table["source"]))  # fmt: skip


def import_record(folder: str | Path) -> dict | None:
    """An import's marker (``format``, ``source``, ``skipped``: the ``{path, reason}`` of the
    source's clips it could not decode), or None without one (not an import, or one written
    before the marker). DataError for a marker of an unknown format."""
    path = Path(folder) / IMPORT_MARKER
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: unreadable ({str(e).splitlines()[0][:80]})", hint=f"score the original folder again with --out {folder}") from None
    if not isinstance(record, dict) or record.get("format") != IMPORT_FORMAT:
        raise DataError(f"{path}: unknown format {record.get('format') if isinstance(record, dict) else record!r}", hint="upgrade benchbox, or score the original folder again")
    return record


def recorded_reference(folder: str | Path) -> Path | None:
    """The reference an import (:func:`imported`) was last scored against (:func:`scored_reference`);
    None for a folder that is not an import, so ``benchbox score OUT`` re-scores an import without
    ``--reference``."""
    folder = Path(folder)
    return scored_reference(folder) if imported(folder) else None


def scored_reference(folder: str | Path) -> Path | None:
    """The reference ``folder/scores/scores.json`` records, found as
    :func:`benchbox.scores_record.recorded_reference_path` finds it (from the scores folder, absolute,
    then as typed from the current folder), when it is still a dataset whose ``manifest.csv`` hashes
    as recorded; None when unscored or the reference is gone; DataError when the path now holds
    another dataset. :func:`recorded_reference` for any scored folder (a run's, an import's, a folder
    scored in place): ``benchbox tag --include-real`` takes its real clips there."""
    from benchbox.scores_record import recorded_reference_path

    folder = Path(folder)
    try:
        info = json.loads((folder / "scores" / "scores.json").read_text(encoding="utf-8"))
        ref, sha = recorded_reference_path(info, folder / "scores"), info.get("reference_manifest_sha256")
    except (OSError, ValueError, AttributeError):
        return None
    if ref is None or not (ref / "dataset.json").is_file():
        return None
    from benchbox.runs import sha256_file

    if not sha or sha256_file(ref / "manifest.csv") != sha:  # a dataset replaced under the recorded path
        raise DataError(f"{folder}: the reference its scores record ({ref}) holds another dataset now",
                        hint=f"pass --reference DATA_DIR to re-score {folder}")
    return ref


def _from_manifest(root: Path, manifest: Path, name: str, clip_length: tuple[int, int] | None = None) -> pd.DataFrame:
    try:
        table = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"{manifest}: unreadable ({str(e).splitlines()[0]})", hint=f"a CSV with the columns {', '.join(MANIFEST_COLUMNS)}") from None
    unknown = [c for c in table.columns if c not in MANIFEST_COLUMNS]
    if unknown or "path" not in table.columns:
        what = f"unknown column '{unknown[0]}'" if unknown else "no 'path' column"
        raise DataError(f"{manifest}: {what}", hint=f"the columns are {', '.join(MANIFEST_COLUMNS)} (only path is required); see docs/external.md")
    for i, p in enumerate(table["path"]):
        problem = _path_problem(p)
        if problem:
            raise DataError(f"{manifest}, line {i + 2}: path '{p}' {problem}", hint="give each clip's path relative to the folder holding the manifest, without '..'")
    missing = [p for p in table["path"] if not (root / p).is_file()]
    if missing:
        raise DataError(f"{manifest}: clip '{missing[0]}' not found ({len(missing)} missing)", hint="paths are relative to the folder holding the manifest")
    gen = table["generator"].where(table["generator"] != "", name) if "generator" in table.columns else pd.Series([name] * len(table))
    if "group" in table.columns:
        gen = [g if not label else f"{g}/{label}" for g, label in zip(gen, table["group"])]
    prime = table["prime_ms"] if "prime_ms" in table.columns else [""] * len(table)
    bad = next((v for v in prime if v != "" and not _is_number(v)), None)
    if bad is not None:
        raise DataError(f"{manifest}, line {list(prime).index(bad) + 2}: prime_ms '{bad}' is not a finite number >= 0", hint="give the prime length in ms, or leave the cell empty")
    _check_primes(root, manifest, list(table["path"]), list(prime), clip_length)
    prime = ["" if v != "" and float(v) == 0 else v for v in prime]  # a 0 ms prime is no prime: one unprimed group, as an empty cell
    return pd.DataFrame({"path": list(table["path"]), "generator": list(gen), "prime_ms": list(prime)})


def _path_problem(text: str) -> str | None:
    """Why a manifest ``path`` cannot name a clip inside the folder (absolute, or with a ``..``
    part: its converted copy would be written outside OUT/clips), or None."""
    if not text.strip():
        return "is empty"
    if PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute() or PureWindowsPath(text).drive:
        return "is absolute"
    if ".." in PurePosixPath(text.replace("\\", "/")).parts:
        return "leaves the folder ('..')"
    return None


def _check_primes(root: Path, manifest: Path, paths: list[str], primes: list[str], clip_length: tuple[int, int] | None) -> None:
    """DataError naming the line of the first prime that leaves no continuation to score (see
    :func:`folder_table`): its clip would be judged on nothing but the real prime. Compared in
    samples, as the scorer cuts it (the prime rounded to the nearest sample), against
    ``clip_length`` (samples, Hz: the length every clip is converted to) or the clip's own header."""
    first_at: dict[tuple[int, int], tuple[float, int]] = {}  # (prime samples, Hz) -> (prime ms, its line)
    for i, (path, prime) in enumerate(zip(paths, primes)):
        if prime == "" or float(prime) == 0:
            continue
        length = clip_length if clip_length is not None else header_length(root / path)
        if length is None:
            continue
        samples, rate_hz = length
        cut = int(round(float(prime) * rate_hz / MS_PER_SECOND))
        if cut == 0:  # scored as unprimed, yet a group of its own: say which it is
            raise DataError(f"{manifest}, line {i + 2}: prime_ms {prime} is under half a sample at {rate_hz} Hz: no prime is cut",
                            hint="write 0 or leave the cell empty for a clip without a prime")
        ms, line = first_at.setdefault((cut, rate_hz), (float(prime), i + 2))
        if ms != float(prime):  # one continuation span under two names: its span@ scores would carry only one
            raise DataError(f"{manifest}, lines {line} and {i + 2}: prime_ms {ms:g} and {prime} both cut the clip at sample {cut} ({rate_hz} Hz)",
                            hint="write one prime length for primes that end at the same sample")
        if cut >= samples:
            length_ms = samples * MS_PER_SECOND / rate_hz
            whose = "the reference's clip length, which every clip is cropped or padded to," if clip_length is not None else f"the clip '{path}'"
            raise DataError(f"{manifest}, line {i + 2}: prime_ms {prime} leaves no sample of {whose} ({samples} samples, {length_ms:g} ms): "
                            "no continuation is left to score",
                            hint="prime_ms is the length of the real prime at the clip's start; give a shorter one, or leave the cell empty")  # fmt: skip


def _is_number(text: str) -> bool:
    """A finite length >= 0 (``inf``, ``1e400`` and ``nan`` are not)."""
    try:
        return math.isfinite(float(text)) and float(text) >= 0
    except ValueError:
        return False


def conform(data: np.ndarray, rate_hz: int, *, target_hz: int, target_samples: int) -> tuple[np.ndarray, list[str]]:
    """(T, C) decoded audio -> ((target_samples,) float32 mono at target_hz, the rules applied)."""
    done = []
    if data.shape[1] > 1:
        done.append(f"downmixed from {data.shape[1]} channels to mono")
    wave = downmix(data)  # (T,)
    if int(rate_hz) != int(target_hz):
        done.append(f"resampled from {int(rate_hz)} Hz to {int(target_hz)} Hz")
        wave = resample(wave, rate_hz, target_hz)
    if wave.shape[0] > target_samples:
        done.append(f"cropped to their first {target_samples} samples (the reference's clip length)")
        wave = wave[:target_samples]
    elif wave.shape[0] < target_samples:
        done.append(f"padded with silence at the end to {target_samples} samples (the reference's clip length)")
        wave = np.concatenate([wave, np.zeros(target_samples - wave.shape[0], dtype=np.float32)])
    if np.isfinite(wave).all() and float(np.abs(wave).max(initial=0.0)) > FULL_SCALE:
        done.append("clipped to +-1 (beyond full scale" + (" after resampling)" if int(rate_hz) != int(target_hz) else ")"))
        wave = np.clip(wave, -FULL_SCALE, FULL_SCALE)
    return wave.astype(np.float32), done


def refuse_out_inside(folder: Path, out: Path, *, why: str, example: str, role: str = "") -> None:
    """Refuse an ``out`` that is ``folder`` or lies inside it, a folder of clips that is scored
    (again) by walking it: what ``out`` receives would be taken for its clips. DataError naming
    both (``role`` says what ``folder`` is, e.g. ``"the scored folder "``), ``why`` saying what
    would go wrong, the hint an ``example`` folder outside it."""
    if out.resolve().is_relative_to(Path(folder).resolve()):
        where = f"is {role}{folder} itself" if out.resolve() == Path(folder).resolve() else f"is inside {role}{folder}"
        raise DataError(f"the output folder {out} {where}: {why}", hint=f"pass --out a folder outside {folder}, e.g. {example}")


def check_target(source: Path, out: Path, *, overwrite: bool = False) -> None:
    """Refuse an ``out`` that :func:`import_clips` must not write into: a benchbox dataset or run
    (its own clips would be replaced), a non-empty folder that holds no earlier import, or an
    earlier import of clips from another folder (unless ``overwrite``), or one inside ``source``
    (a later score of ``source`` would take its converted clips for more clips) or holding it
    (the import would replace what it reads). Raises DataError naming ``out``."""
    here, there = source.resolve(), out.resolve()
    refuse_out_inside(source, out, why=f"scoring {source} again would take its converted clips for more clips", example=f"results/{here.name}")
    if here.is_relative_to(there):
        raise DataError(f"{source} is inside the output folder {out}: importing it would replace the clips it reads", hint="pass --out a new folder, e.g. results/<name>")
    if (out / "dataset.json").is_file() or (out / "manifest.csv").is_file():
        raise DataError(f"{out} is a benchbox dataset: scoring into it would replace its clips", hint="pass a new folder to --out, e.g. results/<name>")
    if (out / "samples" / "manifest.csv").is_file():
        raise DataError(f"{out} is a run folder: scoring into it would mix another generator's clips with its own", hint="pass a new folder to --out, e.g. results/<name>")
    leftovers = {f".{CLIPS_DIR}.staging", f".{CLIPS_DIR}.replaced"}  # an interrupted import's own folders
    if not out.is_dir() or not any(p.name not in leftovers for p in out.iterdir()):
        return
    if not imported(out):
        raise DataError(f"{out} is not empty and holds no earlier import of clips", hint="pass a new or empty folder to --out, e.g. results/<name>")
    try:
        earlier = pd.read_csv(out / MANIFEST_NAME, dtype=str, keep_default_na=False)["source"]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, KeyError):
        earlier = pd.Series([""])
    root = source.resolve()
    foreign = [p for p in earlier if not Path(p).is_relative_to(root)]
    if foreign and not overwrite:
        raise DataError(f"{out} holds clips imported from elsewhere ({foreign[0]}); scoring {source} there would replace them and their scores",
                        hint="pass another --out, or --overwrite to replace them")  # fmt: skip


def _write_clip(path: Path, wave: np.ndarray, rate_hz: int) -> None:
    """A conformed clip as a 16-bit wav, or as a 32-bit float wav when it holds NaN/inf, which
    16-bit PCM cannot store: the scorer's ``nan`` detector must see the generator's failure."""
    if np.isfinite(wave).all():
        write_wav(path, wave, rate_hz)
        return
    import io

    import soundfile as sf

    from benchbox.runs import atomic_write_bytes

    buf = io.BytesIO()
    sf.write(buf, wave, int(rate_hz), subtype="FLOAT", format="WAV")
    atomic_write_bytes(path, buf.getvalue())


def output_names(paths: list[str], where: Path) -> list[Path]:
    """Each clip's path under ``OUT/clips/``: its own path with the suffix ``.wav``, or, where
    that would collide with another clip's (``a.wav``, ``a.flac``, ``a.ogg``), its whole name
    plus ``.wav`` (``a.flac.wav``). Names are compared ignoring case (a case-insensitive disk
    would merge them); DataError naming both clips when two still collide (``a.wav`` and ``A.wav``)."""
    plain = [Path(p).with_suffix(".wav") for p in paths]
    counts = Counter(n.as_posix().casefold() for n in plain)
    names = [n if counts[n.as_posix().casefold()] == 1 or Path(p).suffix == ".wav" else Path(f"{Path(p).as_posix()}.wav") for p, n in zip(paths, plain)]
    seen: dict[str, str] = {}
    for p, n in zip(paths, names):
        key = n.as_posix().casefold()
        if key in seen:
            if Path(seen[key]) == Path(p):
                raise DataError(f"{where} lists '{p}' twice", hint="list each clip once")
            raise DataError(f"{where}: '{seen[key]}' and '{p}' would both become {CLIPS_DIR}/{n.as_posix()}",
                            hint="rename one of them (names that differ only in case are one file on some disks)")
        seen[key] = p
    return names


def _inside(folder: Path, rel: Path) -> Path:
    """``folder / rel``, which must stay inside ``folder`` (resolved): a clip is never written elsewhere."""
    dest = folder / rel
    if not dest.resolve().is_relative_to(folder.resolve()):
        raise DataError(f"clip '{rel.as_posix()}' would be written outside {folder}", hint="give each clip's path relative to its folder, without '..'")
    return dest


def import_clips(source: str | Path, out: str | Path, *, target_hz: int, target_samples: int, name: str | None = None, skip=lambda rel: False, overwrite: bool = False) -> tuple[list[str], list[dict]]:
    """Write every clip of ``source`` in the reference's format under ``out/clips/`` plus
    ``out/benchbox-clips.csv``; return (warnings, skipped ``{path, reason, generator, prime_ms}``:
    each file that could not be decoded and the group it would have joined; the marker keeps them).

    ``out`` is checked first (:func:`check_target`). The clips are converted into a staging
    folder and replace ``out/clips/`` only once at least one decoded, so a failed import leaves
    an earlier one untouched. A clip that cannot be decoded is skipped with its reason; one that
    holds NaN/inf is kept (as a float wav) for the ``nan`` detector to flag.
    """
    source, out = Path(source), Path(out)
    check_target(source, out, overwrite=overwrite)
    table = folder_table(source, name, skip=skip, clip_length=(target_samples, target_hz))
    if table.empty:
        raise DataError(f"no clips to score under {source}", hint="point at a folder of audio clips (wav, flac, ogg, ...)")
    staging, aside = out / f".{CLIPS_DIR}.staging", out / f".{CLIPS_DIR}.replaced"
    for leftover in (staging, aside):  # an interrupted earlier import
        shutil.rmtree(leftover, ignore_errors=True)
    names = output_names(list(table["path"]), source / MANIFEST_NAME if (source / MANIFEST_NAME).is_file() else source)
    counts: Counter[str] = Counter()
    rows, skipped = [], []
    try:
        for rec, rel in zip(table.to_dict("records"), names):
            try:
                data, rate = read_audio(source / rec["path"], finite=False)
                wave, done = conform(data, rate, target_hz=target_hz, target_samples=target_samples)
                _write_clip(_inside(staging, rel), wave, target_hz)
            except AudioError as e:
                skipped.append({"path": rec["path"], "reason": e.message, "generator": rec["generator"], "prime_ms": rec["prime_ms"]})  # its group
                continue
            counts.update(done)
            rows.append({**rec, "path": (Path(CLIPS_DIR) / rel).as_posix(), "source": str((source / rec["path"]).resolve())})
        if not rows:
            first = f" (first: {skipped[0]['path']}: {skipped[0]['reason']})" if skipped else ""
            raise DataError(f"none of the {len(table)} clips under {source} could be decoded{first}", hint=f"check the files; {out} was not changed")
        with signals_deferred():  # the clips and their manifest change together
            if (out / CLIPS_DIR).exists():
                (out / CLIPS_DIR).rename(aside)
            staging.rename(out / CLIPS_DIR)
            atomic_write_csv(out / MANIFEST_NAME, pd.DataFrame(rows))
            atomic_write_json(out / IMPORT_MARKER, {"format": IMPORT_FORMAT, "source": str(source.resolve()), "skipped": skipped})
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(aside, ignore_errors=True)
    warnings = [f"{n} of {len(rows)} clips {rule}" for rule, n in counts.items()]
    return warnings, skipped


def import_skips(root: Path, key=None) -> list[dict]:
    """The ``{path, reason}`` of the files an import (:func:`imported`) could not decode, paths
    relative to its source: from its marker, or, for an import written before the marker, the rows
    of its ``scores/skipped.csv`` that name no clip of the import. [] otherwise. With ``key`` (the
    scorer's ``group_key``) each also has its ``group``: from the marker's ``generator`` and
    ``prime_ms``, or a ``skipped.csv`` that has the column; ``""`` where it is not on record."""
    if not imported(root):
        return []
    record = import_record(root)
    if record is not None:
        found = [{k: str(r[k]) for k in ("path", "reason", "generator", "prime_ms") if k in r} for r in record.get("skipped", [])]
        return [{"path": r["path"], "reason": r["reason"], **({"group": key(r) if "generator" in r else ""} if key else {})} for r in found]
    try:
        earlier = pd.read_csv(Path(root) / "scores" / "skipped.csv", dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return []
    if not {"path", "reason"} <= set(earlier.columns):
        return []
    kept = [c for c in ("path", "reason", "group") if c in earlier.columns and (key or c != "group")]
    return [r for r in earlier[kept].to_dict("records") if not r["path"].startswith(f"{CLIPS_DIR}/")]


def rate_notes(paths, ref_hz: int) -> list[str]:
    """One warning when clips scored in place are not at the reference's rate (headers only)."""
    import soundfile as sf

    rates = []
    for path in paths:
        try:
            rates.append(int(sf.info(str(path)).samplerate))
        except (RuntimeError, OSError):
            continue  # undecodable: the scorer skips it with its reason
    off = sum(r != int(ref_hz) for r in rates)
    if not off:
        return []
    return [f"{off} of {len(rates)} clips are not at the reference's {int(ref_hz)} Hz and were scored as they are; "
            "pass --out DIR to convert them (resample, downmix, crop/pad; see docs/external.md)"]
