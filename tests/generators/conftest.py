import pytest
import torch

from benchbox.threads import scoped_threads


@pytest.fixture(autouse=True)
def _one_thread():
    """Stepping is thousands of tiny ops: on a busy 2-core machine a second OpenMP thread
    only spins (one run took 380 s instead of 3 s). Restored after each test."""
    with scoped_threads(1):
        yield
