"""benchmarks/bench_quality.py: --summarise keeps the training-time figures of quality.json."""

from tests.benchmark_helpers import load_benchmark


def _measured(load: float, wall: float) -> dict:
    return {"machine": {"cpu": "x86_64", "cores": 2, "torch": "t"}, "threads": 1, "parallel": False, "minutes_per_run": 40.0,
            "load_average_before": [load] * 3, "load_average_after": [load] * 3, "wall_seconds": wall}


def test_summarising_keeps_the_training_time_load_and_wall_time():
    bench = load_benchmark("bench_quality")
    trained = {"format": 1, **bench.training_figures(_measured(2.0, 4800.0), None, summarise=False)}
    assert trained["load_average_before"] == [2.0] * 3 and trained["wall_seconds"] == 4800.0 and "summarised" not in trained
    trained["threads"], trained["parallel"] = 1, True
    again = bench.training_figures({**_measured(6.5, 4.5), "threads": 2, "parallel": False}, trained, summarise=True)
    assert {k: again[k] for k in bench.TRAINING_FIGURES} == {k: trained[k] for k in bench.TRAINING_FIGURES}
    assert again["summarised"]["load_average_before"] == [6.5] * 3 and again["summarised"]["wall_seconds"] == 4.5
    fresh = bench.training_figures(_measured(6.5, 4.5), None, summarise=True)  # nothing trained, nothing recorded: null, not the load now
    assert all(fresh[k] is None for k in bench.TRAINING_FIGURES)


def test_staged_training_passes_the_seed_and_resumes_without_it(tmp_path, monkeypatch):
    """--seed reaches the first `benchbox train` as train.seed; the resumed stages keep the run's own. A
    stage's max_minutes is its own mark (15), not the increment (10): the budget counts every session."""
    stages = load_benchmark("bench_quality_diffusion")
    calls = []
    monkeypatch.setattr(stages, "_cli", lambda *args, threads: calls.append(args))
    monkeypatch.setattr(stages.shutil, "copyfile", lambda src, dst: None)
    names = stages.train_staged("hifiwavegan-cpu", tmp_path / "data", tmp_path / "run", [5.0, 15.0], threads=1, seed=3)
    assert names == ["min5", "min15"]
    first, resumed = calls
    assert first[:2] == ("train", "wavegan") and "train.seed=3" in first and "train.max_minutes=5.0" in first
    assert resumed[:2] == ("train", "--resume") and not any("train.seed" in a for a in resumed) and "train.max_minutes=15.0" in resumed
    calls.clear()
    stages.train_staged("hifiwavegan-cpu", tmp_path / "data", tmp_path / "run2", [5.0], threads=1)
    assert not any("train.seed" in a for a in calls[0])  # no --seed: the preset's own


def test_staged_training_keeps_a_presets_step_budget_and_zeroes_the_default_otherwise(tmp_path, monkeypatch):
    """A [train] table with max_steps is a step budget (the stages cap its minutes); a preset without
    one (or with max_steps = 0) must not fall back to TrainSection's 1,000-step default."""
    stages = load_benchmark("bench_quality_diffusion")
    calls = []
    monkeypatch.setattr(stages, "_cli", lambda *args, threads: calls.append(args))
    monkeypatch.setattr(stages.shutil, "copyfile", lambda src, dst: None)
    budget = tmp_path / "gan-steps.toml"
    budget.write_text('generator = "wavegan"\n\n[train]\nmax_steps = 2400\ndecay_from = 1200\nmax_minutes = 45.0\n\n[model]\nlength = 8192\n')
    for preset, zeroed in ((str(budget), False), ("wavegan-tiny", True), ("hifiwavegan-cpu", False)):  # the GAN preset is a step budget since run14
        calls.clear()
        stages.train_staged(preset, tmp_path / "data", tmp_path / f"run-{zeroed}-{len(preset)}", [45.0], threads=1)
        assert ("train.max_steps=0" in calls[0]) == zeroed and "train.max_minutes=45.0" in calls[0]


def test_a_preset_file_names_its_run_folder_by_its_stem():
    """``models/x.toml`` must not nest ``runs/models/x.toml/``; a preset name is kept as given."""
    stages = load_benchmark("bench_quality_diffusion")
    assert stages.run_folder("models/hifiwavegan-cpu-wsd128.toml") == "hifiwavegan-cpu-wsd128"
    assert stages.run_folder("/abs/path/my.preset.toml") == "my.preset"
    assert stages.run_folder("specdiff-cpu") == "specdiff-cpu"
