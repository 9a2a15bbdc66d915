"""The compiled WaveNet step (``benchbox/native/wavenet_step.c``): packing and the call.

Legend: B batch, C = 256 classes, R residual channels, D dilation channels, S skip
channels, E end channels, K kernel size, L layers, P = 16 output columns per panel.

``NativeWeights`` packs the folded matrices of a :class:`~benchbox.generators.wavenet.StepWeights`
into the panel layout of ``dense.h``, once per weight version (``StepWeights.native`` caches
it), in one arena on transparent huge pages: an (in, out) matrix becomes ceil(out / P) contiguous (in, P) panels, zero-padded. The
gate matrix of a layer is its past taps and its tap on x(t) stacked, (K R, 2D); the skip
matrix is packed in bands of SKIP_BAND_LAYERS layers' input rows, so that its product can
be summed band by band while the layers run. ``NativeStep`` holds one state's scratch and calls ``wavenet_step`` on
the state's own ring buffer, so a state can be stepped by the C path and the torch
reference alike.
"""

from __future__ import annotations

import ctypes
import mmap

import torch

from benchbox import native
from benchbox.errors import GeneratorError

FLOAT_BYTES = 4
HUGE_PAGE_BYTES = 2 * 1024 * 1024
LIBRARY = "wavenet_step"
MAX_THREADS = 2  # the caller plus one helper thread (pair.h)
SKIP_BAND_LAYERS = 4  # layers per band of the skip matrix: the grain of the two threads' pipeline


class _Net(ctypes.Structure):
    """Mirror of ``WaveNetNet`` in wavenet_step.c (same field order and types)."""

    _fields_ = [(name, ctypes.c_int32) for name in ("layers", "taps", "res", "dil", "skip", "end", "classes", "band")] + [
        (name, ctypes.c_void_p)
        for name in ("ring_len", "ring_start", "embed", "w_gate", "b_gate", "w_res", "w_skip", "b_skip", "w_end", "b_end", "w_out", "b_out")
    ]


_ptr = ctypes.c_void_p
SIGNATURES = {
    "wavenet_step": ([_ptr, _ptr, _ptr, ctypes.c_int64, _ptr, ctypes.c_int, _ptr, ctypes.c_int], ctypes.c_int),
    "wavenet_scratch_floats": ([_ptr, ctypes.c_int], ctypes.c_long),
    "wavenet_tanh": ([ctypes.c_long, _ptr, _ptr], None),
}


def library() -> ctypes.CDLL | None:
    """The compiled step with its ctypes signatures, or None (no compiler, BENCHBOX_NATIVE=0)."""
    return native.load(LIBRARY, SIGNATURES)


def _huge_page_arena(n_floats: int) -> tuple[mmap.mmap, torch.Tensor]:
    """A fresh zeroed float32 buffer aligned to 2 MiB and advised to use transparent huge pages.

    At batch 1 a token streams ~16 MB of sc09 weights: with 4 KiB pages that is ~4000 TLB
    entries per token, more than the CPU holds. Harmless where huge pages are off.
    """
    size = n_floats * FLOAT_BYTES + HUGE_PAGE_BYTES
    private = getattr(mmap, "MAP_PRIVATE", 0) | getattr(mmap, "MAP_ANONYMOUS", 0)  # the default shared map gets none
    mapping = mmap.mmap(-1, size, flags=private) if private else mmap.mmap(-1, size)
    advice = getattr(mmap, "MADV_HUGEPAGE", None)
    if advice is not None:
        try:
            mapping.madvise(advice)
        except OSError:
            pass
    address = ctypes.addressof(ctypes.c_char.from_buffer(mapping))
    return mapping, torch.frombuffer(mapping, dtype=torch.float32, offset=-address % HUGE_PAGE_BYTES, count=n_floats)


class NativeWeights:
    """StepWeights packed for ``wavenet_step`` (float32, CPU) into one arena; keeps it alive."""

    def __init__(self, w, lib: ctypes.CDLL):
        n_layers, r_ch = len(w.ring_len), w.embed.shape[1]
        d_ch, taps = w.w_now[0].shape[1] // 2, w.w_past.shape[1] // r_ch + 1
        self.ring_len = torch.tensor(w.ring_len, dtype=torch.int64)  # (L,)
        self.ring_start = torch.tensor(w.ring_start, dtype=torch.int64)  # (L,)
        parts = [
            w.embed,  # (C, R)
            torch.cat([native.pack_linear(torch.cat([past, now])) for past, now in zip(w.w_past, w.w_now)]),  # L x (K R, 2D)
            w.b_gate,  # (L, 1, 2D)
            torch.cat([native.pack_linear(m) for m in w.w_res]) if w.w_res else torch.zeros(1),  # (L-1) x (D, R)
            torch.cat([native.pack_linear(band) for band in w.w_skip.split(SKIP_BAND_LAYERS * d_ch)]),  # bands (4 D, S)
            w.b_skip,  # (S,)
            native.pack_linear(w.w_end),  # (S, E)
            w.b_end,  # (E,)
            native.pack_linear(w.w_out),  # (E, C)
            w.b_out,  # (C,)
        ]
        starts = [0]
        for part in parts:  # each part on a 64-byte line, so a panel row is one cache line
            starts.append(starts[-1] + native.padded_width(part.numel()))
        self.mapping, self.arena = _huge_page_arena(starts[-1])
        for part, start in zip(parts, starts):
            self.arena[start : start + part.numel()] = part.reshape(-1)
        pointers = [self.arena[start:].data_ptr() for start in starts[:-1]]
        dims = (n_layers, taps, r_ch, d_ch, w.b_skip.shape[0], w.b_end.shape[0], w.b_out.shape[0], SKIP_BAND_LAYERS)
        self.net = _Net(*dims, self.ring_len.data_ptr(), self.ring_start.data_ptr(), *pointers)
        self.lib = lib


class NativeStep:
    """One state's C step: its scratch and the prebuilt call arguments."""

    def __init__(self, weights: NativeWeights, batch: int, threads: int = 1):
        self.weights, self.batch = weights, batch
        self.threads = min(max(int(threads), 1), MAX_THREADS)
        self.classes = weights.net.classes
        self.net = ctypes.byref(weights.net)
        # zeros: the header that keeps the two threads' split starts unset
        self.scratch = torch.zeros(weights.lib.wavenet_scratch_floats(self.net, batch))
        self.fn, self.scratch_ptr = weights.lib.wavenet_step, self.scratch.data_ptr()

    def __call__(self, x_t: torch.Tensor, ring: torch.Tensor, t: int) -> torch.Tensor:  # (B,) -> (B, C)
        """Write token ``x_t``'s layer inputs into ``ring`` (sum ring_len, B, R); the logits of step t."""
        if x_t.dtype != torch.int64 or x_t.device.type != "cpu" or not x_t.is_contiguous():
            x_t = x_t.to("cpu", torch.int64).contiguous()
        if x_t.shape != (self.batch,):
            raise GeneratorError(f"wavenet step: tokens of shape {tuple(x_t.shape)}, the state holds batch {self.batch}", hint="pass one token per batch row, shape (B,)")
        logits = torch.empty(self.batch, self.classes)  # (B, C)
        if self.fn(self.net, ring.data_ptr(), self.scratch_ptr, t, x_t.data_ptr(), self.batch, logits.data_ptr(), self.threads):
            raise GeneratorError(f"wavenet step: a token is outside [0, {self.classes})", hint="tokens are class indices of the model's quantisation")
        return logits


def native_step(w, batch: int, threads: int = 1) -> NativeStep | None:
    """The C step for float32 CPU step weights, or None: then the torch reference step runs."""
    if w.embed.dtype != torch.float32 or w.embed.device.type != "cpu":
        return None
    lib = library()
    if lib is None:
        return None
    if w.native is None or w.native.lib is not lib:
        with torch.no_grad():
            w.native = NativeWeights(w, lib)
    return NativeStep(w.native, batch, threads)


__all__ = ["NativeStep", "NativeWeights", "library", "native_step"]
