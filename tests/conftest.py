"""Shared fixtures. Tests use tmp_path and no network."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# Deterministic, quiet threading for tests on 2-core machines.
os.environ.setdefault("OMP_NUM_THREADS", "2")

SHARED_DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "footsteps-dev"


@pytest.fixture
def dev_data() -> Path:
    """The real footstep recordings; tests that need them skip when they are absent."""
    if not (SHARED_DEV / "manifest.csv").is_file():
        pytest.skip("../shared/data/footsteps-dev is not present")
    return SHARED_DEV


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
