"""What a score's numbers do not show by themselves, said in words: groups whose clips are not
the reference's length, and groups that lost files to decoding.

Legend: N clips of a group.

:func:`check_clips` turns both into warnings of the score (``ScoreResult.warnings``: the CLI
prints them, ``scores.json`` records them) and into a record in ``scores.json`` (the keys
``clip_length`` and ``undecoded``), from which the leaderboard writes a note for each row
concerned (:func:`row_notes`). Neither changes a score: scores written before these records
carry none, and only their ``skipped`` count speaks for them (one note per run).

**Clip length.** The category model's ``footstep/p`` (fitted on clips of the reference's length),
realism (the k-NN radii of the reference's clips) and the distances (FAD/KAD against the reference
test split, PRDC, the 1-NN test, memorisation) are calibrated at the reference's clip length only:
real footstep val clips cut to their first half score ``useful/auto`` 0.0 instead of 0.95 and read
as fake to KAD and the 1-NN test. A group is named when any of its **whole** clips (prime included:
a primed clip is also scored on its continuation after the prime, shorter on purpose, but the clip
a generator made is the whole one) is not the reference's length, to one sample at the reference's
rate (clips at another rate are compared by duration).

It is a warning, not a refusal, on every path: the detectors (the quality axis) judge a clip at
any length, so a run generated at another length still gets an honest quality score, where a
refusal would leave it none; a folder scored in place is scored unconverted on purpose (other
sample rates are a warning there too), and the leaderboard's procedural-corpus row scores another
dataset's clips in place, whose length may differ. The warning names the group, both lengths and
the fix (generate at the reference's length; ``--out DIR``, which crops or pads every clip to it).

**Undecodable files** are listed in ``scores/skipped.csv`` (with their group) and are not in any
count: ``n`` and every rate are over the clips that decoded. They are not counted as failures:
that would change ``n`` and the rates of scores of the same ``SCORER_VERSION`` (older scores would
read as fresh with the other meaning), and a file that does not decode is as often a broken copy
as the generator's output. So every group that lost files says how many, in the score's warnings
and on its leaderboard row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from benchbox.data.dataset import load_dataset

LENGTH_KEY = "clip_length"  # scores.json: {"reference_samples", "reference_rate_hz", "groups": {group: {...}}}
UNDECODED_KEY = "undecoded"  # scores.json: {group: {"files", "of"}}; "" = files whose group is not known
SKIPPED_COLUMNS = ["path", "reason", "group"]  # scores/skipped.csv; group: the one the file would have joined
SAMPLES_COLUMN = "_samples"  # the clips table's decoded length per clip (samples at its own rate); not written to clips.csv
CALIBRATED = "the category fit (footstep/p, useful/auto), realism and the distances (FAD/KAD, PRDC, 1-NN) are calibrated only at the reference's clip length"


@dataclass(frozen=True)
class ClipChecks:
    """The warnings of :func:`check_clips` and the ``scores.json`` keys that record them."""

    warnings: list[str] = field(default_factory=list)
    record: dict = field(default_factory=dict)


def check_clips(groups: list[tuple[str, pd.DataFrame]], skipped: pd.DataFrame, reference: Path | None, *, skipped_csv: Path, is_run: bool) -> ClipChecks:
    """Warnings and record for ``groups`` (``(group key, its decoded clips)``, each with the columns
    ``_samples`` and ``sample_rate_hz``), ``skipped`` (``path``, ``reason`` and ``group``: the files
    that did not decode) and ``reference`` (the reference dataset's folder: its ``dataset.json`` gives
    the clip length in samples and the rate; None: no length check). ``skipped_csv`` is named in the warnings; ``is_run`` picks the
    fix a length warning names (``generate --seconds`` for a run, ``--out`` for a folder)."""
    warnings: list[str] = []
    record: dict = {}
    if reference is not None:
        ds = load_dataset(reference)
        ref_samples, ref_hz = int(ds.clip_samples), int(ds.sample_rate_hz)
        off = {key: entry for key, rows in groups if (entry := _length_entry(rows, ref_samples, ref_hz)) is not None}
        record[LENGTH_KEY] = {"reference_samples": ref_samples, "reference_rate_hz": ref_hz, "groups": off}
        fix = (f"generate clips of {seconds_text(ref_samples, ref_hz)} (`benchbox generate RUN_DIR {seconds_option(ref_samples, ref_hz)}`)" if is_run
               else "convert the clips with `benchbox score FOLDER --reference REF --out DIR`, which crops or pads every clip to the reference's length")
        warnings += [f"{length_note(key, entry, ref_samples, ref_hz)}; {fix}" for key, entry in off.items()]
    lost = undecoded(groups, skipped)
    if lost:
        record[UNDECODED_KEY] = lost
        warnings += [f"{undecoded_note(key, entry)}: see {skipped_csv}" for key, entry in lost.items()]
    return ClipChecks(warnings, record)


def _length_entry(rows: pd.DataFrame, ref_samples: int, ref_hz: int) -> dict | None:
    """``{"clips", "off", "min_samples", "max_samples"}`` (lengths in samples at the reference's rate) of a group
    with a clip off the reference's length (:func:`off_length`); None when every clip is its length."""
    at_ref = [n * ref_hz / int(rate) for n, rate in zip(rows[SAMPLES_COLUMN], rows["sample_rate_hz"])]  # (N,)
    off = [n for n in at_ref if off_length(n, ref_samples)]
    if not off:
        return None
    return {"clips": len(at_ref), "off": len(off), "min_samples": int(round(min(off))), "max_samples": int(round(max(off)))}


def off_length(samples: float, ref_samples: int) -> bool:
    """Whether a clip of ``samples`` (at the reference's rate) is not the reference's length: more than
    one sample off (a resampled clip can round either way). The one test, for score's notes and
    generate's warning (:func:`benchbox.generate.length_warnings`), so the two never disagree."""
    return abs(samples - ref_samples) > 1


def seconds_text(samples: float, rate_hz: int) -> str:
    """``0.256 s``: a length for reading, in every length message (score's notes, generate's warning)."""
    return f"{samples / rate_hz:.4g} s"


def seconds_option(samples: int, rate_hz: int) -> str:
    """``--seconds 0.256``: the option that makes clips of ``samples`` at ``rate_hz``, exact (a rounded value can miss by a sample)."""
    return f"--seconds {samples / rate_hz:.10g}"


def length_note(group: str, entry: dict, ref_samples: int, ref_hz: int) -> str:
    """``group 'g': 4 of 4 clips are 2048 samples (0.128 s) long, not the reference's 4096 (0.256 s at 16000 Hz): ...``."""
    lo, hi = int(entry["min_samples"]), int(entry["max_samples"])
    size = f"{lo} samples ({seconds_text(lo, ref_hz)})" if lo == hi else f"{lo} to {hi} samples ({seconds_text(lo, ref_hz)} to {seconds_text(hi, ref_hz)})"
    return (f"group '{group}': {entry['off']} of {entry['clips']} clips are {size} long, not the reference's {ref_samples} "
            f"({seconds_text(ref_samples, ref_hz)} at {ref_hz} Hz): {CALIBRATED}, so its useful rate and distances are not comparable with rows at the reference's length")


def undecoded(groups: list[tuple[str, pd.DataFrame]], skipped: pd.DataFrame) -> dict[str, dict]:
    """``{group: {"files": k, "of": k + its decoded clips}}`` of every group that lost files to decoding
    (``skipped``'s ``group`` column; a missing or empty one: the group ``""``, not known)."""
    if skipped.empty:
        return {}
    keys = skipped["group"].fillna("").astype(str) if "group" in skipped.columns else pd.Series([""] * len(skipped))
    sizes = {key: len(rows) for key, rows in groups}
    return {key: {"files": int(k), "of": int(k) + sizes.get(key, 0)} for key, k in keys.value_counts(sort=False).sort_index().items()}


def undecoded_note(group: str, entry: dict) -> str:
    """``group 'g': 3 of 5 files could not be decoded and are left out (n = 2)`` (or that none could)."""
    files, of = int(entry["files"]), int(entry["of"])
    if not group:
        return f"{files} file(s) of no known group could not be decoded and are not in any n"
    if files == of:
        return f"group '{group}': none of its {of} files could be decoded, so it has no row"
    return f"group '{group}': {files} of {of} files could not be decoded and are left out (n = {of - files})"


def row_notes(info: dict, skipped_csv: Path) -> tuple[dict[str, list[str]], list[str]]:
    """The leaderboard's notes on one scored run, from its ``scores.json`` (``info``): ``{group: notes}``
    for its rows (clip length, undecodable files) and the notes that belong to no row (a group that
    lost every file; files of no known group; scores written before the records, whose ``skipped``
    count is all they say)."""
    per_row: dict[str, list[str]] = {}
    loose: list[str] = []
    length = info.get(LENGTH_KEY) or {}
    try:
        ref = int(length.get("reference_samples")), int(length.get("reference_rate_hz"))
    except (TypeError, ValueError):  # a hand-edited or truncated record: no length notes, not a traceback
        length, ref = {}, (0, 0)
    for group, entry in (length.get("groups") or {}).items():
        try:
            note = length_note(group, entry, *ref)
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            continue
        per_row.setdefault(group, []).append(note.removeprefix(f"group '{group}': "))
    lost = info.get(UNDECODED_KEY)
    if lost is None:  # scores written before the record
        count = info.get("skipped") or 0
        if isinstance(count, (int, float)) and not math.isnan(count) and count > 0:
            loose.append(f"{int(count)} file(s) could not be decoded and are not in n: see {skipped_csv}")
        return per_row, loose
    for group, entry in lost.items():
        note = f"{undecoded_note(group, entry)}: see {skipped_csv}"
        if group and int(entry["files"]) < int(entry["of"]):
            per_row.setdefault(group, []).append(note.removeprefix(f"group '{group}': "))
        else:
            loose.append(note)
    return per_row, loose


def missing_continuations(rows: list[dict], embedder: str, short: dict[str, int], refused_ms: set[float], span_short: dict[str, dict[float, int]]) -> list[str]:
    """Warnings on what continuation metrics leave out, per generated group:

    * a primed group whose prime the reference cannot be cut at (``refused_ms``: a reference train/test
      clip is shorter than the prime plus 64 ms): no ``cont/`` metrics at all;
    * else its ``short`` clips (too short to embed past the prime) left out, and, when ``cont/kad/<embedder>``
      is still empty, that fewer than two of its clips could be embedded there (NaN samples count too);
    * an unprimed group's clips too short for a primed span (``span_short``: group -> span ms -> count),
      left out of its ``span@`` metrics."""
    out = []
    for row in rows:
        if row.get("kind") != "generated" or not row.get("n"):
            continue
        ms, group, n = pd.to_numeric(pd.Series([row.get("prime_ms")]), errors="coerce").iloc[0], row["group"], row["n"]
        if not (ms > 0):
            out += [f"group {group!r}: {k} of {n} clip(s) too short for the {span:g} ms span (64 ms or more past it): left out of its "
                    f"span@{span:g}ms/ metrics" for span, k in sorted(span_short.get(group, {}).items()) if k]
            continue
        if float(ms) in refused_ms:
            out.append(f"group {group!r}: no continuation metrics after its {ms:g} ms prime: a reference train/test clip is too short to cut "
                       "there (64 ms or more past the prime); use a shorter prime or a reference of longer clips")
            continue
        k = short.get(group, 0)
        if k:
            out.append(f"group {group!r}: {k} of {n} clip(s) too short to embed past the {ms:g} ms prime (64 ms or more): "
                       "left out of its continuation metrics (cont/ FAD, KAD, PRDC, 1-NN, memorisation)")
        if pd.isna(pd.to_numeric(pd.Series([row.get(f"cont/kad/{embedder}")]), errors="coerce").iloc[0]):
            left = n - k - int(pd.to_numeric(pd.Series([row.get("embedding/left_out")]), errors="coerce").fillna(0).iloc[0])
            out.append(f"group {group!r}: no continuation FAD/KAD after its {ms:g} ms prime: {max(left, 0)} of its {n} clip(s) could be "
                       "embedded there (they need 2; clips too short or with NaN samples are left out)")
    return out
