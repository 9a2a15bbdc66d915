"""The contract every registered generator keeps, whatever its family (benchbox.generators.base).

Parametrised from the registry, so a new family joins by registering: it needs a
``models/<name>-tiny.toml`` (or ``<name>.toml``) preset, optionally shrunk further by an
entry in ``SMALL`` (tests/generators/test_registry.py). On a toy set of decaying noise
bursts: the loss is finite and falls; samples have the right shape and range; a prime
comes back bit-exact as passed, the quantiser round trip (or, without the ``prime`` capability, is refused); a seed
reproduces its clips; a checkpoint round-trips; the trainer and the grid run it end to
end. The step-vs-forward tolerance tests for the ``step`` capability live in
test_registry.py. The last test fails if the trainer or the sampler tests a generator's type.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from benchbox import checkpoint as ck
from benchbox.audio import decode, encode
from benchbox.errors import GeneratorError
from benchbox.generators import registry
from benchbox.generators.base import CAPABILITIES, MAIN_OPTIMIZER, Batch, StepContext
from tests.generators.test_registry import SMALL, _tiny_preset

TOY_CLIPS, TOY_SAMPLES, GEN_SAMPLES, PRIME_SAMPLES = 6, 256, 96, 24
TRAIN_STEPS, TRAIN_LR = 25, 1e-2
NAMES = registry.names()


def _toy(seed: int = 0, scheme: str = "mulaw") -> Batch:
    """(N, T) decaying noise bursts with onsets at different places, and their codes."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(TOY_SAMPLES, dtype=torch.float32)
    onset = torch.randint(0, TOY_SAMPLES // 4, (TOY_CLIPS, 1), generator=gen)  # (N, 1)
    envelope = torch.where(t >= onset, torch.exp(-(t - onset) / 40.0), 0.0)  # (N, T)
    waves = (0.6 * envelope * torch.randn(TOY_CLIPS, TOY_SAMPLES, generator=gen)).clamp(-1, 1)  # (N, T)
    return Batch(waves=waves, codes=encode(waves, scheme), labels=torch.full((TOY_CLIPS,), -1))


def _model(name: str, fit: bool = True, seed: int = 0):
    gen, cfg = registry.load_preset(_tiny_preset(name), (SMALL.get(name) or [None])[0])
    torch.manual_seed(seed)
    model = registry.build(gen, cfg)
    if fit and "fit" in model.capabilities:
        model.fit(_toy().codes, "mulaw")
    return model.eval()


def _eval_loss(model, batch: Batch) -> tuple[float, dict]:
    torch.manual_seed(123)  # a stochastic objective draws the same noise before and after
    with torch.no_grad(), model.evaluating():
        loss, metrics = model.loss(batch)
    return float(loss), metrics


def _generate(model, seed: int, prime=None, n: int = 2) -> torch.Tensor:
    return model.generate(n, GEN_SAMPLES, prime=prime, rng=torch.Generator().manual_seed(seed), batch=n)


@pytest.mark.parametrize("name", NAMES)
def test_capabilities_are_known_and_backed(name):
    cls = registry.get(name)
    assert cls.capabilities <= CAPABILITIES, f"{name}: unknown capabilities {set(cls.capabilities) - CAPABILITIES}"
    needs = {"likelihood": ["log_likelihood", "forward"], "step": ["init_state", "step", "prefill", "forward"], "fit": ["fit"]}
    for cap in cls.capabilities & needs.keys():
        assert all(callable(getattr(cls, m, None)) for m in needs[cap]), f"{name} claims '{cap}'"


@pytest.mark.parametrize("name", NAMES)
def test_loss_is_finite_and_falls_on_a_toy_set(name):
    model, batch = _model(name, fit=False), _toy()
    before, metrics = _eval_loss(model, batch)
    assert math.isfinite(before) and all(math.isfinite(float(v)) for v in metrics.values())
    assert all("/" not in k.rsplit("/", 1)[-1] and not k.endswith(("/train", "/val", "/test")) for k in metrics), "metric names carry no split"
    assert ("bits" in metrics) == ("likelihood" in model.capabilities), "bits/sample is reported exactly when there is a likelihood"
    opts = model.make_optimizers(lr=TRAIN_LR, weight_decay=0.0)
    assert opts or "fit" in model.capabilities, f"{name}: nothing to optimise and nothing to fit"
    if "fit" in model.capabilities:
        model.fit(batch.codes, "mulaw")
    model.train()
    for step in range(TRAIN_STEPS if opts else 0):
        out = model.train_step(batch, opts, StepContext(step=step, device=torch.device("cpu"), grad_clip=1.0))
        assert math.isfinite(float(out["loss"])), f"{name}: train_step loss not finite at step {step}"
    after, _ = _eval_loss(model, batch)
    assert math.isfinite(after) and after < before, f"{name}: loss {before:.4f} -> {after:.4f}"


@pytest.mark.parametrize("name", NAMES)
def test_samples_have_the_right_shape_and_range(name):
    out = _generate(_model(name), seed=0, n=3)
    assert out.shape == (3, GEN_SAMPLES) and out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.abs().max() <= 1.0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scheme", ["mulaw", "linear"])
def test_prime_is_bit_exact(name, scheme):
    """Bit-exact to the prime *passed*: the quantiser's round trip of the real clip (as the sampler
    passes it), which is not the real clip itself (up to half a code step away)."""
    model = _model(name)
    model.quantisation = scheme
    prime = decode(encode(_toy(seed=1).waves[:2, :PRIME_SAMPLES], scheme), scheme)  # (2, P) on the code grid
    if "prime" not in model.capabilities:
        with pytest.raises(GeneratorError):
            _generate(model, seed=0, prime=prime)
        return
    out = _generate(model, seed=0, prime=prime)
    assert out.shape == (2, GEN_SAMPLES) and torch.equal(out[:, :PRIME_SAMPLES], prime)


@pytest.mark.parametrize("name", NAMES)
def test_a_seed_reproduces_its_clips(name):
    model = _model(name)
    a, b, c = _generate(model, seed=3), _generate(model, seed=3), _generate(model, seed=4)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", NAMES)
def test_a_checkpoint_round_trips(tmp_path, name):
    model = _model(name)
    model.quantisation = "linear"
    opts = model.make_optimizers(lr=TRAIN_LR, weight_decay=0.0)
    payload = {
        "generator": name, "generator_config": registry.load_preset(_tiny_preset(name), (SMALL.get(name) or [None])[0])[1],
        "model": model.state_dict(), "optimizer": {k: o.state_dict() for k, o in opts.items()}, "step": 0, "best_val": 1.0,
        "train_config": {"data": {"quantisation": "linear"}},
    }  # fmt: skip
    ck.save_checkpoint(tmp_path / "c.pt", payload)
    back, meta = ck.build_from_checkpoint(tmp_path / "c.pt")
    assert meta["format"] == ck.CHECKPOINT_FORMAT and set(ck.load_checkpoint(tmp_path / "c.pt")["optimizer"]) == set(opts)
    assert back.quantisation == "linear" and not back.training
    sa, sb = model.state_dict(), back.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert torch.equal(_generate(model, seed=5), _generate(back, seed=5))


def test_format_1_checkpoints_read_with_their_optimizer_as_main(tmp_path):
    model = _model("wavenet")
    opt = model.make_optimizers(lr=TRAIN_LR, weight_decay=0.0)[MAIN_OPTIMIZER]
    payload = {"format": 1, "generator": "wavenet", "generator_config": {}, "model": {}, "optimizer": opt.state_dict(), "step": 0, "best_val": 1.0, "train_config": {}}
    torch.save(payload, tmp_path / "old.pt")
    ckpt = ck.load_checkpoint(tmp_path / "old.pt")
    assert ckpt["format"] == ck.CHECKPOINT_FORMAT and set(ckpt["optimizer"]) == {MAIN_OPTIMIZER}
    assert ckpt["optimizer"][MAIN_OPTIMIZER]["param_groups"] == opt.state_dict()["param_groups"]


@pytest.mark.parametrize("name", NAMES)
def test_trains_and_generates_through_the_pipeline(tmp_path, name):
    """The real trainer and grid, two steps on a synthetic corpus: every family, one loop."""
    from benchbox.generate import generate_run
    from benchbox.train import train
    from tests.train_helpers import corpus

    over = [f"model.{k}={v}" for k, v in ((SMALL.get(name) or [{}])[0]).items()]
    sets = [*over, "train.max_steps=2", "train.eval_every=2", "train.batch_size=4", "train.val_batches=1", "train.baselines=false", "data.crop_samples=256"]
    data = corpus(tmp_path / "ds", n=12)
    result = train(generator=name, data=data, out=tmp_path / "run", preset=_tiny_preset(name), overrides=[s.replace(" ", "") for s in sets], device="cpu")
    log = pd.read_json(tmp_path / "run" / "log.jsonl", lines=True)
    likelihood = "likelihood" in registry.get(name).capabilities
    assert math.isfinite(result.best_val) and {"loss/val", "loss/train"} <= set(log.columns)
    assert ("bits/val" in log.columns) == likelihood and (result.best_val_bits is not None) == likelihood
    frame = pd.read_csv(generate_run(tmp_path / "run", checkpoints="best", prime_ms="0,2", n=2, batch=2, seconds=0.008, device="cpu"), keep_default_na=False)
    primed = "prime" in registry.get(name).capabilities
    assert sorted(set(frame["prime_ms"])) == ([0, 2] if primed else [0])
    assert (frame["logprob_sum"] != "").all() if likelihood else (frame["logprob_sum"] == "").all()


# ------------------------------------------------------------------ no type tests

SCANNED = ("train.py", "train_config.py", "data/batches.py", "sample.py", "generate.py", "nll.py")
FAMILY_WORDS = {"autoregressive", "diffusion", "gan", "wavegan", "hifiwavegan", "diffwave", "specdiff"}
PLAIN_TYPES = {"str", "int", "float", "bool", "bytes", "dict", "list", "tuple", "set", "frozenset", "Path", "Tensor", "NoneType"}


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            ids.add(id(body[0].value))
    return ids


def type_tests(source: str) -> list[str]:
    """Every place in ``source`` that asks what a generator *is* rather than what it can do."""
    tree, found = ast.parse(source), []
    docs, names = _docstrings(tree), set(registry.names()) | FAMILY_WORDS
    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("isinstance", "issubclass") and len(node.args) == 2:
                kinds = node.args[1].elts if isinstance(node.args[1], ast.Tuple) else [node.args[1]]
                if not all(ast.unparse(k).split(".")[-1] in PLAIN_TYPES for k in kinds):
                    found.append(f"{where}: {ast.unparse(node)}")
            if node.func.id == "type" and len(node.args) == 1 or node.func.id == "hasattr":
                found.append(f"{where}: {ast.unparse(node)}")
        if isinstance(node, ast.Attribute) and node.attr in ("__class__", "__name__", "__qualname__"):
            found.append(f"{where}: {ast.unparse(node)}")
        if isinstance(node, ast.Compare) and any(isinstance(x, ast.Attribute) and x.attr == "name" for x in (node.left, *node.comparators)):
            found.append(f"{where}: {ast.unparse(node)}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs and node.value.lower() in names:
            found.append(f"{where}: the family name {node.value!r}")
    return found


@pytest.mark.parametrize("rel", SCANNED)
def test_trainer_and_sampler_never_test_the_generator_type(rel):
    path = Path(__file__).resolve().parents[2] / "benchbox" / rel
    assert type_tests(path.read_text()) == [], f"benchbox/{rel} asks what a generator is; ask `... in gen.capabilities` instead"


def test_the_type_scan_catches_type_tests():
    bad = [
        "isinstance(model, WaveNet)", "type(model) is Sashimi", "model.name == 'x'", "if cfg.generator == 'ngram': pass",
        "x = 'sashimi'", "hasattr(model, 'step')", "model.__class__", "issubclass(cls, (Generator, int))",
    ]  # fmt: skip
    for line in bad:
        assert type_tests(line), line
    assert type_tests('"""sashimi in a docstring."""\nisinstance(x, str)\nisinstance(p, (int, float))\n"likelihood" in g.capabilities') == []


ROUNDING = 1e-5  # float32 rounding of a network at another batch size, far under a 16-bit step (3e-5)


@pytest.mark.parametrize("name", NAMES)
def test_per_clip_generators_make_clips_independent_of_batch_and_n(name):
    """With one generator per clip (what the sampler passes), a clip depends on its own seed only:
    neither the batch size nor the number of clips changes it (`generate --batch`, `--n`). Up to
    float rounding: a network's kernels may round differently at another batch size (measured
    <= 2e-7 for the GAN and specdiff); one shared stream moved clips by O(1)."""
    model = _model(name)
    primes = [None] + ([decode(encode(_toy(seed=1).waves[:4, :PRIME_SAMPLES], "mulaw"), "mulaw")] if "prime" in model.capabilities else [])
    for prime in primes:
        def clips(n: int, batch: int) -> torch.Tensor:
            rngs = [torch.Generator().manual_seed(100 + i) for i in range(n)]
            return model.generate(n, GEN_SAMPLES, prime=None if prime is None else prime[:n], rng=rngs, batch=batch)

        whole = clips(4, 4)
        torch.testing.assert_close(clips(4, 3), whole, atol=ROUNDING, rtol=0)  # batches of 3 and 1
        torch.testing.assert_close(clips(2, 1), whole[:2], atol=ROUNDING, rtol=0)
        assert not torch.equal(whole[0], whole[1])  # each clip its own draw
