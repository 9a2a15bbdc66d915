"""Fixtures for the review tests: a small fake run folder with a dataset and scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .fakes import make_dataset, make_run


@pytest.fixture
def fake_run(tmp_path: Path) -> Path:
    """RUN_DIR with 8 generated clips in two groups, a dataset with 4 test clips, and scores."""
    rng = np.random.default_rng(7)
    data = make_dataset(tmp_path / "data", rng)
    return make_run(tmp_path / "run", data, rng)
