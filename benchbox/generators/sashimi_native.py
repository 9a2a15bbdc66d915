"""SaShiMi's compiled recurrent step: the whole multi-rate token step in one C call.

Legend: B batch, C = 256 classes, H width of a tier, N d_state, M = N/2 modes, S layers.

``NativeWeights`` packs, once per weight version, the tensors of the torch reference path
(``sashimi.FusedStack``: discretised SSMs, GELU-scaled matrices) into the layouts of
``benchbox/native/sashimi_step.c``; ``NativeState`` owns the buffers of one batch of
recurrences and a ctypes ``Model`` struct pointing at them. ``Sashimi.step`` calls
``NativeState.step`` when ``init_state`` chose the native path; the results match the torch
step to float32 rounding (tests/generators/test_sashimi_native.py).
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING

import torch

from benchbox import native
from benchbox.errors import GeneratorError

if TYPE_CHECKING:  # sashimi.py imports this module
    from benchbox.generators.sashimi import FusedStack

MAX_TIERS = 8  # sashimi_step.c: MAX_TIERS
MIN_ROWS_PER_THREAD = 4  # fewer rows per group cost more in hand-off than they save
LONG_BYTES, FLOAT_BYTES = 8, 4


class _Stack(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int) for name in ("layers", "h", "n", "f", "low_rank")] + [
        ("eps", ctypes.c_float),
        ("params", ctypes.c_void_p),
        ("state", ctypes.c_void_p),
    ]


class _Model(ctypes.Structure):
    _fields_ = [
        ("tiers", ctypes.c_int),
        ("unet", ctypes.c_int),
        ("batch", ctypes.c_int),
        ("classes", ctypes.c_int),
        ("pool", ctypes.c_int * MAX_TIERS),
        ("width", ctypes.c_int * (MAX_TIERS + 1)),
        ("count", ctypes.c_long * MAX_TIERS),
        ("up", _Stack * MAX_TIERS),
        ("down", _Stack * MAX_TIERS),
        ("center", _Stack),
        ("down_pool", ctypes.c_void_p * MAX_TIERS),
        ("up_pool", ctypes.c_void_p * MAX_TIERS),
        ("down_buf", ctypes.c_void_p * MAX_TIERS),
        ("up_buf", ctypes.c_void_p * MAX_TIERS),
        ("x", ctypes.c_void_p * (MAX_TIERS + 2)),
        ("embed", ctypes.c_void_p),
        ("norm", ctypes.c_void_p),
        ("norm_eps", ctypes.c_float),
        ("head", ctypes.c_void_p),
        ("scratch", ctypes.c_void_p),
        ("center_residual", ctypes.c_int),
        ("up_residual", ctypes.c_int),
        ("res", ctypes.c_void_p * (MAX_TIERS + 1)),
    ]


MIN_INJECT = 1e-20  # |ig| floor of the scaled DPLR state (its error: below 2e-20 |G . s|)


def dplr_scaled_record(readout: torch.Tensor, a1: torch.Tensor, inject_u: torch.Tensor, g_row: torch.Tensor, inject_g: torch.Tensor) -> list[torch.Tensor]:
    """The DPLR step on the state z = s / ig, per mode (pairs (H, N), complex (H, M)).

    The torch step updates s' = a1 s + iu u + ig g with g = G . s; dividing by the
    injection ig gives z' = a1 z + (iu / ig) u + g, where the real g adds to the real part
    alone, and the rows R = C dA and G read z through R ig and G ig. Per mode and row that
    is 10 multiply-adds over 8 weight vectors instead of 12 over 10: S4D takes 8 over 6.
    Exact up to rounding, with |ig| floored at MIN_INJECT (a mode that ig does not reach).
    """
    pairs = lambda t: torch.view_as_complex(t.reshape(*t.shape[:-1], -1, 2).contiguous())  # noqa: E731  (H, N) -> (H, M)
    ig = pairs(inject_g)
    ig = torch.where(ig.abs() < MIN_INJECT, torch.full_like(ig, MIN_INJECT), ig)

    def read_through(row: torch.Tensor) -> torch.Tensor:  # y = sum r_re s_re + r_im s_im, s = ig z
        r = pairs(row)
        return torch.stack([r.real * ig.real + r.imag * ig.imag, r.imag * ig.real - r.real * ig.imag], -1)  # (H, M, 2)

    return [read_through(readout), torch.view_as_real(a1), torch.view_as_real(pairs(inject_u) / ig), read_through(g_row)]


class NativeStack:
    """A FusedStack's tensors packed for ``sashimi_stack_step`` (layout: sashimi_step.c).

    The native state of a stack is real, per layer and row (H/8, M, 2, 8) modes, then H
    floats of G . s (DPLR), then a pad (see sashimi_step.c): mode m of channel h of the torch
    path's (S, H, B, M) complex state (for DPLR, divided by its injection ig: see
    ``dplr_scaled_record``).
    """

    def __init__(self, fused: FusedStack, lib):
        ssm = fused.ssm
        self.layers, self.low_rank = len(fused.s4), int(ssm.low_rank)
        self.width, self.state_size = fused.s4[0][0].shape[0], ssm.readout_rows.shape[-1]
        self.ff_width = fused.ff[0][2].shape[1] if fused.ff else 0
        block, modes = lib.sashimi_channel_block(), self.state_size // 2
        if self.width % block:
            raise GeneratorError(f"sashimi native step needs widths divisible by {block}, got {self.width}", hint="set BENCHBOX_NATIVE=0")

        def blocked(t: torch.Tensor) -> torch.Tensor:  # (H, M, K) -> (H/8, M, K, 8): 8 channels per vector
            return t.reshape(self.width // block, block, modes, -1).permute(0, 2, 3, 1)

        parts = []
        for i, (norm_w, norm_b, out_w, out_b) in enumerate(fused.s4):
            rows = ssm.readout_rows[i, :, 0]  # (H, N) or (H, 2, N): C dA [, G]
            da = ssm.da[i, :, 0]  # (H, M) complex
            if self.low_rank:
                record = dplr_scaled_record(rows[:, 0], da, ssm.inject_u[i, :, 0], rows[:, 1], ssm.inject_g[i, :, 0])
            else:
                record = [rows, torch.view_as_real(da), ssm.db[i, :, 0]]  # (H, N), (H, M, 2), (H, N)
            parts += [norm_w, norm_b, ssm.d_skip[i], blocked(torch.cat([t.reshape(self.width, modes, 2) for t in record], -1))]
            parts.append(native.pack_linear(out_w, out_b))
            if fused.ff:
                norm_w, norm_b, up_w, up_b, down_w, down_b = fused.ff[i]
                parts += [norm_w, norm_b, native.pack_linear(up_w, up_b), native.pack_linear(down_w, down_b)]
        self.params = torch.cat([t.contiguous().reshape(-1) for t in parts]).to(torch.float32).contiguous()
        self.dims = (self.layers, self.width, self.state_size, self.ff_width, self.low_rank)
        if self.params.numel() != lib.sashimi_stack_params(*self.dims):
            raise GeneratorError("sashimi native step: packed parameters do not match the C layout", hint="set BENCHBOX_NATIVE=0 and report this")
        self.eps, self.lib = ctypes.c_float(fused.eps), lib

    def zeros(self, batch: int) -> torch.Tensor:  # -> (S, B, N H + pad)
        return torch.zeros(self.layers, batch, self.lib.sashimi_state_stride(self.width, self.state_size))

    def scratch_size(self, batch: int) -> int:
        return self.lib.sashimi_stack_scratch(batch, self.width, self.ff_width)

    def struct(self, state: torch.Tensor) -> _Stack:
        return _Stack(*self.dims, self.eps, self.params.data_ptr(), state.data_ptr())




SIGNATURES = {
    "sashimi_stack_params": ([ctypes.c_int] * 5, ctypes.c_long),
    "sashimi_stack_scratch": ([ctypes.c_int] * 3, ctypes.c_long),
    "sashimi_state_stride": ([ctypes.c_int] * 2, ctypes.c_long),
    "sashimi_channel_block": ([], ctypes.c_int),
    "sashimi_model_size": ([], ctypes.c_long),
    "sashimi_token_step": ([ctypes.c_void_p] * 3, ctypes.c_int),
    "sashimi_check_tokens": ([ctypes.c_void_p, ctypes.c_int, ctypes.c_int], ctypes.c_int),
}


def library():
    """The compiled step with its ctypes signatures, or None (see benchbox.native)."""
    lib = native.load("sashimi_step", SIGNATURES)
    if lib is not None and lib.sashimi_model_size() != ctypes.sizeof(_Model):
        return None  # a layout mismatch: never call into it
    return lib


def _linear(layer: torch.nn.Linear) -> torch.Tensor:
    return native.pack_linear(layer.weight.detach().t(), layer.bias.detach())


class NativeWeights:
    """Every tensor the C token step reads, packed from a model and its fused stacks."""

    def __init__(self, model, fused: dict, lib):
        if len(model.config.pool) > MAX_TIERS - 1:
            raise GeneratorError(f"sashimi native step supports up to {MAX_TIERS - 1} pooling tiers", hint="set BENCHBOX_NATIVE=0")
        self.model_config, self.lib = model.config, lib
        self.stacks = {name: NativeStack(f, lib) for name, f in fused.items()}
        self.embed = model.embed.weight.detach().contiguous()  # (C, H0)
        self.norm = torch.cat([model.norm.weight.detach(), model.norm.bias.detach()])  # (2 H0,)
        self.norm_eps = model.norm.eps
        self.head = _linear(model.head)
        self.down_pools = [_linear(layer) for layer in model.down_pools]
        self.up_pools = [_linear(layer) for layer in model.up_pools]
        self.classes = model.head.out_features


class _Rows:
    """Buffers and the ctypes Model struct for ``batch`` independent recurrences."""

    def __init__(self, weights: NativeWeights, batch: int):
        cfg = weights.model_config
        widths = cfg.widths
        self.batch = batch
        self.ssm = {name: s.zeros(batch) for name, s in weights.stacks.items()}  # (S, B, stride)
        self.down = [torch.zeros(batch, p * w) for p, w in zip(cfg.pool, widths)]  # (B, p H)
        self.up = [torch.zeros(batch, native.padded_width(p * w)) for p, w in zip(cfg.pool, widths)]  # (B, p H padded)
        self.x = [torch.zeros(batch, w) for w in widths] + [torch.zeros(batch, widths[0])]  # (B, H) per tier, normed top
        need = max(max(s.scratch_size(batch) for s in weights.stacks.values()), batch * widths[0])
        self.scratch = torch.zeros(need)
        m = _Model(tiers=len(cfg.pool), unet=int(cfg.unet), batch=batch, classes=weights.classes)
        for i, p in enumerate(cfg.pool):
            m.pool[i] = p
            m.up[i] = weights.stacks[f"up{i}"].struct(self.ssm[f"up{i}"])
            if cfg.unet:
                m.down[i] = weights.stacks[f"down{i}"].struct(self.ssm[f"down{i}"])
            m.down_pool[i], m.up_pool[i] = weights.down_pools[i].data_ptr(), weights.up_pools[i].data_ptr()
            m.down_buf[i], m.up_buf[i] = self.down[i].data_ptr(), self.up[i].data_ptr()
        for i, w in enumerate(widths):
            m.width[i] = w
        for i, t in enumerate(self.x):
            m.x[i] = t.data_ptr()
        m.center = weights.stacks["center"].struct(self.ssm["center"])
        m.embed, m.norm, m.norm_eps, m.head = weights.embed.data_ptr(), weights.norm.data_ptr(), weights.norm_eps, weights.head.data_ptr()
        m.scratch = self.scratch.data_ptr()
        self.res = [torch.zeros(batch, w) for w in widths]  # (B, H) per tier: a stack's input for its outer residual
        m.center_residual, m.up_residual = int(cfg.center_residual), int(cfg.up_residual)
        for i, t in enumerate(self.res):
            m.res[i] = t.data_ptr()
        self.struct, self.ref = m, ctypes.byref(m)


class NativeState:
    """The recurrent state of B rows on the native path; ``step`` advances it by one token.

    With ``threads`` > 1 and at least ``MIN_ROWS_PER_THREAD`` rows each, the rows are split
    into independent groups that step in parallel: the C call releases the GIL, so plain
    Python threads run it on separate cores.
    """

    def __init__(self, weights: NativeWeights, batch: int, threads: int = 1):
        groups = max(1, min(threads, native.WORKERS + 1, batch // MIN_ROWS_PER_THREAD))
        bounds = [batch * g // groups for g in range(groups + 1)]
        self.weights, self.batch, self.classes = weights, batch, weights.classes
        self.parts = [(lo, _Rows(weights, hi - lo)) for lo, hi in zip(bounds, bounds[1:])]
        self.fn, self.check = weights.lib.sashimi_token_step, weights.lib.sashimi_check_tokens

    @property
    def struct(self) -> _Model:
        """The first row group's struct (tests read its tier counters)."""
        return self.parts[0][1].struct

    def step(self, tokens: torch.Tensor) -> torch.Tensor:  # (B,) int64 -> (B, C)
        if tokens.dtype != torch.long or not tokens.is_contiguous():
            tokens = tokens.to(torch.long).contiguous()
        if tokens.shape != (self.batch,):
            raise GeneratorError(f"sashimi step: expected {self.batch} tokens, got shape {tuple(tokens.shape)}", hint="pass one token per batch row")
        logits = torch.empty(self.batch, self.classes)
        t_ptr, l_ptr = tokens.data_ptr(), logits.data_ptr()
        if len(self.parts) == 1:  # the C call checks the tokens before it changes anything
            if self.fn(self.parts[0][1].ref, t_ptr, l_ptr) != 0:
                raise GeneratorError(f"sashimi step: a token is outside [0, {self.classes})", hint="tokens are 8-bit codes in [0, 255]")
            return logits
        if self.check(t_ptr, self.batch, self.classes) != 0:  # before any row group advances
            raise GeneratorError(f"sashimi step: a token is outside [0, {self.classes})", hint="tokens are 8-bit codes in [0, 255]")
        calls = [(rows.ref, t_ptr + lo * LONG_BYTES, l_ptr + lo * self.classes * FLOAT_BYTES) for lo, rows in self.parts]
        others = [native.worker_pool().submit(self.fn, *args) for args in calls[1:]]
        self.fn(*calls[0])
        for future in others:
            future.result()
        return logits
