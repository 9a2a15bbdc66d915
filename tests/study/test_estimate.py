from pathlib import Path

from benchbox.study.estimate import estimate_protocol
from benchbox.study.protocol import load_protocol

ROOT = Path(__file__).resolve().parents[2]


def test_estimate_times_the_presets_of_extra_runs_too():
    extra = ['presets=["wavenet-tiny"]', 'extra=[{preset="sashimi-tiny", quantisation="linear", normalise="minmax"}]', "train.max_steps=5"]
    stages = estimate_protocol(load_protocol(ROOT / "protocols" / "quickstart.toml", overrides=extra))["stages"]
    assert stages["train/sashimi-tiny_linear_do0_minmax"] > 0 and stages["train/wavenet-tiny_mulaw_do0"] > 0


def test_epochs_count_steps_over_the_train_split_and_done_stages_cost_nothing():
    from benchbox.train import TrainSection, total_steps
    from benchbox.config import from_dict

    proto = load_protocol(ROOT / "protocols" / "quickstart.toml", overrides=["train.max_steps=0", "train.epochs=2", "train.batch_size=4"])
    tcfg = from_dict(TrainSection, proto.train, where="train.")
    assert total_steps(tcfg, 30, 1) == 15  # ceil(2 * 30 / 4)
    known = estimate_protocol(proto, n_train=30)
    assert "15 steps per run" in known["basis"]
    unknown = estimate_protocol(proto)
    assert "1000 steps per run (assumed" in unknown["basis"]
    run = next(k for k in known["stages"] if k.startswith("train/"))
    assert unknown["stages"][run] > known["stages"][run] > 0
    done = estimate_protocol(proto, n_train=30, done=frozenset({run}))
    assert done["stages"][run] == 0.0 and "1 stages already done" in done["basis"]


def test_finished_stages_reads_the_ledger_and_checks_outputs(tmp_path):
    import json

    from benchbox.study.runner import finished_stages, train_split_size

    proto = load_protocol(ROOT / "protocols" / "quickstart.toml")
    assert finished_stages(proto, tmp_path) == frozenset() and train_split_size(tmp_path) is None
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "manifest.csv").write_text("path,split\na.wav,train\nb.wav,train\nc.wav,val\n")
    assert train_split_size(tmp_path) == 2
    (tmp_path / "stages.json").write_text(json.dumps({"leaderboard": {"fingerprint": "x"}}))
    assert finished_stages(proto, tmp_path) == frozenset()  # a stale fingerprint, and no leaderboard.md


def test_a_pending_stage_makes_everything_downstream_pending(tmp_path, monkeypatch):
    """The dry run called generate, score, leaderboard and report done after a train change."""
    import json

    from benchbox.study import runner
    from benchbox.study.protocol import plan

    proto = load_protocol(ROOT / "protocols" / "quickstart.toml")
    keys = [s.key for s in plan(proto)]
    monkeypatch.setattr(runner.st, "stage_fingerprint", lambda ctx, stage: "now-" + stage.key)
    monkeypatch.setattr(runner.st, "outputs_exist", lambda ctx, stage: True)
    ledger = {k: {"fingerprint": "now-" + k} for k in keys}
    (tmp_path / "stages.json").write_text(json.dumps(ledger))
    assert runner.finished_stages(proto, tmp_path) == frozenset(keys)
    changed = next(k for k in keys if k.startswith("train/"))
    run = changed.split("/", 1)[1]
    ledger[changed] = {"fingerprint": "before"}  # e.g. train.max_steps changed
    (tmp_path / "stages.json").write_text(json.dumps(ledger))
    done = runner.finished_stages(proto, tmp_path)
    assert not {changed, f"generate/{run}", f"score/{run}", "leaderboard", "report"} & done
    others = [k for k in keys if k.startswith("train/") and k != changed]
    assert set(others) <= done and "data" in done


def test_max_steps_bounds_an_epoch_budget_over_an_unknown_split():
    proto = load_protocol(ROOT / "protocols" / "quickstart.toml", overrides=["train.max_steps=100", "train.epochs=2"])
    est = estimate_protocol(proto)
    assert "100 steps per run (at most max_steps" in est["basis"]


def test_generation_counts_the_cells_each_generator_gets_and_times_each_sampling_setting(monkeypatch):
    """An AR preset honours top_p (2 x the cells), not sampling_steps; a diffusion preset the reverse,
    and its generation is timed once per step count, with that count."""
    from benchbox.generators.diffusion_generator import DiffusionGenerator
    from benchbox.study.estimate import two_process_seconds

    asked = []
    real = DiffusionGenerator.generate
    monkeypatch.setattr(DiffusionGenerator, "generate", lambda self, *a, **kw: asked.append(kw.get("sampling_steps")) or real(self, *a, **kw))
    sets = ['presets=["wavenet-tiny"]', 'extra=[{preset="diffwave-tiny", dropout=-1.0}]', "train.max_steps=2",
            "sweep.quantisation=[\"mulaw\"]", "sweep.dropout=[0.0]", "sweep.checkpoint=[\"best\"]", "sweep.prime_ms=[0]",
            "sweep.top_p=[1.0, 0.9]", "sweep.sampling_steps=[2, 4]", "generate.n=2", "generate.seconds=0.016", "generate.batch=2"]
    proto = load_protocol(ROOT / "protocols" / "quickstart.toml", overrides=sets)
    est = estimate_protocol(proto)
    assert sorted(asked) == [2, 4]  # one timing per step count, with that count
    assert est["clips"] == 2 * 2 + 2 * 2  # wavenet: 2 top-p cells; diffwave: 2 step cells; n = 2
    from benchbox.study.protocol import describe

    assert describe(proto)["clips_total"] == est["clips"]  # --dry-run's JSON and its printed plan say the same
    assert est["stages"]["generate/diffwave-tiny_mulaw"] > 0
    assert two_process_seconds({"data": 1.0, "train/a": 5.0, "score/a": 1.0, "train/b": 4.0, "train/c": 3.0}) == 1.0 + 7.0


def _record_timing(monkeypatch) -> list[tuple[bool, bool]]:
    """(time_train, time_generate) of every ``_time_preset`` call from now on (the calls still run)."""
    from benchbox.study import estimate

    calls: list[tuple[bool, bool]] = []
    real = estimate._time_preset
    monkeypatch.setattr(estimate, "_time_preset", lambda *a, **k: calls.append((k.get("time_train", True), k.get("time_generate", True))) or real(*a, **k))
    return calls


def test_a_run_whose_stages_are_all_done_is_counted_but_not_timed(monkeypatch):
    """The dry run of a finished study timed every preset (minutes of training steps) for stages costing 0."""
    proto = load_protocol(ROOT / "protocols" / "quickstart.toml", overrides=["train.max_steps=5"])
    fresh = estimate_protocol(proto)
    runs = sorted(k.split("/", 1)[1] for k in fresh["stages"] if k.startswith("train/"))
    calls = _record_timing(monkeypatch)
    finished = frozenset(f"{s}/{run}" for run in runs[1:] for s in ("train", "generate", "score"))
    part = estimate_protocol(proto, done=finished)
    assert part["clips"] == fresh["clips"] and part["stages"][f"train/{runs[0]}"] > 0
    assert all(part["stages"][k] == 0.0 for k in finished)
    assert sorted(calls) == [(False, False)] * (len(runs) - 1) + [(True, True)]  # quickstart: one run per preset; only the pending one is timed
    calls.clear()
    everything = estimate_protocol(proto, done=finished | {f"{s}/{runs[0]}" for s in ("train", "generate", "score")})
    assert everything["clips"] == fresh["clips"] and calls and not any(any(c) for c in calls)
    assert all(everything["stages"][f"{s}/{r}"] == 0.0 for r in runs for s in ("train", "generate", "score"))
    assert everything["basis"].startswith("nothing timed") and "; ;" not in everything["basis"]


def test_a_preset_shared_by_a_finished_and_a_pending_run_is_timed_for_the_pending_one(monkeypatch):
    """Two dropout runs of one preset: timing must not be skipped (nor the pending run called fitted)
    because the run listed first is done."""
    proto = load_protocol(ROOT / "protocols" / "quickstart.toml", overrides=['presets=["wavenet-tiny"]', "sweep.dropout=[0.0, 0.1]", "train.max_steps=5"])
    fresh = estimate_protocol(proto)
    runs = sorted(k.split("/", 1)[1] for k in fresh["stages"] if k.startswith("train/"))
    assert len(runs) == 2
    calls = _record_timing(monkeypatch)
    for finished, pending in (runs, runs[::-1]):
        calls.clear()
        est = estimate_protocol(proto, done=frozenset(f"{s}/{finished}" for s in ("train", "generate", "score")))
        assert calls == [(True, True)] and est["stages"][f"train/{pending}"] > 0 and est["stages"][f"train/{finished}"] == 0.0
        assert "fitted" not in est["basis"] and est["clips"] == fresh["clips"]


def test_a_trained_run_times_only_its_pending_generation(monkeypatch):
    """A preset trained but not yet generated was timed for training steps it no longer needs, and its
    0-cost train stage must not read 'fitted' in the basis."""
    proto = load_protocol(ROOT / "protocols" / "quickstart.toml", overrides=['presets=["wavenet-tiny"]', "train.max_steps=5"])
    (run,) = [k.split("/", 1)[1] for k in estimate_protocol(proto)["stages"] if k.startswith("train/")]
    calls = _record_timing(monkeypatch)
    est = estimate_protocol(proto, done=frozenset({f"train/{run}"}))
    assert calls == [(False, True)]
    assert est["stages"][f"train/{run}"] == 0.0 and est["stages"][f"generate/{run}"] > 0 and est["stages"][f"score/{run}"] > 0
    assert "fitted" not in est["basis"] and "train steps" not in est["basis"] and "generation steps" in est["basis"]
    calls.clear()
    scoring = estimate_protocol(proto, done=frozenset({f"train/{run}", f"generate/{run}"}))
    assert calls == [(False, False)] and scoring["stages"][f"score/{run}"] > 0 and scoring["basis"].startswith("nothing timed")
