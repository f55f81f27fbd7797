import numpy as np
import pytest

import engine as ag


@pytest.fixture(autouse=True)
def _seed():
    ag.manual_seed(0)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
