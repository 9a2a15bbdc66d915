"""Contract tests that every registered generator must pass.

Each generator with the ``step`` capability is tested at a small size (its preset with size overrides, see
``SMALL``) and at its real ``*-tiny`` preset: T calls of ``step`` reproduce ``forward``,
``prefill`` equals the ``step`` loop, logits are causal, builds are seeded, presets load.
A generator without an entry in ``SMALL`` is tested at its tiny preset only.
"""

from __future__ import annotations

import pytest
import torch

from benchbox.errors import ConfigError
from benchbox.generators import registry

MIN_STEPS = 64
STEP_TOL_FLOAT32 = 1e-4
STEP_TOL_FLOAT64 = 1e-8
CAUSAL_TOL_FLOAT64 = 1e-10
BATCH = 2

# Size overrides laid over each family's tiny preset: small enough to step in well under a second.
SMALL: dict[str, list[dict]] = {
    "diffwave": [
        {"channels": 8, "skip_channels": 8, "layers": 4, "dilation_cycle": 4},
        {"backbone": "sashimi", "d_model": 8, "n_layers": 1, "d_state": 4, "pool": [2, 2]},
    ],
    "wavenet": [
        {"stacks": 2, "layers_per_stack": 3, "residual_channels": 8, "dilation_channels": 8, "skip_channels": 16, "end_channels": 16},
        {"stacks": 1, "layers_per_stack": 3, "kernel_size": 3, "residual_channels": 6, "dilation_channels": 5, "skip_channels": 12, "end_channels": 10},
    ],
    "sashimi": [
        {"d_model": 8, "n_layers": 1, "d_state": 4, "pool": [2, 2]},
        {"d_model": 8, "n_layers": 1, "d_state": 4, "pool": [2, 2], "kernel": "dplr"},
        {"d_model": 8, "n_layers": 1, "d_state": 4, "pool": [3], "unet": True},
        {"d_model": 8, "n_layers": 1, "d_state": 4, "pool": [2, 2], "center_residual": False, "up_residual": False, "b_clip": 0.0},
    ],
    # 256-sample clips (the contract's toy set): 4 upsampling layers from L0 = 1
    "wavegan": [
        {"length": 256, "channels": [16, 8, 8, 4], "kernel": 8, "mpd_channels": [4, 4, 8, 8, 8], "msd_channels": [4, 4, 4, 8, 8, 8], "lr_g": 2e-3, "lr_d": 2e-3},
    ],
}


def _tiny_preset(name: str) -> str:
    """The generator's ``*-tiny`` preset, or its plain-named one (``ngram``, ``lpc``)."""
    matches = [p for p in registry.preset_names() if p in (f"{name}-tiny", name) and registry.load_preset(p)[0] == name]
    assert matches, f"generator '{name}' has no {name}-tiny or {name} preset in models/"
    return sorted(matches, key=len)[-1]


def _cases() -> list:
    """Generators with the ``step`` capability (autoregression), each at its small sizes and its tiny preset."""
    cases = []
    for name in [n for n in registry.names() if "step" in registry.get(n).capabilities]:
        for i, over in enumerate(SMALL.get(name, [])):
            cases.append(pytest.param(name, over, id=f"{name}-small{i}"))
        cases.append(pytest.param(name, None, id=f"{name}-tiny"))
    return cases


def _build(name: str, overrides: dict | None, seed: int = 0, dtype: torch.dtype = torch.float32):
    """Build, seed and ``fit`` (a no-op for gradient models) on a seeded random-walk corpus."""
    gen, cfg = registry.load_preset(_tiny_preset(name), overrides)
    assert gen == name
    torch.manual_seed(seed)
    model = registry.build(gen, cfg)
    steps = torch.randint(-3, 4, (6, 400), generator=torch.Generator().manual_seed(seed))
    if "fit" in model.capabilities:
        model.fit((128 + steps.cumsum(1)).clamp(0, 255), "mulaw")  # (N, T) codes with local structure
    return model.to(dtype).eval()


def _length(model) -> int:
    """Steps to test: >= 3x the total pooling factor, >= 3x a finite receptive field, >= 64."""
    pool = int(getattr(model, "total_pool", 1))
    field = model.receptive_field or 0
    return max(MIN_STEPS, 3 * pool, 3 * field)


def _step_logits(model, x: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, T, C)
    state = model.init_state(x.shape[0], x.device)
    out = []
    for t in range(x.shape[1]):
        logits, state = model.step(x[:, t], state)
        out.append(logits)
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("name, overrides", _cases())
def test_step_reproduces_forward_float32(name, overrides):
    model = _build(name, overrides)
    x = torch.randint(0, model.num_classes, (BATCH, _length(model)), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        parallel = model(x)  # (B, T, C)
        stepped = _step_logits(model, x)
    assert parallel.shape == (BATCH, x.shape[1], model.num_classes)
    assert parallel.dtype == torch.float32 and torch.isfinite(parallel).all()
    err = (stepped - parallel).abs().max().item()
    assert err < STEP_TOL_FLOAT32, f"{name}: step vs forward max abs logit error {err:.3g}"


@pytest.mark.parametrize("name, overrides", [c for c in _cases() if c.values[1] is not None])
def test_step_reproduces_forward_float64(name, overrides):
    model = _build(name, overrides, dtype=torch.float64)
    x = torch.randint(0, model.num_classes, (BATCH, _length(model)), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        err = (_step_logits(model, x) - model(x)).abs().max().item()
    assert err < STEP_TOL_FLOAT64, f"{name}: float64 step vs forward error {err:.3g}"


@pytest.mark.parametrize("name, overrides", _cases())
def test_prefill_equals_step_loop(name, overrides):
    model = _build(name, overrides)
    length = _length(model)
    x = torch.randint(0, model.num_classes, (BATCH, length + 5), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        looped = _step_logits(model, x)  # (B, T, C)
        for cut in (1, length // 2 + 1):  # odd cuts land mid-chunk for pooled models
            last, state = model.prefill(x[:, :cut], model.init_state(BATCH))
            assert (last - looped[:, cut - 1]).abs().max().item() < STEP_TOL_FLOAT32
            for t in range(cut, x.shape[1]):  # the state after prefill keeps stepping correctly
                last, state = model.step(x[:, t], state)
            assert (last - looped[:, -1]).abs().max().item() < STEP_TOL_FLOAT32


@pytest.mark.parametrize("name, overrides", [c for c in _cases() if c.values[1] is not None])
def test_logits_are_causal(name, overrides):
    model = _build(name, overrides, dtype=torch.float64)
    length = _length(model)
    x = torch.randint(0, model.num_classes, (1, length), generator=torch.Generator().manual_seed(4))
    for t0 in (0, length // 3, length - 1):
        changed = x.clone()
        changed[0, t0] = (x[0, t0] + 97) % model.num_classes
        with torch.no_grad():
            a, b = model(x), model(changed)
        before = (a[:, :t0] - b[:, :t0]).abs().max().item() if t0 else 0.0
        assert before < CAUSAL_TOL_FLOAT64, f"{name}: changing token {t0} changed earlier logits by {before:.3g}"
        assert (a[:, t0] - b[:, t0]).abs().max().item() > 0, f"{name}: logit {t0} ignores token {t0}"


@pytest.mark.parametrize("name", registry.names())
def test_build_is_deterministic_from_seed(name):  # every generator, with or without ``fit``
    over = (SMALL.get(name) or [None])[0]
    a, b, c = _build(name, over, seed=5), _build(name, over, seed=5), _build(name, over, seed=6)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    # seed 6 differs in the initial weights (gradient models) or in the fitted corpus (count/LPC models)
    assert any(sa[k].shape != sc[k].shape or not torch.equal(sa[k], sc[k]) for k in sa)


@pytest.mark.parametrize("preset", registry.preset_names())
def test_every_preset_builds(preset):
    gen, cfg = registry.load_preset(preset)
    assert gen in registry.names()
    model = registry.build(gen, cfg)
    assert model.name == gen
    assert model.trainable == (model.num_parameters() > 0)
    assert model.num_parameters() > 0 or len(model.state_dict()) > 0  # count/LPC models live in buffers
    field = model.receptive_field
    assert field is None or (isinstance(field, int) and field >= 1)
    groups = model.param_groups(1e-3, 0.01)
    assert sum(len(g["params"]) for g in groups) == len([p for p in model.parameters() if p.requires_grad])


def test_preset_with_unknown_key_is_a_config_error(tmp_path):
    path = tmp_path / "bad.toml"
    name = registry.names()[0]
    path.write_text(f'generator = "{name}"\n[model]\nnot_a_key = 1\n')
    with pytest.raises(ConfigError, match="unknown config key 'model.not_a_key'"):
        registry.load_preset(path)
    path.write_text(f'generator = "{name}"\nstray = 1\n')
    with pytest.raises(ConfigError, match="unknown key 'stray'"):
        registry.load_preset(path)


def test_preset_with_unknown_generator_is_a_config_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('generator = "nope"\n[model]\n')
    with pytest.raises(ConfigError, match="unknown generator 'nope'") as info:
        registry.load_preset(path)
    assert all(n in info.value.hint for n in registry.names())
    with pytest.raises(ConfigError, match="unknown model preset"):
        registry.load_preset("no-such-preset")



def test_a_preset_may_carry_training_defaults_under_set_overrides(tmp_path):
    from benchbox.train import resolve_config
    from tests.train_helpers import corpus

    data = corpus(tmp_path / "ds", n=10)
    path = tmp_path / "p.toml"
    path.write_text('generator = "wavenet"\n[train]\npatience = 3\neval_every = 20\n[model]\nstacks = 1\n')
    assert registry.preset_train(path) == {"patience": 3, "eval_every": 20}
    cfg = resolve_config(generator="wavenet", data=data, preset=str(path))
    assert (cfg.train.patience, cfg.train.eval_every, cfg.model["stacks"]) == (3, 20, 1)
    cfg = resolve_config(generator="wavenet", data=data, preset=str(path), overrides=["train.patience=0"])
    assert (cfg.train.patience, cfg.train.eval_every) == (0, 20)  # --set wins
    path.write_text('generator = "wavenet"\n[train]\npatiense = 3\n')
    with pytest.raises(ConfigError, match="unknown config key 'train.patiense'"):
        resolve_config(generator="wavenet", data=data, preset=str(path))
