"""SaShiMi: recurrence == parallel forward, causality, presets, config validation."""

from __future__ import annotations

import math

import pytest
import torch

from benchbox.errors import ConfigError
from benchbox.generators import registry
from benchbox.generators.sashimi import Sashimi, SashimiConfig

SMALL = {"d_model": 8, "n_layers": 2, "d_state": 8, "expand": 2, "ff": 2}


def _build(seed: int = 0, dtype=torch.float32, **overrides) -> Sashimi:
    torch.manual_seed(seed)
    model = registry.build("sashimi", {**SMALL, **overrides}).to(dtype).eval()
    with torch.no_grad():  # leave the structured init so every parameter matters
        for p in model.ssm_parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def _step_error(model: Sashimi, length: int, batch: int = 2) -> float:
    torch.manual_seed(1)
    x = torch.randint(0, 256, (batch, length))
    with torch.no_grad():
        ref = model(x)  # (B, T, C)
    state, outs = model.init_state(batch), []
    for t in range(length):
        logits, state = model.step(x[:, t], state)
        outs.append(logits)
    return (torch.stack(outs, 1) - ref).abs().max().item()


@pytest.mark.parametrize("kernel", ["s4d", "dplr"])
@pytest.mark.parametrize("unet", [False, True])
@pytest.mark.parametrize("pool", [(4, 4), (2, 3)])
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-4), (torch.float64, 1e-8)])
def test_step_reproduces_forward(kernel, unet, pool, dtype, tol):
    model = _build(kernel=kernel, unet=unet, pool=list(pool), dtype=dtype)
    assert _step_error(model, 3 * math.prod(pool) + 5) <= tol


@pytest.mark.parametrize("kernel", ["s4d", "dplr"])
def test_step_reproduces_forward_sc09_structure_small_width(kernel):
    """The SC09 structure (8 layers per tier, pool [4, 4], expand 2, ff 2) at width 8."""
    model = _build(kernel=kernel, n_layers=8, pool=[4, 4], d_model=8, d_state=8)
    assert _step_error(model, 48, batch=1) <= 1e-4


@pytest.mark.parametrize("preset", ["sashimi-tiny", "sashimi-sc09"])
def test_step_reproduces_forward_real_presets(preset):
    name, cfg = registry.load_preset(preset)
    torch.manual_seed(0)
    model = registry.build(name, cfg).eval()
    assert _step_error(model, 48, batch=1) <= 1e-4


def test_tiny_preset_with_dplr_override():
    name, cfg = registry.load_preset("sashimi-tiny", {"kernel": "dplr", "unet": True})
    torch.manual_seed(0)
    model = registry.build(name, cfg).eval()
    assert model.config.kernel == "dplr"
    assert _step_error(model, 48, batch=1) <= 1e-4


@pytest.mark.parametrize("unet", [False, True])
@pytest.mark.parametrize("changed", [0, 5, 15, 16, 17, 31, 40])
def test_forward_is_causal(unet, changed):
    """Changing token t moves no logit before t (also across pooling chunk borders) but moves logit t."""
    model = _build(unet=unet, pool=[4, 4], dtype=torch.float64)
    torch.manual_seed(3)
    x = torch.randint(0, 256, (1, 48))
    y = x.clone()
    y[0, changed] = (x[0, changed] + 128) % 256
    with torch.no_grad():
        a, b = model(x), model(y)
    diff = (a - b).abs().amax(-1)[0]  # (T,)
    if changed:
        assert diff[:changed].max().item() < 1e-10
    assert diff[changed].item() > 1e-6


def test_forward_pads_to_the_pooling_factor_without_leaking():
    model = _build(pool=[4, 4])
    torch.manual_seed(4)
    x = torch.randint(0, 256, (2, 48))
    with torch.no_grad():
        full, short = model(x), model(x[:, :37])
    assert short.shape == (2, 37, 256)
    assert (full[:, :37] - short).abs().max() < 1e-5


def test_param_groups_give_ssm_parameters_lr_ssm_and_no_decay():
    model = _build(kernel="dplr", lr_ssm=3e-4)
    groups = model.param_groups(lr=1e-2, weight_decay=0.1)
    ssm_group = [g for g in groups if g["lr"] == 3e-4]
    assert len(ssm_group) == 1 and ssm_group[0]["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    ssm_names = {names[id(p)] for p in ssm_group[0]["params"]}
    assert ssm_names and all(n.split(".")[-1] in {"log_dt", "log_neg_a_real", "a_imag", "B", "P"} for n in ssm_names)
    assert any(n.endswith("log_dt") for n in ssm_names) and any(n.endswith(".B") for n in ssm_names)
    grouped = [id(p) for g in groups for p in g["params"]]
    assert sorted(grouped) == sorted(id(p) for p in model.parameters())  # each parameter exactly once
    assert all(g["weight_decay"] in (0.1, 0.0) and g["lr"] in (1e-2, 3e-4) for g in groups)


def test_sc09_parameter_count_in_paper_range():
    name, cfg = registry.load_preset("sashimi-sc09")
    count = registry.build(name, cfg).num_parameters()
    print(f"sashimi-sc09 parameters: {count:,}")
    assert 4_700_000 <= count <= 5_900_000


def test_build_is_deterministic_from_seed():
    def state(seed):
        torch.manual_seed(seed)
        return registry.build("sashimi", {**SMALL, "kernel": "dplr"}).state_dict()

    a, b, c = state(7), state(7), state(8)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize(
    "overrides,needle",
    [
        ({"d_modle": 8}, "model.d_modle"),
        ({"pool": [4, 0]}, "pool"),
        ({"dropout": -0.1}, "dropout"),
        ({"d_state": 7}, "d_state"),
        ({"kernel": "dense"}, "kernel"),
        ({"dt_min": 0.5, "dt_max": 0.1}, "dt_min"),
    ],
)
def test_bad_config_is_a_config_error(overrides, needle):
    with pytest.raises(ConfigError) as e:
        registry.build("sashimi", overrides)
    assert needle in str(e.value)


def test_bad_preset_override_is_a_config_error():
    with pytest.raises(ConfigError, match="pool"):
        registry.load_preset("sashimi-tiny", {"pool": [0]})


def test_dropout_is_active_in_training_only():
    model = _build(dropout=0.5)
    x = torch.randint(0, 256, (1, 32))
    model.train()
    torch.manual_seed(0)
    a = model(x)
    torch.manual_seed(1)
    b = model(x)
    assert (a - b).abs().max() > 1e-3
    model.eval()
    assert torch.equal(model(x), model(x))
    assert SashimiConfig(dropout=0.5).dropout == 0.5


def test_step_cache_follows_parameter_updates():
    """After an optimiser step, a fresh init_state discretises the new weights."""
    model = _build(kernel="s4d")
    model.init_state(1)
    opt = torch.optim.AdamW(model.param_groups(1e-2, 0.0))
    x = torch.randint(0, 256, (2, 32))
    model.train()
    torch.nn.functional.cross_entropy(model(x).flatten(0, 1), x.flatten()).backward()
    opt.step()
    model.eval()
    assert _step_error(model, 32) <= 1e-4
    with torch.no_grad():
        model.center.s4[0].kernel.log_dt.add_(0.5)  # in-place, outside any optimiser
    assert _step_error(model, 32) <= 1e-4


def test_registered_and_causal_receptive_field():
    assert "sashimi" in registry.names()
    assert registry.get("sashimi") is Sashimi
    assert _build().receptive_field is None


def test_defaults_are_the_official_architecture_and_each_departure_changes_the_output():
    cfg = SashimiConfig()
    assert (cfg.center_residual, cfg.up_residual, cfg.b_clip) == (True, True, 2.0)  # state-spaces/s4 models/sashimi
    x = torch.randint(0, 256, (2, 64), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        official = _build()(x)
        for off in ({"center_residual": False}, {"up_residual": False}):
            assert (official - _build(**off)(x)).abs().max().item() > 1e-3, off


def test_b_clip_bounds_the_imaginary_part_of_the_legs_b():
    from benchbox.generators.s4 import init_eigenvalues

    _, _, free = init_eigenvalues("legs", 64)
    _, _, clipped = init_eigenvalues("legs", 64, b_clip=2.0)
    assert abs(free.imag).max() > 2.0 and abs(clipped.imag).max() <= 2.0
    assert (clipped.real == free.real).all()
    torch.manual_seed(0)
    b = registry.build("sashimi", {**SMALL, "d_state": 64, "b_clip": 2.0}).ssm_parameters()[3]  # B (H, M, 2) of the first layer
    assert b[..., 1].abs().max().item() <= 2.0


def test_a_stored_config_without_the_switches_builds_the_model_it_was_trained_as(tmp_path):
    """Checkpoints and run configs from before the switches existed had neither residual nor the clip."""
    from benchbox import checkpoint as ck

    old = {k: v for k, v in {**SMALL, "pool": [2, 2]}.items()}
    torch.manual_seed(0)
    model = registry.build("sashimi", {**old, **Sashimi.legacy_config})
    payload = {"generator": "sashimi", "generator_config": old, "model": model.state_dict(), "optimizer": {}, "step": 0, "best_val": 1.0, "train_config": {}}
    ck.save_checkpoint(tmp_path / "old.pt", payload)
    back, _ = ck.build_from_checkpoint(tmp_path / "old.pt")
    assert (back.config.center_residual, back.config.up_residual, back.config.b_clip) == (False, False, 0.0)
    x = torch.randint(0, 256, (1, 32), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(back(x), model.eval()(x))
