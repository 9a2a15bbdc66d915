"""SaShiMi's compiled step against its torch reference step (benchbox/native/sashimi_step.c)."""

from __future__ import annotations

import ctypes

import pytest
import torch

from benchbox import native
from benchbox.errors import GeneratorError
from benchbox.generators import registry, sashimi_native
from benchbox.generators.sashimi import Sashimi, SashimiState
from benchbox.threads import scoped_threads

pytestmark = pytest.mark.skipif(sashimi_native.library() is None, reason="no C compiler: the native step is unavailable")

SMALL = {"d_model": 8, "n_layers": 2, "d_state": 8, "expand": 2, "ff": 2}


def _build(seed: int = 0, **overrides) -> Sashimi:
    torch.manual_seed(seed)
    model = registry.build("sashimi", {**SMALL, **overrides}).eval()
    with torch.no_grad():
        for p in model.ssm_parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def _run(model: Sashimi, tokens: torch.Tensor, native_step: bool) -> tuple[torch.Tensor, object]:
    model.use_native = native_step
    state, outs = model.init_state(tokens.shape[0]), []
    with torch.no_grad():
        for t in range(tokens.shape[1]):
            logits, state = model.step(tokens[:, t], state)
            outs.append(logits)
    return torch.stack(outs, 1), state  # (B, T, C)


@pytest.mark.parametrize("kernel", ["s4d", "dplr"])
@pytest.mark.parametrize("unet", [False, True])
@pytest.mark.parametrize("batch", [1, 3, 6])
@pytest.mark.parametrize("residual", [True, False])  # the official outer residuals, and the model without them
def test_native_step_matches_reference_step(kernel, unet, batch, residual):
    model = _build(kernel=kernel, unet=unet, pool=[4, 2], ff=3, center_residual=residual, up_residual=residual)
    tokens = torch.randint(0, 256, (batch, 70), generator=torch.Generator().manual_seed(batch))
    fast, fast_state = _run(model, tokens, True)
    slow, slow_state = _run(model, tokens, False)
    assert isinstance(fast_state, sashimi_native.NativeState) and isinstance(slow_state, SashimiState)
    assert (fast - slow).abs().max().item() <= 1e-5
    assert slow.abs().max().item() > 0.1  # the comparison is not between zeros


@pytest.mark.parametrize("preset", ["sashimi-tiny", "sashimi-sc09"])
def test_native_step_matches_reference_on_presets(preset):
    torch.manual_seed(0)
    model = registry.build(*registry.load_preset(preset)).eval()
    tokens = torch.randint(0, 256, (2, 40), generator=torch.Generator().manual_seed(0))
    fast, _ = _run(model, tokens, True)
    slow, _ = _run(model, tokens, False)
    assert (fast - slow).abs().max().item() <= 1e-4


def test_fallbacks_to_the_reference_step(monkeypatch):
    model = _build()
    assert isinstance(model.init_state(2), sashimi_native.NativeState)
    model.use_native = False
    assert isinstance(model.init_state(2), SashimiState)
    model.use_native = True
    assert isinstance(model.double().init_state(2), SashimiState)  # float64: torch only
    monkeypatch.setenv(native.DISABLE_ENV, "0")
    assert isinstance(_build().init_state(2), SashimiState)


def test_width_not_a_multiple_of_the_vector_falls_back():
    model = _build(d_model=12)
    assert isinstance(model.init_state(1), SashimiState)


def test_bad_token_is_an_error_and_leaves_the_state_unchanged():
    model = _build()
    state = model.init_state(2)
    with pytest.raises(GeneratorError, match="outside"):
        model.step(torch.tensor([3, 256]), state)
    assert list(state.struct.count)[:2] == [0, 0]
    with pytest.raises(GeneratorError, match="expected 2 tokens"):
        model.step(torch.tensor([3]), state)


def test_native_weights_follow_parameter_updates():
    model = _build()
    tokens = torch.randint(0, 256, (1, 20), generator=torch.Generator().manual_seed(3))
    before, _ = _run(model, tokens, True)
    with torch.no_grad():
        model.head.bias.add_(1.0)
        model.up_stacks[0].s4[0].kernel.log_dt.add_(0.3)
    after, _ = _run(model, tokens, True)
    reference, _ = _run(model, tokens, False)
    assert (after - before).abs().max().item() > 0.5
    assert (after - reference).abs().max().item() <= 1e-5


def test_states_are_independent_per_batch_row():
    model = _build()
    tokens = torch.randint(0, 256, (4, 33), generator=torch.Generator().manual_seed(4))
    together, _ = _run(model, tokens, True)
    alone, _ = _run(model, tokens[2:3], True)
    assert (together[2:3] - alone).abs().max().item() <= 1e-6


def test_vector_erf_and_sigmoid_are_accurate():
    lib = sashimi_native.library()
    x = torch.linspace(-12, 12, 8 * 4001)
    erf, sig = torch.empty_like(x), torch.empty_like(x)
    fn = lib.sashimi_vector_math
    fn.argtypes, fn.restype = [ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p], None
    fn(x.data_ptr(), x.numel(), erf.data_ptr(), sig.data_ptr())
    assert (erf.double() - torch.erf(x.double())).abs().max().item() <= 5e-7
    assert ((sig.double() - torch.sigmoid(x.double())).abs() / torch.sigmoid(x.double())).max().item() <= 2e-6


def test_row_groups_on_threads_match_one_group():
    model = _build(kernel="dplr", pool=[4, 2])
    tokens = torch.randint(0, 256, (9, 40), generator=torch.Generator().manual_seed(5))
    one, _ = _run(model, tokens, True)
    with scoped_threads(3):
        state = model.init_state(9)
        assert [lo for lo, _ in state.parts] == [0, 4]  # 9 rows: two groups of >= 4 rows
        outs = []
        with torch.no_grad():
            for t in range(tokens.shape[1]):
                logits, state = model.step(tokens[:, t], state)
                outs.append(logits)
    assert (torch.stack(outs, 1) - one).abs().max().item() <= 1e-6
    with pytest.raises(GeneratorError, match="outside"):
        model.step(torch.tensor([1] * 8 + [-1]), state)
    assert [rows.struct.count[0] for _, rows in state.parts] == [40, 40]  # no group advanced


def test_dplr_scaled_state_survives_a_mode_without_injection():
    """The native DPLR state is s / ig: with P = 0 (no low-rank part, ig = 0 in every mode)
    the floored ig keeps the step finite and equal to the reference."""
    model = _build(kernel="dplr", pool=[2])
    with torch.no_grad():
        for module in model.modules():
            if hasattr(module, "P"):
                module.P.zero_()
    tokens = torch.randint(0, 256, (2, 40), generator=torch.Generator().manual_seed(7))
    fast, _ = _run(model, tokens, True)
    slow, _ = _run(model, tokens, False)
    assert torch.isfinite(fast).all()
    assert (fast - slow).abs().max().item() <= 1e-5 * max(1.0, slow.abs().max().item())
