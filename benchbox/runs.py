"""Run-directory helpers: atomic writes, content hashes and run metadata.

Every file benchbox writes goes through :func:`atomic_write_bytes`: the bytes land in a
temporary file beside the target and are renamed over it, so a crash never leaves a
half-written file and never destroys the previous version. A write the file system
refuses (a full disk, a quota, a read-only mount) raises :class:`StorageError` naming the
path; the temporary file or staging folder is removed and the published version stays.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchbox.errors import StorageError

HASH_CHUNK_BYTES = 1 << 20
FILE_MODE = 0o644
DIR_MODE = 0o755
STAGING_PREFIX = ".staging-"  # a folder being built; never read as a result
ASIDE_SUFFIX = ".replaced"  # the previous version during the two-rename swap


STORAGE_HINTS = {
    errno.ENOSPC: "the disk is full: free space there, or write somewhere else",
    errno.EDQUOT: "the disk quota is used up: free space there, or write somewhere else",
    errno.EROFS: "the file system is read-only: write somewhere else",
    errno.EACCES: "check the folder's permissions, or write somewhere else",
    errno.EPERM: "check the folder's permissions, or write somewhere else",
}


def storage_error(path: str | os.PathLike, error: OSError) -> StorageError:
    """The typed error for a refused write: one line naming ``path`` and the system's reason."""
    reason = error.strerror or str(error) or type(error).__name__
    return StorageError(f"cannot write {path}: {reason}", hint=STORAGE_HINTS.get(error.errno or 0, "check the disk and the folder"), errno=error.errno)


@contextlib.contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Turn an OSError raised while writing ``path`` into :class:`StorageError` naming it."""
    try:
        yield
    except StorageError:
        raise  # already names its file
    except OSError as e:
        raise storage_error(path, e) from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    The temporary file keeps the target's suffix so that writers that infer the
    format from the extension (soundfile, matplotlib) still work. An OSError while
    writing (a full disk) is :class:`StorageError` naming ``path``; the temporary file
    is removed and ``path`` keeps its previous version.
    """
    path = Path(path)
    tmp_path = None
    try:
        with writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
            os.close(fd)
            tmp_path = Path(tmp)
            os.chmod(tmp_path, FILE_MODE)  # mkstemp creates 0600; results are meant to be shared
            yield tmp_path
            os.replace(tmp_path, path)
    finally:
        if tmp_path is not None and tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def staged_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Build a multi-file output in an empty folder beside ``target``; publish it whole.

    On success the staging folder replaces ``target`` (the old version is moved aside,
    the new one renamed in, the old one deleted, with SIGINT/SIGTERM held back for the
    two renames). On any error or interrupt the staging folder is deleted and ``target``
    is byte-identical to before. :func:`recover_dir` undoes a swap that a hard kill
    stopped between its two renames.
    """
    target = Path(target)
    recover_dir(target)
    with writing(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{target.name}.", dir=target.parent))
    try:
        try:
            with writing(staging):
                os.chmod(staging, DIR_MODE)
                yield staging
        except StorageError as e:  # name the file as the user will know it, not its staging copy
            raise StorageError(e.message.replace(str(staging), str(target)), hint=e.hint, errno=e.errno) from None
        aside = target.with_name(f".{target.name}{ASIDE_SUFFIX}")
        with writing(target), signals_deferred():
            if target.exists():
                os.replace(target, aside)
            os.replace(staging, target)
        shutil.rmtree(aside, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def publish_files(files: dict[Path, str | bytes]) -> list[Path]:
    """Write several files as one output: all are written to temporaries first, then renamed
    into place together with SIGINT/SIGTERM held back, so a reader never sees a mix of old
    and new versions (only a hard kill between the renames could leave one)."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, data in files.items():
            path = Path(path)
            with writing(path):
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
                staged.append((Path(tmp), path))
                with os.fdopen(fd, "wb") as f:
                    f.write(data.encode("utf-8", "backslashreplace") if isinstance(data, str) else data)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, FILE_MODE)
        with signals_deferred():
            for tmp, path in staged:
                with writing(path):
                    os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            if tmp.exists():
                tmp.unlink()
    return [path for _, path in staged]


def recover_dir(target: str | os.PathLike) -> None:
    """Put back ``target`` when a killed :func:`staged_dir` swap left only its old version aside."""
    target = Path(target)
    aside = target.with_name(f".{target.name}{ASIDE_SUFFIX}")
    if aside.is_dir():
        if target.exists():
            shutil.rmtree(aside, ignore_errors=True)  # the swap finished; only the cleanup was lost
        else:
            os.replace(aside, target)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block ends, then deliver the first to the handler it would
    have met (Ctrl-C's KeyboardInterrupt, the CLI's Terminated, or the default action). A second
    signal during the block is delivered at once: the user insists. Python-level handlers, so
    torch's worker threads cannot take the signal instead (a thread mask would not hold it).
    Main thread only; a no-op elsewhere."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.getsignal(s) for s in held}

    def deliver(signum: int) -> None:
        for s, handler in previous.items():
            signal.signal(s, handler)
        handler = previous[signum]
        if callable(handler):
            handler(signum, None)
        elif handler != signal.SIG_IGN:
            os.kill(os.getpid(), signum)  # the default action

    def hold(signum: int, frame) -> None:
        pending.append(signum)
        if len(pending) > 1:
            deliver(signum)

    for s in held:
        signal.signal(s, hold)
    ok = False
    try:
        yield
        ok = True
    finally:
        if len(pending) <= 1:
            for s, handler in previous.items():
                signal.signal(s, handler)
        if ok and len(pending) == 1:
            deliver(pending[0])


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """UTF-8; a lone surrogate (an undecodable byte of a file name) is written backslash-escaped, never a UnicodeEncodeError."""
    return atomic_write_bytes(path, text.encode("utf-8", "backslashreplace"))


def replace_marked_section(path: str | os.PathLike, text: str, start_mark: str, end_mark: str) -> Path:
    """Rewrite the part of a text file between ``start_mark`` and ``end_mark`` (kept) with
    ``text``, atomically; raises ValueError when a mark is missing."""
    path = Path(path)
    content = path.read_text(encoding="utf-8")
    if start_mark not in content or end_mark not in content.split(start_mark, 1)[1]:
        raise ValueError(f"{path}: needs {start_mark} followed by {end_mark}")
    head, rest = content.split(start_mark, 1)
    _, tail = rest.split(end_mark, 1)
    return atomic_write_text(path, f"{head}{start_mark}\n{text}\n{end_mark}{tail}")


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def atomic_write_csv(path: str | os.PathLike, frame: Any) -> Path:
    """Write a pandas DataFrame as CSV, atomically."""
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return atomic_write_text(path, buf.getvalue())


def atomic_torch_save(path: str | os.PathLike, obj: Any) -> Path:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append one JSON line. Appends of a single short line are atomic on POSIX."""
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(HASH_CHUNK_BYTES), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_audio(wave: np.ndarray, sample_rate_hz: int) -> str:
    """Hash of decoded audio content: float32 samples plus the rate.

    Two files with the same samples hash the same whatever their container; a clip
    regenerated in place with new samples hashes differently.
    """
    h = hashlib.sha256()
    h.update(str(int(sample_rate_hz)).encode())
    h.update(np.ascontiguousarray(wave, dtype=np.float32).tobytes())
    return h.hexdigest()


def versions() -> dict[str, str]:
    """Versions of Python, benchbox and the libraries that shape results, plus the git commit
    and the hardware (:func:`benchbox.environment.environment`)."""
    import benchbox
    from benchbox.environment import environment

    out = {"python": sys.version.split()[0], "platform": platform.platform(), "benchbox": benchbox.__version__}
    for name in ("torch", "numpy", "scipy", "librosa", "soundfile", "av", "pandas"):
        try:
            mod = __import__(name)
            out[name] = str(getattr(mod, "__version__", "unknown"))
        except Exception:  # a missing optional library is recorded, not fatal
            out[name] = "not installed"
    return out | environment()


VERSIONS_NAME = "versions.json"
RESUME_VERSIONS = "versions-resume-{}.json"  # a later invocation's record beside the first


def write_run_info(run_dir: str | os.PathLike, config: dict, name: str = "config.toml", *, resumed: bool = False,
                   note: dict | None = None) -> Path:
    """Record the resolved config (TOML) and library versions (JSON) in ``run_dir``; return the versions file.

    ``versions.json`` describes the invocation that made the folder and is never rewritten by
    one that continues it: with ``resumed`` (``train --resume``) the versions go to the next free
    ``versions-resume-<k>.json`` (k = 1, 2, ...) beside it. ``note`` (e.g. the step a resume
    starts from) is recorded beside the versions."""
    from benchbox.config import dump_toml

    run_dir = Path(run_dir)
    atomic_write_text(run_dir / name, dump_toml(config))
    return write_versions(run_dir, resumed=resumed, note=note)


RECORDED_KEY = "recorded_utc"  # a versions record: when it was written (UTC)


def write_versions(folder: str | os.PathLike, *, resumed: bool = False, note: dict | None = None) -> Path:
    """``folder/versions.json``, or with ``resumed`` the next free ``versions-resume-<k>.json``; return it.
    Each record carries ``recorded_utc`` (when it was written) and ``note``'s keys."""
    import datetime

    folder = Path(folder)
    path, k = folder / (RESUME_VERSIONS.format(1) if resumed else VERSIONS_NAME), 1
    while resumed and path.exists():
        k += 1
        path = folder / RESUME_VERSIONS.format(k)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    atomic_write_json(path, {**versions(), RECORDED_KEY: when, **(note or {})})
    return path
