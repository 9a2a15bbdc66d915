"""Native (C) kernels for the recurrent step, compiled on first use with the machine's compiler.

Legend: B batch, H channels.

At batch 1 a generator step is a few MFLOP split over hundreds of tiny ops, so its cost is
per-op dispatch, not arithmetic. The step functions in this folder run a whole residual
stack (SaShiMi) or a whole token (WaveNet) in one call on float32 CPU tensors. They are a
fast path only: every generator keeps its torch step as the readable reference, the tests
hold the two together, and a model falls back to the reference whenever no C compiler is
found, the tensors are not float32 on the CPU, or ``BENCHBOX_NATIVE=0`` is set.

A library is built with ``cc -O3 -march=native`` into ``$BENCHBOX_NATIVE_CACHE`` (default
``~/.cache/benchbox/native``), named by the hash of its sources,
flags, compiler and CPU, and written atomically (compile to a temporary name, then
rename), so concurrent processes and changed sources never load a stale or half-written file.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SOURCE_DIR = Path(__file__).parent
DISABLE_ENV = "BENCHBOX_NATIVE"  # "0": always use the torch reference step
CACHE_ENV = "BENCHBOX_NATIVE_CACHE"
COMPILE_TIMEOUT_SECONDS = 120
# Reassociation lets the compiler vectorise dot products; results differ from the torch
# path by rounding only (the tests bound the difference).
CFLAGS = (
    "-O3",
    "-march=native",
    "-std=c11",
    "-fPIC",
    "-shared",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-fno-signed-zeros",
    "-fassociative-math",
    "-ffp-contract=fast",
)
LIBS = ("-lm", "-lpthread")


def enabled() -> bool:
    return os.environ.get(DISABLE_ENV, "1") != "0"


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "benchbox" / "native"


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _cpu_fingerprint() -> str:
    """-march=native code is only valid on the CPU that built it."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        wanted = [line for line in lines if line.startswith(("model name", "flags"))][:2]
        return "\n".join(wanted)
    except OSError:
        return platform.processor() + platform.machine()


Signatures = dict[str, tuple[list, Any]]  # function name -> (argtypes, restype)


def load(name: str, signatures: Signatures | None = None) -> ctypes.CDLL | None:
    """The compiled ``<name>.c`` of this folder, or None when native code is unavailable or
    disabled. ``signatures`` are set on the library's functions once, at its first load."""
    lib = _load(name) if enabled() else None
    if lib is not None and signatures and not getattr(lib, "_benchbox_typed", False):
        for fn, (argtypes, restype) in signatures.items():
            getattr(lib, fn).argtypes, getattr(lib, fn).restype = argtypes, restype
        lib._benchbox_typed = True
    return lib


@functools.lru_cache(maxsize=None)
def _load(name: str) -> ctypes.CDLL | None:
    compiler = _compiler()
    if compiler is None:
        return None
    source = SOURCE_DIR / f"{name}.c"
    digest = hashlib.sha256()
    for part in sorted(SOURCE_DIR.glob("*.[ch]")):  # headers are shared between sources
        digest.update(part.name.encode() + part.read_bytes())
    digest.update(" ".join((compiler, *CFLAGS, *LIBS, _cpu_fingerprint())).encode())
    try:
        version = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    digest.update(version.encode())
    target = cache_dir() / f"{name}-{digest.hexdigest()[:16]}.so"
    if not target.is_file() and not _compile(compiler, source, target):
        return None
    try:
        return ctypes.CDLL(str(target))
    except OSError:
        return None


def _compile(compiler: str, source: Path, target: Path) -> bool:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".so", dir=target.parent)
        os.close(fd)
    except OSError:
        return False
    try:
        cmd = [compiler, *CFLAGS, f"-I{SOURCE_DIR}", str(source), "-o", tmp, *LIBS]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_SECONDS)
        if proc.returncode != 0:
            return False
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
        return True
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


WORKERS = 3  # threads that run native calls beside the caller's (the calls release the GIL)
PANEL = 16  # output columns per packed weight panel (linear.h)


@functools.lru_cache(maxsize=1)
def worker_pool() -> concurrent.futures.ThreadPoolExecutor:
    """Shared threads for splitting one native call into parallel parts (row groups, halves)."""
    return concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="benchbox-native")


if hasattr(os, "register_at_fork"):  # a forked child has none of the parent's threads: a fresh pool
    os.register_at_fork(after_in_child=worker_pool.cache_clear)


def padded_width(n: int) -> int:
    """n rounded up to whole panels (linear.h padded_width)."""
    return -(-n // PANEL) * PANEL


def pack_linear(weight, bias=None):
    """(in, out) weight -> (ceil(out/16) * in * 16,) panels for linear.h, zero-padded; bias padded too.

    ``w_packed[p, k, c] = weight[k, p * 16 + c]``: each panel streams front to back.
    """
    import torch
    import torch.nn.functional as F

    n_in, n_out = weight.shape
    pad = (-n_out) % PANEL
    panels = F.pad(weight.detach(), (0, pad)).reshape(n_in, -1, PANEL).transpose(0, 1)  # (P, in, 16)
    packed = [panels.reshape(-1)] + ([] if bias is None else [F.pad(bias.detach(), (0, pad))])
    return torch.cat(packed)
