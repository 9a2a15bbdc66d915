"""The scoped allocator setting: freed blocks are reused without page faults, then handed back."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from benchbox import memory

# Run in a fresh interpreter: page-fault counts in this test process depend on what earlier
# tests left in glibc's heap (and which arena its main thread ended up on).
PROBE = """
import json, resource, torch
from benchbox import memory
N = 10_000_000  # 40 MB tensors: above glibc's largest mmap threshold (32 MiB)
def step():  # a training step in miniature: activations made, used, freed
    a = torch.ones(N); b = torch.ones(N); c = a + b; del a, b, c
def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    step()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
step()
out = {"pages": 3 * 4 * N // resource.getpagesize(), "default": faults()}
with memory.reuse_freed_memory() as active:
    for _ in range(12):  # the heap grows for the first 4-6 steps (aligned blocks do not refit their holes)
        step()
    out["active"], out["inside"] = active, faults()
out["after"] = faults()
print(json.dumps(out))
"""


@pytest.mark.skipif(not memory.available(), reason="not glibc")
def test_freed_blocks_are_reused_inside_the_scope_only():
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    pages = got["pages"]
    assert got["default"] > pages // 2  # glibc's default: unmapped on free, faulted again
    assert got["active"] and got["inside"] < pages // 20
    assert got["after"] > pages // 5  # defaults restored and memory handed back on exit


def test_disabled_scope_does_nothing():
    with memory.reuse_freed_memory(enabled=False) as active:
        assert not active
