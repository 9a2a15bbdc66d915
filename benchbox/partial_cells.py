"""Cells of an interrupted ``generate``, kept for the next invocation with the same request.

Legend: n clips per cell.

:func:`benchbox.generate.generate_run` builds ``samples/`` in a staging folder that replaces the
old one whole when every cell is done (:func:`benchbox.runs.staged_dir`), so a kill or a crash
leaves ``samples/`` as it was -- and, before this module, threw away every finished cell: a
DiffWave run's 16 cells take about 1.8 h on 2 cores, and a study killed at 15 of them started
again from the first. Now each finished cell's clips are hard-linked into
``RUN_DIR/.samples-partial/<cell>/`` and its manifest rows written beside them (atomically),
under a **key**: the sha256 of everything that decides a cell's clips and rows (the request's
settings and device type, the run's name, each checkpoint's sha256, the clip and prime lengths,
the prime sources, the benchbox sources: :func:`code_digest`). One generate at a time writes a
run's samples (:func:`sole_writer`).
The next ``generate`` of the same run with the same key takes those cells as they are and makes
only the rest; any other key discards the folder first, so a changed checkpoint or setting never
reuses a clip. Clip i of a cell is seeded from (seed, checkpoint, prime, i)
(:func:`benchbox.generate.clip_generators`), so a kept cell holds the clips this invocation would
have made with the same ``batch`` (part of the key). The folder is removed once ``samples/`` is
published. ``generate_config.toml`` lists the kept cells (``resumed``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from benchbox.errors import ConfigError
from benchbox.runs import atomic_write_csv, atomic_write_text

PARTIAL_DIR = ".samples-partial"
KEY_NAME = "key.json"
ROWS_NAME = "rows.csv"


def partial_key(**parts) -> str:
    """sha256 (hex) of ``parts`` as sorted JSON (non-JSON values by ``str``)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _package_digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if "__pycache__" in rel.parts or any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue  # caches, editor lock files (.#x.py, often dangling links), folders
        h.update(rel.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def _benchbox_digest() -> str:
    return _package_digest(Path(__file__).resolve().parent)


def code_digest(*models: object) -> str:
    """sha256 of the code that makes clips: every file of the benchbox package (Python and the
    native C sampler alike; not ``__pycache__`` or dot-files), the torch version, and, for each of
    ``models`` whose class is defined outside benchbox (a plugin generator), its module file (where
    its code lives, never a branch on what it is). Any edit,
    committed or not, is another key; a commit that touches only docs or results is not. The
    package is hashed once per process."""
    import sys

    import torch

    own = Path(__file__).resolve().parent
    parts = [_benchbox_digest(), torch.__version__]
    for cls in sorted({type(m) for m in models}, key=lambda c: f"{c.__module__}.{c.__qualname__}"):
        source = getattr(sys.modules.get(cls.__module__), "__file__", None)
        if source and own not in Path(source).resolve().parents:
            parts.append(f"{cls.__module__}.{cls.__qualname__}:" + hashlib.sha256(Path(source).read_bytes()).hexdigest())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@contextlib.contextmanager
def sole_writer(run_dir: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``run_dir`` itself (no file is left behind) while a generate
    reads and writes its samples; ConfigError when another process holds it, since two generates
    of one run would race for samples/ and for each other's kept cells. Where the file system
    refuses a lock on a directory (NFS), it runs unguarded."""
    import fcntl

    fd = os.open(run_dir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"another process (`benchbox generate`, or a study's generate stage) is writing {run_dir}'s samples",
                              hint="wait for it to finish, or generate into a copy of the run folder") from None
        except OSError:
            pass  # a file system that refuses a lock on a directory (NFS wants a file open for writing): no guard there
        yield
    finally:
        os.close(fd)  # releases the lock


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` at ``dst`` (its folders made, a file there replaced); copy across file systems."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:  # another file system: copy
        shutil.copy2(src, dst)


class PartialCells:
    """The finished cells of ``run_dir``'s interrupted generate under ``key`` (else none).

    ``samples_dir``: the name of the run's samples folder, the first part of each row's ``path``
    (``samples/best/prime0/clip_0000.wav``); the clips are kept at ``<cell>/clip_....wav``."""

    def __init__(self, run_dir: Path, key: str, samples_dir: str, columns: list[str]):
        self.folder, self.key, self.samples_dir, self.columns = Path(run_dir) / PARTIAL_DIR, key, samples_dir, columns
        self.rows = self._load()

    def _load(self) -> pd.DataFrame:
        empty = pd.DataFrame(columns=self.columns)
        try:
            stored = json.loads((self.folder / KEY_NAME).read_text()).get("key")
        except (OSError, ValueError, AttributeError):
            stored = None
        try:  # no rows yet under a key written first: no cell finished
            rows = pd.read_csv(self.folder / ROWS_NAME, dtype={"checkpoint": str, "prime_source": str}, keep_default_na=False)
        except FileNotFoundError:
            rows = empty
        except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
            stored, rows = None, empty
        if stored != self.key or list(rows.columns) != self.columns:
            self.clear()  # another request's cells (or none): never reused
            return empty
        return rows

    def _cell(self, rows: pd.DataFrame, cell: str) -> pd.DataFrame:
        prefix = f"{self.samples_dir}/{cell}/"
        return rows[rows["path"].astype(str).str.startswith(prefix) & ~rows["path"].astype(str).str[len(prefix):].str.contains("/")]

    def take(self, stage: Path, cell: str, n: int) -> list[dict] | None:
        """The kept rows of ``cell`` with its clips hard-linked into ``stage``, or None when the
        cell was not finished (fewer than ``n`` rows, or a clip file gone)."""
        rows = self._cell(self.rows, cell)
        files = [self.folder / Path(p).relative_to(self.samples_dir) for p in rows["path"].astype(str)]
        if len(rows) != n or not all(f.is_file() for f in files):
            return None
        for f, rel in zip(files, rows["path"].astype(str)):
            link_or_copy(f, stage / Path(rel).relative_to(self.samples_dir))
        return rows.to_dict("records")

    def add(self, stage: Path, cell: str, rows: list[dict]) -> None:
        """Keep a finished cell: its clips (from ``stage``) first, then every kept row, atomically."""
        for rel in (str(r["path"]) for r in rows):
            inner = Path(rel).relative_to(self.samples_dir)
            link_or_copy(stage / inner, self.folder / inner)
        if not (self.folder / KEY_NAME).is_file():
            atomic_write_text(self.folder / KEY_NAME, json.dumps({"key": self.key}) + "\n")
        new = pd.DataFrame(rows, columns=self.columns)
        self.rows = pd.concat([self.rows[~self.rows.index.isin(self._cell(self.rows, cell).index)], new], ignore_index=True)
        atomic_write_csv(self.folder / ROWS_NAME, self.rows)

    def clear(self) -> None:
        """Remove the folder (after ``samples/`` is published, or when its key is another's)."""
        shutil.rmtree(self.folder, ignore_errors=True)
