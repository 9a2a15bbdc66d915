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


_ptr, _long, _i32 = ctypes.c_void_p, ctypes.c_long, ctypes.c_int
SIGNATURES = {
    "gelu_forward": ([_ptr, _ptr, _long], None),
    "gelu_backward": ([_ptr, _ptr, _ptr, _long], None),
    "channels_to_time": ([_ptr, _long, _ptr, _long, _long, _long, _long, _long, _i32], None),
    "time_to_channels": ([_ptr, _ptr, _ptr, _long, _long, _long, _long, _long, _long, _i32], None),
}


def _library():
    return native.load("ops", SIGNATURES)


def native_ok(x: torch.Tensor) -> bool:
    """Whether the compiled ops serve this tensor (float32, CPU, library built)."""
    return x.dtype == torch.float32 and x.device.type == "cpu" and _library() is not None


def _split_range(fn, length: int, numel: int, work: int | None = None) -> None:
    """fn(start, stop) over [0, length), in two ranges on two threads when that pays; the
    split halves [0, work) (default: all of it), where the cost lies, at a multiple of 8
    (a vector, and a layout tile)."""
    if torch.get_num_threads() < 2 or numel < PARALLEL_MIN_ELEMENTS:
        fn(0, length)
        return
    mid = (length if work is None else work) // 2 // 8 * 8
    other = native.worker_pool().submit(fn, mid, length)
    fn(0, mid)
    other.result()


def _split_call(fn, tensors: list[torch.Tensor], n: int) -> None:
    """fn(*pointers, count) over elements [0, n) of contiguous tensors, split by _split_range."""
    item = tensors[0].element_size()
    _split_range(lambda start, stop: fn(*[t.data_ptr() + start * item for t in tensors], stop - start), n, n)


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
    if not native_ok(x):
        return F.gelu(x)
    return _Gelu.apply(x)


# ---------------------------------------------------------------- S4 convolution + GELU

MOVE_COPY, MOVE_GELU, MOVE_GELU_GRAD = 0, 1, 2


def _to_time(src: torch.Tensor, length: int, op: int) -> torch.Tensor:  # (B, H, n) -> (B, T, H)
    batch, width, ld = src.shape
    dst = src.new_empty(batch, length, width)
    lib = _library()
    _split_range(lambda t0, t1: lib.channels_to_time(src.data_ptr(), ld, dst.data_ptr(), batch, length, width, t0, t1, op), length, dst.numel())
    return dst


def _to_channels(src: torch.Tensor, n: int, pre: torch.Tensor | None = None) -> torch.Tensor:  # (B, T, H) -> (B, H, n)
    batch, length, width = src.shape
    dst = src.new_empty(batch, width, n)
    lib, op, pre_ptr = _library(), MOVE_COPY if pre is None else MOVE_GELU_GRAD, None if pre is None else pre.data_ptr()
    _split_range(lambda t0, t1: lib.time_to_channels(src.data_ptr(), pre_ptr, dst.data_ptr(), n, batch, length, width, t0, t1, op), n, dst.numel(), length)
    return dst


class _SSMConvGelu(torch.autograd.Function):
    """gelu(causal_conv(u, k) + D u) with the skip D folded into the kernel's first tap.

    Forward: U = rfft(pad(u^T)), y = irfft(U (rfft(k) + D)); backward through the same
    transforms (correlation with conj spectra), so neither direction pays torch's complex
    FFT backward of ``rfft`` nor a separate transpose, pad or GELU pass."""

    @staticmethod
    def forward(ctx, u: torch.Tensor, kernel: torch.Tensor, d_skip: torch.Tensor, n_fft: int) -> torch.Tensor:
        length = u.shape[1]
        u_f = torch.fft.rfft(_to_channels(u.contiguous(), n_fft))  # (B, H, F)
        k_f = torch.fft.rfft(kernel, n=n_fft) + d_skip[:, None]  # (H, F)
        y = torch.fft.irfft(u_f * k_f, n=n_fft)  # (B, H, n), valid for t < T
        ctx.save_for_backward(u_f, k_f, y)
        return _to_time(y, length, MOVE_GELU)  # (B, T, H)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        u_f, k_f, y = ctx.saved_tensors
        length, n_fft = grad.shape[1], y.shape[-1]
        g_f = torch.fft.rfft(_to_channels(grad.contiguous(), n_fft, pre=y))  # (B, H, F)
        grad_u = _to_time(torch.fft.irfft(g_f * k_f.conj(), n=n_fft), length, MOVE_COPY)  # (B, T, H)
        grad_k = torch.fft.irfft((g_f * u_f.conj()).sum(0), n=n_fft)  # (H, n)
        return grad_u, grad_k[:, :length], grad_k[:, 0], None


def ssm_conv_gelu(u: torch.Tensor, kernel: torch.Tensor, d_skip: torch.Tensor, n_fft: int) -> torch.Tensor:
    """gelu(causal_conv(u, kernel) + d_skip * u), FFT size n_fft >= 2T: (B, T, H), (H, T), (H,) -> (B, T, H).
    Native only: callers check ``native_ok`` (``s4.S4Layer`` keeps the readable composition)."""
    return _SSMConvGelu.apply(u, kernel, d_skip, n_fft)
