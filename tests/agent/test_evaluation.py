"""Greedy evaluation at checkpoints: the same episode starts for every layer and seed, the
same numbers alone and in lockstep, and the same again from the saved network."""

import numpy as np
import pytest

from rl_rosetta_layer.agent.config import DQNConfig
from rl_rosetta_layer.agent.dqn import train_lockstep
from rl_rosetta_layer.agent.evaluation import checkpoint_steps, evaluate, play_episodes
from rl_rosetta_layer.agent.learner import make_learner
from rl_rosetta_layer.errors import ConfigError
from rl_rosetta_layer.experiments.spec import EnvSpec
from rl_rosetta_layer.layers.registry import build_layers

SPEC = EnvSpec("catch")
CONFIG = DQNConfig(env_steps=600, eval_checkpoints=3, eval_episodes=8, adapter="none",
                   head_norm="layer", learning_starts=100, eps_decay_steps=300)


def layer():
    return build_layers(["identity"], SPEC.observations())["identity"]


def test_checkpoints_are_evenly_spaced_and_end_at_the_budget():
    assert checkpoint_steps(600, 3) == [200, 400, 600]
    assert checkpoint_steps(10, 3) == [3, 7, 10]
    with pytest.raises(ConfigError, match="3 evaluation checkpoints need a budget of at least"):
        checkpoint_steps(2, 3)


def test_config_refuses_evaluation_without_an_env_step_budget():
    with pytest.raises(ConfigError, match="eval_checkpoints=2 needs a budget in env steps"):
        DQNConfig(eval_checkpoints=2)
    with pytest.raises(ConfigError, match="eval_epsilon must be in"):
        DQNConfig(env_steps=10, eval_checkpoints=1, eval_epsilon=1.5)
    with pytest.raises(ConfigError, match="eval_episodes must be a positive integer"):
        DQNConfig(eval_episodes=0)
    assert "eval_checkpoints" not in DQNConfig().to_dict()        # off: run ids unchanged
    assert DQNConfig(env_steps=10, eval_checkpoints=2).to_dict()["eval_checkpoints"] == 2


def test_every_seed_plays_the_same_starts_and_explores_with_its_own_draws():
    starts = {}

    def encode(obs):
        return obs

    def first_obs(codes):                     # greedy: remember the first observations seen
        starts.setdefault("obs", codes.copy())
        return np.zeros(codes.shape[:2], np.int64)

    played = play_episodes(SPEC.make, encode, first_obs, [0, 1, 2], 4, 6, epsilon=0.0)
    obs = starts["obs"]
    assert obs.shape[:2] == (3, 6)
    np.testing.assert_array_equal(obs[0], obs[1])          # the same starts for every seed
    assert len({row.tobytes() for row in obs[0]}) > 1      # episodes differ from each other
    np.testing.assert_array_equal(played[0][0], played[2][0])
    other = {}
    play_episodes(SPEC.make, encode, lambda c: other.setdefault("obs", c.copy())[..., 0] * 0,
                  [0], 5, 6, epsilon=0.0)
    assert not np.array_equal(other["obs"][0], obs[0])    # another checkpoint, other starts
    explored = play_episodes(SPEC.make, encode, lambda c: np.zeros(c.shape[:2], np.int64),
                             [0, 1], 4, 6, epsilon=1.0)
    alone = play_episodes(SPEC.make, encode, lambda c: np.zeros(c.shape[:2], np.int64),
                          [1], 4, 6, epsilon=1.0)
    for got, want in zip(explored[1], alone[0]):           # seed 1's draws are its own
        np.testing.assert_array_equal(got, want)


def test_training_evaluates_at_each_checkpoint_the_same_alone_and_in_lockstep():
    both = train_lockstep(SPEC.make(2), layer(), [3, 4], CONFIG, eval_env=SPEC.make)
    alone = train_lockstep(SPEC.make(1), layer(), [4], CONFIG, eval_env=SPEC.make)
    for result in both:
        assert [e["env_steps"] for e in result.evaluations] == [200, 400, 600]
        assert all(len(e["returns"]) == 8 for e in result.evaluations)
        assert result.final_eval == pytest.approx(np.mean(result.evaluations[-1]["returns"]))
        assert result.auc_eval == pytest.approx(
            np.mean([np.mean(e["returns"]) for e in result.evaluations]))
    assert both[1].evaluations == alone[0].evaluations
    assert both[0].evaluations != both[1].evaluations
    # training returns are untouched by evaluation: the same run without it
    plain = train_lockstep(SPEC.make(1), layer(), [4], DQNConfig(
        **{**CONFIG.to_dict(), "eval_checkpoints": 0, "env_steps": 600}))
    np.testing.assert_array_equal(plain[0].returns, alone[0].returns)
    assert plain[0].evaluations == []
    with pytest.raises(ConfigError, match="eval_checkpoints needs eval_env"):
        train_lockstep(SPEC.make(1), layer(), [4], CONFIG)


def test_the_saved_network_plays_the_last_checkpoint_again():
    result = train_lockstep(SPEC.make(1), layer(), [5], CONFIG, eval_env=SPEC.make)[0]
    assert set(result.network) == {"W2", "b2", "Wo", "bo"}
    learner = make_learner(layer(), SPEC.observations().obs_dim, 3, CONFIG,
                           [np.random.default_rng(99)])
    learner.load_network(0, result.network)
    again = evaluate(SPEC.make, learner, [5], 2, 600, CONFIG)[0]
    assert again == result.evaluations[-1]
    with pytest.raises(ConfigError, match="the saved network has parameters"):
        learner.load_network(0, {"W2": result.network["W2"]})


def test_a_seed_keeps_the_network_it_ended_its_budget_with_alone_and_in_lockstep():
    """Under an episode budget seeds end at different steps; in lockstep the shared update
    goes on moving a finished seed's parameters, so its network is taken when it ends."""
    grid = EnvSpec(grid_size=4)                   # episodes of different lengths
    identity = build_layers(["identity"], grid.observations())["identity"]
    config = DQNConfig(episodes=12, adapter="none", learning_starts=30, batch_size=16)
    both = train_lockstep(grid.make(2), identity, [0, 1], config)
    alone = [train_lockstep(grid.make(1), identity, [s], config)[0] for s in (0, 1)]
    assert len(both[0].returns) == len(both[1].returns) == 12
    assert both[0].lengths.sum() != both[1].lengths.sum()      # they did end apart
    for a, b in zip(both, alone):
        for name in a.network:
            np.testing.assert_array_equal(a.network[name], b.network[name], err_msg=name)
