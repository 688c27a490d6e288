"""Shared test setup: one BLAS thread.

With several OpenBLAS threads on a machine whose cores are busy (two slow cores shared with
another job), small matrix products can run 30-50x slower while threads spin. The package's
training runner already limits BLAS to one thread per worker; tests do the same for
everything they run in-process (subprocesses get OPENBLAS_NUM_THREADS=1 in tests/test_cli.py).
"""

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def rosetta(capsys):
    """Run ``rosetta ARGV`` in-process: returns (exit status, stdout, stderr)."""
    from rl_rosetta_layer.cli import main

    def run(argv):
        rc = main([str(a) for a in argv])
        out = capsys.readouterr()
        return rc, out.out, out.err

    return run
