"""The compiled exact GELU against F.gelu, forward and backward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from benchbox.generators import ops
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
