import pytest
import torch

from benchbox.errors import ConfigError
from benchbox.threads import AUTO, scoped_threads


def test_scoped_threads_sets_and_restores_the_count():
    before = torch.get_num_threads()
    with scoped_threads(1):
        assert torch.get_num_threads() == 1
    with scoped_threads(AUTO):
        assert torch.get_num_threads() == before
    assert torch.get_num_threads() == before


def test_a_negative_thread_count_is_refused_not_read_as_auto():
    before = torch.get_num_threads()
    with pytest.raises(ConfigError, match="--threads must be >= 1, or 0 for torch's default; got -1"):
        with scoped_threads(-1):
            pass
    assert torch.get_num_threads() == before


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]


def test_scoped_threads_also_limits_the_blas_pools_numpy_calls_and_restores_them():
    import numpy as np

    np.dot(np.ones((4, 4)), np.ones((4, 4)))  # numpy's BLAS is loaded
    before = _blas_threads()
    assert before  # a BLAS pool to limit (numpy's OpenBLAS at least)
    with scoped_threads(1):
        assert _blas_threads() == [1] * len(before)
    assert _blas_threads() == before
