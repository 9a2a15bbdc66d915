"""Linear prediction with a causal adaptive Laplace residual, integrated over code bins.

Legend: B batch, T time in tokens, C = 256 classes, K = ``order`` (prediction taps).

The classical floor for raw-audio models (linear predictive coding, Makhoul 1975,
"Linear prediction: a tutorial review"; adaptive-scale residual coding as in ADPCM).
Tokens are decoded to the waveform (``x_t``, the bin centres of the training
quantisation). Logit t predicts token t+1:

    mu_t  = sum_{i=0}^{K-1} a_i x_{t-i}                      (prediction, silence-padded)
    e_t   = x_t - mu_{t-1}                                   (last residual, e_0 = x_0)
    s_t   = beta s_{t-1} + (1 - beta) |e_t|,  s_{-1} = s_min  (running mean of |residual|)
    b_t   = max(s_t, s_min)                                  (Laplace scale)
    p(c)  = (1 - eps) * [F(hi_c) - F(lo_c)] + eps / C         (F: Laplace(mu_t, b_t) CDF)

The residual is **Laplace** (the mean absolute residual is its maximum-likelihood
scale). ``[lo_c, hi_c]`` is code c's bin in the waveform domain: the midpoints between
neighbouring bin centres, with the outer bins open to +-infinity, so the 256
probabilities sum to one for either quantisation. ``eps`` keeps every code possible.

:meth:`LPC.fit` solves the normal equations (covariance method, ridge 1e-9 relative)
on the training clips for ``a``, then picks ``beta`` and ``s_min`` from a small grid by
training NLL. No gradient parameters. ``forward`` runs the scale recursion with
``scipy.signal.lfilter`` in float64; ``step`` runs the same recursion one sample at a
time, so T steps reproduce ``forward``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
from scipy import signal

from benchbox.audio import QUANT_CLASSES, SILENCE_CODE, decode
from benchbox.errors import GeneratorError
from benchbox.generators.autoregressive import Autoregressive

BETA_GRID = (0.5, 0.75, 0.875, 0.9375, 0.96875)
MIN_SCALE_GRID = (0.25, 0.5, 1.0)  # in units of the narrowest bin's half-width
FIT_CLIPS = 24  # clips the (beta, s_min) grid is scored on
RIDGE = 1e-9


@dataclass(frozen=True)
class LPCConfig:
    order: int = 32  # K prediction taps
    eps: float = 1e-6  # uniform floor mixed into every distribution
    dropout: float = 0.0  # accepted for sweep compatibility; nothing to drop

    def __post_init__(self):
        if self.order < 1:
            raise ValueError(f"order must be >= 1, got {self.order}")
        if not 0.0 < self.eps < 1.0:
            raise ValueError(f"eps must be in (0, 1), got {self.eps}")


def bin_edges(centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(C,) increasing bin centres -> (lo, hi) edges, each (C,), outer ones infinite."""
    mid = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[-np.inf], mid]), np.concatenate([mid, [np.inf]])


def laplace_bin_probs(mu: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """P(lo_c < y <= hi_c) for y ~ Laplace(mu, b): (P,), (P,), (C,), (C,) -> (P, C) float64.

    Each bin uses the tail that does not cancel: the left CDF below mu, the right
    survival function above it, and 1 - both tails for the bin holding mu.
    """
    mu, b = mu[:, None], b[:, None]  # (P, 1)
    left = lambda y: 0.5 * np.exp(np.minimum(y - mu, 0.0) / b)  # P(Y <= y) for y <= mu  # noqa: E731
    right = lambda y: 0.5 * np.exp(-np.maximum(y - mu, 0.0) / b)  # P(Y > y) for y >= mu  # noqa: E731
    below = left(hi) - left(lo)  # exact where hi <= mu
    above = right(lo) - right(hi)  # exact where lo >= mu
    holds = 1.0 - left(lo) - right(hi)  # exact where lo < mu < hi
    return np.where(hi <= mu, below, np.where(lo >= mu, above, holds))


class LPC(Autoregressive):
    name = "lpc"
    config_class = LPCConfig
    use_native = False
    capabilities = Autoregressive.capabilities | {"fit"}

    def __init__(self, config: LPCConfig):
        super().__init__(config)
        # Buffers take the model's dtype (it sets the logits' dtype); the maths runs in float64.
        self.register_buffer("coef", torch.zeros(config.order))  # (K,) a_0 .. a_{K-1}
        self.register_buffer("centres", decode(torch.arange(QUANT_CLASSES), "mulaw"))  # (C,)
        self.register_buffer("beta", torch.tensor(0.9))
        self.register_buffer("min_scale", torch.tensor(1e-4))

    # ---------------------------------------------------------------- fitting

    @torch.no_grad()
    def fit(self, codes: torch.Tensor, quantisation: str) -> None:
        """Fit taps, beta and s_min on training clips (N, T) of ``quantisation`` codes."""
        self.centres.copy_(decode(torch.arange(QUANT_CLASSES), quantisation))
        centres = self.centres.double().numpy()  # (C,)
        waves = centres[codes.long().numpy()]  # (N, T)
        k = self.config.order
        gram, cross = np.zeros((k, k)), np.zeros(k)
        for w in waves:
            lags = np.lib.stride_tricks.sliding_window_view(np.concatenate([np.zeros(k), w]), k + 1)  # (T, K+1)
            past, now = lags[:, :-1][:, ::-1], lags[:, -1]  # (T, K) newest first, (T,)
            gram += past.T @ past
            cross += past.T @ now
        ridge = RIDGE * max(np.trace(gram) / k, 1e-12)
        self.coef.copy_(torch.from_numpy(np.linalg.solve(gram + ridge * np.eye(k), cross)))
        half_bin = float(np.diff(centres).min()) / 2
        subset = codes[:: max(1, len(codes) // FIT_CLIPS)][:FIT_CLIPS].long()
        inputs = torch.cat([torch.full_like(subset[:, :1], SILENCE_CODE), subset[:, :-1]], dim=1)
        lo, hi = bin_edges(centres)
        target = subset.numpy().reshape(-1)  # (P,)
        best = None
        for beta, m in itertools.product(BETA_GRID, MIN_SCALE_GRID):
            self.beta.fill_(beta)
            self.min_scale.fill_(m * half_bin)
            mu, scale = self._mu_scale(centres[inputs.numpy()])  # (N', T) each
            logp = self._distribution(mu.reshape(-1), scale.reshape(-1), lo[target][:, None], hi[target][:, None])  # (P, 1)
            nll = -logp.mean()  # only the targets' bins: the grid costs P, not P x C
            if best is None or nll < best[0]:
                best = (nll, beta, m * half_bin)
        self.beta.fill_(best[1])
        self.min_scale.fill_(best[2])

    # ---------------------------------------------------------------- the model

    def _distribution(self, mu: np.ndarray, scale: np.ndarray, lo: np.ndarray | None = None, hi: np.ndarray | None = None) -> np.ndarray:
        """(P,) predictions and running scales -> (P, C) log-probabilities (of the bins
        ``lo``/``hi``, every code's by default)."""
        if lo is None:
            lo, hi = bin_edges(self.centres.double().numpy())
        b = np.maximum(scale, float(self.min_scale))
        p = laplace_bin_probs(mu, b, lo, hi)
        eps = self.config.eps
        return np.log((1.0 - eps) * np.clip(p, 0.0, 1.0) + eps / QUANT_CLASSES)

    def _mu_scale(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, T) decoded inputs, float64 -> predictions mu_t and running scales s_t, (B, T) each."""
        k, a = self.config.order, self.coef.double().numpy()
        padded = np.concatenate([np.zeros((x.shape[0], k - 1)), x], axis=1)  # (B, T + K - 1)
        windows = np.lib.stride_tricks.sliding_window_view(padded, k, axis=1)[..., ::-1]  # (B, T, K) newest first
        mu = windows @ a  # (B, T)
        previous = np.concatenate([np.zeros((x.shape[0], 1)), mu[:, :-1]], axis=1)  # (B, T) mu_{t-1}
        beta, s0 = float(self.beta), float(self.min_scale)
        scale, _ = signal.lfilter([1.0 - beta], [1.0, -beta], np.abs(x - previous), axis=1, zi=np.full((x.shape[0], 1), beta * s0))
        return mu, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, T, C)
        mu, scale = self._mu_scale(self.centres.double()[x.long()].numpy())  # (B, T) each
        logp = self._distribution(mu.reshape(-1), scale.reshape(-1)).reshape(*x.shape, QUANT_CLASSES)
        return torch.from_numpy(logp).to(self.coef.dtype)

    def init_state(self, batch: int, device: torch.device | str = "cpu") -> dict[str, np.ndarray]:
        if torch.device(device).type != "cpu":
            raise GeneratorError("lpc runs on the CPU only", hint="generate with --device cpu")
        return {"past": np.zeros((batch, self.config.order)), "mu": np.zeros(batch), "scale": np.full(batch, float(self.min_scale))}

    def step(self, x_t: torch.Tensor, state: dict[str, np.ndarray]) -> tuple[torch.Tensor, dict]:  # (B,) -> (B, C)
        x = self.centres.double()[x_t.long()].numpy()  # (B,)
        beta = float(self.beta)
        scale = beta * state["scale"] + (1.0 - beta) * np.abs(x - state["mu"])  # (B,)
        past = np.concatenate([x[:, None], state["past"][:, :-1]], axis=1)  # (B, K) newest first
        mu = past @ self.coef.double().numpy()  # (B,)
        logp = self._distribution(mu, scale)
        return torch.from_numpy(logp).to(self.coef.dtype), {"past": past, "mu": mu, "scale": scale}
