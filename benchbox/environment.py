"""Where a result was computed: the git commit of the code and the hardware.

Floating-point results differ between CPUs (BLAS kernels pick instructions by CPU), so every
``versions.json`` records these beside the library versions (:func:`benchbox.runs.versions`).
Every value is a string; anything that cannot be found reads "unknown".
"""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

UNKNOWN = "unknown"
GIT_TIMEOUT_SECONDS = 5.0
CPUINFO = Path("/proc/cpuinfo")


def git_commit() -> str:
    """The source tree's commit, ``+dirty`` when tracked files changed; why not, outside a checkout."""
    from benchbox.resources import source_tree

    root = source_tree()
    if root is None or not (root / ".git").exists():
        return "not a git checkout (installed package)"
    try:
        sha = _git(root, "rev-parse", "HEAD").strip()
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no").strip()
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    return f"{sha}+dirty" if dirty else sha


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=GIT_TIMEOUT_SECONDS, check=True)
    return done.stdout


def cpu_model() -> str:
    try:
        for line in CPUINFO.read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or UNKNOWN


def gpu() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return "; ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    except Exception:  # noqa: BLE001 - a broken driver is recorded, not fatal
        return UNKNOWN
    return "none"


def blas() -> str:
    """The BLAS libraries loaded in this process, with the CPU kernel they chose (threadpoolctl)."""
    try:
        import numpy  # noqa: F401 - load numpy's BLAS so it is listed
        from threadpoolctl import threadpool_info

        found = [f"{i.get('internal_api', '?')} {i.get('version') or ''} ({i.get('architecture') or '?'}, {i.get('num_threads')} threads)".replace("  ", " ")
                 for i in threadpool_info() if i.get("user_api") == "blas"]
    except Exception:  # noqa: BLE001
        return UNKNOWN
    return "; ".join(found) or "none found"


def environment() -> dict[str, str]:
    """``git_commit``, ``cpu``, ``cpu_count``, ``gpu`` and ``blas``."""
    import os

    return {"git_commit": git_commit(), "cpu": cpu_model(), "cpu_count": str(os.cpu_count() or UNKNOWN), "gpu": gpu(), "blas": blas()}
