"""rliable's performance profile (run-score distribution) and optimality gap on inputs
whose answers can be computed by hand, and the bootstrap band of the profile."""

import numpy as np
import pytest

from rl_rosetta_layer import stats
from rl_rosetta_layer.stats import StatsError

#: Two layers, four runs: layer 0 scores 0, 0.5, 1, 1.5; layer 1 scores 1, 1, 0, 0.5.
X = np.array([[0.0, 1.0], [0.5, 1.0], [1.0, 0.0], [1.5, 0.5]])


def test_the_profile_counts_the_runs_strictly_above_each_threshold():
    taus = [-1.0, 0.0, 0.5, 0.9, 1.0, 2.0]
    got = stats.score_distribution(X, taus)
    assert got.shape == (6, 2)
    # layer 0: above -1: 4 of 4; above 0: 3; above 0.5: 2; above 0.9: 2; above 1: 1; 2: 0
    assert got[:, 0].tolist() == [1.0, 0.75, 0.5, 0.5, 0.25, 0.0]
    # layer 1: above -1: 4; above 0: 3; above 0.5: 2; above 0.9: 2; above 1: 0; 2: 0
    assert got[:, 1].tolist() == [1.0, 0.75, 0.5, 0.5, 0.0, 0.0]


def test_the_optimality_gap_clips_at_gamma():
    # layer 0: min(x, 1) = 0, 0.5, 1, 1 -> mean 0.625 -> gap 0.375; the 1.5 earns no credit
    # layer 1: 1, 1, 0, 0.5 -> mean 0.625 -> gap 0.375
    assert stats.optimality_gap(X, gamma=1.0).tolist() == [0.375, 0.375]
    # gamma 0.5: layer 0: 0, 0.5, 0.5, 0.5 -> 0.375 -> 0.125; layer 1: .5 .5 0 .5 -> 0.125
    assert stats.optimality_gap(X, gamma=0.5).tolist() == [0.125, 0.125]
    assert stats.optimality_gap(np.full((3, 1), 2.0), gamma=1.0).tolist() == [0.0]


def test_pooled_tasks_give_what_rliable_gives_on_runs_by_tasks():
    rng = np.random.default_rng(3)
    runs_by_tasks = rng.normal(size=(5, 3))            # rliable's (runs, tasks) of one method
    taus = np.linspace(-2, 2, 9)
    rliable_profile = np.array([np.mean(runs_by_tasks > t) for t in taus])
    rliable_gap = 1.0 - np.mean(np.minimum(runs_by_tasks, 1.0))
    pooled = runs_by_tasks.reshape(-1, 1)               # our (runs x tasks, layers)
    assert np.allclose(stats.score_distribution(pooled, taus)[:, 0], rliable_profile)
    assert np.isclose(stats.optimality_gap(pooled)[0], rliable_gap)


def test_the_band_holds_the_profile_and_is_reproducible():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 2))
    taus = np.linspace(-1, 1, 5)
    low, high = stats.score_distribution_ci(x, taus, np.random.default_rng(7), n_resamples=500)
    again = stats.score_distribution_ci(x, taus, np.random.default_rng(7), n_resamples=500)
    point = stats.score_distribution(x, taus)
    assert low.shape == high.shape == (5, 2)
    assert np.array_equal(low, again[0]) and np.array_equal(high, again[1])
    assert (low <= point + 1e-12).all() and (point <= high + 1e-12).all()
    assert (high - low).max() > 0.1


def test_constant_runs_give_a_zero_width_band():
    x = np.array([[1.0], [1.0], [1.0]])
    low, high = stats.score_distribution_ci(x, [0.5, 1.5], np.random.default_rng(0),
                                            n_resamples=200)
    assert low[:, 0].tolist() == high[:, 0].tolist() == [1.0, 0.0]


@pytest.mark.parametrize("call, message", [
    (lambda: stats.score_distribution(X, []), "taus must be a non-empty 1-D array"),
    (lambda: stats.score_distribution(X, [np.nan]), "taus must be a non-empty 1-D array"),
    (lambda: stats.optimality_gap(X, gamma=float("inf")), "gamma must be a finite target"),
    (lambda: stats.optimality_gap([1.0, 2.0]), "must be a 2-D array of shape (seeds, layers)"),
    (lambda: stats.score_distribution_ci(X[:1], [0.0], np.random.default_rng(0)),
     "need at least 2 seed rows"),
    (lambda: stats.score_distribution_ci(X, [0.0], 0), "rng must be a numpy.random.Generator"),
])
def test_bad_input_names_the_value(call, message):
    with pytest.raises(StatsError) as err:
        call()
    assert message in str(err.value)
