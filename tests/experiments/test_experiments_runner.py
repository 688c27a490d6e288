"""Runs as data, the runner (in-process and in worker processes) and the result files."""

import csv
import json

import numpy as np
import pytest

import rl_rosetta_layer as rr
from rl_rosetta_layer.agent import DQNConfig, RunResult
from rl_rosetta_layer.errors import ConfigError
from rl_rosetta_layer.experiments.outputs import (
    RETURNS_COLUMNS,
    SEED_SUMMARY_COLUMNS,
    load_run,
    write_experiment_outputs,
    write_run,
)
from rl_rosetta_layer.experiments.runner import auto_lockstep, group_units, run_all
from rl_rosetta_layer.experiments.spec import EnvSpec, RunSpec, parse_seeds

ENV = EnvSpec(grid_size=4)
CONFIG = DQNConfig(episodes=6, learning_starts=30, buffer_size=300, batch_size=8,
                   eps_decay_steps=60)


def specs(layers=("structured_mid", "identity"), seeds=(0, 1)):
    return [RunSpec(ENV, layer, seed, CONFIG) for layer in layers for seed in seeds]


def test_run_id_is_stable_and_content_based():
    a = RunSpec(ENV, "identity", 0, CONFIG)
    assert a.run_id == RunSpec(EnvSpec(grid_size=4), "identity", 0, CONFIG).run_id
    assert a.run_id.startswith("identity-s0-") and len(a.run_id) == len("identity-s0-") + 12
    assert a.run_id != RunSpec(ENV, "identity", 1, CONFIG).run_id
    assert a.run_id != RunSpec(ENV, "identity", 0, DQNConfig(episodes=7)).run_id


def test_group_units():
    units = group_units(specs(seeds=(0, 1, 2)), lockstep=2)
    assert [[(s.layer, s.seed) for s in u] for u in units] == [
        [("structured_mid", 0), ("structured_mid", 1)], [("structured_mid", 2)],
        [("identity", 0), ("identity", 1)], [("identity", 2)]]


@pytest.mark.parametrize("layers, seeds, workers, expected", [
    (("structured_mid", "identity"), range(3), 2, 3),    # the seed's Run Order: all seeds
    (("identity",), range(10), 16, 1),                   # one layer, many cores: one each
    (("identity",), range(10), 4, 3),                    # 4 units of <= 3 seeds
    (("structured_mid", "identity"), range(5), 3, 3),    # 2 layers x 2 units
    (("identity",), range(1), 8, 1),
])
def test_auto_lockstep_keeps_every_worker_busy(layers, seeds, workers, expected):
    plan = specs(layers, tuple(seeds))
    lockstep = auto_lockstep(plan, workers)
    assert lockstep == expected
    assert len(group_units(plan, lockstep)) >= min(workers, len(plan))


def test_group_units_bad_lockstep():
    with pytest.raises(ConfigError, match="^lockstep must be a positive integer, got 0$"):
        group_units(specs(), lockstep=0)


def test_run_all_bad_workers():
    with pytest.raises(ConfigError, match="^workers must be a positive integer, got 0$"):
        run_all(specs(), workers=0, quiet=True)


def test_run_all_in_process_equals_worker_processes_and_lockstep():
    plan = specs()
    seen = []
    one = run_all(plan, workers=1, quiet=True, on_result=seen.append)
    two = run_all(plan, workers=2, quiet=True)
    locked = run_all(plan, workers=1, lockstep=2, quiet=True)
    assert sorted(r.extra["run_id"] for r in seen) == sorted(s.run_id for s in plan)
    for spec, a, b, c in zip(plan, one, two, locked):
        expected = (spec.layer, spec.seed)
        assert (a.layer, a.seed) == (b.layer, b.seed) == (c.layer, c.seed) == expected
        assert a.status == b.status == c.status == "ok"
        for other in (b, c):
            np.testing.assert_array_equal(a.returns, other.returns)
            np.testing.assert_array_equal(a.lengths, other.lengths)
            np.testing.assert_array_equal(a.successes, other.successes)


def test_a_failing_unit_is_recorded_and_the_sweep_goes_on():
    bad = RunSpec(ENV, "random_bank_0", 0, CONFIG)       # no selected layer: cannot build
    good = RunSpec(ENV, "identity", 0, CONFIG)
    failed, ok = run_all([bad, good], workers=1, quiet=True)
    assert failed.status == "failed" and len(failed.returns) == 0
    assert failed.error.startswith("ConfigError: the random layer bank copies the selected "
                                   "layer's shape, but the selected layer is None")
    assert ok.status == "ok" and len(ok.returns) == CONFIG.episodes


def test_parse_seeds():
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds(" 3-5 ,9") == [3, 4, 5, 9]


@pytest.mark.parametrize("text", ["0,,x", "", "-1", "5-3", "a"])
def test_parse_seeds_malformed(text):
    with pytest.raises(ConfigError, match=r"^--seeds must be comma-separated non-negative "
                                          r"integers or ranges like 0-4, got "):
        parse_seeds(text)


def test_parse_seeds_repeated():
    with pytest.raises(ConfigError, match=r"^--seeds lists a seed twice: '0,1,0'$"):
        parse_seeds("0,1,0")


def result(layer, seed, returns, diverged=False):
    n = len(returns)
    return RunResult(layer=layer, seed=seed, returns=np.asarray(returns, float),
                     lengths=np.full(n, 3, np.int64), successes=np.arange(n) % 2 == 0,
                     diverged=diverged, error="non-finite gradient" if diverged else "")


def read(path):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        return header, [dict(zip(header, row)) for row in reader]


def test_output_files_known_answers(tmp_path):
    # seed 0 of layer a: 60 episodes, the last 50 average 1.0; seed 1 averages 0.0
    a0 = result("a", 0, [-1.0] * 10 + [1.0] * 50)
    a1 = result("a", 1, [0.0] * 60)
    b0 = result("b", 0, [2.0, 4.0])
    b1 = result("b", 1, [5.0], diverged=True)
    summary = write_experiment_outputs(tmp_path, [a0, a1, b0, b1], np.random.default_rng(0))
    header, rows = read(tmp_path / "experiment_returns.csv")
    assert tuple(header) == RETURNS_COLUMNS
    assert header[:5] == ["layer", "seed", "episode", "return", "env_steps"]
    assert len(rows) == 60 + 60 + 2 + 1
    assert rows[0] == {"layer": "a", "seed": "0", "episode": "0", "return": "-1",
                       "env_steps": "3", "length": "3", "success": "1", "status": "ok"}
    assert rows[59]["env_steps"] == "180"
    assert rows[-1]["status"] == "diverged"

    header, rows = read(tmp_path / "experiment_summary.csv")
    assert tuple(header[:4]) == SEED_SUMMARY_COLUMNS == (
        "layer", "mean_last_50", "std_last_50", "mean_auc")
    by_layer = {r["layer"]: r for r in rows}
    assert [r["layer"] for r in rows] == ["b", "a"]          # best mean_last_50 first
    assert float(by_layer["a"]["mean_last_50"]) == pytest.approx(0.5)
    assert float(by_layer["a"]["std_last_50"]) == pytest.approx(0.5)
    assert float(by_layer["a"]["mean_auc"]) == pytest.approx((40.0 / 60 + 0.0) / 2)
    assert float(by_layer["b"]["mean_last_50"]) == pytest.approx(3.0)   # diverged run left out
    assert by_layer["b"]["n_seeds"] == "1" and by_layer["b"]["runs_not_ok"] == "1"
    assert by_layer["a"]["runs_not_ok"] == "0"
    assert summary[0]["layer"] == "b"


def test_run_record_round_trip(tmp_path):
    spec = RunSpec(ENV, "identity", 3, CONFIG)
    r = result("identity", 3, [0.5, -0.6])
    path = write_run(tmp_path, spec, r)
    assert path.name == spec.run_id
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json", "manifest.json", "metrics.json", "returns.csv"]
    assert json.loads((path / "metrics.json").read_text())["status"] == "ok"
    back = load_run(path)
    np.testing.assert_array_equal(back.returns, r.returns)
    np.testing.assert_array_equal(back.successes, r.successes)


@pytest.mark.parametrize("name", ["moving-goal", "catch"])
def test_grid_format_observations_match_the_environment(name):
    from rl_rosetta_layer.experiments.spec import EnvSpec

    spec = EnvSpec(name, grid_size=6, history=3)
    obs, env = spec.observations(), spec.make(1)
    assert (obs.obs_shape, obs.obs_dim, obs.maps) == (tuple(env.obs_shape), env.obs_dim, True)


def test_episodes_leave_the_run_id_under_an_env_step_budget():
    budget = DQNConfig(env_steps=500)
    a = RunSpec(ENV, "identity", 0, budget)
    assert a.run_id == RunSpec(ENV, "identity", 0, DQNConfig(env_steps=500, episodes=7)).run_id
    assert a.config.episodes == DQNConfig().episodes       # the ignored setting at its default
    assert a.run_id != RunSpec(ENV, "identity", 0, DQNConfig(env_steps=501)).run_id


def test_run_ids_of_runs_stored_before_stay():
    # Ids computed before env-step budgets dropped the episode count: the store finds them.
    assert RunSpec(EnvSpec(), "identity", 0, DQNConfig()).run_id == "identity-s0-e5fb9b46a1eb"
    assert RunSpec(EnvSpec(), "identity", 0, DQNConfig(episodes=20)).run_id \
        == "identity-s0-e3a2897f2bff"
    assert RunSpec(EnvSpec(), "identity", 0, DQNConfig(env_steps=1000)).run_id \
        == "identity-s0-c4e727233ece"


def test_an_identical_env_step_run_is_not_trained_again(tmp_path, rosetta):
    common = ["train", "--env-steps", "120", "--seeds", "0", "--layers", "identity", "--quiet",
              "--workers", "1", "--grid-size", "4", "--batch-size", "8", "--set",
              "learning_starts=20", "--output-dir", tmp_path]
    assert rosetta([*common, "--episodes", "5"])[0] == 0
    (run,) = (tmp_path / "runs").glob("identity-*")
    manifest = (run / "manifest.json").read_bytes()
    training = rr.train(tmp_path, env_steps=120, episodes=9, seeds=[0], layers="identity",
                        quiet=True, workers=1, grid_size=4, batch_size=8,
                        settings={"learning_starts": 20})
    assert training.outcome.trained == [] and training.outcome.skipped == [run.name]
    assert list((tmp_path / "runs").glob("identity-*")) == [run]
    assert (run / "manifest.json").read_bytes() == manifest
