"""Fixtures of the command-line tests."""

import os

import pytest


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The child's environment: an empty data cache of its own, no terminal, Agg figures."""
    home = tmp_path_factory.mktemp("cache")
    # One BLAS thread: small matrices gain nothing from more, and on a busy machine
    # spinning BLAS threads make a quick run several times slower.
    return {**os.environ, "TINYGRAD_MNIST_HOME": str(home), "MPLBACKEND": "Agg",
            "COLUMNS": "100", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1"}
