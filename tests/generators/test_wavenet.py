"""WaveNet specifics: size of the SC09 preset, receptive field, the fast step path."""

from __future__ import annotations

import pytest
import torch

from benchbox.config import from_dict
from benchbox.errors import ConfigError
from benchbox.generators import registry
from benchbox.generators.wavenet import WaveNet, WaveNetConfig

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
