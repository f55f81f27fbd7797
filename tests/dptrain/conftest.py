import numpy as np
import pytest

import dptrain as dt


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small matmuls on busy shared cores: multithreaded BLAS only adds contention."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(1):
        yield


@pytest.fixture(autouse=True)
def _seed():
    dt.ag.manual_seed(0)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
