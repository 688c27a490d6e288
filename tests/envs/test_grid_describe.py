"""GridConfig.describe: the grid's settings and the shortest-path returns they imply,
checked against hand counts and against the environment's own optimal_return."""

import numpy as np
import pytest

from rl_rosetta_layer.envs import GridConfig, VectorVideoGrid


def test_two_by_two_by_hand():
    """On a 2x2 grid, of the 12 ordered pairs of distinct cells 8 are 1 step apart and 4 are
    2 steps apart (the diagonals)."""
    desc = GridConfig(size=2, history=3, max_steps=9).describe()
    assert desc["shortest_path_mean"] == pytest.approx((8 * 1 + 4 * 2) / 12)
    assert desc["optimal_return_mean"] == pytest.approx(1.0 - 0.01 * 4 / 12)
    assert desc["optimal_return_max"] == 1.0
    assert {k: desc[k] for k in ("name", "size", "history", "max_steps", "n_actions",
                                 "obs_dim")} == {"name": "grid", "size": 2, "history": 3,
                                                 "max_steps": 9, "n_actions": 5, "obs_dim": 24}


@pytest.mark.parametrize("size", [3, 8])
def test_optimal_return_mean_is_the_mean_over_the_starts_reset_draws(size):
    config = GridConfig(size=size)
    env = VectorVideoGrid(4000, config)
    _, info = env.reset(seed=0)
    drawn = np.sort(np.abs(env.agent - env.goal).sum(axis=1))
    assert set(drawn) == set(config.start_distances())      # every distance is reachable
    assert np.allclose(info["optimal_return"], config.path_return(
        np.abs(env.agent - env.goal).sum(axis=1)))
    assert abs(info["optimal_return"].mean() - config.describe()["optimal_return_mean"]) < 0.01
