"""Shared test setup for tests/stats: the ``slow`` marker.

Tests marked ``@pytest.mark.slow`` (the calibration study) in this directory
are skipped unless selected with ``-m slow`` or RL_ROSETTA_RUN_SLOW=1.
"""

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running statistical calibration checks")


def pytest_collection_modifyitems(config, items):
    if "slow" in (config.getoption("-m") or "") or os.environ.get("RL_ROSETTA_RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow or RL_ROSETTA_RUN_SLOW=1")
    for item in items:
        if "slow" in item.keywords and HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(skip)
