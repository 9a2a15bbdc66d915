"""The listening-review store: one SQLite file (``tags.sqlite``) per review folder.

Tables:

* ``meta`` - ``format`` and the random ``salt`` that turns content hashes into opaque ids;
* ``clips`` - one row per clip content hash: opaque id, source path, whether it is a real
  recording, and the group columns (generator, quantisation, dropout, checkpoint, prime_ms,
  temperature, top_p, sampling_steps; the sampling settings were added later: a store written
  before them gains the columns when opened for tagging, its old rows read them as empty,
  the neutral setting, until the clips are added again);
* ``clip_copies`` - every file (source path and group columns) that holds a clip's audio,
  so a clip that repeats within a run or across groups counts for each of them;
* ``orders`` - each rater's shuffled order, so reopening shows the same sequence;
* ``tags`` - the current decision per (clip hash, rater): tag, reasons, note, position,
  version, time;
* ``tag_history`` - every decision ever made, so changing a tag loses nothing.

The database runs in WAL mode with a busy timeout, every operation opens its own short
connection, and every decision is committed before the call returns: several raters
can tag at once, and killing a server loses nothing already acknowledged.

A store opened without ``create`` (``tag stats``, ``tag export``) is opened read-only and
writes nothing, not even SQLite's ``-wal``/``-shm`` side files, so it works on a read-only
copy of a tagged run. No error message suggests moving an intact store aside.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.errors import ReviewError
from benchbox.review.clips import GROUP_COLUMNS, SAMPLING_GROUP_COLUMNS, TAGS_FILE, ReviewClip, check_folder, hashes_now
from benchbox.runs import atomic_write_csv, atomic_write_json

STORE_FORMAT = 1
TAGS = ("useful", "not_useful", "skip")
DECISIONS = ("useful", "not_useful")  # a skip is not a decision about usefulness
REASONS = {
    "silent": "silent",
    "noise": "noise",
    "tonal": "tonal / hum",
    "click": "click",
    "thump": "thump / DC",
    "not_footstep": "not a footstep",
}
MAX_NOTE_CHARS = 2000
MAX_RATER_CHARS = 64
BUSY_TIMEOUT_SECONDS = 30.0
OPAQUE_ID_CHARS = 16

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clips (
    sha256 TEXT PRIMARY KEY, clip_id TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
    is_real INTEGER NOT NULL, generator, quantisation, dropout, checkpoint, prime_ms,
    added_at TEXT NOT NULL, temperature, top_p, sampling_steps);
CREATE TABLE IF NOT EXISTS orders (
    rater TEXT NOT NULL, position INTEGER NOT NULL, sha256 TEXT NOT NULL,
    PRIMARY KEY (rater, position), UNIQUE (rater, sha256));
CREATE TABLE IF NOT EXISTS tags (
    sha256 TEXT NOT NULL, rater TEXT NOT NULL, tag TEXT NOT NULL, reasons TEXT NOT NULL,
    note TEXT NOT NULL, position INTEGER, version INTEGER NOT NULL, tagged_at TEXT NOT NULL,
    PRIMARY KEY (sha256, rater));
CREATE TABLE IF NOT EXISTS tag_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sha256 TEXT NOT NULL, rater TEXT NOT NULL,
    tag TEXT NOT NULL, reasons TEXT NOT NULL, note TEXT NOT NULL, position INTEGER,
    version INTEGER NOT NULL, tagged_at TEXT NOT NULL);
"""
_COPIES_SCHEMA = """
CREATE TABLE IF NOT EXISTS clip_copies (
    sha256 TEXT NOT NULL, source TEXT NOT NULL, generator, quantisation, dropout, checkpoint, prime_ms,
    temperature, top_p, sampling_steps, PRIMARY KEY (sha256, source))"""
_SCHEMA += _COPIES_SCHEMA
_TAG_COLUMNS = ("sha256", "rater", "tag", "reasons", "note", "position", "version", "tagged_at")


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def check_rater(rater: str) -> str:
    name = (rater or "").strip()
    if not name or len(name) > MAX_RATER_CHARS or not name.isprintable():
        raise ReviewError(f"bad rater name {rater!r}", hint=f"use 1-{MAX_RATER_CHARS} printable characters, e.g. --rater alice")
    return name


def check_decision(tag: str, reasons: Iterable[str] = (), note: str = "") -> tuple[str, list[str], str]:
    """Validate one decision; return it normalised (reasons de-duplicated, in menu order)."""
    if tag not in TAGS:
        raise ReviewError(f"unknown tag {tag!r}", hint=f"use one of: {', '.join(TAGS)}")
    if isinstance(reasons, str) or not all(isinstance(r, str) for r in reasons):
        raise ReviewError("reasons must be a list of strings", hint=f"choose from: {', '.join(REASONS)}")
    reasons = set(reasons)
    unknown = sorted(reasons - set(REASONS))
    if unknown:
        raise ReviewError(f"unknown reason {unknown[0]!r}", hint=f"choose from: {', '.join(REASONS)}")
    if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS:
        raise ReviewError(f"note must be text of at most {MAX_NOTE_CHARS} characters", hint="shorten the note")
    return tag, [r for r in REASONS if r in reasons], note.strip()


def resume_position(order: Sequence[str], current: dict) -> int:
    """The first position in ``order`` without a tag (``len(order)`` when all are tagged)."""
    for i, sha in enumerate(order):
        if sha not in current:
            return i
    return len(order)


class TagStore:
    """Open (and with ``create`` make) the store at ``path``."""

    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = Path(path)
        self.read_only = not create  # stats and export: open read-only, write nothing
        if not create and not self.path.is_file():
            raise ReviewError(f"no tags yet: {self.path} not found", hint="tag some clips first with `benchbox tag DIR --rater NAME`")
        meta = self._create() if create else self._read_meta()
        if meta.get("format") != str(STORE_FORMAT):
            raise ReviewError(f"{self.path}: unknown tag store format {meta.get('format')!r}", hint=f"this benchbox reads format {STORE_FORMAT}; upgrade benchbox")
        self._salt = meta["salt"].encode()

    def _create(self) -> dict:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
        with self._write() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            _add_sampling_columns(conn)
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (str(STORE_FORMAT),))
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('salt', ?)", (secrets.token_hex(16),))
            return dict(conn.execute("SELECT key, value FROM meta").fetchall())

    def _read_meta(self) -> dict:
        """Read-only open: no schema changes, so stats and export work on a read-only copy."""
        with self._connect() as conn:
            return dict(conn.execute("SELECT key, value FROM meta").fetchall())

    # ------------------------------------------------------------ connections

    def _open(self) -> sqlite3.Connection:
        """A connection; read-only stores are opened read-only (``immutable`` when no WAL is pending)."""
        if not self.read_only:
            return sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        wal = self.path.with_name(self.path.name + "-wal")
        pending = wal.is_file() and wal.stat().st_size > 0  # a tagger is writing now, or one was killed
        uri = f"{self.path.absolute().as_uri()}?mode=ro{'' if pending else '&immutable=1'}"
        return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = self._open()
        except sqlite3.Error as e:
            raise ReviewError(f"{self.path}: cannot open the tag store ({e})", hint=self._hint(e)) from None
        try:
            conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
            if not self.read_only:
                conn.execute("PRAGMA synchronous=FULL")
            yield conn
        except sqlite3.DatabaseError as e:
            raise ReviewError(f"{self.path}: tag store error ({e})", hint=self._hint(e)) from None
        finally:
            conn.close()

    def _hint(self, error: sqlite3.Error) -> str:
        """What to do about a store error; never "move it aside" for a store that is intact."""
        text = str(error).lower()
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            return (f"the folder is read-only: `tag stats` and `tag export` read it as it is; to tag, copy the folder "
                    f"(with any {self.path.name}-wal beside it) somewhere writable")
        if "locked" in text or "busy" in text:
            return "another benchbox process is writing the store: wait for it, then run again"
        if "full" in text:
            return "the disk is full: free space there and run again (every committed decision is kept)"
        return f"{self.path.name} may be damaged: keep a copy of it (and of any -wal file beside it) before anything else; `sqlite3 {self.path.name} .recover` can often rescue its tags"

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed on success and rolled back on any error."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # ------------------------------------------------------------------ clips

    def opaque_id(self, sha256: str) -> str:
        """A stable id for a clip that reveals nothing about its generator or file."""
        return hmac.new(self._salt, sha256.encode(), hashlib.sha256).hexdigest()[:OPAQUE_ID_CHARS]

    def add_clips(self, clips: Sequence[ReviewClip]) -> None:
        """Record the clips of a review set (a known hash gets its source and groups updated)."""
        rows = [
            (c.sha256, self.opaque_id(c.sha256), c.source, int(c.is_real), *(c.groups.get(g) for g in GROUP_COLUMNS), now_utc())
            for c in clips
        ]
        copies = [(c.sha256, source, *(groups.get(g) for g in GROUP_COLUMNS)) for c in clips for _, source, groups in c.all_copies]
        updates = ", ".join(f"{col} = excluded.{col}" for col in ("source", "is_real", *GROUP_COLUMNS))
        with self._write() as conn:
            conn.execute(_COPIES_SCHEMA)  # for a store made before the table existed
            _add_sampling_columns(conn)
            clip_cols = ", ".join(("sha256", "clip_id", "source", "is_real", *GROUP_COLUMNS, "added_at"))
            conn.executemany(
                f"INSERT INTO clips ({clip_cols}) VALUES ({', '.join('?' * (5 + len(GROUP_COLUMNS)))}) "
                f"ON CONFLICT(sha256) DO UPDATE SET {updates}", rows
            )
            copy_cols = ", ".join(("sha256", "source", *GROUP_COLUMNS))
            conn.executemany(f"INSERT OR REPLACE INTO clip_copies ({copy_cols}) VALUES ({', '.join('?' * (2 + len(GROUP_COLUMNS)))})", copies)

    def rater_order(self, rater: str, hashes: Sequence[str], seed: int) -> list[str]:
        """The rater's order over ``hashes``: the clips the rater has tagged first, in their stored
        order; then every clip not yet tagged, with clips new to this rater shuffled in among the
        untagged ones (appended as a block, a regenerated cell or the real clips added later would
        sit together at the end, and their position would tell the rater what they are)."""
        rater = check_rater(rater)
        wanted = set(hashes)
        with self._write() as conn:
            stored = [r[0] for r in conn.execute("SELECT sha256 FROM orders WHERE rater = ? ORDER BY position", (rater,))]
            new = sorted(wanted - set(stored))
            rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(hashlib.sha256(rater.encode()).hexdigest()[:8], 16), len(stored)])
            if not new:
                return [sha for sha in stored if sha in wanted]
            tagged = {r[0] for r in conn.execute("SELECT sha256 FROM tags WHERE rater = ?", (rater,))}
            done = [sha for sha in stored if sha in tagged]
            todo = [sha for sha in stored if sha not in tagged] + new
            order = done + [todo[i] for i in rng.permutation(len(todo))]
            conn.execute("DELETE FROM orders WHERE rater = ?", (rater,))
            conn.executemany("INSERT INTO orders VALUES (?, ?, ?)", [(rater, i, sha) for i, sha in enumerate(order)])
        return [sha for sha in order if sha in wanted]

    # ------------------------------------------------------------------- tags

    def record(self, rater: str, sha256: str, tag: str, reasons: Iterable[str] = (), note: str = "", position: int | None = None) -> dict:
        """Commit one decision; the previous one (if any) stays in ``tag_history``."""
        rater = check_rater(rater)
        tag, reasons, note = check_decision(tag, list(reasons), note)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM clips WHERE sha256 = ?", (sha256,)).fetchone() is None:
                raise ReviewError(f"unknown clip {sha256[:12]}", hint="tag only clips of the review set")
            old = conn.execute("SELECT version FROM tags WHERE sha256 = ? AND rater = ?", (sha256, rater)).fetchone()
            row = (sha256, rater, tag, json.dumps(reasons), note, position, (old[0] if old else 0) + 1, now_utc())
            conn.execute("INSERT OR REPLACE INTO tags VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
            conn.execute(f"INSERT INTO tag_history ({', '.join(_TAG_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
        return _tag_dict(row)

    def current(self, rater: str) -> dict[str, dict]:
        """Clip hash -> the rater's current decision."""
        with self._connect() as conn:
            rows = conn.execute(f"SELECT {', '.join(_TAG_COLUMNS)} FROM tags WHERE rater = ?", (check_rater(rater),)).fetchall()
        return {r[0]: _tag_dict(r) for r in rows}

    def tags_frame(self, *, history: bool = False) -> pd.DataFrame:
        """Every current tag (or every historic one) with its clip's id, path, realness and groups."""
        table = "tag_history" if history else "tags"
        cols = ", ".join(f"t.{c}" for c in _TAG_COLUMNS)
        order = "t.id" if history else "t.rater, t.position, t.tagged_at"
        with self._connect() as conn:
            groups = _group_select(conn, "clips", "c.")
            query = f"SELECT c.clip_id, {cols}, c.source, c.is_real, {groups} FROM {table} t JOIN clips c USING (sha256) ORDER BY {order}"
            rows = conn.execute(query).fetchall()
        columns = ["clip_id", *_TAG_COLUMNS, "path", "real", *GROUP_COLUMNS]
        frame = pd.DataFrame(rows, columns=columns)
        frame["reasons"] = [json.loads(r) for r in frame["reasons"]]
        frame["real"] = frame["real"].astype(bool)
        return frame

    def copies_frame(self) -> pd.DataFrame:
        """Every recorded copy of a clip: ``sha256``, ``path`` and the group columns (empty for an older store)."""
        columns = ["sha256", "path", *GROUP_COLUMNS]
        with self._connect() as conn:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'clip_copies'").fetchone() is None:
                return pd.DataFrame(columns=columns)
            rows = conn.execute(f"SELECT sha256, source, {_group_select(conn, 'clip_copies')} FROM clip_copies").fetchall()
        return pd.DataFrame(rows, columns=columns)

    def counts(self) -> dict[str, int]:
        with self._connect() as conn:
            return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("clips", "tags", "tag_history")}


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


def _add_sampling_columns(conn: sqlite3.Connection) -> None:
    """Give a store written before the sampling settings were recorded their columns (empty in old rows)."""
    for table in ("clips", "clip_copies"):
        have = _columns(conn, table)
        for col in SAMPLING_GROUP_COLUMNS:
            if have and col not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {col}")


def _group_select(conn: sqlite3.Connection, table: str, prefix: str = "") -> str:
    """The group columns of ``table`` for a SELECT; a column an older (read-only) store lacks reads NULL."""
    have = _columns(conn, table)
    return ", ".join(f"{prefix}{g}" if g in have else f"NULL AS {g}" for g in GROUP_COLUMNS)


def _tag_dict(row: Sequence) -> dict:
    out = dict(zip(_TAG_COLUMNS, row))
    out["reasons"] = json.loads(out["reasons"])
    return out


EXPORT_FORMATS = ("csv", "json")
HUMAN_USEFUL = "useful/human"


PROTECTED_DIRS = ("samples", "scores", "ckpt", "clips")  # a run's or an import's own outputs: never an export's target
PROTECTED_FILES = ("config.toml", "log.jsonl", "data_fingerprint.json", "stage_fingerprint.txt", "dataset.json", "manifest.csv",
                   "benchbox-clips.csv", "benchbox-import.json", "stages.json", "protocol.toml", "leaderboard.csv")


def _check_export_target(folder: Path, out: Path, overwrite: bool) -> None:
    """ReviewError when ``out`` would replace the tag store, a file in the folder's own output
    folders (the sample manifest, scores, checkpoints, imported clips) or, without ``overwrite``,
    any other existing file."""
    target, root = out.resolve(), folder.resolve()
    inside = root in target.parents
    if target == (root / TAGS_FILE).resolve() or (inside and target.relative_to(root).parts[0] in PROTECTED_DIRS) or \
            (inside and len(target.relative_to(root).parts) == 1 and (target.name in PROTECTED_FILES or target.name.startswith("versions")
                                                                       or target.suffix == ".sqlite")):
        raise ReviewError(f"{out}: refusing to write tags over the folder's own {target.relative_to(root)}",
                          hint="pass --out a new file, e.g. tags.csv beside the run, or leave --out out")
    if target.exists() and not overwrite:
        raise ReviewError(f"{out} already exists", hint="pass --overwrite to replace it, or another --out")


def export_tags(folder: str | Path, fmt: str = "csv", out: str | Path | None = None, *, history: bool = False, overwrite: bool = False) -> Path:
    """Write the tags of ``folder/tags.sqlite`` (current ones, or every version) as CSV or JSON,
    with ``stale`` = 1 where the clip's path no longer holds the audio that was tagged (regenerated,
    edited or gone): such a tag judged other audio than the file now holds. The default file
    (``folder/tags.csv``, ``tags_history.json``, ...) is rewritten freely; an explicit ``out``
    may not replace an existing file without ``overwrite``, nor ever the tag store or a file of
    the folder's own outputs (ReviewError)."""
    if fmt not in EXPORT_FORMATS:
        raise ReviewError(f"unknown export format {fmt!r}", hint=f"use one of: {', '.join(EXPORT_FORMATS)}")
    folder = check_folder(folder, hint="pass the run folder or clip folder you tagged")
    frame = TagStore(folder / TAGS_FILE, create=False).tags_frame(history=history)
    useful = pd.array([_useful_value(t) for t in frame["tag"]], dtype="Int64")
    frame.insert(frame.columns.get_loc("tag") + 1, HUMAN_USEFUL, useful)
    now = hashes_now(folder, list(frame["path"].astype(str)))  # stale: the path no longer holds the audio tagged
    frame["stale"] = [int(now.get(str(p)) != sha) for p, sha in zip(frame["path"], frame["sha256"])]
    if out is not None:
        _check_export_target(folder, Path(out), overwrite)
    out = Path(out) if out is not None else folder / f"tags{'_history' if history else ''}.{fmt}"
    if fmt == "json":
        records = [{k: _plain(v) for k, v in r.items()} for r in frame.to_dict("records")]
        return atomic_write_json(out, records)
    frame["reasons"] = [";".join(r) for r in frame["reasons"]]
    return atomic_write_csv(out, frame)


def _useful_value(tag: str) -> int | None:
    return None if tag not in DECISIONS else int(tag == "useful")


def _plain(value):
    """pandas/numpy scalars and missing values -> JSON-friendly Python values."""
    if isinstance(value, list):
        return value
    if pd.isna(value):
        return None
    return value.item() if isinstance(value, np.generic) else value
