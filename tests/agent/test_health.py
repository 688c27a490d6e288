"""Run health: the numbers of a check on known inputs, the flags, and where checks happen."""

import numpy as np
import pytest

from rl_rosetta_layer.agent.config import DQNConfig
from rl_rosetta_layer.agent.dqn import train_lockstep
from rl_rosetta_layer.agent.health import (
    HEALTH_POINTS,
    PROBE_SIZE,
    flags_of,
    health_numbers,
    probe_observations,
)
from rl_rosetta_layer.agent.learner import NumpyLearner
from rl_rosetta_layer.envs import make_vector_env
from rl_rosetta_layer.layers import IdentityLayer


def test_numbers_of_a_check_on_known_arrays():
    # seed 0: Q depends on the observation, two greedy actions, no saturation;
    # seed 1: the same Q for every observation and every unit saturated or dead.
    q = np.array([[[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 3.0]],
                  [[0.5, 0.1]] * 4])
    hidden = np.array([[[0.1, -0.2], [0.3, 0.0], [-0.5, 0.2], [0.0, 0.4]],
                       [[0.999, -1.0]] * 4])
    features = np.array([[[0.0, 2.0], [2.0, 2.0], [0.0, 2.0], [2.0, 2.0]],
                         [[1.0, 1.0]] * 4])
    got = health_numbers({"q": q, "features": features, "pre": np.arctanh(
        np.clip(hidden, -0.9999, 0.9999)), "hidden": hidden})
    assert got[0]["greedy_actions"] == 2 and got[0]["greedy_top_share"] == 0.5
    spread = (np.std([1, 0, 2, 0]) + np.std([0, 1, 0, 3])) / 2
    assert got[0]["q_spread"] == pytest.approx(spread)
    assert got[0]["saturated_share"] == 0.0 and got[0]["dead_share"] == 0.0
    assert got[0]["feature_std"] == pytest.approx(0.5)              # (1 + 0) / 2
    assert got[0]["feature_rms"] == pytest.approx(np.sqrt(3.0))     # squares 0, 4, 4, 4 ...
    assert flags_of(got[0]) == []
    assert got[1]["greedy_actions"] == 1 and got[1]["q_spread"] == 0.0
    assert got[1]["saturated_share"] == 1.0 and got[1]["dead_share"] == 1.0
    assert got[1]["feature_rel_std"] == 0.0
    assert flags_of(got[1]) == ["constant_policy", "saturated_head"]


def test_relu_units_count_as_saturated_where_inactive():
    pre = np.array([[[-1.0, 2.0], [-0.5, 1.0], [-2.0, 0.5]]])
    got = health_numbers({"q": np.zeros((1, 3, 2)), "features": np.zeros((1, 3, 1)),
                          "pre": pre, "hidden": np.maximum(pre, 0.0)}, relu=True)[0]
    assert got["saturated_share"] == 0.5      # the first unit never passes a gradient
    assert got["dead_share"] == 0.5           # ... and always outputs 0
    assert flags_of(got) == ["constant_policy"]


def test_a_linear_head_has_no_hidden_numbers_and_no_flag_for_them():
    q = np.array([[[0.0, 1.0], [1.0, 0.0], [2.0, 3.0]]])
    got = health_numbers({"q": q, "features": np.ones((1, 3, 2)),
                          "pre": None, "hidden": None})[0]
    assert got["saturated_share"] is None and got["dead_share"] is None
    assert flags_of(got) == [] and flags_of(None) == []


def test_probe_observations_are_fixed_and_leave_nothing_to_chance():
    a = probe_observations(make_vector_env("catch", 1))
    b = probe_observations(make_vector_env("catch", 1))
    assert a.shape == (PROBE_SIZE, 256) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert len({row.tobytes() for row in a}) > 50


def test_a_saturated_head_is_caught():
    layer = IdentityLayer("identity", 256)
    config = DQNConfig(adapter="none", head_hidden=16)
    learner = NumpyLearner(layer, 256, 3, config, [np.random.default_rng(0)])
    probe = learner.encode(probe_observations(make_vector_env("catch", 1)))
    assert flags_of(health_numbers(learner.probe(probe))[0]) == []
    learner.online["b2"][:] = 50.0          # what Adam's drift does to the pre-activations
    got = health_numbers(learner.probe(probe))[0]
    assert got["saturated_share"] == 1.0 and got["greedy_actions"] == 1
    assert flags_of(got) == ["constant_policy", "saturated_head"]


def run(seeds, config, probe):
    env = make_vector_env("grid", len(seeds), grid_size=4, history=2, max_steps=20)
    return train_lockstep(env, IdentityLayer("identity", 64), seeds, config, probe=probe)


def test_checks_at_the_points_of_an_env_step_budget_alone_and_in_lockstep():
    probe = probe_observations(make_vector_env("grid", 1, grid_size=4, max_steps=20), n=32)
    config = DQNConfig(env_steps=200, learning_starts=20, batch_size=8, head_hidden=8,
                       buffer_size=500, eps_decay_steps=100, target_update=10)
    pair, solo = run([0, 1], config, probe), run([1], config, probe)
    steps = [int(np.ceil(f * 200)) for f in HEALTH_POINTS]
    for r in pair:
        assert [p["env_step"] for p in r.health] == steps
        assert [p["budget_used"] for p in r.health] == steps
        assert r.health[-1]["updates"] == r.updates - (1 if 200 % 2 == 0 else 0)
        assert set(r.health[-1]["grad_norms"]) == {"input_adapter", "head"}
        assert all(p["grad_norm_mean"] > 0 for p in r.health)
    assert pair[1].health == solo[0].health
    assert run([1], config, None)[0].health == []


def test_checks_at_each_seeds_own_episodes_under_an_episode_budget():
    probe = probe_observations(make_vector_env("grid", 1, grid_size=4, max_steps=20), n=32)
    config = DQNConfig(episodes=8, learning_starts=20, batch_size=8, head_hidden=8,
                       buffer_size=500, eps_decay_steps=50, target_update=10)
    pair, solo = run([0, 1], config, probe), run([1], config, probe)
    for r in pair:
        assert [p["budget_used"] for p in r.health] == [2, 4, 6, 8]
        ends = np.cumsum(r.lengths)
        assert [p["env_step"] for p in r.health] == [int(ends[k - 1]) for k in (2, 4, 6, 8)]
    assert pair[1].health == solo[0].health
