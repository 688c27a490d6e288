"""The run store: one complete folder per finished run, or nothing."""

import json
import os
import time

import numpy as np
import pytest

from rl_rosetta_layer.agent import DQNConfig, RunResult
from rl_rosetta_layer.errors import CorruptFileError
from rl_rosetta_layer.experiments.outputs import load_run, write_run
from rl_rosetta_layer.experiments.spec import EnvSpec, RunSpec
from rl_rosetta_layer.experiments.store import FILES, RunStore

SPEC = RunSpec(EnvSpec(grid_size=4), "identity", 3, DQNConfig(episodes=3))


def result(returns=(0.1 + 0.2, -0.6, 1 / 3), **kw):
    n = len(returns)
    return RunResult(layer="identity", seed=3, returns=np.asarray(returns, float),
                     lengths=np.array([4, 60, 2][:n]), successes=np.array([1, 0, 1][:n], bool),
                     updates=7, wall_seconds=1.5, extra={"run_id": SPEC.run_id}, **kw)


def test_a_run_folder_has_the_four_files_and_loads_back_exactly(tmp_path):
    store = RunStore(tmp_path / "runs")
    folder = store.write(SPEC, result(), executor="local")
    assert folder == tmp_path / "runs" / SPEC.run_id
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    config = json.loads((folder / "config.json").read_text())
    assert config["run_id"] == SPEC.run_id and config["seed"] == 3
    assert config["config"]["episodes"] == 3 and config["env"]["grid_size"] == 4
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["episodes"] == 3
    assert metrics["env_steps"] == 66 and metrics["updates"] == 7
    assert metrics["mean_last_50"] == pytest.approx((0.3 - 0.6 + 1 / 3) / 3)
    assert (folder / "returns.csv").read_text().splitlines() == [
        "episode,return,length,success,env_steps",
        "0,0.30000000000000004,4,1,4", "1,-0.6,60,0,64", "2,0.3333333333333333,2,1,66"]
    man = json.loads((folder / "manifest.json").read_text())
    assert {"versions", "commit", "host", "started_at", "finished_at",
            "executor"} <= set(man)
    assert man["executor"] == "local" and "numpy" in man["versions"]
    back = store.load(SPEC)
    np.testing.assert_array_equal(back.returns, result().returns)     # bit for bit
    np.testing.assert_array_equal(back.lengths, result().lengths)
    np.testing.assert_array_equal(back.successes, result().successes)
    assert back.updates == 7 and back.status == "ok"
    np.testing.assert_array_equal(load_run(folder).returns, result().returns)
    assert write_run(tmp_path / "runs", SPEC, result()) == folder


def test_a_finished_run_is_never_overwritten(tmp_path):
    store = RunStore(tmp_path / "runs")
    folder = store.write(SPEC, result())
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    store.write(SPEC, result(returns=(9.0, 9.0, 9.0)))
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_half_written_runs_are_invisible_and_cleaned(tmp_path):
    store = RunStore(tmp_path / "runs")
    # what a writer killed mid-write leaves: a hidden folder, named for a dead process
    stale = tmp_path / "runs" / f".tmp-{os.uname().nodename}-999999999-abc"
    stale.mkdir(parents=True)
    (stale / "config.json").write_text("{")
    alive = tmp_path / "runs" / f".tmp-{os.uname().nodename}-1-xyz"     # pid 1 is alive
    alive.mkdir()
    elsewhere = tmp_path / "runs" / ".tmp-otherhost-123-xyz"    # a store shared by hosts
    elsewhere.mkdir()
    assert not store.is_finished(SPEC.run_id) and store.finished_ids() == []
    assert store.clean_stale() == [stale]
    assert not stale.exists() and alive.exists() and elsewhere.exists()
    old = time.time() - 3600
    os.utime(elsewhere, (old, old))
    assert store.clean_stale() == [elsewhere]


def test_a_folder_for_another_run_is_reported(tmp_path):
    store = RunStore(tmp_path / "runs")
    folder = store.write(SPEC, result())
    config = json.loads((folder / "config.json").read_text())
    config["seed"] = 4
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CorruptFileError, match=f"config.json describes a different run than "
                                               f"{SPEC.run_id}; delete the folder"):
        store.load(SPEC)
    (folder / "returns.csv").unlink()
    with pytest.raises(CorruptFileError, match=r"lacks returns.csv; expected config.json, "):
        store.load(SPEC)


def test_failures_are_kept_apart_and_forgotten_once_the_run_finishes(tmp_path):
    store = RunStore(tmp_path / "runs")
    failed = RunResult(layer="identity", seed=3, returns=np.zeros(0), lengths=np.zeros(0, int),
                       successes=np.zeros(0, bool), error="RuntimeError: boom",
                       extra={"run_id": SPEC.run_id})
    path = store.write_failure(SPEC, failed)
    assert json.loads(path.read_text())["error"] == "RuntimeError: boom"
    assert not store.is_finished(SPEC.run_id) and store.finished_ids() == []
    store.write(SPEC, result())
    assert not path.exists() and store.finished_ids() == [SPEC.run_id]


def test_diverged_runs_are_finished_runs(tmp_path):
    store = RunStore(tmp_path / "runs")
    store.write(SPEC, result(returns=(0.5,), diverged=True, error="non-finite gradient"))
    back = store.load(SPEC)
    assert back.status == "diverged" and back.error == "non-finite gradient"
    assert json.loads((store.path(SPEC.run_id) / "metrics.json").read_text())[
        "mean_last_50"] == 0.5
