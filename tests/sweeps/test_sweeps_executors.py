"""Executors: this process, worker processes and Ray give the same bytes; progress counts."""

import importlib.util

import numpy as np
import pytest

from rl_rosetta_layer.agent import DQNConfig
from rl_rosetta_layer.errors import ConfigError
from rl_rosetta_layer.experiments.runner import SweepProgress, group_units, run_all
from rl_rosetta_layer.experiments.spec import EnvSpec, RunSpec
from rl_rosetta_layer.experiments.sweep import load_sweep
from rl_rosetta_layer.experiments.train import run_sweep

HAVE_RAY = importlib.util.find_spec("ray") is not None
CONFIG = DQNConfig(episodes=6, learning_starts=20, buffer_size=500, batch_size=16)
GOOD = RunSpec(EnvSpec(grid_size=4), "identity", 0, CONFIG)
BROKEN = RunSpec(EnvSpec(grid_size=1), "identity", 0, CONFIG)  # cannot be built


def test_workers_and_lockstep_give_identical_outputs(tmp_path, small_sweep, same_outputs):
    sweep = load_sweep(small_sweep())
    run_sweep(tmp_path / "one", sweep, workers=1, quiet=True)
    run_sweep(tmp_path / "two", sweep, workers=2, quiet=True)
    run_sweep(tmp_path / "lockstep", sweep, workers=2, lockstep=2, quiet=True)
    same_outputs(tmp_path / "one", tmp_path / "two")
    same_outputs(tmp_path / "one", tmp_path / "lockstep")
    assert len(list((tmp_path / "one" / "runs").iterdir())) == 6


def test_a_failing_run_in_a_worker_process_does_not_stop_the_others(capsys):
    alone = run_all([BROKEN], workers=1, quiet=True)[0]
    failed, ok = run_all([BROKEN, GOOD], workers=2, quiet=True)
    assert failed.status == "failed" and failed.error == alone.error
    assert failed.error == "ConfigError: grid size must be an integer in [2, 64], got 1"
    assert ok.status == "ok" and len(ok.returns) == CONFIG.episodes
    assert f"run {BROKEN.run_id} failed: ConfigError: grid size must be" in \
        capsys.readouterr().err


def test_bad_executor_settings():
    with pytest.raises(ConfigError, match=r"^executor must be one of local, ray, got 'slurm'$"):
        run_all([GOOD], executor="slurm")
    with pytest.raises(ConfigError, match=r"^--ray-address needs --executor ray"):
        run_all([GOOD], ray_address="auto")


def test_progress_counts_runs_done_failed_and_running():
    specs = [RunSpec(EnvSpec(grid_size=4), "identity", s, CONFIG) for s in range(3)]
    units = group_units(specs, lockstep=1)
    progress = SweepProgress(units, quiet=False, desc="t")
    assert progress.bar.total == 18
    progress.event((0, "start", 1))
    progress.event((1, "start", 1))
    progress.event((0, "episodes", 2))
    assert (progress.done, progress.failed, progress.running, progress.bar.n) == (0, 0, 2, 2)
    ok = run_all([specs[0]], workers=1, quiet=True)
    progress.finish(0, ok)
    progress.event((0, "episodes", 1))                  # a late message is ignored
    failed = run_all([BROKEN], workers=1, quiet=True)
    failed[0].extra["run_id"] = specs[1].run_id
    progress.finish(1, failed)
    assert (progress.done, progress.failed, progress.running) == (1, 1, 0)
    assert progress.bar.n == 6 and progress.bar.total == 12   # the failed run's budget left
    assert "runs 2/3 (failed 1, running 0)" in progress.bar.postfix
    progress.close()


@pytest.fixture(scope="module")
def local_ray():
    """One local 2-CPU Ray instance for the tests below (the executor reuses it)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level="ERROR")
    yield ray
    ray.shutdown()


@pytest.mark.skipif(not HAVE_RAY, reason="ray is not installed (pip install -e '.[ray]')")
def test_ray_gives_the_same_bytes_as_local_workers(tmp_path, small_sweep, same_outputs,
                                                   local_ray):
    sweep = load_sweep(small_sweep())
    run_sweep(tmp_path / "local", sweep, workers=2, quiet=True)
    outcome, _ = run_sweep(tmp_path / "ray", sweep, executor="ray", workers=2, quiet=True)
    assert len(outcome.trained) == 6 and not outcome.failed
    same_outputs(tmp_path / "local", tmp_path / "ray")
    manifest = (tmp_path / "ray" / "runs" / sweep.run_ids[0] / "manifest.json").read_text()
    assert '"executor": "ray"' in manifest


@pytest.mark.skipif(not HAVE_RAY, reason="ray is not installed (pip install -e '.[ray]')")
def test_ray_reports_a_failing_run_like_local_workers(local_ray):
    local = run_all([BROKEN, GOOD], workers=2, quiet=True)
    on_ray = run_all([BROKEN, GOOD], executor="ray", quiet=True)
    assert [r.status for r in on_ray] == ["failed", "ok"]
    assert on_ray[0].error == local[0].error
    np.testing.assert_array_equal(on_ray[1].returns, local[1].returns)
