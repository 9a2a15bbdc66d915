"""WaveNet (van den Oord et al. 2016) with Fast-WaveNet queues for generation.

Legend: B batch, T time in tokens, C = 256 classes, R residual channels, D dilation
channels, S skip channels, E end channels, K kernel size, L = stacks * layers_per_stack.

Layer l of a stack has dilation 2^(l mod layers_per_stack). Each layer is a causal
dilated conv R -> 2D, a gated unit tanh(a) * sigmoid(b) -> z (D) and a 1x1 residual
conv D -> R added to its input. The per-layer 1x1 skip convs D -> S are summed, which
is one matmul over all layers' z side by side (L D -> S, one bias). Then ReLU -> 1x1
S -> E -> ReLU -> 1x1 E -> C gives the logits. The parallel path runs channels last,
so every 1x1 conv is a plain matmul. Tokens enter through an embedding (a 1x1 conv on
one-hot input), which adds nothing to the receptive field:

    receptive_field = stacks * (K - 1) * (2^layers_per_stack - 1) + 1

e.g. 4 stacks x 10 layers, K = 2: 4 * 1 * 1023 + 1 = 4093 tokens.

Generation ("Fast WaveNet", Paine et al. 2016) keeps, for each layer, a ring buffer of
its last (K - 1) * dilation inputs, so a step costs O(L), not O(receptive field). The
buffers start at zero: exactly the left zero-padding of the parallel forward, so T
steps reproduce ``forward``. The step path works on weight matrices pre-sliced (and
cached per weight version) when ``init_state`` runs; see :class:`StepWeights`.

On float32 CPU weights ``init_state`` normally picks the compiled step instead
(``benchbox/native/wavenet_step.c``, driven by :mod:`benchbox.generators.wavenet_native`):
one C call per token runs every layer and the head on the same ring buffer, with the
matrices packed once per weight version (``StepWeights.native``). When torch has more than
one thread at ``init_state``, the call shares the skip matmul with one helper thread, with
the same logits bit for bit. ``state.native`` tells which path runs; ``use_native = False``,
``BENCHBOX_NATIVE=0``, another dtype or device, or no C compiler leave the torch ``step``
below, the readable reference that the tests hold the C step to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from benchbox.audio import QUANT_CLASSES
from benchbox.errors import GeneratorError
from benchbox.generators.autoregressive import Autoregressive
from benchbox.generators.wavenet_native import NativeStep, NativeWeights, native_step


@dataclass(frozen=True)
class WaveNetConfig:
    stacks: int = 4
    layers_per_stack: int = 10
    kernel_size: int = 2
    residual_channels: int = 64
    dilation_channels: int = 64
    skip_channels: int = 1024
    end_channels: int = 512
    dropout: float = 0.0  # on the gated output z, training only

    def __post_init__(self) -> None:
        for name in ("stacks", "layers_per_stack", "residual_channels", "dilation_channels", "skip_channels", "end_channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.kernel_size < 2:
            raise ValueError(f"kernel_size must be >= 2, got {self.kernel_size}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def dilations(self) -> list[int]:
        return [2**i for _ in range(self.stacks) for i in range(self.layers_per_stack)]


class GatedLayer(nn.Module):
    """One residual layer, channels last; the network's last layer has no residual path.

    The dilated causal conv is one matmul over the K taps laid side by side,
    [x(t - (K-1) d), ..., x(t - d), x(t)] (K R) -> 2D; 1x1 convs are plain matmuls.
    """

    def __init__(self, cfg: WaveNetConfig, dilation: int, last: bool):
        super().__init__()
        self.dilation, self.taps = dilation, cfg.kernel_size
        self.conv = nn.Linear(cfg.kernel_size * cfg.residual_channels, 2 * cfg.dilation_channels)
        self.res = None if last else nn.Linear(cfg.dilation_channels, cfg.residual_channels)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:  # (B, T, R)
        length, reach = x.shape[1], (self.taps - 1) * self.dilation
        padded = F.pad(x, (0, 0, reach, 0))  # (B, reach + T, R): causal zero padding
        taps = torch.cat([padded[:, k * self.dilation : k * self.dilation + length] for k in range(self.taps)], dim=2)  # (B, T, K R)
        a, b = self.conv(taps).chunk(2, dim=2)  # (B, T, D) x 2
        z = self.drop(torch.tanh(a) * torch.sigmoid(b))  # (B, T, D)
        return (None if self.res is None else x + self.res(z)), z  # (B, T, R), (B, T, D)


@dataclass
class StepWeights:
    """Weights as matrices for the step path, plus the ring-buffer layout.

    Two exact rewrites save one op per layer and step:

    * The sigmoid half of every gate is pre-scaled by 1/2 so that one tanh serves both
      halves: sigmoid(b) = (1 + tanh(b / 2)) / 2, so z = (ta + ta * tb) / 2; the 1/2 is
      folded into the residual and skip matrices.
    * The rings hold x_l - c_l, where c_l is the sum of the residual biases below layer
      l; the gate biases absorb W c_l, and the rings start at -c_l (zero in x).
    """

    embed: torch.Tensor  # (C, R)
    w_now: list[torch.Tensor]  # L x (R, 2D): tap on x(t)
    w_past: torch.Tensor  # (L, (K-1) R, 2D): taps on x(t - j d), j = 1..K-1
    b_gate: torch.Tensor  # (L, 1, 2D)
    w_res: list[torch.Tensor]  # (L-1) x (D, R)
    ring_pad: torch.Tensor  # (L, R): -c_l, the ring value that means x = 0
    w_skip: torch.Tensor  # (L D, S), a transposed view of an (S, L D) matrix
    b_skip: torch.Tensor  # (S,)
    w_end: torch.Tensor  # (S, E), transposed view
    b_end: torch.Tensor  # (E,)
    w_out: torch.Tensor  # (E, C), transposed view
    b_out: torch.Tensor  # (C,)
    ring_len: list[int]  # L: (K-1) * dilation
    ring_start: list[int]  # L: offset of each layer's ring in the flat buffer
    period: int  # lcm of ring lengths: the gather table repeats with this period
    gather: torch.Tensor  # (period, L (K-1)) int64 rows of x(t - j d) in the flat buffer
    native: NativeWeights | None = None  # the panel-packed copy for the C step, built on first use


@dataclass
class WaveNetState:
    """Ring buffers of layer inputs, the step count and preallocated scratch views."""

    weights: StepWeights
    ring: torch.Tensor  # (sum ring_len, B, R)
    slots: list[list[torch.Tensor]]  # L x ring_len views (B, R) into ``ring``
    gate: torch.Tensor  # (L, B, 2D) gate pre-activations of the current step
    z: torch.Tensor  # (B, L, D): gated outputs (times 2) of the current step
    views: list[tuple[torch.Tensor, ...]]  # L x (gate (B, 2D), ta (B, D), tb (B, D), z (B, D))
    t: int = 0
    native: NativeStep | None = None  # the C step when init_state chose it; None: the torch step


class WaveNet(Autoregressive):
    name = "wavenet"
    config_class = WaveNetConfig

    def __init__(self, config: WaveNetConfig):
        super().__init__(config)
        cfg = config
        dilations = cfg.dilations
        self.embed = nn.Embedding(QUANT_CLASSES, cfg.residual_channels)
        self.layers = nn.ModuleList(GatedLayer(cfg, d, last=i == len(dilations) - 1) for i, d in enumerate(dilations))
        self.skip = nn.Linear(len(dilations) * cfg.dilation_channels, cfg.skip_channels)  # all layers' 1x1 skips at once
        self.end = nn.Linear(cfg.skip_channels, cfg.end_channels)
        self.out = nn.Linear(cfg.end_channels, QUANT_CLASSES)
        self._step_cache: tuple[tuple, StepWeights] | None = None

    @property
    def receptive_field(self) -> int:
        cfg = self.config
        return cfg.stacks * (cfg.kernel_size - 1) * (2**cfg.layers_per_stack - 1) + 1

    # ------------------------------------------------------------------ parallel path

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, T, C)
        h = self.embed(x)  # (B, T, R)
        gated = []
        for layer in self.layers:
            h, z = layer(h)  # (B, T, R), (B, T, D)
            gated.append(z)
        skip = self.skip(torch.cat(gated, dim=2))  # (B, T, S): the sum of every layer's 1x1 skip
        return self.out(F.relu(self.end(F.relu(skip))))  # (B, T, C)

    # ------------------------------------------------------------------ recurrent path

    def step_weights(self) -> StepWeights:
        """The pre-sliced step matrices, rebuilt only when a parameter changed."""
        key = self.weights_key()
        if self._step_cache is None or self._step_cache[0] != key:
            with torch.no_grad():
                self._step_cache = (key, _slice_weights(self))
        return self._step_cache[1]

    def init_state(self, batch: int, device: torch.device | str | None = None) -> WaveNetState:
        w = self.step_weights()
        cfg = self.config
        device = w.embed.device if device is None else torch.device(device)
        if device != w.embed.device:
            raise GeneratorError(f"wavenet: init_state on {device} but the model is on {w.embed.device}", hint="move the model with .to(device) first")
        d_ch, n_layers, kw = cfg.dilation_channels, len(w.ring_len), {"dtype": w.embed.dtype, "device": device}
        pad = torch.repeat_interleave(w.ring_pad, torch.tensor(w.ring_len, device=device), dim=0)  # (sum ring_len, R)
        ring = pad[:, None, :].repeat(1, batch, 1)  # (sum ring_len, B, R)
        slots = [[ring[start + s] for s in range(length)] for start, length in zip(w.ring_start, w.ring_len)]
        gate = torch.empty(n_layers, batch, 2 * d_ch, **kw)
        z = torch.empty(batch, n_layers, d_ch, **kw)
        views = [(gate[i], gate[i, :, :d_ch], gate[i, :, d_ch:], z[:, i]) for i in range(n_layers)]
        fast = native_step(w, batch, threads=torch.get_num_threads()) if self.use_native else None
        return WaveNetState(weights=w, ring=ring, slots=slots, gate=gate, z=z, views=views, native=fast)

    def step(self, x_t: torch.Tensor, state: WaveNetState) -> tuple[torch.Tensor, WaveNetState]:  # (B,) -> (B, C)
        """One token for every batch row: O(L) small matmuls, then the head."""
        if state.native is not None:  # the compiled step, on the same ring buffer
            logits = state.native(x_t, state.ring, state.t)  # (B, C)
            state.t += 1
            return logits, state
        w, ring, slots, t = state.weights, state.ring, state.slots, state.t
        n_layers, batch = len(slots), ring.shape[1]
        past = ring.index_select(0, w.gather[t % w.period])  # (L (K-1), B, R)
        if past.shape[0] != n_layers:  # kernel_size > 2: put the taps side by side
            past = past.view(n_layers, -1, batch, ring.shape[2]).transpose(1, 2).reshape(n_layers, batch, -1)
        torch.baddbmm(w.b_gate, past, w.w_past, out=state.gate)  # (L, B, 2D)
        x = slots[0][t % w.ring_len[0]]  # (B, R)
        torch.index_select(w.embed, 0, x_t, out=x)
        for i, (gate, ta, tb, z) in enumerate(state.views):
            gate.addmm_(x, w.w_now[i]).tanh_()  # (B, 2D)
            torch.addcmul(ta, ta, tb, out=z)  # (B, D): 2 tanh(a) sigmoid(b)
            if i + 1 < n_layers:
                x_next = slots[i + 1][t % w.ring_len[i + 1]]  # (B, R)
                torch.addmm(x, z, w.w_res[i], out=x_next)
                x = x_next
        skip = torch.addmm(w.b_skip, state.z.view(batch, -1), w.w_skip).relu_()  # (B, S)
        end = torch.addmm(w.b_end, skip, w.w_end).relu_()  # (B, E)
        state.t = t + 1
        return torch.addmm(w.b_out, end, w.w_out), state  # (B, C)

    def prefill(self, x: torch.Tensor, state: WaveNetState) -> tuple[torch.Tensor, WaveNetState]:
        """From a fresh state, one parallel pass fills the rings; otherwise loop ``step``.

        The rings and the last logits depend on the last ``receptive_field`` tokens only,
        so the pass runs on those, whatever the prefix length.
        """
        if state.t != 0 or x.shape[1] == 0:
            return super().prefill(x, state)
        w, n_tokens = state.weights, x.shape[1]
        with torch.no_grad():
            logits, tails = self._last_logits_and_inputs(x[:, -self.receptive_field :], w.ring_len)
        for tail, pad, start, length in zip(tails, w.ring_pad, w.ring_start, w.ring_len):
            positions = torch.arange(n_tokens - tail.shape[1], n_tokens, device=tail.device)  # (n,)
            state.ring.index_copy_(0, start + positions % length, (tail + pad).transpose(0, 1))  # (n, B, R)
        state.t = n_tokens
        return logits, state

    def _last_logits_and_inputs(self, x: torch.Tensor, keep: list[int]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(B, T) -> last logits (B, C) and each layer's last ``keep[l]`` inputs (B, n, R)."""
        h = self.embed(x)  # (B, T, R)
        tails, last = [], []
        for layer, n in zip(self.layers, keep):
            tails.append(h[:, -n:].clone())  # (B, n, R)
            h, z = layer(h)  # (B, T, R), (B, T, D)
            last.append(z[:, -1])  # (B, D)
        skip = self.skip(torch.cat(last, dim=1))  # (B, S)
        return self.out(F.relu(self.end(F.relu(skip)))), tails  # (B, C)


def _slice_weights(model: WaveNet) -> StepWeights:
    cfg = model.config
    k, r_ch, d_ch, dtype = cfg.kernel_size, cfg.residual_channels, cfg.dilation_channels, model.embed.weight.dtype
    half = torch.ones(2 * d_ch, dtype=dtype, device=model.embed.weight.device)
    half[d_ch:] = 0.5  # pre-scale the sigmoid half: one tanh serves both
    offset = torch.zeros(r_ch, dtype=dtype, device=half.device)  # c_l
    w_now, w_past, b_gate, w_res, ring_pad = [], [], [], [], []
    for layer in model.layers:
        wc = (layer.conv.weight * half[:, None]).T.reshape(k, r_ch, 2 * d_ch)  # (K, R, 2D); tap k sees x(t - (K-1-k) d)
        w_now.append(wc[k - 1].contiguous())  # (R, 2D)
        w_past.append(wc[: k - 1].flip(0).reshape(-1, 2 * d_ch))  # ((K-1) R, 2D), j = 1..K-1
        b_gate.append((layer.conv.bias * half + offset @ wc.sum(dim=0))[None])  # (1, 2D)
        ring_pad.append(-offset)
        if layer.res is not None:
            w_res.append((0.5 * layer.res.weight).T.contiguous())  # (D, R)
            offset = offset + layer.res.bias
    return StepWeights(
        embed=model.embed.weight.detach().clone(),
        w_now=w_now,
        w_past=torch.stack(w_past).contiguous(),
        b_gate=torch.stack(b_gate),
        w_res=w_res,
        ring_pad=torch.stack(ring_pad),
        w_skip=(0.5 * model.skip.weight).T,  # transposed views of (out, in) matrices: the faster gemm layout
        b_skip=model.skip.bias.clone(),
        w_end=model.end.weight.detach().clone().T,
        b_end=model.end.bias.clone(),
        w_out=model.out.weight.detach().clone().T,
        b_out=model.out.bias.clone(),
        **_ring_layout(cfg, half.device),
    )


def _ring_layout(cfg: WaveNetConfig, device: torch.device) -> dict:
    """Ring lengths and offsets, and for each t mod period the rows of x(t - j d)."""
    k = cfg.kernel_size
    ring_len = [(k - 1) * d for d in cfg.dilations]
    ring_start = [sum(ring_len[:i]) for i in range(len(ring_len))]
    period = math.lcm(*ring_len)
    steps = torch.arange(period)[:, None, None]  # (P, 1, 1)
    taps = torch.arange(1, k)[None, None, :]  # (1, 1, K-1)
    lens = torch.tensor(ring_len)[None, :, None]  # (1, L, 1)
    starts = torch.tensor(ring_start)[None, :, None]  # (1, L, 1)
    dil = torch.tensor(cfg.dilations)[None, :, None]  # (1, L, 1)
    gather = (starts + (steps - taps * dil) % lens).reshape(period, -1)  # (P, L (K-1))
    return {"ring_len": ring_len, "ring_start": ring_start, "period": period, "gather": gather.to(device)}


__all__ = ["WaveNet", "WaveNetConfig", "WaveNetState", "StepWeights", "GatedLayer"]
