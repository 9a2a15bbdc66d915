"""Run-directory helpers: atomic writes, content hashes and run metadata.

Every file benchbox writes goes through :func:`atomic_write_bytes`: the bytes land in a
temporary file beside the target and are renamed over it, so a crash never leaves a
half-written file and never destroys the previous version.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

HASH_CHUNK_BYTES = 1 << 20
FILE_MODE = 0o644


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    The temporary file keeps the target's suffix so that writers that infer the
    format from the extension (soundfile, matplotlib) still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, FILE_MODE)  # mkstemp creates 0600; results are meant to be shared
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


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
    """Versions of Python, benchbox and the libraries that shape results."""
    import benchbox

    out = {"python": sys.version.split()[0], "platform": platform.platform(), "benchbox": benchbox.__version__}
    for name in ("torch", "numpy", "scipy", "librosa", "soundfile", "pandas"):
        try:
            mod = __import__(name)
            out[name] = str(getattr(mod, "__version__", "unknown"))
        except Exception:  # a missing optional library is recorded, not fatal
            out[name] = "not installed"
    return out


def write_run_info(run_dir: str | os.PathLike, config: dict, name: str = "config.toml") -> None:
    """Record the resolved config (TOML) and library versions (JSON) in ``run_dir``."""
    from benchbox.config import dump_toml

    run_dir = Path(run_dir)
    atomic_write_text(run_dir / name, dump_toml(config))
    atomic_write_json(run_dir / "versions.json", versions())
