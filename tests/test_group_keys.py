"""Group keys: a run's stay positional (committed scores read back unchanged); a folder of clips
names its fields instead of leaving runs of empty places; two groups never share a key."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from benchbox.errors import DataError
from benchbox.group_keys import GROUP_COLUMNS, group_key, with_group_columns
from benchbox.score import split_groups

ROOT = Path(__file__).resolve().parents[1]


def _folder(generator: str, prime_ms="") -> dict:
    """The group columns of a folder of clips (benchbox.external): only generator and prime_ms."""
    return {c: "" for c in GROUP_COLUMNS} | {"generator": generator, "prime_ms": prime_ms}


def test_a_folder_group_names_its_fields_without_runs_of_slashes():
    assert group_key(_folder("mymodel/temp1.0", "20")) == "mymodel/temp1.0/prime_ms=20"
    assert group_key(_folder("mymodel", 12.5)) == "mymodel/prime_ms=12.5"
    assert group_key(_folder("mymodel/temp1.0")) == "mymodel/temp1.0"
    assert group_key({"generator": "mymodel", "prime_ms": math.nan, "temperature": "0.8"}) == "mymodel/temperature=0.8"
    assert "//" not in group_key(_folder("mymodel/temp1.0", "20.0"))


def test_a_run_group_keeps_its_positional_key():
    run = {"generator": "diffwave", "quantisation": "mulaw", "dropout": "0.0", "checkpoint": "best", "prime_ms": "0", "sampling_steps": "25.0"}
    assert group_key(run) == "diffwave/mulaw/0/best/0///25"
    assert group_key({**run, "sampling_steps": ""}) == "diffwave/mulaw/0/best/0"


def test_two_groups_under_one_key_are_refused_not_merged():
    """A subfolder literally named like a field ('prime_ms=20') beside a primed group of its parent."""
    clips = pd.DataFrame([_folder("theirs/prime_ms=20"), _folder("theirs", "20"), _folder("theirs")])
    with pytest.raises(DataError, match="same name 'theirs/prime_ms=20'"):
        split_groups(clips)
    assert [group_key(v) for v, _ in split_groups(clips.iloc[1:])] == ["theirs", "theirs/prime_ms=20"]


def test_committed_scores_keep_their_keys():
    """Every generated row of the committed results reads back under the key it was written with
    (pages, media players and notes join on it)."""
    found = sorted(ROOT.glob("results/**/scores/groups.csv"))
    assert found
    for path in found:
        groups = with_group_columns(pd.read_csv(path, dtype={"group": str, **{c: str for c in GROUP_COLUMNS}}, keep_default_na=False, na_values=[""]))
        for row in groups[groups["kind"] == "generated"].to_dict("records"):
            assert group_key(row) == row["group"], path
