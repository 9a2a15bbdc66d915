"""Training ops with a compiled CPU kernel: the exact GELU (``benchbox/native/ops.c``).

Legend: any shape; the ops are elementwise.

``gelu(x)`` equals ``F.gelu(x)`` (exact, erf-based) to float32 rounding. On contiguous
float32 CPU tensors, forward and backward run as vectorised C, split over the row halves
on two threads when torch has two; elsewhere (GPU, float64, no compiler) it is
``F.gelu`` itself. The backward is what pays: torch's CPU kernel spends about 5 ns per
element on erf and exp, 11% of a SaShiMi-SC09 training step.
"""

from __future__ import annotations

import ctypes

import torch
import torch.nn.functional as F

from benchbox import native

PARALLEL_MIN_ELEMENTS = 1 << 16  # below this, a second thread costs more than it saves


def _library():
    lib = native.load("ops")
    if lib is not None and not getattr(lib, "_benchbox_typed", False):
        ptr = ctypes.c_void_p
        lib.gelu_forward.argtypes, lib.gelu_forward.restype = [ptr, ptr, ctypes.c_long], None
        lib.gelu_backward.argtypes, lib.gelu_backward.restype = [ptr, ptr, ptr, ctypes.c_long], None
        lib._benchbox_typed = True
    return lib


def _split_call(fn, tensors: list[torch.Tensor], n: int) -> None:
    """fn(*pointers, n) over [0, n), in two halves on two threads when that pays."""
    item = tensors[0].element_size()
    if torch.get_num_threads() < 2 or n < PARALLEL_MIN_ELEMENTS:
        fn(*[t.data_ptr() for t in tensors], n)
        return
    half = n // 2
    other = native.worker_pool().submit(fn, *[t.data_ptr() + half * item for t in tensors], n - half)
    fn(*[t.data_ptr() for t in tensors], half)
    other.result()


class _Gelu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        out = torch.empty_like(x)
        _split_call(_library().gelu_forward, [x, out], x.numel())
        ctx.save_for_backward(x)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        grad = grad.contiguous()
        out = torch.empty_like(x)
        _split_call(_library().gelu_backward, [x, grad, out], x.numel())
        return out


def gelu(x: torch.Tensor) -> torch.Tensor:
    """Exact GELU; the compiled kernel on float32 CPU tensors, F.gelu elsewhere."""
    if x.dtype != torch.float32 or x.device.type != "cpu" or _library() is None:
        return F.gelu(x)
    return _Gelu.apply(x)
