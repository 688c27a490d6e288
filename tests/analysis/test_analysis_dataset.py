"""Random-policy transition data, and the ranking property of the analysis."""

import csv

import numpy as np
import pytest

from rl_rosetta_layer.analysis import analyze_layers, collect_transitions
from rl_rosetta_layer.analysis.run import run_analysis
from rl_rosetta_layer.envs import GridConfig, VectorVideoGrid
from rl_rosetta_layer.errors import ConfigError
from rl_rosetta_layer.experiments.spec import EnvSpec
from rl_rosetta_layer.layers import seed_candidates

CONFIG = GridConfig(size=4, max_steps=10)


def collect(steps, seed=0, n=4):
    env = VectorVideoGrid(n, CONFIG)
    env.seed_with([np.random.default_rng(seed * 10 + i) for i in range(n)])
    return collect_transitions(env, steps, np.random.default_rng(seed))


def test_shapes_and_dtypes():
    data = collect(50)
    assert len(data) == 50 and data.n_actions == 5
    assert data.obs.shape == data.next_obs.shape == (50, CONFIG.obs_dim)
    assert data.actions.shape == data.rewards.shape == data.terminated.shape == (50,)
    assert data.state.shape == (50, 4) and data.optimal_return.shape == (50,)
    assert data.terminated.dtype == bool and data.obs.dtype == np.float32
    assert set(np.unique(data.actions)) <= set(range(5))


def test_reproducible_and_seed_dependent():
    a, b, c = collect(60), collect(60), collect(60, seed=1)
    for field in ("obs", "actions", "rewards", "next_obs", "terminated", "state"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.obs, c.obs)


def test_transitions_are_consistent():
    n = 4
    data = collect(400, n=n)
    assert data.terminated.any()
    np.testing.assert_array_equal(data.rewards[data.terminated], 1.0)
    np.testing.assert_allclose(data.rewards[~data.terminated], -0.01, rtol=1e-6)
    # rows interleave the copies step by step: row r + n is the same copy one step later,
    # unless the episode ended at row r
    frame = CONFIG.frame_dim
    breaks = 0
    for r in range(len(data) - n):
        if data.terminated[r]:
            # the stored next observation is the final one: the agent stands on the goal
            newest = data.next_obs[r, -frame:].reshape(2, -1)
            np.testing.assert_array_equal(newest[0], newest[1])
        elif not np.array_equal(data.next_obs[r], data.obs[r + n]):
            breaks += 1
    # only truncations break the chain otherwise: at most one per max_steps steps per copy
    assert breaks <= n * (len(data) // n // CONFIG.max_steps)


def test_too_few_steps():
    env = VectorVideoGrid(2, CONFIG)
    env.seed_with([np.random.default_rng(0), np.random.default_rng(1)])
    with pytest.raises(ConfigError, match="^dataset steps must be an integer >= 10, got 5$"):
        collect_transitions(env, 5, np.random.default_rng(0))


def test_analyze_layers_bootstrap_too_small():
    data = collect(40)
    with pytest.raises(ConfigError, match="^n_bootstrap must be >= 10, got 5$"):
        analyze_layers(seed_candidates(CONFIG), data, np.random.default_rng(0), n_bootstrap=5)


def test_scores_have_cis_around_them():
    data = collect(400)
    results = analyze_layers(seed_candidates(CONFIG), data, np.random.default_rng(0),
                             n_bootstrap=20)
    assert [r.layer for r in results] == list(seed_candidates(CONFIG))
    for r in results:
        for metric, value in r.scores.items():
            assert np.isfinite(value)
            assert len(r.replicates[metric]) == 20
            low, high = r.ci[metric]
            assert low <= high


@pytest.mark.parametrize("seed", [0, 1])
def test_structured_value_r2_clearly_beats_every_random_layer(tmp_path, seed):
    """Required property: on the default 8x8 grid the structured layer predicts value."""
    run_analysis(tmp_path, EnvSpec(), dataset_steps=3000, seed=seed, n_bootstrap=20, quiet=True)
    with open(tmp_path / "layer_analysis.csv", newline="") as f:
        value = {row["layer"]: float(row["value_r2"]) for row in csv.DictReader(f)}
    assert set(value) == {"random_wide", "random_narrow", "bottleneck", "structured_mid"}
    best_random = max(value[n] for n in ("random_wide", "random_narrow", "bottleneck"))
    assert value["structured_mid"] > 0.8
    assert value["structured_mid"] > best_random + 0.2
