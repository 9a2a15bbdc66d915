"""The scorer's settings (benchbox.score_config)."""

import pytest

from benchbox.errors import ConfigError
from benchbox.score_config import load_score_config


def test_a_category_model_set_relative_is_recorded_absolute_and_two_different_ones_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_score_config(None, ["verdict.category_model=models/m.json"])
    assert config.verdict.category_model == str(tmp_path / "models" / "m.json")  # freshness no longer depends on the working directory
    assert load_score_config(None, None).verdict.category_model == ""  # the shipped model stays ""
    same = load_score_config(None, ["verdict.category_model=models/m.json"], category_model=tmp_path / "models" / "m.json")
    assert same.verdict.category_model == str(tmp_path / "models" / "m.json")
    with pytest.raises(ConfigError, match="name different category models") as e:
        load_score_config(None, ["verdict.category_model=models/a.json"], category_model="models/b.json")
    assert "--category-model PATH" in e.value.hint
