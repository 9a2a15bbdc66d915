"""S4 layers: S4D (diagonal) and S4 DPLR (HiPPO-LegS), as an FFT convolution and as a recurrence.

Legend: B batch, T time, H channels (d_model), N d_state (real state size), M = N // 2
complex modes, S stacked layers of one residual stack, K chunk length.

Both kernels describe a real, conjugate-symmetric SSM of size N that we store as M complex
modes ``x``; the real-pair view ``s = view_as_real(x)`` (interleaved re, im) is the real
state, and the output is ``y = 2 Re(C x) + D u``.

S4D (ZOH), per channel: ``A = diag(a)`` with Re a < 0, ``dA = exp(dt a)``,
``dB = (dA - 1) / a * B``. The kernel ``K[k] = 2 Re sum_m C_m dB_m dA_m^k`` is a Vandermonde
sum. Fast path: write ``k = i K + j`` so ``dA^k = dA^(iK) dA^j``; both factors come from
``exp`` of (T/K + K) arguments and the sum over modes is one real batched matmul
(H, T/K, N) @ (H, N, K), instead of H*M*T complex exponentials.

DPLR (bilinear), per channel: ``A = Lambda - P P^H`` on the full conjugate-symmetric system,
which in real pairs reads ``A_r = Lambda_blk - 2 p p^T`` (Lambda_blk multiplies each pair by
lambda_m; ``p`` is the real-pair view of P). At init (``legs``) ``A_r`` is the HiPPO-LegS
matrix in an orthonormal basis. ``dA = (I - dt/2 A)^-1 (I + dt/2 A)``,
``dB = (I - dt/2 A)^-1 dt B``. We parameterise C itself (no C~ = C (I - dA^L)), so the
kernel ``K[k] = C dA^k dB`` is exactly the recurrence's impulse response at every length.
Fast kernel: dense dA (H, N, N); right factors ``dA^j dB`` (j < K) and left factors
``C dA^(iK)`` by doubling (log2 T squarings), then one batched matmul, as for S4D.

Exact O(N) DPLR step (Woodbury). With ``d = 1 - dt/2 lambda`` (diagonal),
``I - dt/2 A = D + dt p p^T`` and, for any v,
``(I - dt/2 A)^-1 v = v/d - kappa (P/d) Re(P^H v/d)``, ``kappa = dt / (1 + alpha)``,
``alpha = dt Re(P^H P/d)``: exact in exact arithmetic. One step is
``w = a1 x - dt (P/d) Re(P^H x) + (dt B/d) u`` with ``a1 = (1 + dt/2 lambda)/d``, then
``x' = w - kappa (P/d) Re(P^H w)``. Expanding
``Re(P^H w) = Re((conj(a1) P)^H x) - alpha Re(P^H x) + beta u`` (``beta = Re(P^H dt B/d)``)
folds both inner products into one readout row of the *previous* state:
``x' = a1 x + (dt B/d - kappa beta P/d) u + (P/d) g`` with ``g = Re(G^H x)`` and
``G = (kappa alpha - dt) P - kappa conj(a1) P``. So a DPLR step costs what an S4D step
costs plus one readout row and one in-place multiply-add; there is no diagonalisation of
dA (the unstable route for the non-normal LegS matrix) and no dense N x N product.

Fused recurrence. ``y_t = 2 Re(C x_t) + D u_t = 2 Re(C dA x_{t-1}) + (2 Re(C dB) + D) u_t``:
the first term needs only the previous state, so :class:`SSMStep` reads it out for all S
layers of a residual stack in one op, each layer then costs one ``addcmul``, and the state
update of all S layers runs once at the end of the stack.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchbox.generators import ops

KernelKind = Literal["s4d", "dplr"]
InitKind = Literal["lin", "inv", "legs"]
INITIAL_A_REAL = -0.5  # real part of every initial eigenvalue (S4D-Lin/Inv, LegS NPLR)
C_INIT_STD = 0.5**0.5  # per real/imag part: complex standard normal
FFT_PAD_FACTOR = 2  # causal linear convolution: zero-pad to 2T


# ---------------------------------------------------------------- initialisation


def hippo_legs_nplr(n_state: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """HiPPO-LegS as normal plus low rank, half spectrum: (lambda (M,), P (M,), B (M,)) complex.

    ``A_legs = V (diag(lambda) - P P^H) V^H`` on the full spectrum with V unitary; the
    other half is the complex conjugate.
    """
    n = np.arange(n_state, dtype=np.float64)
    r = np.sqrt(2 * n + 1)
    a = -np.tril(np.outer(r, r), -1) - np.diag(n + 1)  # (N, N) HiPPO-LegS
    p = np.sqrt(n + 0.5)  # (N,) rank-1 correction
    normal = a + np.outer(p, p)  # = -1/2 I + skew-symmetric
    skew = normal + 0.5 * np.eye(n_state)
    mu, v = np.linalg.eigh(-1j * skew)  # skew = V diag(i mu) V^H
    keep = np.argsort(mu)[::-1][: n_state // 2]  # positive frequencies; the rest are conjugates
    v = v[:, keep]
    lam = INITIAL_A_REAL + 1j * mu[keep]
    return lam, v.conj().T @ p, v.conj().T @ r


def init_eigenvalues(init: InitKind, n_state: int, b_clip: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lambda, P, B) of M = N/2 modes for an init; P is zero for the diagonal inits.

    ``b_clip`` > 0 clips the imaginary part of the LegS B to +-b_clip, as the official
    ``nplr(..., B_clip=2.0)`` does (the diagonal inits' B is real already)."""
    m = np.arange(n_state // 2, dtype=np.float64)
    if init == "legs":
        lam, p, b = hippo_legs_nplr(n_state)
        if b_clip > 0:
            b = b.real + 1j * np.clip(b.imag, -b_clip, b_clip)
        return lam, p, b
    if init == "lin":
        imag = math.pi * m
    else:  # "inv"
        imag = n_state / math.pi * (n_state / (2 * m + 1) - 1)
    lam = INITIAL_A_REAL + 1j * imag
    return lam, np.zeros_like(lam), np.ones_like(lam)


def _pairs(z: np.ndarray, channels: int) -> torch.Tensor:
    """(M,) complex -> (H, M, 2) float32 real pairs, one copy per channel."""
    t = torch.view_as_real(torch.from_numpy(np.ascontiguousarray(z, dtype=np.complex128)))
    return t.to(torch.float32).expand(channels, -1, -1).clone()


# ---------------------------------------------------------------- kernels


class SSMKernel(nn.Module):
    """Parameters shared by both kernels: per channel dt, eigenvalues, B, C (and P for DPLR)."""

    low_rank = False

    def __init__(self, d_model: int, d_state: int, init: InitKind, dt_min: float, dt_max: float, b_clip: float = 0.0):
        super().__init__()
        lam, p, b = init_eigenvalues(init, d_state, b_clip)
        h = d_model
        u = torch.rand(h)
        self.log_dt = nn.Parameter(math.log(dt_min) + u * (math.log(dt_max) - math.log(dt_min)))  # (H,)
        self.log_neg_a_real = nn.Parameter(torch.log(-torch.from_numpy(lam.real)).float().expand(h, -1).clone())  # (H, M)
        self.a_imag = nn.Parameter(torch.from_numpy(lam.imag).float().expand(h, -1).clone())  # (H, M)
        self.B = nn.Parameter(_pairs(b, h))  # (H, M, 2)
        self.C = nn.Parameter(torch.randn(h, d_state // 2, 2) * C_INIT_STD)  # (H, M, 2)
        if self.low_rank:
            self.P = nn.Parameter(_pairs(p, h))  # (H, M, 2)

    def ssm_parameters(self) -> list[nn.Parameter]:
        """A, B and dt: trained with their own learning rate and no weight decay."""
        return [self.log_dt, self.log_neg_a_real, self.a_imag, self.B] + ([self.P] if self.low_rank else [])

    def eigenvalues(self) -> torch.Tensor:
        return torch.complex(-torch.exp(self.log_neg_a_real), self.a_imag)  # (H, M)

    def c_pairs(self) -> torch.Tensor:
        """Output row on the real-pair state: 2 Re(C x) = [2 c_r, -2 c_i] . [x_r, x_i]."""
        return (self.C * self.C.new_tensor([2.0, -2.0])).flatten(-2)  # (H, N)


class S4DKernel(SSMKernel):
    """Diagonal SSM, ZOH discretisation."""

    def discretise(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(dt*A, dA, dB), each (H, M) complex."""
        a = self.eigenvalues()
        dta = torch.exp(self.log_dt)[:, None] * a  # (H, M)
        da = torch.exp(dta)
        db = (da - 1) / a * torch.view_as_complex(self.B)
        return dta, da, db

    def forward(self, length: int) -> torch.Tensor:  # -> (H, T)
        dta, _, db = self.discretise()
        coef = torch.view_as_complex(self.C) * db  # (H, M)
        return chunked_vandermonde(coef, dta, length)

    def kernel_naive(self, length: int) -> torch.Tensor:  # -> (H, T)
        """Reference: the full Vandermonde matrix exp(dt a k), (H, M, T) complex."""
        dta, _, db = self.discretise()
        k = torch.arange(length, dtype=dta.real.dtype, device=dta.device)
        vander = torch.exp(dta[..., None] * k)  # (H, M, T)
        return 2 * torch.einsum("hm,hmt->ht", torch.view_as_complex(self.C) * db, vander).real

    def step_matrices(self) -> dict[str, torch.Tensor]:
        _, da, db = self.discretise()
        c = torch.view_as_complex(self.C)
        readout = torch.view_as_real(c * da) * self.C.new_tensor([2.0, -2.0])  # (H, M, 2)
        return {"readout": readout.flatten(-2), "d_skip": 2 * (c * db).real.sum(-1), "da": da, "db": db}


def chunked_vandermonde(coef: torch.Tensor, dta: torch.Tensor, length: int) -> torch.Tensor:
    """``2 Re sum_m coef_m exp(dta_m k)`` for k < length, as one real batched matmul. (H, M) -> (H, T)."""
    chunk = max(1, 2 ** round(math.log2(math.sqrt(length))))
    n_chunks = -(-length // chunk)
    real = dta.real.dtype
    inner_re, inner_im = _exp_parts(dta, torch.arange(chunk, dtype=real, device=dta.device))  # (H, M, K) x 2
    outer_re, outer_im = _exp_parts(dta, chunk * torch.arange(n_chunks, dtype=real, device=dta.device))  # (H, M, T/K) x 2
    c_re, c_im = coef.real[..., None], coef.imag[..., None]  # (H, M, 1)
    left = torch.cat([c_re * outer_re - c_im * outer_im, -(c_re * outer_im + c_im * outer_re)], dim=1).transpose(1, 2)  # (H, T/K, N)
    right = torch.cat([inner_re, inner_im], dim=1)  # (H, N, K)
    return 2 * torch.bmm(left, right).flatten(1)[:, :length]  # (H, T)


def _exp_parts(dta: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and imaginary parts of exp(dta k), (H, M) x (K,) -> (H, M, K) x 2, from real exp,
    cos and sin: vectorised on the CPU, where a complex exp is not (about 4x faster)."""
    magnitude = torch.exp(dta.real[..., None] * k)  # (H, M, K)
    angle = dta.imag[..., None] * k  # (H, M, K)
    return magnitude * torch.cos(angle), magnitude * torch.sin(angle)


class DPLRKernel(SSMKernel):
    """Diagonal plus low rank (A = Lambda - P P^H), bilinear discretisation."""

    low_rank = True

    def continuous_dense(self) -> torch.Tensor:
        """A on the real-pair state, (H, N, N)."""
        lam = self.eigenvalues()
        h, m = lam.shape
        blk = torch.stack([torch.stack([lam.real, -lam.imag], -1), torch.stack([lam.imag, lam.real], -1)], -2)  # (H, M, 2, 2)
        eye_m = torch.eye(m, dtype=blk.dtype, device=blk.device)
        diag = torch.einsum("hmab,mn->hmanb", blk, eye_m).reshape(h, 2 * m, 2 * m)
        p = self.P.flatten(-2)  # (H, N)
        return diag - 2 * p[:, :, None] * p[:, None, :]

    def discretise(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Dense (dA (H, N, N), dB (H, N)) on the real-pair state."""
        a = self.continuous_dense()
        half_dt = (torch.exp(self.log_dt) / 2)[:, None, None]
        eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
        lhs = eye - half_dt * a
        rhs = torch.cat([eye + half_dt * a, 2 * half_dt * self.B.flatten(-2)[..., None]], dim=-1)
        sol = torch.linalg.solve(lhs, rhs)  # (H, N, N + 1)
        return sol[..., :-1], sol[..., -1]

    def forward(self, length: int) -> torch.Tensor:  # -> (H, T)
        da, db = self.discretise()
        chunk = max(1, 2 ** round(math.log2(math.sqrt(length))))
        right, power = db[..., None], da  # (H, N, 1), dA^1
        while right.shape[-1] < chunk:  # right[:, :, j] = dA^j dB
            right = torch.cat([right, power @ right], dim=-1)
            power = power @ power
        left = self.c_pairs()[:, None, :]  # (H, 1, N); left[:, i] = C dA^(i K)
        while left.shape[1] * chunk < length:
            left = torch.cat([left, left @ power], dim=1)
            power = power @ power
        return torch.bmm(left, right).flatten(1)[:, :length]  # (H, T)

    def kernel_naive(self, length: int) -> torch.Tensor:  # -> (H, T)
        """Reference: C dA^k dB by repeated dense matrix-vector products."""
        da, db = self.discretise()
        c = self.c_pairs()
        out, state = [], db
        for _ in range(length):
            out.append((c * state).sum(-1))
            state = (da @ state[..., None])[..., 0]
        return torch.stack(out, -1)

    def step_matrices(self) -> dict[str, torch.Tensor]:
        """Factors of the exact O(N) bilinear step (Woodbury, see the module docstring)."""
        da, db = self.discretise()
        c, lam, p = self.c_pairs(), self.eigenvalues(), torch.view_as_complex(self.P)
        dt = torch.exp(self.log_dt)[:, None]  # (H, 1)
        d = 1 - dt / 2 * lam  # (H, M)
        a1, p_d, b_d = (1 + dt / 2 * lam) / d, p / d, dt * torch.view_as_complex(self.B) / d
        alpha = dt[:, 0] * (p.conj() * p_d).real.sum(-1)  # (H,)
        kappa = dt[:, 0] / (1 + alpha)
        beta = (p.conj() * b_d).real.sum(-1)
        # x' = a1 x + (b_d - kappa beta p_d) u + p_d g, with g = G . s_prev (see the docstring)
        g_row = (kappa * alpha - dt[:, 0])[:, None] * p - kappa[:, None] * (a1.conj() * p)  # (H, M)
        pairs = lambda z: torch.view_as_real(z).flatten(-2)  # noqa: E731  (H, M) complex -> (H, N)
        return {
            "readout": torch.stack([(c[:, None, :] @ da)[:, 0], pairs(g_row)], 1),  # (H, 2, N): C dA, G
            "d_skip": (c * db).sum(-1),  # (H,): C dB
            "a1": a1,  # (H, M) complex
            "inject_u": pairs(b_d - (kappa * beta)[:, None] * p_d),  # (H, N)
            "inject_g": pairs(p_d),  # (H, N)
        }


# ---------------------------------------------------------------- layer


def fft_conv(u: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Causal convolution along time, zero-padded to 2T: (B, T, H) * (H, T) -> (B, T, H)."""
    length = u.shape[1]
    n_fft = FFT_PAD_FACTOR * length
    u_f = torch.fft.rfft(u.transpose(1, 2), n=n_fft)  # (B, H, F)
    k_f = torch.fft.rfft(kernel, n=n_fft)  # (H, F)
    return torch.fft.irfft(u_f * k_f, n=n_fft)[..., :length].transpose(1, 2)  # (B, T, H)


class S4Layer(nn.Module):
    """SSM convolution + skip D, GELU, dropout, then a linear H -> 2H with GLU (as in S4)."""

    fused = True  # the native convolution + GELU (ops.ssm_conv_gelu) where it runs; False: the reference

    def __init__(self, d_model: int, d_state: int, kernel: KernelKind, init: InitKind, dt_min: float, dt_max: float, dropout: float, b_clip: float = 0.0):
        super().__init__()
        kernel_class = S4DKernel if kernel == "s4d" else DPLRKernel
        self.kernel = kernel_class(d_model, d_state, init, dt_min, dt_max, b_clip)
        self.D = nn.Parameter(torch.randn(d_model))  # (H,)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(d_model, 2 * d_model)

    def forward(self, u: torch.Tensor) -> torch.Tensor:  # (B, T, H) -> (B, T, H)
        kernel = self.kernel(u.shape[1])  # (H, T)
        if self.fused and ops.native_ok(u):
            a = ops.ssm_conv_gelu(u, kernel, self.D, FFT_PAD_FACTOR * u.shape[1])
        else:
            a = ops.gelu(fft_conv(u, kernel) + u * self.D)
        return self.mix(a)

    def mix(self, a: torch.Tensor) -> torch.Tensor:  # (..., H) -> (..., H): dropout, H -> 2H, GLU
        return F.glu(self.out(self.dropout(a)), dim=-1)


class SSMStep:
    """The fused recurrence of the S SSMs of one residual stack, discretised once.

    The state is an (S, H, B, M) complex tensor (``zeros``). Per token: ``h = readout(state)``
    for all layers from the previous state, each layer ``y_l = output(h_l, l, u_l)``, then
    ``state = update(state, u, h)`` with the S layer inputs stacked. All operands are real
    or complex of one dtype (no type promotion), and the S4D update runs in place.
    """

    def __init__(self, layers: list[S4Layer], out_scale: float = 1.0):
        mats = [layer.kernel.step_matrices() for layer in layers]
        self.low_rank = layers[0].kernel.low_rank
        m = {k: torch.stack([mat[k] for mat in mats]).detach() for k in mats[0]}  # (S, H, ...)
        # out_scale multiplies the outputs y (callers fold constants into them); never the state
        d_skip = (m["d_skip"] + torch.stack([layer.D for layer in layers]).detach()) * out_scale  # (S, H)
        self.d_skip = d_skip.unbind(0)  # S x (H,)
        if self.low_rank:
            rows = m["readout"] * m["readout"].new_tensor([out_scale, 1.0])[:, None]  # (S, H, 2, N): C dA, p
            self.readout_rows = rows[:, :, None]  # (S, H, 1, 2, N)
            self.da = m["a1"][:, :, None]  # (S, H, 1, M) complex: the diagonal part of dA
            self.inject_u, self.inject_g = m["inject_u"][:, :, None], m["inject_g"][:, :, None]  # (S, H, 1, N)
        else:
            self.readout_rows = (m["readout"] * out_scale)[:, :, None]  # (S, H, 1, N)
            self.da = m["da"][:, :, None]  # (S, H, 1, M) complex
            self.db = torch.view_as_real(m["db"]).flatten(-2)[:, :, None]  # (S, H, 1, N)

    def zeros(self, batch: int) -> torch.Tensor:  # -> (S, H, B, M) complex
        s, h, n = len(self.d_skip), self.d_skip[0].shape[0], self.readout_rows.shape[-1]
        dtype = torch.complex128 if self.readout_rows.dtype == torch.float64 else torch.complex64
        return torch.zeros(s, h, batch, n // 2, dtype=dtype, device=self.readout_rows.device)

    def readout(self, state: torch.Tensor) -> torch.Tensor:  # (S, H, B, M) -> (S, B, H[, 2])
        s = torch.view_as_real(state).flatten(-2)  # (S, H, B, N)
        if self.low_rank:
            s = s[..., None, :]  # (S, H, B, 1, N) against rows (S, H, 1, 2, N)
        return (s * self.readout_rows).sum(-1).transpose(1, 2)  # (S, B, H[, 2])

    def output(self, h: torch.Tensor, layer: int, u: torch.Tensor) -> torch.Tensor:  # (B, H) -> (B, H)
        return torch.addcmul(h[..., 0] if self.low_rank else h, self.d_skip[layer], u)

    def update(self, state: torch.Tensor, u: torch.Tensor, h: torch.Tensor) -> torch.Tensor:  # u, h (S, B, H[, 2])
        u = u.transpose(1, 2)[..., None]  # (S, H, B, 1)
        state.mul_(self.da)
        s = torch.view_as_real(state).flatten(-2)  # (S, H, B, N), a view: updates land in state
        if self.low_rank:
            s.addcmul_(self.inject_u, u).addcmul_(self.inject_g, h[..., 1:].transpose(1, 2))
        else:
            s.addcmul_(self.db, u)
        return state
