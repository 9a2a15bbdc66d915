from pathlib import Path

import pytest

from benchbox.errors import ConfigError, ProtocolError
from benchbox.study.protocol import StageLedger, describe, fingerprint, load_protocol, plan, train_jobs

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["quickstart", "footsteps-cpu", "footsteps-2022"])
def test_shipped_protocols_load(name):
    data = None if name == "quickstart" else "/some/corpus"
    proto = load_protocol(ROOT / "protocols" / f"{name}.toml", data=data)
    assert proto.name == name
    assert train_jobs(proto)


def test_grid_of_the_original_study():
    proto = load_protocol(ROOT / "protocols" / "footsteps-2022.toml", data="/x")
    jobs = train_jobs(proto)
    assert len(jobs) == 2 * 2 * 2  # generators x quantisation x dropout
    assert {j.quantisation for j in jobs} == {"linear", "mulaw"}
    assert {j.dropout for j in jobs} == {0.0, 0.5}
    info = describe(proto)
    assert info["clips_per_run"] == 2 * 4 * proto.generate.n


def test_protocol_needing_data_says_so():
    with pytest.raises(ProtocolError, match="needs a dataset"):
        load_protocol(ROOT / "protocols" / "footsteps-cpu.toml")


def test_unknown_key_and_bad_values(tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text('name = "x"\n[sweep]\nquantisaton = ["mulaw"]\n')
    with pytest.raises(ConfigError, match="sweep.quantisaton"):
        load_protocol(bad)
    bad.write_text('name = "x"\n[sweep]\nquantisation = ["alaw"]\n')
    with pytest.raises(ConfigError, match="alaw"):
        load_protocol(bad)
    with pytest.raises(ConfigError, match="checkpoint"):
        load_protocol(ROOT / "protocols" / "quickstart.toml", overrides=["sweep.checkpoint=[\"middle\"]"])


def test_plan_order_and_overrides():
    proto = load_protocol(ROOT / "protocols" / "quickstart.toml", overrides=["sweep.dropout=[0.0, 0.5]"])
    keys = [s.key for s in plan(proto)]
    assert keys[0] == "data" and keys[-2:] == ["leaderboard", "report"]
    runs = [j.run_id for j in train_jobs(proto)]
    assert keys[1:-2] == [f"{kind}/{r}" for r in runs for kind in ("train", "generate", "score")]  # each run whole, in turn
    job = train_jobs(proto)[1]
    sets = job.overrides(proto)
    assert f"model.dropout={job.dropout}" in sets and 'data.quantisation="mulaw"' in sets
    assert not any(s.startswith("data.normalise") for s in sets)  # the grid's fingerprints do not change


def test_first_and_extra_runs_order_the_plan():
    extra = ['extra=[{preset="sashimi-tiny", quantisation="linear", normalise="minmax"}]']
    first = ['first=["sashimi-tiny_linear_do0_minmax", "wavenet-tiny_mulaw_do0"]']
    proto = load_protocol(ROOT / "protocols" / "quickstart.toml", overrides=extra + first)
    jobs = train_jobs(proto)
    assert [j.run_id for j in jobs] == ["sashimi-tiny_linear_do0_minmax", "wavenet-tiny_mulaw_do0", "sashimi-tiny_mulaw_do0"]
    assert 'data.normalise="minmax"' in jobs[0].overrides(proto)
    with pytest.raises(ConfigError, match="normalise"):
        load_protocol(ROOT / "protocols" / "quickstart.toml", overrides=['extra=[{preset="x", normalise="peak"}]'])


def test_fingerprint_and_ledger(tmp_path):
    assert fingerprint({"a": 1}, [1, 2]) == fingerprint({"a": 1}, [1, 2])
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
    ledger = StageLedger(tmp_path)
    ledger.mark("data", "abc", 1.0)
    again = StageLedger(tmp_path)
    assert again.is_done("data", "abc") and not again.is_done("data", "abd") and not again.is_done("train/x", "abc")


def test_ledgers_of_two_processes_keep_each_others_entries(tmp_path):
    a, b = StageLedger(tmp_path), StageLedger(tmp_path)  # both opened before either marks
    a.mark("train/x", "fx", 1.0)
    b.mark("train/y", "fy", 2.0)
    again = StageLedger(tmp_path)
    assert again.is_done("train/x", "fx") and again.is_done("train/y", "fy")
    assert b.is_done("train/x", "fx")  # b sees a's entry on disk


def test_shipped_protocol_by_name_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no protocols/ folder here
    assert load_protocol("quickstart").name == "quickstart"
    with pytest.raises(ProtocolError, match="protocol not found: quickstrat") as info:
        load_protocol("quickstrat")
    assert "quickstart" in info.value.hint


def test_evidence_follows_the_dataset_kind_and_the_protocol(tmp_path):
    """Smoke-test studies are named by their data or their protocol, never by a file name."""
    import pytest

    from benchbox.errors import BenchboxError
    from benchbox.study.protocol import evidence_of, load_protocol

    path = tmp_path / "p.toml"
    path.write_text('name = "anything"\n[data]\nsource = "some/recordings"\n')
    real = load_protocol(path)
    assert evidence_of(real) == (False, "")
    assert evidence_of(real, dataset_kind="synth")[0]  # an imported folder that is the procedural corpus
    assert evidence_of(load_protocol(path, data="synth"))[0]
    smoke, why = evidence_of(load_protocol(path, ["evidence=smoke"]))
    assert smoke and "evidence" in why
    assert evidence_of(load_protocol(path, ["evidence=study"], data="synth"))[0]  # "study" cannot lift the procedural corpus
    with pytest.raises((BenchboxError, ValueError)):
        load_protocol(path, ["evidence=maybe"])


def test_extra_runs_may_keep_the_presets_model_and_carry_their_own_train_settings():
    from benchbox.study.protocol import load_protocol, train_jobs

    proto = load_protocol(Path(__file__).resolve().parents[2] / "protocols" / "footsteps-families-cpu.toml")
    jobs = {j.run_id: j for j in train_jobs(proto)}
    spec = jobs["specdiff-cpu_mulaw"]
    sets = spec.overrides(proto)
    assert not any(s.startswith("model.dropout") for s in sets)  # a diffusion preset has no dropout key
    # recipe = "preset": the preset's own [train] table (batch 32, eval every 100), none of the protocol's
    # (epochs = 10, eval_every = 40), with the run's own overrides on top: a step count at a flat rate
    # (lr_min = lr), not the preset's 45-minute wall budget
    assert "train.max_steps=5300" in sets and "train.batch_size=32" in sets and "train.eval_every=100" in sets
    assert "train.lr_min=0.001" in sets and "train.max_minutes=60.0" in sets
    assert not any(s.startswith("train.epochs") for s in sets)
    from benchbox.generators.registry import preset_train

    cuts = {
        "diffwave-cpu": {"max_steps": 630, "lr_min": 1e-3, "max_minutes": 60.0},
        "sashimi-diffwave-cpu": {"max_steps": 730, "lr_min": 1e-3, "max_minutes": 60.0},
        "hifiwavegan-cpu": {"max_steps": 1200, "decay_from": 600, "max_minutes": 60.0},  # the preset's WSD recipe halved
    }
    for preset, cut in cuts.items():  # each by its own 45-min table, cut to a step count
        own = jobs[f"{preset}_mulaw"].train_settings(proto)
        assert preset_train(preset)["max_minutes"] == 45
        assert own == {**preset_train(preset), **cut} and "epochs" not in own
    for preset in ("specdiff-cpu", "diffwave-cpu", "sashimi-diffwave-cpu"):  # the flat rate of the 20-minute runs, at a step count
        own = jobs[f"{preset}_mulaw"].train_settings(proto)
        assert own["lr_min"] == own["lr"] and not own.get("decay_from") and own["max_steps"] > 0
    gan = jobs["hifiwavegan-cpu_mulaw"].train_settings(proto)  # the preset's warmup-stable-decay recipe, halved
    assert (gan["max_steps"], gan["decay_from"]) == (preset_train("hifiwavegan-cpu")["max_steps"] // 2, preset_train("hifiwavegan-cpu")["decay_from"] // 2)
    assert gan["lr_min"] < gan["lr"]
    grid = jobs["sashimi-cpu_mulaw_do0"].overrides(proto)
    assert "model.dropout=0.0" in grid and "train.epochs=10" in grid and not any("max_minutes" in s for s in grid)
    # wavenet-cpu's mu-law runs are extra runs with the protocol's recipe: the same overrides as a grid run
    assert jobs["wavenet-cpu_mulaw_do0.5"].overrides(proto) == [s.replace("model.dropout=0.0", "model.dropout=0.5") for s in grid]
    assert list(jobs)[:3] == ["specdiff-cpu_mulaw", "sashimi-cpu_mulaw_do0", "hifiwavegan-cpu_mulaw"]
    assert len(jobs) == 12  # 4 SaShiMi grid runs, 2 WaveNet mu-law runs, 3 diffusion, 1 GAN, 2 baselines


def test_an_unknown_key_in_an_extra_run_is_still_an_error():
    import pytest

    from benchbox.study.protocol import load_protocol

    with pytest.raises(Exception, match="top_p"):
        load_protocol(Path(__file__).resolve().parents[2] / "protocols" / "footsteps-families-cpu.toml",
                      overrides=['extra=[{preset="lpc", top_p=0.95}]'])


def test_a_preset_recipe_starts_from_the_presets_train_table_and_an_unknown_recipe_is_an_error(tmp_path):
    import pytest

    from benchbox.generators.registry import preset_train
    from benchbox.study.protocol import load_protocol, train_jobs

    quick = Path(__file__).resolve().parents[2] / "protocols" / "quickstart.toml"
    extra = ['extra=[{preset="specdiff-cpu", dropout=-1.0, recipe="preset", train={lr=5e-4}}, {preset="lpc", dropout=-1.0}]',
             "train.epochs=3", "train.max_steps=7"]
    jobs = {j.run_id: j for j in train_jobs(load_protocol(quick, overrides=extra))}
    proto = load_protocol(quick, overrides=extra)
    own = jobs["specdiff-cpu_mulaw"].train_settings(proto)
    assert own == {**preset_train("specdiff-cpu"), "lr": 5e-4} and "epochs" not in own  # the protocol's [train] never applies
    assert jobs["lpc_mulaw"].train_settings(proto)["max_steps"] == 7  # the default recipe: the protocol's [train]
    with pytest.raises(Exception, match="recipe"):
        load_protocol(quick, overrides=['extra=[{preset="lpc", recipe="mine"}]'])


def test_dry_run_counts_the_clips_the_sampler_will_make():
    """The families grid: 16 cells (2 checkpoints x 4 primes x 2 values of the run's one sampling
    axis) for the AR, baseline and diffusion runs; the GAN has no prime capability and no sampling
    setting, so 2 cells. 11 x 16 x 32 + 2 x 32 = 5,696 clips, not 12 x 16 x 32 = 6,144."""
    proto = load_protocol(ROOT / "protocols" / "footsteps-families-cpu.toml")
    info = describe(proto)
    by_run = info["clips_by_run"]
    assert by_run["hifiwavegan-cpu_mulaw"] == 2 * 32
    assert by_run["specdiff-cpu_mulaw"] == by_run["sashimi-cpu_mulaw_do0"] == by_run["ngram_mulaw"] == 16 * 32
    assert set(by_run) == {j.run_id for j in train_jobs(proto)}
    assert info["clips_total"] == sum(by_run.values()) == 5696


@pytest.mark.parametrize("override, error, message", [
    ("sweep.prime_ms=[]", ConfigError, "sweep.prime_ms is empty"),
    ("sweep.checkpoint=[]", ConfigError, "sweep.checkpoint is empty"),
    ("sweep.prime_ms=[0,nan]", ConfigError, "prime_ms values must be finite"),
    ("sweep.prime_ms=[0,inf]", ConfigError, "prime_ms values must be finite"),
    ("sweep.prime_ms=[0,10.5]", ConfigError, r"prime_ms values must be whole milliseconds \(got 10.5\)"),
    ("sweep.prime_ms=[0,10,10.0]", ConfigError, r"sweep.prime_ms lists 10 more than once"),
    ('sweep.checkpoint=["best","best"]', ConfigError, r"sweep.checkpoint lists best more than once"),
    ("presets=[]", ProtocolError, "presets is empty"),
    ('presets=["ngram","ngram"]', ProtocolError, "ngram more than once"),
    ("generate.n=0", ProtocolError, "no clips to score"),
    ("sweep.prime_ms=[0,600]", ProtocolError, r"prime_ms 600 is not shorter than \[generate\] seconds"),
    ('score.embedders=["mell"]', ProtocolError, "unknown 'mell'"),
    ("generate.temperature=inf", ProtocolError, r"\[generate\] temperature = inf"),
    ("generate.temperature=nan", ProtocolError, r"\[generate\] temperature = nan"),
    ("generate.temperature=-1", ProtocolError, "finite temperature >= 0"),
    ("generate.top_p=0", ProtocolError, r"top_p in \(0, 1\]"),
    ("generate.threads=-1", ProtocolError, r"\[generate\] threads = -1"),
])
def test_a_grid_that_would_fail_after_training_is_refused_at_load(override, error, message):
    """These passed --dry-run and failed only after training (or trained one run twice), naming CLI options."""
    with pytest.raises(error, match=message):
        load_protocol(ROOT / "protocols" / "quickstart.toml", overrides=[override])


def test_an_unknown_top_level_key_names_the_protocol_file(tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text('name = "x"\nseeed = 1\n')
    with pytest.raises(ConfigError) as err:
        load_protocol(bad)
    assert err.value.message == f"{bad}: unknown config key 'seeed' at the top level"
    assert err.value.hint.startswith("valid top-level keys: ") and "seed" in err.value.hint


def test_a_bad_set_value_is_not_blamed_on_the_protocol_file_alone():
    """`--set generate.top_p=0` on a good protocol read 'quickstart.toml: [generate] ... top_p = 0', as if the file held it."""
    with pytest.raises(ProtocolError) as err:
        load_protocol(ROOT / "protocols" / "quickstart.toml", overrides=["generate.top_p=0"])
    assert err.value.message.startswith(f"{ROOT / 'protocols' / 'quickstart.toml'} with --set generate.top_p=0: [generate]")
