import json
import math
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch

from benchbox import checkpoint as ck
from benchbox.data.dataset import load_dataset
from benchbox.errors import CheckpointError, ConfigError, DataError, GeneratorError
from benchbox.audio import encode
from benchbox.generators import registry
from benchbox.nll import NATS_PER_BIT, split_nll
from benchbox.train import AugmentConfig, BatchStream, DataConfig, TrainSection, augment, crop, load_codes, lr_factor, resolve_config, train
from tests.train_helpers import corpus, tiny_overrides, tiny_run

LN_CLASSES = math.log(256)
METRIC_KEYS = {"loss/train", "loss/val", "bits/train", "bits/val", "acc/train", "acc/val", "lr", "step", "epoch", "samples_per_second",
               "loss/test", "bits/test", "train_seconds", "baseline/ngram/bits/val", "baseline/lpc/bits/test"}
COMPARED = ("step", "epoch", "lr", "loss/train", "loss/val", "acc/train", "acc/val")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return corpus(tmp_path_factory.mktemp("corpus") / "ds")


def _log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("generator", ["sashimi", "wavenet"])
def test_tiny_training_beats_uniform(tmp_path, data, generator):
    result = tiny_run(tmp_path / "run", data, generator, 12, "train.eval_every=6", "train.baselines=true")
    log = _log(tmp_path / "run")
    assert result.last_step == 12 and [r["step"] for r in log] == [6, 12]
    assert result.best_val < LN_CLASSES and min(r["loss/val"] for r in log) == pytest.approx(result.best_val)
    assert METRIC_KEYS <= set(log[-1])
    assert log[-1]["bits/val"] == pytest.approx(log[-1]["loss/val"] / math.log(2))
    assert (tmp_path / "run" / "ckpt" / "best.pt").is_file() and (tmp_path / "run" / "curves.png").stat().st_size > 0
    last = ck.load_checkpoint(tmp_path / "run" / "ckpt" / "last.pt")
    assert last["step"] == 12 and last["generator"] == generator and last["data_state"]["epoch"] >= 1
    cfg = tomllib.loads((tmp_path / "run" / "config.toml").read_text())
    assert cfg["generator"] == generator and cfg["preset"] == f"{generator}-tiny"
    assert Path(cfg["data"]["path"]) == data.resolve() and cfg["train"]["max_steps"] == 12
    # Each param group keeps its own base lr (sashimi: lr_ssm) and all follow one schedule.
    groups = last["optimizer"]["main"]["param_groups"]
    assert len({round(g["lr"] / g["base_lr"], 12) for g in groups}) == 1
    assert len({g["base_lr"] for g in groups}) == (2 if generator == "sashimi" else 1)


@pytest.mark.parametrize("generator", ["sashimi", "wavenet"])
def test_few_steps_beat_the_code_histogram(tmp_path, data, generator):
    result = tiny_run(tmp_path / "run", data, generator, 40, "train.lr=0.02", "train.warmup_steps=5", "train.batch_size=8")
    assert result.best_val < _marginal_val_nats(data)  # learned more than the train split's code histogram


def _marginal_val_nats(data: Path) -> float:
    """NLL of the val split under the add-1 code histogram of the train split, by numpy."""
    import numpy as np

    ds = load_dataset(data)
    train_codes = encode(ds.load_clips("train"), "mulaw").numpy().ravel()
    val_codes = encode(ds.load_clips("val"), "mulaw").numpy().ravel()
    hist = np.bincount(train_codes, minlength=256) + 1.0
    return float(-np.log(hist[val_codes] / hist.sum()).mean())


@pytest.mark.parametrize("generator", ["ngram", "lpc"])
def test_closed_form_generators_fit_score_and_save_at_step_zero(tmp_path, data, generator):
    result = train(generator=generator, data=data, out=tmp_path / "run", device="cpu")
    log = _log(tmp_path / "run")
    assert result.last_step == 0 and [r["step"] for r in log] == [0]
    assert result.best_val < _marginal_val_nats(data)
    # bits/val covers the whole val split: recompute it from best.pt over every clip
    ckpt = ck.load_checkpoint(tmp_path / "run" / "ckpt" / "best.pt")
    model = registry.build(generator, ckpt["generator_config"])
    model.load_state_dict(ckpt["model"])
    codes = load_codes(DataConfig(path=data))
    loss_sum, _, count = split_nll(model.eval(), codes["val"], 3)
    assert count == codes["val"].numel()
    assert log[0]["bits/val"] == pytest.approx(loss_sum / count / NATS_PER_BIT, rel=1e-6)
    assert log[0][f"baseline/{generator}/bits/val"] == pytest.approx(log[0]["bits/val"], rel=1e-6)


def test_augment_gain_polarity_and_shift():
    waves = torch.zeros(64, 100)
    waves[:, 10] = 0.5  # one impulse per clip
    gen = torch.Generator().manual_seed(0)
    out = augment(waves, AugmentConfig(gain_db=6.0, polarity=True, shift_ms=1.0), 1000, gen)  # 1 ms = 1 sample here
    peaks = out.abs().amax(1)
    where = out.abs().argmax(1)
    assert ((peaks >= 0.5 * 10 ** (-6 / 20) - 1e-6) & (peaks <= 0.5 * 10 ** (6 / 20) + 1e-6)).all()
    assert set(where.tolist()) <= {9, 10, 11} and len(set(where.tolist())) == 3
    signs = torch.sign(out[torch.arange(64), where])
    assert (signs > 0).any() and (signs < 0).any()
    assert torch.equal(augment(waves, AugmentConfig(), 1000, gen), waves)


def test_resume_after_interrupt_is_exact(tmp_path, data):
    # Dropout and random crops make the run depend on every RNG and on the data position.
    extra = ("model.dropout=0.2",)
    full = train(generator="sashimi", data=data, out=tmp_path / "full", overrides=tiny_overrides("sashimi", 9, 3, *extra), device="cpu")

    def ctrl_c(task, done, total, **info):
        if done == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(generator="sashimi", data=data, out=tmp_path / "cut", overrides=tiny_overrides("sashimi", 9, 3, *extra), device="cpu", progress=ctrl_c)
    assert ck.load_checkpoint(tmp_path / "cut" / "ckpt" / "last.pt")["step"] == 4
    with pytest.raises(ConfigError, match="cannot change 'model'"):
        train(out=tmp_path / "cut", resume=True, overrides=["model.dropout=0.5"], device="cpu")
    # Restating the run's own settings is fine (a pipeline resumes with the same arguments).
    again = tiny_overrides("sashimi", 9, 3, *extra)
    resumed = train(generator="sashimi", data=data, out=tmp_path / "cut", preset="sashimi-tiny", overrides=again, device="cpu", resume=True)
    assert resumed.last_step == full.last_step == 9 and resumed.best_val == full.best_val
    strip = [[r[k] for k in COMPARED] for r in _log(tmp_path / "full")]
    assert strip == [[r[k] for k in COMPARED] for r in _log(tmp_path / "cut")]
    a, b = (torch.load(p / "ckpt" / "last.pt", weights_only=True)["model"] for p in (tmp_path / "full", tmp_path / "cut"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_early_stopping(tmp_path, data):
    # lr 1e-30 leaves the weights (and so the val loss) unchanged: no eval after the first improves.
    result = tiny_run(tmp_path / "run", data, "wavenet", 50, "train.eval_every=1", "train.patience=2", "train.lr=1e-30", "train.lr_min=0")
    assert result.stopped_early and result.last_step == 3
    assert [r["step"] for r in _log(tmp_path / "run")] == [1, 2, 3]


def test_divergence_is_a_clear_error(tmp_path, data):
    with pytest.raises(GeneratorError, match="training diverged: loss/train is nan"):
        tiny_run(tmp_path / "run", data, "wavenet", 5, "train.lr=1e30", "train.grad_clip=0", "train.warmup_steps=0")


def test_eval_every_epoch(tmp_path, data):
    n_train = int((load_dataset(data).manifest["split"] == "train").sum())
    tiny_run(tmp_path / "run", data, "wavenet", 7, "train.eval_every=0")
    epoch_ends = [s for s in range(1, 7) if (s * 4) // n_train > ((s - 1) * 4) // n_train]
    assert [r["step"] for r in _log(tmp_path / "run")] == epoch_ends + [7]


def test_batch_stream_covers_each_epoch_and_continues_from_state():
    stream = BatchStream(10, 4, seed=1)
    first = torch.cat([stream.next() for _ in range(5)])  # 20 indices = 2 epochs
    assert sorted(first[:10].tolist()) == list(range(10)) and sorted(first[10:].tolist()) == list(range(10))
    assert stream.state() == {"epoch": 2, "position": 0}
    twin = BatchStream(10, 4, seed=1, epoch=1, position=2)
    assert torch.equal(twin.next(), first[12:16])
    ranks = [BatchStream(10, 2, seed=1, world=2, rank=r).next() for r in range(2)]
    assert torch.equal(torch.stack(ranks, 1).reshape(-1), first[:4])  # two processes share one global batch


def test_schedule_and_crops():
    cfg = TrainSection(lr=1.0, lr_min=0.1, warmup_steps=4, max_steps=20)
    assert lr_factor(0, cfg, 20) == pytest.approx(0.25) and lr_factor(3, cfg, 20) == pytest.approx(1.0)
    assert lr_factor(4, cfg, 20) == pytest.approx(1.0) and lr_factor(20, cfg, 20) == pytest.approx(0.1)
    held = TrainSection(lr=1.0, lr_min=0.1, warmup_steps=4, decay_from=10, max_steps=20)
    assert [lr_factor(s, held, 20) for s in (3, 4, 9, 10)] == pytest.approx([1.0, 1.0, 1.0, 1.0])
    halfway = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 5 / 10))  # step 15: half of the 10-step decay
    assert lr_factor(15, held, 20) == pytest.approx(halfway) and lr_factor(15, held, 20) == pytest.approx(0.55)
    assert lr_factor(20, held, 20) == pytest.approx(0.1) and lr_factor(15, held, None) == 1.0
    early = TrainSection(lr=1.0, lr_min=0.1, warmup_steps=4, decay_from=2, max_steps=20)  # decay_from inside warmup: decays from its end
    assert [lr_factor(s, early, 20) for s in (0, 4, 12, 20)] == pytest.approx([lr_factor(s, cfg, 20) for s in (0, 4, 12, 20)])
    for bad in ({"decay_from": 20, "max_steps": 20}, {"decay_from": 5, "max_steps": 0, "max_minutes": 30.0}):
        with pytest.raises(ValueError, match="decay_from"):
            TrainSection(**bad)
    codes = torch.arange(40).reshape(2, 20)
    assert torch.equal(crop(codes, 5, None), codes[:, :5])
    windows = crop(codes, 5, torch.Generator().manual_seed(0))
    assert windows.shape == (2, 5) and torch.equal(windows[:, 1:] - windows[:, :-1], torch.ones(2, 4, dtype=torch.long))


def test_bad_inputs_fail_before_writing(tmp_path, data):
    out = tmp_path / "run"
    with pytest.raises(DataError, match="dataset folder not found"):
        train(generator="sashimi", data=tmp_path / "nope", out=out, device="cpu")
    with pytest.raises(ConfigError, match="unknown model preset"):
        resolve_config(generator="sashimi", data=data, preset="sashimi-huge")
    with pytest.raises(ConfigError, match="is for generator 'wavenet'"):
        resolve_config(generator="sashimi", data=data, preset="wavenet-tiny")
    with pytest.raises(ConfigError, match="unknown config key 'train.lrr'"):
        resolve_config(generator="sashimi", data=data, overrides=["train.lrr=1"])
    with pytest.raises(ConfigError, match="unknown config key 'model.widht'"):
        resolve_config(generator="sashimi", data=data, overrides=["model.widht=1"])
    with pytest.raises(ConfigError, match="train needs batch_size >= 1"):
        resolve_config(generator="sashimi", data=data, overrides=["train.batch_size=0"])
    with pytest.raises(ConfigError, match="crop_samples"):
        train(generator="sashimi", data=data, out=out, overrides=["data.crop_samples=999999"], device="cpu")
    with pytest.raises(CheckpointError, match="cannot resume: .* not found"):  # a folder that is not there at all
        train(out=out, resume=True)
    assert not out.exists()


@pytest.mark.slow
def test_two_process_ddp_on_gloo(tmp_path, data):
    out = tmp_path / "ddp"
    sets = [a for s in tiny_overrides("wavenet", 4, 2, "train.batch_size=2") for a in ("--set", s)]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(Path(sys.executable).with_name("benchbox")),
           "train", "wavenet", "--data", str(data), "--out", str(out), "--device", "cpu", "--quiet", *sets]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    model, meta = ck.build_from_checkpoint(out / "ckpt" / "last.pt")
    assert meta["step"] == 4 and len(meta["rng_ranks"]) == 2
    assert not any(k.startswith("module.") for k in model.state_dict())
    log = _log(out)
    assert [r["step"] for r in log] == [2, 4] and log[-1]["epoch"] == pytest.approx(4 * 2 * 2 / 19, rel=0.2)


def test_minmax_scale_is_the_official_loaders_and_moves_silence_off_zero():
    from benchbox.train import MINMAX_GUARD, minmax_scale

    waves = torch.tensor([[0.0, 0.3, -0.1, 0.0], [0.0, 0.5, -0.5, 0.2]])
    out = minmax_scale(waves)
    low, high = waves.amin(1, keepdim=True), waves.amax(1, keepdim=True)
    assert torch.allclose(out, -1 + 2 * (waves - low) / (high - low + MINMAX_GUARD))
    assert out[0].min() == pytest.approx(-1.0) and out[0].max() == pytest.approx(1.0, abs=1e-5)
    assert out[0, 0] == pytest.approx(-0.5, abs=1e-5)  # asymmetric clip: silence lands at -(max+min)/(max-min)
    assert out[1, 0] == pytest.approx(0.0, abs=1e-5)  # symmetric clip: silence stays at zero


def test_minmax_normalise_changes_the_codes_of_every_split(data):
    plain = load_codes(DataConfig(path=data, quantisation="linear"))
    scaled = load_codes(DataConfig(path=data, quantisation="linear", normalise="minmax"))
    for split in ("train", "val", "test"):
        assert scaled[split].shape == plain[split].shape
        assert int(scaled[split].amax(1).min()) >= 254 and int(scaled[split].amin(1).max()) == 0  # full range per clip


def test_resume_after_the_dataset_changed_in_place_is_refused_unless_forced(tmp_path, data):
    import shutil

    import numpy as np

    from benchbox.audio import load_audio, write_wav
    from benchbox.data.fingerprint import FINGERPRINT_FILE

    mine = tmp_path / "data"
    shutil.copytree(data, mine)
    run = tmp_path / "run"
    tiny_run(run, mine, "sashimi", 2)
    first = json.loads((run / FINGERPRINT_FILE).read_text())["fingerprint"]
    clip = load_dataset(mine).clip_paths("val")[0]
    write_wav(clip, np.clip(load_audio(clip) * 0.5, -1, 1))  # regenerated in place: same name, same manifest
    with pytest.raises(DataError, match="changed since the run trained on it") as info:
        train(out=run, resume=True, overrides=["train.max_steps=4"], device="cpu")  # was: continued, best.pt chosen across two val splits
    assert first[:16] in info.value.message and "--force-data-change" in info.value.hint
    assert ck.load_checkpoint(run / "ckpt" / "last.pt")["step"] == 2  # refused before anything was written
    resumed = train(out=run, resume=True, overrides=["train.max_steps=4"], device="cpu", force_data_change=True)
    record = json.loads((run / FINGERPRINT_FILE).read_text())
    assert resumed.last_step == 4 and record["fingerprint"] != first and record["replaced"] == [{"fingerprint": first, "until_step": 2}]
    assert first[:16] not in info.value.message.split("then")[1] and record["fingerprint"][:16] in info.value.message


def test_resume_keeps_the_first_versions_record(tmp_path, data):
    """``versions.json`` names the invocation that trained the run: a resume records itself beside it
    (``versions-resume-<k>.json``) instead of rewriting it."""
    run = tmp_path / "run"
    tiny_run(run, data, "sashimi", 2)
    first = {**json.loads((run / "versions.json").read_text()), "torch": "the version that trained it"}
    (run / "versions.json").write_text(json.dumps(first))
    train(out=run, resume=True, overrides=["train.max_steps=3"], device="cpu")
    train(out=run, resume=True, overrides=["train.max_steps=4"], device="cpu")
    assert json.loads((run / "versions.json").read_text()) == first
    for k, step in ((1, 2), (2, 3)):
        record = json.loads((run / f"versions-resume-{k}.json").read_text())
        assert record["torch"] == torch.__version__ and record["from_step"] == step and record["recorded_utc"]  # which resume, and when
    assert first["from_step"] == 0
    assert not (run / "versions-resume-3.json").exists()


def test_a_resume_whose_budget_is_already_spent_changes_nothing(tmp_path, data):
    """`--resume --set train.max_steps=50` on a run at step 110 trained nothing but rewrote config.toml (max_steps 50)
    and added a versions record."""
    from benchbox.errors import ConfigError

    run = tmp_path / "run"
    tiny_run(run, data, "sashimi", 3)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    for steps in (1, 2):  # the recorded budget (3) may still resume: a run killed after its last checkpoint has nothing left
        with pytest.raises(ConfigError, match="checkpoint is at step 3 and this budget ends at step"):
            train(out=run, resume=True, overrides=[f"train.max_steps={steps}"], device="cpu")
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_max_minutes_counts_every_session_of_a_run_so_a_resume_continues_the_budget(tmp_path, data):
    """A 45-minute recipe killed at minute 44 and resumed once trained up to 45 more minutes: the budget
    restarted with each session. It is the run's wall time over every session (``train_seconds``)."""
    from benchbox.errors import ConfigError

    run = tmp_path / "run"
    tiny_run(run, data, "sashimi", 2)
    for name in ("last.pt", "best.pt"):  # as if these two steps had taken 10 minutes
        path = run / "ckpt" / name
        ckpt = torch.load(path, weights_only=False)
        ckpt["train_seconds"] = 600.0
        torch.save(ckpt, path)
    config = (run / "config.toml").read_bytes()
    with pytest.raises(ConfigError, match=r"trained for 10.0 min and this budget ends at 5 min"):
        train(out=run, resume=True, overrides=["train.max_steps=50", "train.max_minutes=5"], device="cpu")
    assert (run / "config.toml").read_bytes() == config  # refused before the record is rewritten
    resumed = train(out=run, resume=True, overrides=["train.max_steps=4", "train.max_minutes=11"], device="cpu")
    assert resumed.first_step == 2 and 2 < resumed.last_step <= 4  # a minute of budget left: it trains on


def test_a_wall_budget_that_runs_out_between_steps_still_evaluates_and_saves_the_last_step(tmp_path, data):
    """The budget was checked twice per step: inside the step-and-eval unit and again by the loop. Time
    that ran out between the two (a slow progress callback) ended the run with no eval and no save:
    with max_steps 0 and no eval yet, no ckpt/ at all. It is now decided once per step, in the unit."""
    import time as clock

    stalled = []

    def slow_progress(task, done, total, **info):
        if task == "train" and not stalled:
            stalled.append(done)
            clock.sleep(1.5)  # past the 0.6 s budget, after a step that finished within it

    run = tmp_path / "run"
    result = train(generator="sashimi", data=data, out=run, overrides=tiny_overrides("sashimi", 0, 1000, "train.max_minutes=0.01"),
                   device="cpu", progress=slow_progress)
    assert stalled and (run / "ckpt" / "last.pt").is_file() and (run / "ckpt" / "best.pt").is_file()
    assert ck.load_checkpoint(run / "ckpt" / "last.pt")["step"] == result.last_step >= 1
    assert _log(run)[-1]["step"] == result.last_step  # the last step was evaluated
