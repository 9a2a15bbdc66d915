"""The compiled exact GELU against F.gelu, and the fused S4 convolution + GELU against
its readable composition, forward and backward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from benchbox.generators import ops
from benchbox.generators.s4 import FFT_PAD_FACTOR, fft_conv
from benchbox.threads import scoped_threads


@pytest.mark.skipif(ops._library() is None, reason="no C compiler")
@pytest.mark.parametrize("threads,n", [(1, 1003), (2, 3 * ops.PARALLEL_MIN_ELEMENTS + 5)])
def test_gelu_matches_torch_forward_and_backward(threads, n):
    x = (torch.randn(n, generator=torch.Generator().manual_seed(n)) * 4).requires_grad_()
    grad = torch.randn(n, generator=torch.Generator().manual_seed(1))
    with scoped_threads(threads):
        ours = ops.gelu(x)
        (ours_grad,) = torch.autograd.grad(ours, x, grad)
    ref = F.gelu(x)
    (ref_grad,) = torch.autograd.grad(ref, x, grad)
    assert (ours - ref).abs().max().item() <= 2e-6
    assert (ours_grad - ref_grad).abs().max().item() <= 4e-6
    assert ref_grad.abs().max().item() > 1  # not a comparison of zeros


def test_gelu_falls_back_to_torch_off_the_fast_path():
    x = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(ops.gelu, (x,))
    strided = torch.randn(6, 8)[:, ::2]  # non-contiguous float32: made contiguous, same values
    assert torch.allclose(ops.gelu(strided), F.gelu(strided), atol=2e-6)


def _conv_gelu_and_grads(fn, u, kernel, d_skip, weight):
    out = fn(u, kernel, d_skip)
    return [out, *torch.autograd.grad((out * weight).sum(), (u, kernel, d_skip))]


@pytest.mark.skipif(ops._library() is None, reason="no C compiler")
@pytest.mark.parametrize(
    "threads,shape",
    [
        (1, (2, 37, 12)),  # neither T nor H a multiple of the 8 x 8 tile
        (1, (1, 64, 16)),
        (2, (3, 1500, 24)),  # large enough to split time between two threads
        (2, (2, 2051, 40)),
    ],
)
def test_ssm_conv_gelu_matches_the_composition(threads, shape):
    batch, length, width = shape
    gen = torch.Generator().manual_seed(length)
    u = torch.randn(batch, length, width, generator=gen).requires_grad_()
    decay = torch.exp(-torch.arange(length) / (0.1 * length))  # a kernel that decays, as an SSM's does
    kernel = (torch.randn(width, length, generator=gen) * decay).requires_grad_()
    d_skip = torch.randn(width, generator=gen).requires_grad_()
    weight = torch.randn(batch, length, width, generator=gen)
    with scoped_threads(threads):
        ours = _conv_gelu_and_grads(lambda *a: ops.ssm_conv_gelu(*a, FFT_PAD_FACTOR * length), u, kernel, d_skip, weight)
    ref = _conv_gelu_and_grads(lambda u, k, d: F.gelu(fft_conv(u, k) + u * d), u, kernel, d_skip, weight)
    for name, a, b in zip(["out", "grad u", "grad kernel", "grad D"], ours, ref):
        scale = b.abs().max().item()
        assert scale > 0.1, name  # not a comparison of zeros
        assert (a - b).abs().max().item() <= 2e-5 * scale, name
