"""Supervised training through the agent's own update (agent/supervised.py): planted
targets the head must learn, each seed on its own targets, and the update it runs."""

import numpy as np
import pytest

from rl_rosetta_layer.agent.config import DQNConfig
from rl_rosetta_layer.agent.learner import make_learner
from rl_rosetta_layer.agent.supervised import fit_outputs, predict
from rl_rosetta_layer.errors import ConfigError
from rl_rosetta_layer.layers.synthetic import RandomTanhLayer

CONFIG = DQNConfig(adapter="none", head="mlp", head_norm="layer", env_steps=100)


def planted_problem(n=600, d=12, k=8, seeds=2):
    rng = np.random.default_rng(0)
    layer = RandomTanhLayer("planted", d, k, 0.5, np.random.default_rng(1))
    obs = rng.normal(size=(n, d)).astype(np.float32)
    learner = make_learner(layer, d, 3, CONFIG, [np.random.default_rng(10 + s)
                                                  for s in range(seeds)])
    return layer, obs, learner.encode(obs), learner


def test_the_head_learns_planted_targets_each_seed_its_own():
    _, _, codes, learner = planted_problem()
    rng = np.random.default_rng(2)
    w = rng.normal(size=(codes.shape[1], 3))
    smooth = np.tanh(codes @ w)                             # seed 0: a smooth function
    labels = (smooth >= smooth.max(axis=1, keepdims=True)).astype(np.float32)   # seed 1
    targets = np.stack([smooth, labels]).astype(np.float32)
    train, test = slice(0, 500), slice(500, None)
    before = predict(learner, codes[test])
    norms = fit_outputs(learner, codes[train], targets[:, train], updates=1500,
                        batch_size=64, rng=np.random.default_rng(3))
    assert norms.shape == (1500, 2) and np.isfinite(norms).all()
    after = predict(learner, codes[test])
    mse = lambda p, s: float(((p[s] - targets[s, test]) ** 2).mean())  # noqa: E731
    assert mse(after, 0) < 0.1 * mse(before, 0)
    # seed 1's best output is the planted class on most held-out rows
    hit = labels[test][np.arange(100), after[1].argmax(axis=1)]
    assert hit.mean() > 0.85
    # each seed learned its own targets, not the other's
    assert mse(after, 0) < 0.5 * float(((after[0] - targets[1, test]) ** 2).mean())


def test_one_call_is_the_update_on_the_drawn_pairs():
    """fit_outputs is the learner's update with discount 0 on the pairs it draws: the same
    parameters follow from calling ``update`` by hand with the same draws."""
    _, _, codes, a = planted_problem(n=50, seeds=1)
    _, _, _, b = planted_problem(n=50, seeds=1)
    targets = np.random.default_rng(4).normal(size=(1, 50, 3)).astype(np.float32)
    fit_outputs(a, codes, targets, updates=2, batch_size=8, rng=np.random.default_rng(5))
    rng = np.random.default_rng(5)
    for _ in range(2):
        rows, actions = rng.integers(50, size=8), rng.integers(3, size=8)
        both = np.concatenate([codes[rows], codes[rows]])[None]
        b.update(both, actions[None], targets[0, rows, actions][None],
                 np.zeros((1, 8), np.float32))
    np.testing.assert_array_equal(a.online.data, b.online.data)


def test_bad_inputs_are_refused():
    _, _, codes, learner = planted_problem(n=20)
    rng = np.random.default_rng(0)
    with pytest.raises(ConfigError, match=r"targets must have shape \(seeds, 20, actions\), "
                                          r"got \(20, 3\)"):
        fit_outputs(learner, codes, np.zeros((20, 3)), updates=1, batch_size=4, rng=rng)
    with pytest.raises(ConfigError, match="updates must be a positive integer, got 0"):
        fit_outputs(learner, codes, np.zeros((2, 20, 3)), updates=0, batch_size=4, rng=rng)
