"""WaveNet specifics: size of the SC09 preset, receptive field, the fast step path, the C step."""

from __future__ import annotations

import pytest
import torch

from benchbox import native
from benchbox.config import from_dict
from benchbox.errors import ConfigError, GeneratorError
from benchbox.generators import registry, wavenet_native
from benchbox.generators.wavenet import WaveNet, WaveNetConfig
from benchbox.threads import scoped_threads

SC09_PARAMETERS = 4_200_000
SC09_PARAMETER_TOL = 0.05
SC09_RECEPTIVE_FIELD = 4093
SMALL = WaveNetConfig(stacks=2, layers_per_stack=3, residual_channels=8, dilation_channels=8, skip_channels=16, end_channels=16)


def _model(cfg: WaveNetConfig = SMALL, seed: int = 0) -> WaveNet:
    torch.manual_seed(seed)
    return WaveNet(cfg).eval()


def _stepped(model: WaveNet, x: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, T, C)
    state = model.init_state(x.shape[0])
    out = []
    for t in range(x.shape[1]):
        logits, state = model.step(x[:, t], state)
        out.append(logits)
    return torch.stack(out, dim=1)


def test_sc09_preset_size_and_receptive_field():
    model = registry.build(*registry.load_preset("wavenet-sc09"))
    n = model.num_parameters()
    print(f"wavenet-sc09: {n:,} parameters, receptive field {model.receptive_field}")
    assert abs(n - SC09_PARAMETERS) / SC09_PARAMETERS < SC09_PARAMETER_TOL
    assert model.receptive_field == SC09_RECEPTIVE_FIELD  # 4 stacks * (2 - 1) * (2^10 - 1) + 1


@pytest.mark.parametrize("cfg", [SMALL, WaveNetConfig(stacks=1, layers_per_stack=3, kernel_size=3, residual_channels=4, dilation_channels=4, skip_channels=8, end_channels=8)])
def test_receptive_field_is_exact(cfg):
    """Token 0 reaches logit rf-1 and no further (float64, so exact zeros are exact)."""
    model = _model(cfg).double()
    rf = model.receptive_field
    assert rf == cfg.stacks * (cfg.kernel_size - 1) * (2**cfg.layers_per_stack - 1) + 1
    x = torch.randint(0, 256, (1, rf + 8), generator=torch.Generator().manual_seed(0))
    changed = x.clone()
    changed[0, 0] = (x[0, 0] + 1) % 256
    with torch.no_grad():
        diff = (model(x) - model(changed)).abs().amax(dim=2)[0]  # (T,)
    assert diff[rf - 1] > 0
    assert torch.all(diff[rf:] == 0)


def test_sc09_fast_step_matches_forward():
    """The real-size weights (transposed head views, 40 rings) through the fast path."""
    model = _model(WaveNetConfig())
    x = torch.randint(0, 256, (2, 48), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        err = (_stepped(model, x) - model(x)).abs().max().item()
    assert err < 1e-4


def test_large_residual_biases_are_folded_exactly():
    """The rings hold x - c (c = summed residual biases); big biases must not leak."""
    model = _model()
    with torch.no_grad():
        for layer in model.layers[:-1]:
            layer.res.bias.uniform_(-3.0, 3.0)
    x = torch.randint(0, 256, (3, 50), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        err = (_stepped(model, x) - model(x)).abs().max().item()
    assert err < 1e-4


def test_step_weights_follow_parameter_updates():
    model = _model()
    first = model.step_weights()
    assert model.step_weights() is first  # cached while the weights are unchanged
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x = torch.randint(0, 256, (2, 40), generator=torch.Generator().manual_seed(3))
    torch.nn.functional.cross_entropy(model(x[:, :-1]).transpose(1, 2), x[:, 1:]).backward()
    opt.step()
    model.eval()
    assert model.step_weights() is not first
    with torch.no_grad():
        assert (_stepped(model, x) - model(x)).abs().max().item() < 1e-4


def test_prefill_fast_path_and_fallback():
    model = _model()
    x = torch.randint(0, 256, (2, 40), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        ref = _stepped(model, x)
        last, state = model.prefill(x[:, :30], model.init_state(2))  # parallel fast path
        assert state.t == 30
        assert (last - ref[:, 29]).abs().max().item() < 1e-4
        last, state = model.prefill(x[:, 30:], state)  # mid-sequence: falls back to stepping
        assert (last - ref[:, -1]).abs().max().item() < 1e-4


def test_dropout_only_in_training():
    model = _model(WaveNetConfig(stacks=1, layers_per_stack=2, residual_channels=8, dilation_channels=8, skip_channels=8, end_channels=8, dropout=0.5))
    x = torch.randint(0, 256, (1, 32), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
        model.train()
        assert not torch.equal(model(x), model(x))


@pytest.mark.parametrize(
    "bad, message",
    [({"kernel_size": 1}, "kernel_size must be >= 2"), ({"dropout": 1.0}, "dropout must be in"), ({"stacks": 0}, "stacks must be >= 1")],
)
def test_bad_config_is_a_config_error(bad, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(WaveNetConfig, bad, where="model.")


def test_tiny_preset_trains_one_step():
    model = registry.build(*registry.load_preset("wavenet-tiny")).train()
    opt = torch.optim.AdamW(model.param_groups(1e-3, 0.01))
    x = torch.randint(0, 256, (2, 600), generator=torch.Generator().manual_seed(6))
    before = [p.detach().clone() for p in model.parameters()]
    loss = torch.nn.functional.cross_entropy(model(x[:, :-1]).transpose(1, 2), x[:, 1:])
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    opt.step()
    assert all(not torch.equal(b, p) for b, p in zip(before, model.parameters()))


# ---------------------------------------------------------------------- native (C) step

NATIVE_TOL = 1e-4
TANH_TOL = 1e-6
NATIVE_STEPS = 300
SC09_NARROW = WaveNetConfig(residual_channels=8, dilation_channels=8, skip_channels=40, end_channels=24)  # 4 x 10 layers
needs_native = pytest.mark.skipif(wavenet_native.library() is None, reason="no C compiler (or BENCHBOX_NATIVE=0)")


def _tiny() -> WaveNet:
    torch.manual_seed(0)
    return registry.build(*registry.load_preset("wavenet-tiny")).eval()


def _both_paths(model: WaveNet, x: torch.Tensor, prefix: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (B, T, C) of the C step and of the torch reference step, from the same start."""
    out = []
    for use_native in (True, False):
        model.use_native = use_native
        state = model.init_state(x.shape[0])
        assert (state.native is not None) == use_native
        if prefix is not None:
            _, state = model.prefill(prefix, state)
        steps = []
        for t in range(x.shape[1]):
            logits, state = model.step(x[:, t], state)
            steps.append(logits)
        out.append(torch.stack(steps, dim=1))
    model.use_native = True
    return out[0], out[1]


def test_native_library_builds_where_a_compiler_exists():
    """A C error must not pass silently as a fallback to the torch step."""
    if native.enabled() and native._compiler() is not None:
        assert wavenet_native.library() is not None


@needs_native
@pytest.mark.parametrize("which, batch", [("sc09-narrow", 1), ("sc09-narrow", 3), ("tiny", 1), ("tiny", 16)])
def test_native_step_matches_torch_step(which, batch):
    """300 steps: every ring of the tiny preset wraps, the sc09 rings up to 256 do.

    Batch 16 runs the kernels' blocks of 6 and 5 rows, 3 and 1 the others (4: below, 2: registry tests).
    """
    model = _model(SC09_NARROW) if which == "sc09-narrow" else _tiny()
    x = torch.randint(0, 256, (batch, NATIVE_STEPS), generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        fast, ref = _both_paths(model, x)
    assert (fast - ref).abs().max().item() <= NATIVE_TOL


@needs_native
def test_native_step_after_prefill_crosses_every_ring_wrap():
    """A 400-token prefill, then 150 steps: the 512-slot rings of the sc09 stacks wrap too."""
    model = _model(SC09_NARROW)
    x = torch.randint(0, 256, (2, 550), generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        fast, ref = _both_paths(model, x[:, 400:], prefix=x[:, :400])
        parallel = model(x)[:, 400:]  # (B, 150, C)
    assert (fast - ref).abs().max().item() <= NATIVE_TOL
    assert (fast - parallel).abs().max().item() <= NATIVE_TOL


@needs_native
def test_a_state_can_switch_paths():
    """Same ring layout: C steps, then torch steps on the same state, equal the torch path alone."""
    model = _tiny()
    x = torch.randint(0, 256, (2, 60), generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        state = model.init_state(2)
        mixed = []
        for t in range(60):
            if t == 30:
                state.native = None  # from here on the torch reference step
            mixed.append(model.step(x[:, t], state)[0])
        ref = model(x)
    assert (torch.stack(mixed, dim=1) - ref).abs().max().item() <= NATIVE_TOL


@needs_native
@pytest.mark.parametrize("batch", [1, 4])
def test_two_threads_give_the_same_logits_bit_for_bit(batch):
    """The real sc09 size (64 skip panels, the helper's share adapts every step)."""
    model = _model(WaveNetConfig())
    x = torch.randint(0, 256, (batch, 24), generator=torch.Generator().manual_seed(10))
    logits = {}
    for threads in (1, 2):
        with scoped_threads(threads), torch.no_grad():
            state = model.init_state(batch)
        assert state.native.threads == threads
        with torch.no_grad():
            logits[threads] = torch.stack([model.step(x[:, t], state)[0] for t in range(x.shape[1])])
    assert torch.equal(logits[1], logits[2])


def test_fallbacks_to_the_torch_step(monkeypatch):
    model = _tiny()
    x = torch.randint(0, 256, (2, 20), generator=torch.Generator().manual_seed(11))
    model.use_native = False
    assert model.init_state(2).native is None
    model.use_native = True
    monkeypatch.setenv(native.DISABLE_ENV, "0")
    assert model.init_state(2).native is None
    monkeypatch.delenv(native.DISABLE_ENV)
    double = model.double()
    state = double.init_state(2)
    assert state.native is None  # float64: the torch step
    with torch.no_grad():
        stepped = torch.stack([double.step(x[:, t], state)[0] for t in range(20)], dim=1)
        assert (stepped - double(x)).abs().max().item() < 1e-10


@needs_native
def test_native_tanh_is_accurate():
    lib = wavenet_native.library()
    x = torch.cat([torch.linspace(-20.0, 20.0, 200_001), torch.tensor([0.0, -0.0, 1e-8, -1e-8, 88.0, -100.0, 1e30, -1e30])])
    x = torch.cat([x, torch.randn(1003, generator=torch.Generator().manual_seed(12))])  # a length that leaves a tail
    y = torch.empty_like(x)
    lib.wavenet_tanh(x.numel(), x.data_ptr(), y.data_ptr())
    assert (y.double() - torch.tanh(x.double())).abs().max().item() <= TANH_TOL


@needs_native
def test_native_step_rejects_bad_tokens_and_batch():
    model = _tiny()
    state = model.init_state(2)
    ring = state.ring.clone()
    with pytest.raises(GeneratorError, match=r"outside \[0, 256\)"):
        model.step(torch.tensor([3, 256]), state)
    assert state.t == 0 and torch.equal(state.ring, ring)  # nothing written
    with pytest.raises(GeneratorError, match="the state holds batch 2"):
        model.step(torch.tensor([1, 2, 3]), state)
