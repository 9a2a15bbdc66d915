"""Shared fixtures. Tests use tmp_path and no network."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# Deterministic, quiet threading for tests on 2-core machines.
os.environ.setdefault("OMP_NUM_THREADS", "2")

REPO_DEV = Path(__file__).resolve().parents[1] / "corpora" / "footsteps-dev"


@pytest.fixture
def dev_data() -> Path:
    """The real footstep recordings shipped in the repo (``corpora/footsteps-dev``)."""
    assert (REPO_DEV / "manifest.csv").is_file(), f"{REPO_DEV} is missing: the corpus ships with the repo"
    return REPO_DEV


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
