"""SaShiMi: a multi-scale S4 stack over 256-class audio tokens (Goel et al. 2022, "It's Raw!").

Legend: B batch, T time in tokens, C = 256 classes, H d_model of a tier, p pool factor,
S residual layers of one stack.

Tier 0 runs at the sample rate with width H0 = d_model; tier i+1 runs p_i times slower with
width H_i * expand. Forward (parallel, training)::

    x = embed(tokens)                                  (B, T, H0)
    for each tier i (top down):  [unet: x = down_stack_i(x)]; skip_i = x; x = down_pool_i(x)
    x = center_stack(x) + x                            [center_residual]
    for each tier i (bottom up): z = shift(up_pool_i(x)) + skip_i; x = up_stack_i(z) + z   [up_residual]
    logits = head(norm(x))                             (B, T, C)

A stack is S x (pre-norm residual S4 block, pre-norm residual feed-forward block).
``down_pool`` folds p steps into one (reshape + linear, width x expand); ``up_pool`` unfolds
one coarse step into p fine steps (linear + reshape) and is shifted right by one coarse
step, so fine step t only sees coarse outputs made from tokens < the start of its chunk:
the model stays causal.

Recurrent mode keeps, per tier, the down-pool input buffer and the p up-pool outputs of
the previous coarse step; a tier steps its coarser neighbour once every p steps, so a
token costs O(1) amortised. The S4 blocks of a stack step together (``FusedStack``, ``s4.SSMStep``).

Fast path: on float32 CPU tensors a whole token, every tier included, is one compiled C
call (``sashimi_native``, ``benchbox/native/sashimi_step.c``) on the very tensors FusedStack
uses; the torch step below stays the reference (``use_native = False`` forces it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from benchbox.audio import QUANT_CLASSES
from benchbox.errors import GeneratorError
from benchbox.generators import ops, sashimi_native
from benchbox.generators.autoregressive import Autoregressive
from benchbox.generators.base import State
from benchbox.generators.s4 import InitKind, KernelKind, S4Layer, SSMStep

GELU_ERF_SCALE = 2**-0.5


@dataclass(frozen=True)
class SashimiConfig:
    d_model: int = 64  # H0, width of the sample-rate tier
    n_layers: int = 8  # residual (S4 + FF) layers per stack
    pool: tuple[int, ...] = (4, 4)  # pooling factor per tier
    expand: int = 2  # width multiplier per pooling
    ff: int = 2  # feed-forward expansion (0: no FF blocks)
    d_state: int = 64  # N, real state size per channel (N/2 complex modes)
    kernel: KernelKind = "s4d"
    init: InitKind = "legs"
    dropout: float = 0.0
    unet: bool = False  # S4 stacks on the way down too, with U-Net skips
    dt_min: float = 1e-3
    dt_max: float = 1e-1
    lr_ssm: float = 1e-3  # learning rate of A, B, dt (no weight decay)
    embed_init: Literal["normal", "ordinal"] = "normal"  # ordinal: codes start as a smooth function of their value
    # The official model (state-spaces/s4 models/sashimi/sashimi.py) by default; each is a
    # switch so a preset can depart from it, documented in the preset (see issue 23 section 5).
    center_residual: bool = True  # x = center(x) + x around the whole centre stack
    up_residual: bool = True  # z = up_pool(x) + skip; x = up_stack(z) + z
    b_clip: float = 2.0  # clip Im(B) of the initial HiPPO-LegS B to +-b_clip, as nplr(B_clip=2.0); 0 = no clip

    def __post_init__(self):
        checks = [
            (self.d_model >= 1, f"d_model must be >= 1, got {self.d_model}"),
            (self.n_layers >= 1, f"n_layers must be >= 1, got {self.n_layers}"),
            (all(p >= 1 for p in self.pool), f"pool factors must be >= 1, got {list(self.pool)}"),
            (self.expand >= 1, f"expand must be >= 1, got {self.expand}"),
            (self.ff >= 0, f"ff must be >= 0, got {self.ff}"),
            (self.d_state >= 2 and self.d_state % 2 == 0, f"d_state must be even and >= 2, got {self.d_state}"),
            (0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}"),
            (0.0 < self.dt_min <= self.dt_max, f"need 0 < dt_min <= dt_max, got {self.dt_min}, {self.dt_max}"),
            (self.lr_ssm > 0, f"lr_ssm must be > 0, got {self.lr_ssm}"),
            (self.b_clip >= 0, f"b_clip must be >= 0 (0 = no clip), got {self.b_clip}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def widths(self) -> list[int]:
        """H per tier, from the sample-rate tier down to the centre."""
        return [self.d_model * self.expand**i for i in range(len(self.pool) + 1)]


class FeedForward(nn.Module):
    def __init__(self, width: int, expansion: int, dropout: float):
        super().__init__()
        self.up = nn.Linear(width, width * expansion)
        self.dropout = nn.Dropout(dropout)
        self.down = nn.Linear(width * expansion, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., H) -> (..., H)
        return self.down(self.dropout(ops.gelu(self.up(x))))


class ResidualStack(nn.Module):
    """S x (x + drop(S4(norm(x))), x + drop(FF(norm(x)))) at one width."""

    def __init__(self, width: int, cfg: SashimiConfig):
        super().__init__()
        n = cfg.n_layers
        self.s4_norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(n))
        self.s4 = nn.ModuleList(S4Layer(width, cfg.d_state, cfg.kernel, cfg.init, cfg.dt_min, cfg.dt_max, cfg.dropout, cfg.b_clip) for _ in range(n))
        self.ff_norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(n if cfg.ff else 0))
        self.ff = nn.ModuleList(FeedForward(width, cfg.ff, cfg.dropout) for _ in range(n if cfg.ff else 0))
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, H) -> (B, T, H)
        for i, s4 in enumerate(self.s4):
            x = x + self.dropout(s4(self.s4_norms[i](x)))
            if self.ff:
                x = x + self.dropout(self.ff[i](self.ff_norms[i](x)))
        return x


class FusedStack:
    """One stack's recurrent step, weights gathered once (no module calls, no eval dropout).

    The SSMs of all S layers read out and update together (``s4.SSMStep``). GELU is exact,
    ``gelu(y) = y' (1 + erf(y')) / sqrt 2`` with ``y' = y / sqrt 2``: the 1/sqrt 2 factors are
    folded into the matrices before and after it, so it costs two ops. The model rebuilds
    this object whenever a parameter changes (``Sashimi._fused_stacks``).
    """

    def __init__(self, stack: ResidualStack):
        c = GELU_ERF_SCALE
        self.ssm = SSMStep(list(stack.s4), out_scale=c)
        self.shape, self.eps = stack.s4_norms[0].normalized_shape, stack.s4_norms[0].eps

        def scaled_t(w: torch.Tensor) -> torch.Tensor:
            return (w.detach().t() * c).contiguous()  # (in, out)

        self.s4 = [(n.weight.detach(), n.bias.detach(), scaled_t(s4.out.weight), s4.out.bias.detach()) for n, s4 in zip(stack.s4_norms, stack.s4)]
        self.ff = [
            (n.weight.detach(), n.bias.detach(), scaled_t(f.up.weight), f.up.bias.detach() * c, scaled_t(f.down.weight), f.down.bias.detach())
            for n, f in zip(stack.ff_norms, stack.ff)
        ]

    def step(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # (B, H) -> (B, H)
        h = self.ssm.readout(state)  # (S, B, H[, 2]), from the previous SSM states
        inputs = []
        for i, (norm_w, norm_b, out_w, out_b) in enumerate(self.s4):
            u = F.layer_norm(x, self.shape, norm_w, norm_b, self.eps)  # (B, H)
            inputs.append(u)
            y = self.ssm.output(h[i], i, u)  # y / sqrt 2
            x = x + F.glu(torch.addmm(out_b, torch.addcmul(y, y, torch.erf(y)), out_w), dim=-1)
            if self.ff:
                norm_w, norm_b, up_w, up_b, down_w, down_b = self.ff[i]
                z = torch.addmm(up_b, F.layer_norm(x, self.shape, norm_w, norm_b, self.eps), up_w)  # z / sqrt 2
                x = torch.addmm(x, torch.addcmul(z, z, torch.erf(z)), down_w).add_(down_b)
        return x, self.ssm.update(state, torch.stack(inputs), h)


@dataclass
class TierState:
    """Recurrent state of one pooling tier (see the module docstring)."""

    down: torch.Tensor  # (B, p, H) inputs of the current chunk
    up: torch.Tensor  # (B, p, H) up-pool outputs for the current chunk
    count: int = 0  # tokens seen by this tier


@dataclass
class SashimiState:
    tiers: list[TierState]
    fused: dict[str, FusedStack]  # discretised SSMs and gathered weights (shared, read-only)
    ssm: dict[str, torch.Tensor]  # (S, H, B, M) complex SSM states per stack


@torch.no_grad()
def ordinal_embedding_(weight: torch.Tensor) -> torch.Tensor:
    """Fill a (C, H) code embedding with value features: row c, column j is
    sqrt(2) cos(pi (j + 1) u_c + phi_j), u_c = c / (C - 1) and phi_j ~ U[0, 2 pi).

    Neighbouring codes (neighbouring amplitudes) start with similar vectors, so the
    network sees the waveform's ordinal structure from the first step instead of
    learning it from 256 unrelated random rows; low j carry the amplitude, high j
    resolve single codes. Same scale as the N(0, 1) default (unit mean square)."""
    classes, width = weight.shape
    u = torch.linspace(0.0, 1.0, classes, dtype=torch.float64)[:, None]  # (C, 1)
    phase = torch.rand(width, dtype=torch.float64) * 2 * math.pi  # (H,)
    freq = torch.arange(1, width + 1, dtype=torch.float64) * math.pi  # (H,)
    return weight.copy_(math.sqrt(2.0) * torch.cos(u * freq + phase))


class Sashimi(Autoregressive):
    name = "sashimi"
    config_class = SashimiConfig
    # Checkpoints and run configs written before these switches existed built the model without them.
    legacy_config = {"center_residual": False, "up_residual": False, "b_clip": 0.0}

    def __init__(self, config: SashimiConfig):
        super().__init__(config)
        cfg = config
        widths = cfg.widths
        self.embed = nn.Embedding(QUANT_CLASSES, cfg.d_model)
        if cfg.embed_init == "ordinal":
            ordinal_embedding_(self.embed.weight)
        self.down_stacks = nn.ModuleList(ResidualStack(w, cfg) for w in widths[:-1]) if cfg.unet else None
        self.down_pools = nn.ModuleList(nn.Linear(w * p, w2) for w, w2, p in zip(widths, widths[1:], cfg.pool))
        self.center = ResidualStack(widths[-1], cfg)
        self.up_pools = nn.ModuleList(nn.Linear(w2, w * p) for w, w2, p in zip(widths, widths[1:], cfg.pool))
        self.up_stacks = nn.ModuleList(ResidualStack(w, cfg) for w in widths[:-1])
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, QUANT_CLASSES)
        self._step_cache: tuple[tuple, dict[str, FusedStack]] | None = None
        self._native_cache: tuple[dict[str, FusedStack], sashimi_native.NativeWeights] | None = None

    @property
    def total_pool(self) -> int:
        return math.prod(self.config.pool)

    # ------------------------------------------------------------ parallel

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, T, C)
        batch, length = x.shape
        padded = -(-length // self.total_pool) * self.total_pool
        x = self.embed(F.pad(x, (0, padded - length)))  # (B, T', H0); the pad is in the future
        skips = []
        for i, p in enumerate(self.config.pool):
            if self.down_stacks is not None:
                x = self.down_stacks[i](x)
            skips.append(x)
            x = self.down_pools[i](x.reshape(batch, x.shape[1] // p, p * x.shape[2]))  # (B, T/p, H*expand)
        x = self.center(x) + x if self.config.center_residual else self.center(x)
        for i in reversed(range(len(self.config.pool))):
            up = self.up_pools[i](x)  # (B, T/p, p*H)
            up = F.pad(up[:, :-1], (0, 0, 1, 0))  # shift one coarse step: causal
            z = up.reshape(batch, skips[i].shape[1], -1) + skips[i]  # (B, T, H)
            x = self.up_stacks[i](z) + z if self.config.up_residual else self.up_stacks[i](z)
        return self.head(self.norm(x))[:, :length]

    # ------------------------------------------------------------ recurrent

    def _stacks(self) -> dict[str, ResidualStack]:
        stacks = {"center": self.center}
        stacks.update({f"up{i}": s for i, s in enumerate(self.up_stacks)})
        if self.down_stacks is not None:
            stacks.update({f"down{i}": s for i, s in enumerate(self.down_stacks)})
        return stacks

    def _fused_stacks(self) -> dict[str, FusedStack]:
        """Discretised SSMs, cached until a parameter changes (storage, version counter) or train()."""
        key = self.weights_key()
        if self._step_cache is None or self._step_cache[0] != key:
            self._step_cache = (key, {name: FusedStack(s) for name, s in self._stacks().items()})
        return self._step_cache[1]

    def _native_weights(self, fused: dict[str, FusedStack]) -> sashimi_native.NativeWeights | None:
        """The packed C step for the current weights, or None where it cannot run."""
        ref = self.head.weight
        if not self.use_native or ref.dtype != torch.float32 or ref.device.type != "cpu":
            return None
        lib = sashimi_native.library()
        if lib is None or any(w % lib.sashimi_channel_block() for w in self.config.widths):
            return None
        if self._native_cache is None or self._native_cache[0] is not fused:
            self._native_cache = (fused, sashimi_native.NativeWeights(self, fused, lib))
        return self._native_cache[1]

    def train(self, mode: bool = True) -> Sashimi:
        self._step_cache = None
        return super().train(mode)

    @torch.no_grad()
    def init_state(self, batch: int, device: torch.device | str = "cpu") -> SashimiState | sashimi_native.NativeState:
        ref = self.head.weight
        if torch.device(device) != ref.device:
            raise GeneratorError(f"init_state on {device} but the sashimi model is on {ref.device}", hint="move the model with .to(device) first")
        fused = self._fused_stacks()
        weights = self._native_weights(fused)
        if weights is not None:
            return sashimi_native.NativeState(weights, batch, threads=torch.get_num_threads())
        tiers = [TierState(ref.new_zeros(batch, p, w), ref.new_zeros(batch, p, w)) for w, p in zip(self.config.widths, self.config.pool)]
        return SashimiState(tiers, fused, {name: f.ssm.zeros(batch) for name, f in fused.items()})

    def step(self, x_t: torch.Tensor, state: SashimiState) -> tuple[torch.Tensor, SashimiState]:  # (B,) -> (B, C)
        if isinstance(state, sashimi_native.NativeState):  # no autograd to switch off: one C call
            return state.step(x_t), state
        return self._reference_step(x_t, state)

    @torch.no_grad()
    def _reference_step(self, x_t: torch.Tensor, state: SashimiState) -> tuple[torch.Tensor, SashimiState]:  # (B,) -> (B, C)
        x = self._tier_step(0, self.embed(x_t), state)  # (B, H0)
        return self.head(self.norm(x)), state

    @staticmethod
    def _run_stack(name: str, x: torch.Tensor, state: SashimiState) -> torch.Tensor:
        x, state.ssm[name] = state.fused[name].step(x, state.ssm[name])
        return x

    def _tier_step(self, i: int, x: torch.Tensor, state: SashimiState) -> torch.Tensor:  # (B, H_i) -> (B, H_i)
        if i == len(self.config.pool):
            return self._run_stack("center", x, state) + x if self.config.center_residual else self._run_stack("center", x, state)
        if self.down_stacks is not None:
            x = self._run_stack(f"down{i}", x, state)
        tier, p = state.tiers[i], self.config.pool[i]
        pos = tier.count % p
        tier.count += 1
        tier.down[:, pos] = x
        x = tier.up[:, pos] + x  # up-pool output of the previous chunk + skip
        if pos == p - 1:  # chunk complete: step the coarser tier once
            coarse = self._tier_step(i + 1, self.down_pools[i](tier.down.flatten(1)), state)  # (B, H_{i+1})
            tier.up.copy_(self.up_pools[i](coarse).view_as(tier.up))
        return self._run_stack(f"up{i}", x, state) + x if self.config.up_residual else self._run_stack(f"up{i}", x, state)

    # ------------------------------------------------------------ training

    def ssm_parameters(self) -> list[nn.Parameter]:
        return [p for s in self._stacks().values() for layer in s.s4 for p in layer.kernel.ssm_parameters()]

    def param_groups(self, lr: float, weight_decay: float) -> list[dict]:
        """A, B, dt: lr_ssm and no weight decay; the rest as in the base class."""
        ssm = {id(p) for p in self.ssm_parameters()}
        decay, no_decay = [], []
        for p in self.parameters():
            if p.requires_grad and id(p) not in ssm:
                (decay if p.dim() >= 2 else no_decay).append(p)
        return [
            {"params": decay, "lr": lr, "weight_decay": weight_decay},
            {"params": no_decay, "lr": lr, "weight_decay": 0.0},
            {"params": self.ssm_parameters(), "lr": self.config.lr_ssm, "weight_decay": 0.0},
        ]
