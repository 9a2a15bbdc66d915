"""A real Ctrl-C (SIGINT) in the middle of a training step or of the eval it made due is held until
both are done: last.pt is never saved half-way through a GAN update, and a resumed run repeats no
step and skips no eval, so it ends identical to an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch

from benchbox.train import Loop, train
from tests.train_helpers import FAST, corpus, tiny_overrides

GAN = ["model.channels=[16,8,8,8,8]", "model.length=4096", "data.crop_samples=0", *[f for f in FAST if not f.startswith("data.crop")]]


@pytest.fixture(autouse=True)
def ctrl_c_raises():
    """SIGINT raises KeyboardInterrupt here, as at a terminal, whatever the test runner inherited: a job that
    a non-interactive shell started in the background ignores SIGINT, and Python then never installs its handler
    (these tests read 'DID NOT RAISE KeyboardInterrupt' under such a CI job)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return corpus(tmp_path_factory.mktemp("corpus") / "ds", n=12)


def _steps(run) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]


def _same_weights(a, b) -> bool:
    wa, wb = (torch.load(p / "ckpt" / "last.pt", weights_only=True)["model"] for p in (a, b))
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_sigint_between_a_gans_discriminator_and_generator_updates(tmp_path, data, monkeypatch):
    """Interrupted after step 2's discriminator update, before its generator update: last.pt must be
    the state after the whole of step 2 (weights and both optimisers equal to a 2-step run's), not a
    discriminator stepped once more than the step counter says. One thread: two-thread CPU GEMMs
    under load were seen to differ in the last bits between runs, which a GAN then amplifies."""
    from benchbox.threads import scoped_threads

    with scoped_threads(1):
        _gan_interrupt(tmp_path, data, monkeypatch)


def _gan_interrupt(tmp_path, data, monkeypatch):
    over = [*GAN, "train.eval_every=2", "train.seed=1"]
    train(generator="wavegan", data=data, out=tmp_path / "two", preset="wavegan-tiny", overrides=[*over, "train.max_steps=2"], device="cpu")
    calls = {"n": 0}
    real_step = torch.optim.Adam.step

    def step_then_sigint(self, *a, **kw):
        out = real_step(self, *a, **kw)
        calls["n"] += 1
        if calls["n"] == 3:  # the discriminator's update of step 2, before the generator's
            os.kill(os.getpid(), signal.SIGINT)
        return out

    monkeypatch.setattr(torch.optim.Adam, "step", step_then_sigint)
    with pytest.raises(KeyboardInterrupt):
        train(generator="wavegan", data=data, out=tmp_path / "cut", preset="wavegan-tiny", overrides=[*over, "train.max_steps=4"], device="cpu")
    monkeypatch.setattr(torch.optim.Adam, "step", real_step)
    two, cut = (torch.load(p / "ckpt" / "last.pt", weights_only=True) for p in (tmp_path / "two", tmp_path / "cut"))
    assert cut["step"] == two["step"] == 2 and calls["n"] == 4  # the generator's update ran before the stop
    assert _same_weights(tmp_path / "two", tmp_path / "cut")
    for name in ("generator", "discriminator"):
        a, b = two["optimizer"][name]["state"], cut["optimizer"][name]["state"]
        assert a.keys() == b.keys() and all(torch.equal(a[k]["exp_avg"], b[k]["exp_avg"]) for k in a), name
    assert _steps(tmp_path / "cut") == _steps(tmp_path / "two") == [2]
    train(out=tmp_path / "cut", resume=True, device="cpu")  # and it resumes
    assert _steps(tmp_path / "cut") == [2, 4]


def test_sigint_during_a_due_eval_still_logs_it(tmp_path, data, monkeypatch):
    over = tiny_overrides("wavenet", 6, 3, "train.seed=1")
    train(generator="wavenet", data=data, out=tmp_path / "full", overrides=over, device="cpu")
    real_evaluate, calls = Loop.evaluate, {"n": 0}

    def evaluate_with_sigint(self):
        calls["n"] += 1
        if calls["n"] == 2:  # the step-6 eval
            os.kill(os.getpid(), signal.SIGINT)
        return real_evaluate(self)

    monkeypatch.setattr(Loop, "evaluate", evaluate_with_sigint)
    with pytest.raises(KeyboardInterrupt):
        train(generator="wavenet", data=data, out=tmp_path / "cut", overrides=over, device="cpu")
    monkeypatch.setattr(Loop, "evaluate", real_evaluate)
    assert _steps(tmp_path / "cut") == _steps(tmp_path / "full") == [3, 6]
    best = [torch.load(p / "ckpt" / "best.pt", weights_only=True)["step"] for p in (tmp_path / "full", tmp_path / "cut")]
    assert best[0] == best[1]


def test_signals_deferred_delivers_once_after_the_block_and_at_once_when_repeated():
    from benchbox.runs import signals_deferred

    done = []
    with pytest.raises(KeyboardInterrupt):
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("after the signal")  # the block finishes first
    assert done == ["after the signal"] and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)  # insisted: delivered at once
            done.append("never")
    assert done == ["after the signal"] and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_resume_may_extend_the_budget_but_not_rewrite_what_was_trained(tmp_path, data):
    from benchbox.errors import ConfigError

    out = tmp_path / "run"
    train(generator="wavenet", data=data, out=out, overrides=tiny_overrides("wavenet", 2, 2, "train.seed=1"), device="cpu")
    before = (out / "config.toml").read_text()
    for change in ("train.seed=99", "train.batch_size=2", "train.lr=0.1"):
        with pytest.raises(ConfigError, match=f"cannot change '{change.split('=')[0]}'"):
            train(out=out, resume=True, overrides=[change, "train.max_steps=4"], device="cpu")
    assert (out / "config.toml").read_text() == before  # the record of the 2 steps trained is intact
    result = train(out=out, resume=True, overrides=["train.max_steps=4", "train.eval_every=1"], device="cpu")
    assert result.last_step == 4


def test_a_second_ctrl_c_stops_at_once_and_keeps_the_last_consistent_checkpoint(tmp_path, data, monkeypatch):
    """The user insists (two Ctrl-C) right after step 3's weight update, before the step counter
    moves: the step is abandoned and nothing is saved, so last.pt stays the one the step-2 eval
    wrote (saving then would pair step 3's weights with step 2's counter, RNG and data position)."""
    over = tiny_overrides("wavenet", 6, 2, "train.seed=1")
    train(generator="wavenet", data=data, out=tmp_path / "two", overrides=[*over[:-3], "train.max_steps=2", "train.eval_every=2", "train.seed=1"], device="cpu")
    real_step, calls = torch.optim.AdamW.step, {"n": 0}

    def step_then_insist(self, *a, **kw):
        out = real_step(self, *a, **kw)
        calls["n"] += 1
        if calls["n"] == 3:  # step 3's update
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return out

    monkeypatch.setattr(torch.optim.AdamW, "step", step_then_insist)
    with pytest.raises(KeyboardInterrupt):
        train(generator="wavenet", data=data, out=tmp_path / "cut", overrides=over, device="cpu")
    monkeypatch.setattr(torch.optim.AdamW, "step", real_step)
    assert torch.load(tmp_path / "cut" / "ckpt" / "last.pt", weights_only=True)["step"] == 2
    assert _same_weights(tmp_path / "two", tmp_path / "cut")  # step 2's weights, not step 3's
