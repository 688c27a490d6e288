"""Shared test setup: one BLAS thread; no collection of the torch modules without torch.

With several OpenBLAS threads on a machine whose cores are busy (two slow cores shared with
another job), small matrix products can run 30-50x slower while threads spin. The package's
training runner already limits BLAS to one thread per worker; tests do the same for
everything they run in-process (subprocesses get OPENBLAS_NUM_THREADS=1 in tests/test_cli.py).

``--doctest-modules`` imports every module under ``src/rl_rosetta_layer``; the ``video``
package's modules and ``agent/torch_learner.py`` import torch (the ``video`` extra), so
without torch they are left out of collection (their tests under tests/video/ skip
themselves with ``pytest.importorskip``).
This conftest is loaded for the default test paths, so it adds the ignore to the options.
"""

import importlib.util
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "rl_rosetta_layer"
#: Modules that import torch at the top: the video package and the torch learner.
TORCH_MODULES = (PACKAGE / "video" / "*.py", PACKAGE / "video" / "*" / "*.py",
                 PACKAGE / "agent" / "torch_learner.py")


def pytest_configure(config):
    if importlib.util.find_spec("torch") is None:
        config.option.ignore_glob = [*(config.option.ignore_glob or []),
                                     *map(str, TORCH_MODULES)]


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def rosetta(capsys):
    """Run ``rosetta ARGV`` in-process: returns (exit status, stdout, stderr)."""
    from rl_rosetta_layer.cli import main

    def run(argv):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exc:     # argparse's own errors exit from inside the parser
            rc = exc.code
        out = capsys.readouterr()
        return rc, out.out, out.err

    return run


@pytest.fixture
def examples_importable(monkeypatch):
    """``examples/`` imports as a package (``examples.my_layer:make_layer``), here and in
    the worker processes (PYTHONPATH is restored afterwards)."""
    import os

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))


@pytest.fixture
def module(tmp_path, monkeypatch):
    """``module(source)`` writes a uniquely named module importable from here; returns its
    name. sys.path is restored afterwards."""
    import textwrap
    import uuid

    monkeypatch.syspath_prepend(str(tmp_path))

    def make(source: str) -> str:
        name = f"rosetta_module_{uuid.uuid4().hex[:10]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        return name

    return make
