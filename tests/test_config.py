from dataclasses import dataclass, field
from typing import Literal

import pytest

from benchbox import config
from benchbox.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    lr: float = 1e-3
    pool: tuple[int, ...] = (4, 4)


@dataclass(frozen=True)
class Outer:
    name: str = "x"
    steps: int = 10
    quant: Literal["linear", "mulaw"] = "mulaw"
    dropout: float | None = None
    inner: Inner = field(default_factory=Inner)


def test_defaults_and_nested():
    cfg = config.from_dict(Outer, {"steps": 5, "inner": {"pool": [2, 2, 2]}})
    assert cfg.steps == 5 and cfg.inner.pool == (2, 2, 2) and cfg.inner.lr == 1e-3


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError) as e:
        config.from_dict(Outer, {"inner": {"lrr": 1}})
    assert "inner.lrr" in e.value.message and "lr, pool" in e.value.hint


def test_type_errors_and_literals():
    with pytest.raises(ConfigError, match="steps"):
        config.from_dict(Outer, {"steps": "ten"})
    with pytest.raises(ConfigError, match="not allowed"):
        config.from_dict(Outer, {"quant": "alaw"})
    with pytest.raises(ConfigError):
        config.from_dict(Outer, {"steps": True})


def test_overrides_coerced():
    over = config.parse_overrides(["steps=7", "inner.lr=3e-4", "inner.pool=[8]", "name=abc", "dropout=0.5"])
    cfg = config.load(Outer, overrides=["steps=7", "inner.lr=3e-4", "inner.pool=[8]", "name=abc", "dropout=0.5"])
    assert over["inner"]["lr"] == 3e-4
    assert (cfg.steps, cfg.inner.lr, cfg.inner.pool, cfg.name, cfg.dropout) == (7, 3e-4, (8,), "abc", 0.5)
    with pytest.raises(ConfigError, match="no '='"):
        config.parse_overrides(["steps"])


def test_toml_round_trip(tmp_path):
    cfg = config.from_dict(Outer, {"steps": 3, "inner": {"pool": [2, 4]}, "name": 'a "q"'})
    path = tmp_path / "c.toml"
    path.write_text(config.dump_toml(config.to_dict(cfg)))
    assert config.load(Outer, path) == cfg


def test_bad_toml(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("steps = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load_toml(path)
    with pytest.raises(ConfigError, match="not found"):
        config.load_toml(tmp_path / "missing.toml")


def test_dump_toml_writes_tables_inside_arrays_as_inline_tables():
    import tomllib

    data = {"first": ["a"], "extra": [{"preset": "p", "dropout": 0.0, "normalise": "minmax"}], "sweep": {"dropout": [0.0, 0.5]}}
    assert tomllib.loads(config.dump_toml(data)) == data


def test_a_rejected_value_names_its_table_without_a_trailing_dot():
    from benchbox.metrics.artifacts import DetectorConfig

    with pytest.raises(ConfigError) as err:
        config.from_dict(DetectorConfig, {"click_ratio_flag_above": 0.5}, where="detectors.")
    assert "invalid config in [detectors]: " in err.value.message and "'detectors.'" not in err.value.message
    assert "--set detectors.KEY=VALUE" in err.value.hint


@dataclass(frozen=True)
class Checked:
    steps: int = 1

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError("steps must be >= 1")


def test_a_top_level_key_error_reads_at_the_top_level():
    """Top-level keys were placed in a section named '<top>' ("valid keys under '<top>'", "[<top>]")."""
    with pytest.raises(ConfigError) as err:
        config.from_dict(Outer, {"foo": 1})
    assert err.value.message == "unknown config key 'foo' at the top level"
    assert err.value.hint == "valid top-level keys: dropout, inner, name, quant, steps"
    with pytest.raises(ConfigError) as err:
        config.from_dict(Checked, {"steps": 0})
    assert err.value.message == "invalid config at the top level: steps must be >= 1"
    assert err.value.hint == "fix the value: --set KEY=VALUE, or the top level of the TOML"
    with pytest.raises(ConfigError) as err:
        config.from_dict(Outer, {"inner": {"lrr": 1}})
    assert err.value.hint == "valid keys in [inner]: lr, pool"
    assert "<top>" not in err.value.message + err.value.hint


def test_an_error_in_the_file_names_the_file_and_one_from_set_does_not(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('foo = 1\n[inner]\nlr = "fast"\n')
    with pytest.raises(ConfigError) as err:
        config.load(Outer, path)
    assert err.value.message == f"{path}: unknown config key 'foo' at the top level"
    path.write_text('[inner]\nlr = "fast"\n')
    with pytest.raises(ConfigError) as err:
        config.load(Outer, path)
    assert err.value.message == f"{path}: config key 'inner.lr' = 'fast' is not a valid float"
    path.write_text("steps = 3\n")
    with pytest.raises(ConfigError) as err:
        config.load(Outer, path, overrides=["bar=2"])
    assert err.value.message == "unknown config key 'bar' at the top level"  # the file is fine: the --set key is wrong
