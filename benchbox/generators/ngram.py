"""An order-k count model over codes: the floor every neural generator has to clear.

Legend: B batch, T time in tokens, C = 256 classes, k = ``order`` (context length in
codes: 1 = bigram), P = B * T positions, E = stored (context, next code) pairs.

The model predicts token t+1 from the last k input tokens ``x[t-k+1 .. t]``; tokens
before the start are the silence code, exactly as the trainer feeds a clip
(``[SILENCE, x0 .. x_{T-2}]``) and as generation starts. It is fitted by counting on the
training split (:meth:`NGram.fit`, seconds for a million tokens) and has no gradient
parameters. Two smoothings (Chen & Goodman 1999, "An empirical study of smoothing
techniques for language modeling"):

* ``add``: ``P(x | h) = (c(h, x) + alpha) / (c(h) + C alpha)`` (add-alpha / Lidstone).
* ``interpolate``: each order backs onto the one below with ``C alpha`` pseudo-counts,
  ``P_j(x | h_j) = (c(h_j, x) + C alpha P_{j-1}(x | h_{j-1})) / (c(h_j) + C alpha)``,
  from the add-alpha unigram ``P_0`` up to ``P_k`` (a hierarchical Dirichlet prior,
  MacKay & Peto 1995). Unseen contexts fall back to the order below, not to uniform.

Counts are stored sparsely per order, as sorted context ids with CSR rows of
(next code, count), so k = 3 costs memory in the number of distinct pairs seen (E),
not C^4. ``forward`` and ``step`` call the same row-wise function on the contexts, so
T steps reproduce ``forward`` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from benchbox.audio import QUANT_CLASSES, SILENCE_CODE
from benchbox.errors import GeneratorError
from benchbox.generators.autoregressive import Autoregressive

MAX_ORDER = 3
ROWS_PER_CHUNK = 16_384  # positions per dense (rows, C) block in forward


@dataclass(frozen=True)
class NGramConfig:
    order: int = 1  # context length in codes: 1 = bigram, 2 = trigram, 3 = 4-gram
    alpha: float = 1.0  # pseudo-count per class
    smoothing: Literal["add", "interpolate"] = "add"
    dropout: float = 0.0  # accepted for sweep compatibility; a count model has nothing to drop

    def __post_init__(self):
        if not 1 <= self.order <= MAX_ORDER:
            raise ValueError(f"order must be 1..{MAX_ORDER}, got {self.order}")
        if self.alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")


def context_ids(tokens: torch.Tensor, order: int) -> torch.Tensor:
    """(B, T) tokens -> (B, T) int64 ids of the last ``order`` tokens at each position,
    silence-padded on the left: id = sum_i x[t - i] * C^i."""
    pad = torch.full_like(tokens[:, :1], SILENCE_CODE).expand(-1, order - 1)  # (B, k-1)
    padded = torch.cat([pad, tokens], dim=1).long()  # (B, T + k - 1)
    ids = torch.zeros_like(tokens, dtype=torch.long)
    for i in range(order):  # i = 0 is the newest token
        ids += padded[:, order - 1 - i : padded.shape[1] - i] * QUANT_CLASSES**i
    return ids  # (B, T)


def count_table(contexts: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
    """Sparse counts of (context id, next code) pairs as sorted CSR rows."""
    keys, counts = torch.unique(contexts.reshape(-1) * QUANT_CLASSES + targets.reshape(-1), return_counts=True)  # (E,)
    ctx, nxt = keys // QUANT_CLASSES, keys % QUANT_CLASSES
    rows, row_len = torch.unique_consecutive(ctx, return_counts=True)  # (R,)
    offsets = torch.zeros(len(rows) + 1, dtype=torch.long)
    offsets[1:] = torch.cumsum(row_len, 0)
    counts = counts.to(torch.get_default_dtype())
    totals = torch.zeros(len(rows), dtype=counts.dtype).index_add_(0, torch.repeat_interleave(torch.arange(len(rows)), row_len), counts)
    return {"rows": rows, "offsets": offsets, "next": nxt, "counts": counts, "totals": totals}


class NGram(Autoregressive):
    name = "ngram"
    config_class = NGramConfig
    use_native = False
    capabilities = Autoregressive.capabilities | {"fit"}

    def __init__(self, config: NGramConfig):
        super().__init__(config)
        # Float buffers hold counts in the model's dtype (exact up to 2^24 in float32).
        self.register_buffer("unigram", torch.zeros(QUANT_CLASSES))  # (C,) counts
        for j in range(1, config.order + 1):
            table = count_table(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long))
            for key, value in table.items():
                self.register_buffer(f"o{j}_{key}", value)

    @property
    def receptive_field(self) -> int:
        return self.config.order

    # ---------------------------------------------------------------- fitting

    @torch.no_grad()
    def fit(self, codes: torch.Tensor, quantisation: str) -> None:
        """Count (context, next code) pairs in training clips (N, T) of int codes."""
        targets = codes.long()  # (N, T)
        inputs = torch.cat([torch.full_like(targets[:, :1], SILENCE_CODE), targets[:, :-1]], dim=1)  # (N, T)
        dtype = self.unigram.dtype
        self.unigram.copy_(torch.bincount(targets.reshape(-1), minlength=QUANT_CLASSES))
        for j in range(1, self.config.order + 1):
            for key, value in count_table(context_ids(inputs, j), targets).items():
                setattr(self, f"o{j}_{key}", value.to(dtype) if value.is_floating_point() else value)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # The sparse tables' sizes depend on the data: take the stored shapes.
        for name, buf in self.named_buffers(recurse=False):
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name], dtype=buf.dtype))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ---------------------------------------------------------------- the model

    def _add_counts(self, probs: torch.Tensor, contexts: torch.Tensor, j: int) -> torch.Tensor:
        """(P, C) += c(h_j, .) for each position's order-j context; returns c(h_j) (P,)."""
        rows, offsets = getattr(self, f"o{j}_rows"), getattr(self, f"o{j}_offsets")
        nxt, counts, totals = getattr(self, f"o{j}_next"), getattr(self, f"o{j}_counts"), getattr(self, f"o{j}_totals")
        if len(rows) == 0:
            return probs.new_zeros(len(contexts))
        r = torch.searchsorted(rows, contexts).clamp(max=len(rows) - 1)  # (P,)
        seen = rows[r] == contexts  # (P,)
        length = torch.where(seen, offsets[r + 1] - offsets[r], 0)  # (P,)
        pos = torch.repeat_interleave(torch.arange(len(contexts)), length)  # (sum length,)
        first = torch.cumsum(length, 0) - length  # (P,) where each position's entries start
        entry = offsets[r][pos] + torch.arange(len(pos)) - first[pos]  # (sum length,)
        probs[pos, nxt[entry]] += counts[entry]
        return torch.where(seen, totals[r], 0.0)  # (P,)

    def _log_probs(self, contexts: list[torch.Tensor]) -> torch.Tensor:
        """Order-1..k context ids, each (P,) -> (P, C) log-probabilities in the buffers' dtype."""
        cfg, n = self.config, len(contexts[0])
        pseudo = cfg.alpha * QUANT_CLASSES
        probs = ((self.unigram + cfg.alpha) / (self.unigram.sum() + pseudo)).expand(n, -1).clone()  # (P, C)
        orders = range(1, cfg.order + 1) if cfg.smoothing == "interpolate" else [cfg.order]
        for j in orders:
            base = probs if cfg.smoothing == "interpolate" else torch.full_like(probs, 1.0 / QUANT_CLASSES)
            counts = torch.zeros_like(probs)
            total = self._add_counts(counts, contexts[j - 1], j)  # (P,)
            probs = (counts + pseudo * base) / (total + pseudo)[:, None]
        return probs.log()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, T, C)
        ids = [context_ids(x, j).reshape(-1) for j in range(1, self.config.order + 1)]  # k x (P,)
        out = torch.cat([self._log_probs([i[s : s + ROWS_PER_CHUNK] for i in ids]) for s in range(0, len(ids[0]), ROWS_PER_CHUNK)])
        return out.reshape(*x.shape, QUANT_CLASSES)  # (B, T, C)

    def init_state(self, batch: int, device: torch.device | str = "cpu") -> torch.Tensor:
        if torch.device(device).type != "cpu":
            raise GeneratorError("ngram runs on the CPU only", hint="generate with --device cpu")
        return torch.full((batch, self.config.order), SILENCE_CODE, dtype=torch.long)  # (B, k), newest last

    def step(self, x_t: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # (B,) -> (B, C)
        state = torch.cat([state[:, 1:], x_t.long().reshape(-1, 1)], dim=1)  # (B, k)
        ids = [context_ids(state, j)[:, -1] for j in range(1, self.config.order + 1)]  # k x (B,)
        return self._log_probs(ids), state  # (B, C)
