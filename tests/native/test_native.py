"""The native-code loader: compile on first use, cache by content, fall back cleanly."""

from __future__ import annotations

import pytest
import torch

from benchbox import native


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(native.CACHE_ENV, str(tmp_path / "native"))
    native._load.cache_clear()
    yield tmp_path / "native"
    native._load.cache_clear()


def test_pack_linear_puts_16_columns_per_panel_and_pads():
    weight, bias = torch.arange(3 * 20, dtype=torch.float32).reshape(3, 20), torch.arange(20, dtype=torch.float32)
    packed = native.pack_linear(weight, bias)
    panels = packed[: 2 * 3 * 16].reshape(2, 3, 16)  # (P, in, 16)
    assert torch.equal(panels[0], weight[:, :16])
    assert torch.equal(panels[1, :, :4], weight[:, 16:]) and not panels[1, :, 4:].any()
    assert torch.equal(packed[2 * 3 * 16 :], torch.cat([bias, torch.zeros(12)]))


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setenv(native.DISABLE_ENV, "0")
    assert native.load("sashimi_step") is None


def test_compiles_once_into_the_cache(fresh_cache):
    if native._compiler() is None:
        pytest.skip("no C compiler")
    assert native.load("sashimi_step") is not None
    built = list(fresh_cache.glob("sashimi_step-*.so"))
    assert len(built) == 1 and not list(fresh_cache.glob(".*"))  # no temporary left behind
    stamp = built[0].stat().st_mtime_ns
    native._load.cache_clear()
    assert native.load("sashimi_step") is not None
    assert built[0].stat().st_mtime_ns == stamp  # reused, not rebuilt


def test_signatures_are_set_once_at_first_load(fresh_cache):
    import ctypes

    if native._compiler() is None:
        pytest.skip("no C compiler")
    lib = native.load("sampling", {"sample_rows": ([ctypes.c_void_p] * 8, ctypes.c_int)})
    assert lib.sample_rows.restype is ctypes.c_int and len(lib.sample_rows.argtypes) == 8
    again = native.load("sampling", {"sample_rows": ([], None)})  # the cached library keeps its first signatures
    assert again is lib and lib.sample_rows.restype is ctypes.c_int


def test_a_failing_compiler_means_no_native_code(fresh_cache, monkeypatch, tmp_path):
    broken = tmp_path / "cc"
    broken.write_text("#!/bin/sh\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("CC", str(broken))
    assert native.load("sashimi_step") is None
    assert not list(fresh_cache.glob("*.so")) and not list(fresh_cache.glob(".*"))


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_worker_pool_works_in_a_forked_child():
    import os

    assert native.worker_pool().submit(sum, [1, 2]).result() == 3  # the parent has started its threads
    pid = os.fork()
    if pid == 0:  # child: a stale pool would queue the task forever
        code = 1
        try:
            code = 0 if native.worker_pool().submit(sum, [3, 4]).result(timeout=10) == 7 else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
