"""--run-timeout: a run whose layer never returns is stopped and failed, the others saved;
a layer whose check before training never returns is refused in one line."""

import json
import os

import pytest

from rl_rosetta_layer.errors import ConfigError
from rl_rosetta_layer.experiments.runner import run_all
from rl_rosetta_layer.experiments.timeouts import check_run_timeout, time_limit

#: A frozen layer (the identity) whose forward never returns after ``after`` calls in a
#: process: the protocol check and the run id pass, training hangs.
HANGING = """
import time

import numpy as np


class Hanging:
    def __init__(self, dim, after):
        self.input_dim = self.output_dim = dim
        self.after, self.calls = after, 0

    def forward(self, x):
        self.calls += 1
        while self.calls > self.after:
            time.sleep(0.05)
        return np.asarray(x, dtype=np.float32)

    def backward(self, x, grad_out):
        return grad_out

    def describe(self):
        return {"kind": "hanging", "after": self.after}


def make_layer(input_dim, rng):
    return Hanging(input_dim, 50)


def make_always(input_dim, rng):
    return Hanging(input_dim, 0)
"""
TINY = ["--episodes", "30", "--seeds", "0,1", "--quiet", "--grid-size", "4", "--batch-size",
        "8", "--set", "learning_starts=20"]


@pytest.fixture
def hanging(module, monkeypatch, tmp_path):
    """The module's name, importable here and in worker processes."""
    name = module(HANGING)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]))
    return name


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_run_that_hangs_is_stopped_failed_and_the_others_saved(hanging, tmp_path, rosetta,
                                                                 workers):
    out = tmp_path / "out"
    rc, _, err = rosetta(["train", *TINY, "--layers", f"{hanging}:make_layer,identity",
                          "--run-timeout", "8", "--workers", workers, "--output-dir", out])
    assert rc == 3, err
    assert sorted(p.name.split("-s")[0] for p in (out / "runs").glob("identity-*")) \
        == ["identity", "identity"]                      # both seeds of the others saved
    failed = sorted((out / "runs" / "_failed").glob("*.json"))
    assert [p.name.startswith(f"{hanging}:make_layer-s") for p in failed] == [True, True]
    for path in failed:
        assert json.loads(path.read_text())["error"].startswith(
            "RunTimeout: still training after --run-timeout 8 s (2 seeds trained together)")
    assert f"warning: 2 of 4 runs failed: {hanging}:make_layer" in err


def test_a_layer_whose_check_hangs_is_refused_in_one_line(hanging, tmp_path, rosetta):
    out = tmp_path / "out"
    rc, _, err = rosetta(["train", *TINY, "--layers", f"{hanging}:make_always,identity",
                          "--run-timeout", "1.5", "--workers", "1", "--output-dir", out])
    assert rc == 2
    assert err == (f"rosetta: error: layer '{hanging}:make_always': building it and checking "
                   f"its protocol took longer than --run-timeout 1.5 s (a factory or forward "
                   f"that never returns?); fix the layer or give a longer --run-timeout\n")
    assert not out.exists()


def test_the_limit_is_a_positive_number_of_seconds():
    assert check_run_timeout(None) is None and check_run_timeout(2) == 2
    for bad in (0, -1.0, float("inf"), float("nan"), "5", True):
        with pytest.raises(ConfigError, match=r"^run_timeout must be a positive number of "
                                              r"seconds or None, got "):
            check_run_timeout(bad)
    with pytest.raises(ConfigError, match="run_timeout must be a positive number"):
        run_all([], run_timeout=0)


def test_the_time_limit_stops_a_block_that_never_returns_and_then_is_gone():
    import signal
    import time

    from rl_rosetta_layer.experiments.timeouts import RunTimeout

    start = time.monotonic()
    with pytest.raises(RunTimeout):
        with time_limit(0.2):
            while True:
                pass
    assert time.monotonic() - start < 5
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)


@pytest.mark.slow
def test_a_ray_task_that_hangs_is_cancelled_and_failed(hanging, tmp_path):
    pytest.importorskip("ray")
    from rl_rosetta_layer.agent import DQNConfig
    from rl_rosetta_layer.experiments.spec import EnvSpec, RunSpec

    config = DQNConfig(episodes=30, batch_size=8, learning_starts=20)
    specs = [RunSpec(EnvSpec(grid_size=4), layer, 0, config)
             for layer in (f"{hanging}:make_layer", "identity")]
    results = run_all(specs, executor="ray", workers=2, quiet=True, run_timeout=8)
    assert [r.status for r in results] == ["failed", "ok"]
    assert results[0].error.startswith("RunTimeout: still training after --run-timeout 8 s")
