"""Action values from the current state (envs/lookahead.py), checked against answers worked
out by hand for the grid and catch, and against the reference policy on every task."""

import numpy as np
import pytest

from rl_rosetta_layer.envs.catch import VectorCatch
from rl_rosetta_layer.envs.grid import VectorVideoGrid
from rl_rosetta_layer.envs.lookahead import (
    optimal_action_values,
    optimal_actions,
    reference_action_values,
    reference_return,
)
from rl_rosetta_layer.envs.moving_goal import VectorMovingGoal
from rl_rosetta_layer.envs.reference import reference_actions
from rl_rosetta_layer.errors import ConfigError

GRID_MOVES = np.array([[0, 0], [0, -1], [0, 1], [-1, 0], [1, 0]])


def visited(env_class, n=32, steps=25, seed=0):
    """The env after each of ``steps`` steps of the reference with 30 % random actions."""
    env = env_class(n)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        yield env
        noisy = rng.random(n) < 0.3
        env.step(np.where(noisy, rng.integers(env.n_actions, size=n), reference_actions(env)))


def test_grid_optimal_actions_are_those_that_shorten_the_walk():
    for env in visited(VectorVideoGrid):
        dist = np.abs(env.agent - env.goal).sum(axis=1)
        moved = np.clip(env.agent[:, None, :] + GRID_MOVES[None], 0, env.config.size - 1)
        after = np.abs(moved - env.goal[:, None, :]).sum(axis=2)          # (N, 5)
        expected = after == (dist - 1)[:, None]
        np.testing.assert_array_equal(optimal_actions(env), expected)


def test_catch_values_by_hand():
    env = VectorCatch(2)
    env.reset(seed=0)
    # Copy 0: paddle (2 wide) on columns 0-1, ball at (6, 1) drifting right: it moves
    # 6 -> 7 (bounce) -> 6 -> 5 -> 4 -> 3 -> 2 and lands in column 2 after 6 steps, the
    # reward on the 6th; any first move still lets the paddle get there.
    # Copy 1: paddle on 4-5, ball at (5, 5) drifting right: 5 -> 6 -> 7, it lands in column
    # 7 after 2 steps; only two moves right in a row catch it.
    env.paddle[:] = 0, 4
    env.ball[:] = (6, 1), (5, 5)
    env.drift[:] = 1, 1
    assert env.landing_column().tolist() == [2, 7]
    np.testing.assert_allclose(optimal_action_values(env), [[1, 1, 1], [-1, -1, 1]])
    np.testing.assert_array_equal(optimal_actions(env), [[1, 1, 1], [0, 0, 1]])
    g = 0.9
    np.testing.assert_allclose(reference_return(env, g), [g ** 5, g])
    np.testing.assert_allclose(reference_action_values(env, g),
                               [[g ** 5] * 3, [-g, -g, g]])


@pytest.mark.parametrize("env_class", [VectorVideoGrid, VectorMovingGoal, VectorCatch])
def test_the_reference_action_is_optimal_and_its_value_is_the_best(env_class):
    ties = []
    for env in visited(env_class):
        opt = optimal_actions(env)
        assert opt[np.arange(env.num_envs), reference_actions(env)].all()
        q = reference_action_values(env, 0.95)
        np.testing.assert_allclose(q.max(axis=1), reference_return(env, 0.95), atol=1e-12)
        # the optimal set with and without discounting is the same on these tasks
        np.testing.assert_array_equal(q >= q.max(axis=1, keepdims=True) - 1e-9, opt)
        ties.append(opt.sum(axis=1) > 1)
    assert 0.3 < np.mean(ties) < 1.0      # several optimal actions are common, not universal


@pytest.mark.parametrize("env_class", [VectorVideoGrid, VectorMovingGoal, VectorCatch])
def test_looking_ahead_leaves_the_environment_as_it_was(env_class):
    a, b = env_class(8), env_class(8)
    a.reset(seed=3)
    b.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(30):
        optimal_actions(a)
        reference_action_values(a, 0.9)
        actions = rng.integers(a.n_actions, size=8)
        got, want = a.step(actions), b.step(actions)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[4]["state"], want[4]["state"])


def test_an_environment_without_a_reference_policy_is_refused():
    class Plain:
        num_envs, n_actions = 2, 3

    with pytest.raises(ConfigError, match="a vector environment with a reference policy"):
        optimal_actions(Plain())
    with pytest.raises(ConfigError, match="a vector environment with a reference policy"):
        optimal_actions(VectorCatch)


def test_bad_gamma_is_refused():
    env = VectorCatch(1)
    env.reset(seed=0)
    with pytest.raises(ConfigError, match=r"gamma must be in \[0, 1\], got 1.5"):
        reference_return(env, 1.5)


def test_an_unknown_optimal_return_is_refused():
    class Unknown(VectorCatch):
        def optimal_return(self):
            return np.full(self.num_envs, np.nan, np.float32)

    env = Unknown(2)
    env.reset(seed=0)
    with pytest.raises(ConfigError, match="does not know its optimal return"):
        optimal_actions(env)
