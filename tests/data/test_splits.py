import pytest

from benchbox.data.splits import assign_splits
from benchbox.errors import DataError


def test_every_split_gets_a_group_when_possible():
    out = assign_splits(["a", "b", "c"], [1, 1, 1], (0.8, 0.1, 0.1), seed=0)
    assert sorted(out.values()) == ["test", "train", "val"]


def test_shares_follow_clip_counts_and_seed_is_deterministic():
    groups = [f"g{i:03d}" for i in range(100)]
    sizes = [1 + i % 5 for i in range(100)]
    a = assign_splits(groups, sizes, (0.8, 0.1, 0.1), seed=1)
    assert a == assign_splits(list(reversed(groups)), list(reversed(sizes)), (0.8, 0.1, 0.1), seed=1)
    assert a != assign_splits(groups, sizes, (0.8, 0.1, 0.1), seed=2)
    total = sum(sizes)
    train = sum(s for g, s in zip(groups, sizes) if a[g] == "train")
    assert 0.75 < train / total < 0.85


def test_bad_fractions_error():
    with pytest.raises(DataError, match="split fractions"):
        assign_splits(["a"], [1], (0.0, 0.0, 0.0), seed=0)
