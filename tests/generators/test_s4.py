"""S4 kernels and recurrences against their slow references (float64 unless stated)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchbox.generators.s4 import DPLRKernel, S4DKernel, S4Layer, SSMStep, chunked_vandermonde, fft_conv, hippo_legs_nplr

H, N = 4, 16


def _layer(kernel: str, init: str, dtype=torch.float64, seed: int = 0) -> S4Layer:
    """A layer with every SSM parameter perturbed away from its structured init."""
    torch.manual_seed(seed)
    layer = S4Layer(H, N, kernel, init, 1e-3, 1e-1, 0.0).to(dtype)
    with torch.no_grad():
        for p in layer.kernel.ssm_parameters() + [layer.kernel.C]:
            p.add_(0.1 * torch.randn_like(p))
    return layer


@pytest.mark.parametrize("init", ["lin", "inv", "legs"])
@pytest.mark.parametrize("length", [1, 5, 64, 300])
def test_s4d_fast_kernel_matches_vandermonde(init, length):
    kernel = _layer("s4d", init).kernel
    fast, naive = kernel(length), kernel.kernel_naive(length)
    assert fast.shape == (H, length)
    assert torch.allclose(fast, naive, atol=1e-10, rtol=0)


@pytest.mark.parametrize("init", ["legs", "lin"])
@pytest.mark.parametrize("length", [1, 7, 64, 300])
def test_dplr_fast_kernel_matches_dense_powers(init, length):
    kernel = _layer("dplr", init).kernel
    fast, naive = kernel(length), kernel.kernel_naive(length)
    assert fast.shape == (H, length)
    assert torch.allclose(fast, naive, atol=1e-10, rtol=0)


def test_chunked_vandermonde_float32_close_to_float64():
    torch.manual_seed(1)
    dta = torch.complex(-torch.rand(H, 8) * 0.01, torch.rand(H, 8))
    coef = torch.randn(H, 8, dtype=torch.complex128)
    ref = chunked_vandermonde(coef, dta.to(torch.complex128), 4096)
    got = chunked_vandermonde(coef.to(torch.complex64), dta.to(torch.complex64), 4096)
    assert (got.double() - ref).abs().max() < 1e-3 * ref.abs().max()


def test_dplr_legs_init_is_hippo_legs_in_an_orthonormal_basis():
    """b^T A^k b is invariant under orthogonal changes of basis (real pairs carry half the norm)."""
    torch.manual_seed(0)
    kernel = DPLRKernel(1, N, "legs", 1e-3, 1e-1).double()
    a = kernel.continuous_dense()[0].detach().numpy()
    b = kernel.B[0].detach().flatten().numpy()
    n = np.arange(N)
    r = np.sqrt(2 * n + 1)
    a_legs = -np.tril(np.outer(r, r), -1) - np.diag(n + 1)
    for k in range(4):
        ours = 2 * b @ np.linalg.matrix_power(a, k) @ b
        legs = r @ np.linalg.matrix_power(a_legs, k) @ r
        assert ours == pytest.approx(legs, rel=1e-5)
    np.testing.assert_allclose(np.sort(np.linalg.svd(a)[1]), np.sort(np.linalg.svd(a_legs)[1]), rtol=1e-5)


def test_hippo_legs_nplr_half_spectrum():
    lam, p, b = hippo_legs_nplr(N)
    assert lam.shape == p.shape == b.shape == (N // 2,)
    assert np.allclose(lam.real, -0.5) and np.all(lam.imag > 0)


def test_fft_conv_is_causal_linear_convolution():
    torch.manual_seed(0)
    u, k = torch.randn(2, 50, 3, dtype=torch.float64), torch.randn(3, 50, dtype=torch.float64)
    got = fft_conv(u, k)
    for b in range(2):
        for h in range(3):
            want = np.convolve(u[b, :, h].numpy(), k[h].numpy())[:50]
            np.testing.assert_allclose(got[b, :, h].numpy(), want, atol=1e-10)


def _run_recurrence(layers: list[S4Layer], u: torch.Tensor) -> torch.Tensor:  # (S, B, T, H) -> (S, B, T, H)
    step = SSMStep(layers)
    state, outs = step.zeros(u.shape[1]), []
    for t in range(u.shape[2]):
        h = step.readout(state)
        outs.append(torch.stack([step.output(h[i], i, u[i, :, t]) for i in range(len(layers))]))
        state = step.update(state, u[:, :, t], h)
    return torch.stack(outs, 2)


@pytest.mark.parametrize("kernel,init", [("s4d", "legs"), ("s4d", "lin"), ("s4d", "inv"), ("dplr", "legs")])
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-4), (torch.float64, 1e-8)])
def test_recurrence_matches_convolution(kernel, init, dtype, tol):
    """The fused step of two stacked SSMs equals their FFT convolution (+ D u)."""
    layers = [_layer(kernel, init, dtype, seed) for seed in (0, 1)]
    torch.manual_seed(2)
    u = torch.randn(2, 3, 400, H, dtype=dtype)
    with torch.no_grad():
        conv = torch.stack([fft_conv(u[i], layer.kernel(400)) + u[i] * layer.D for i, layer in enumerate(layers)])
        rec = _run_recurrence(layers, u)
    assert (rec - conv).abs().max().item() <= tol * max(1.0, conv.abs().max().item())


def test_ssm_parameters_are_a_b_dt():
    s4d = S4DKernel(H, N, "lin", 1e-3, 1e-1)
    dplr = DPLRKernel(H, N, "legs", 1e-3, 1e-1)
    assert {id(p) for p in s4d.ssm_parameters()} == {id(s4d.log_dt), id(s4d.log_neg_a_real), id(s4d.a_imag), id(s4d.B)}
    assert id(dplr.P) in {id(p) for p in dplr.ssm_parameters()}
    assert id(dplr.C) not in {id(p) for p in dplr.ssm_parameters()}


def test_dt_initialised_within_range():
    torch.manual_seed(0)
    dt = torch.exp(S4DKernel(256, N, "lin", 1e-3, 1e-1).log_dt)
    assert dt.min() >= 1e-3 - 1e-9 and dt.max() <= 1e-1 + 1e-9 and dt.std() > 0


@pytest.mark.parametrize("kernel", ["s4d", "dplr"])
def test_layer_fused_path_matches_reference_with_gradients(kernel):
    """S4Layer's native convolution + GELU gives the reference layer's output and gradients."""
    layer = _layer(kernel, "legs", torch.float32, 0)
    u = torch.randn(2, 300, H, generator=torch.Generator().manual_seed(3), requires_grad=True)
    results = []
    for fused in (False, True):
        layer.fused = fused
        out = layer(u)
        grads = torch.autograd.grad(out.square().sum(), [u, *layer.parameters()])
        results.append([out, *grads])
    layer.fused = S4Layer.fused
    for ref, ours in zip(*results):
        assert (ours - ref).abs().max().item() <= 1e-4 * max(1.0, ref.abs().max().item())
