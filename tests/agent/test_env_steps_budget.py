"""A budget in env steps: validation, run ids, exact step counts, lockstep = solo."""

import numpy as np
import pytest

from rl_rosetta_layer.agent.config import DQNConfig
from rl_rosetta_layer.agent.dqn import train_lockstep
from rl_rosetta_layer.errors import ConfigError
from rl_rosetta_layer.experiments.spec import EnvSpec, RunSpec
from rl_rosetta_layer.layers.registry import build_layers

SMALL = dict(learning_starts=50, batch_size=16, buffer_size=500, eps_decay_steps=200)


@pytest.mark.parametrize("bad", [0, -5, True, 2.5, "100"])
def test_env_steps_must_be_a_positive_integer(bad):
    with pytest.raises(ConfigError, match="env_steps must be a positive integer"):
        DQNConfig(env_steps=bad)


def test_episode_budgets_keep_their_run_ids():
    assert "env_steps" not in DQNConfig().to_dict()
    spec = RunSpec(EnvSpec("grid"), "identity", 0, DQNConfig())
    assert spec.run_id == RunSpec(EnvSpec("grid"), "identity", 0,
                                  DQNConfig.from_dict(DQNConfig().to_dict())).run_id
    stepped = DQNConfig(env_steps=300)
    assert stepped.to_dict()["env_steps"] == 300
    assert DQNConfig.from_dict(stepped.to_dict()) == stepped
    assert RunSpec(EnvSpec("grid"), "identity", 0, stepped).run_id != spec.run_id
    assert (stepped.budget, stepped.budget_unit) == (300, "env_steps")
    assert (DQNConfig().budget, DQNConfig().budget_unit) == (350, "episodes")


def _train(seeds, config, env_name="catch"):
    env_spec = EnvSpec(env_name)
    layer = build_layers(["random_wide"], env_spec.observations())["random_wide"]
    reported = []
    results = train_lockstep(env_spec.make(len(seeds)), layer, seeds, config,
                             progress=reported.append)
    return results, reported


def test_a_step_budget_stops_every_seed_at_that_step():
    config = DQNConfig(env_steps=430, **SMALL)
    results, reported = _train([0, 1, 2], config, "moving-goal")
    for r in results:
        steps = int(r.lengths.sum())
        assert 430 - 40 < steps <= 430          # the unfinished last episode is not recorded
        assert len(r.returns) >= 10
    assert sum(reported) == 3 * 430            # progress counts env steps of every seed


def test_a_step_budget_gives_the_same_numbers_alone_and_in_lockstep():
    config = DQNConfig(env_steps=300, **SMALL)
    together, _ = _train([0, 1], config)
    alone, _ = _train([1], config)
    np.testing.assert_array_equal(together[1].returns, alone[0].returns)
    np.testing.assert_array_equal(together[1].lengths, alone[0].lengths)
    assert together[1].updates == alone[0].updates > 0


def test_train_command_takes_env_steps(tmp_path, rosetta):
    rc, out, err = rosetta(["train", "--env", "catch", "--env-steps", 200, "--layers",
                            "identity", "--seeds", "0", "--workers", 1, "--quiet",
                            "--output-dir", tmp_path, "--set", "learning_starts=50"])
    assert rc == 0, err
    import json

    (config,) = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*/config.json")]
    assert config["config"]["env_steps"] == 200
    rc, out, err = rosetta(["train", "--set", "env_steps=-3", "--output-dir", tmp_path / "x"])
    assert rc == 2 and "env_steps must be a positive integer" in err
    assert not (tmp_path / "x").exists()
