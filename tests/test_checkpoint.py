import os
import random

import numpy as np
import pytest
import torch

from benchbox import checkpoint as ck
from benchbox.errors import CheckpointError
from benchbox.generators import registry
from tests.train_helpers import SHRINK


def _model():
    from benchbox.config import parse_overrides

    gen, cfg = registry.load_preset("sashimi-tiny", parse_overrides(SHRINK["sashimi"])["model"])
    torch.manual_seed(0)
    return gen, cfg, registry.build(gen, cfg)


def _payload(gen, cfg, state):
    return {"generator": gen, "generator_config": cfg, "model": state, "step": 3, "best_val": 4.5, "train_config": {"generator": gen}, "rng": ck.capture_rng()}


@pytest.fixture
def saved(tmp_path):
    gen, cfg, model = _model()
    path = ck.save_checkpoint(tmp_path / "ckpt" / "last.pt", _payload(gen, cfg, model.state_dict()))
    return path, model


def test_roundtrip_rebuilds_the_same_model(saved):
    path, model = saved
    rebuilt, meta = ck.build_from_checkpoint(path)
    x = torch.randint(0, 256, (2, 64))
    with torch.no_grad():
        assert torch.equal(rebuilt(x), model.eval()(x))
    assert meta["step"] == 3 and meta["format"] == ck.CHECKPOINT_FORMAT
    assert "model" not in meta and len(meta["sha256"]) == 64
    assert not rebuilt.training


def test_wrapper_prefixes_are_stripped(tmp_path):
    gen, cfg, model = _model()
    wrapped = {f"module._orig_mod.{k}": v for k, v in model.state_dict().items()}
    path = ck.save_checkpoint(tmp_path / "w.pt", _payload(gen, cfg, wrapped))
    keys = list(torch.load(path, weights_only=True)["model"])
    assert keys == list(model.state_dict()) and not any(k.startswith(("module.", "_orig_mod.")) for k in keys)


def test_unwrap_finds_the_inner_module():
    inner = torch.nn.Linear(2, 2)
    outer = torch.nn.Module()
    outer.module = torch.nn.Sequential()  # an empty (falsy) container must still count
    outer.module._orig_mod = inner
    assert ck.unwrap(outer) is inner
    assert ck.unwrap(inner) is inner


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: b[: len(b) // 2], "corrupt"),
        (lambda b: b"", "empty file"),
        *[(lambda b, seed=seed: random.Random(seed).randbytes(2048), "corrupt") for seed in range(40)],
        (lambda b: b"PK\x03\x04 not really a zip", "corrupt"),
    ],
    ids=["truncated", "empty", *[f"random-bytes-{seed}" for seed in range(40)], "bad-zip"],
)
def test_damaged_file_is_a_clear_error(saved, damage, message):
    path, _ = saved
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CheckpointError, match=message) as e:
        ck.load_checkpoint(path)
    assert str(path) in e.value.message and e.value.hint and "\n" not in e.value.message


def test_non_finite_weights_are_a_clear_error(tmp_path):
    gen, cfg, model = _model()
    state = model.state_dict()
    name = next(k for k, v in state.items() if v.is_floating_point())
    state[name] = state[name].clone().fill_(float("nan"))
    path = ck.save_checkpoint(tmp_path / "ckpt" / "best.pt", _payload(gen, cfg, state))
    with pytest.raises(CheckpointError, match="NaN or inf") as e:
        ck.build_from_checkpoint(path)
    assert str(path) in e.value.message and name in e.value.message and e.value.hint


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        ck.build_from_checkpoint(tmp_path / "ckpt" / "best.pt")


def test_unknown_format_and_foreign_pickles(tmp_path, saved):
    path, _ = saved
    data = torch.load(path, weights_only=True)
    data["format"] = ck.CHECKPOINT_FORMAT + 1
    torch.save(data, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="unknown checkpoint format"):
        ck.load_checkpoint(tmp_path / "future.pt")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="no 'format' key"):
        ck.load_checkpoint(tmp_path / "list.pt")
    del data["step"]
    data["format"] = ck.CHECKPOINT_FORMAT
    torch.save(data, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match="lacks keys"):
        ck.load_checkpoint(tmp_path / "partial.pt")


def test_weights_that_do_not_fit(tmp_path):
    gen, cfg, model = _model()
    state = model.state_dict()
    state.pop(next(iter(state)))
    path = ck.save_checkpoint(tmp_path / "bad.pt", _payload(gen, cfg, state))
    with pytest.raises(CheckpointError, match="do not fit"):
        ck.build_from_checkpoint(path)


def test_rng_capture_restore_and_isolation():
    state = ck.capture_rng()
    first = (torch.rand(3), np.random.rand(3), random.random())
    ck.restore_rng(state)
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2] == again[2]
    before = torch.get_rng_state()
    with ck.isolated_rng():
        torch.manual_seed(123)
        np.random.seed(5)
        torch.rand(10)
    assert torch.equal(torch.get_rng_state(), before)
