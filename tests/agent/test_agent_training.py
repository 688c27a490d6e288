"""Lockstep Double DQN: determinism, lockstep independence and divergence handling."""

import json
import re
from dataclasses import replace

import numpy as np
import pytest

from rl_rosetta_layer.agent import DQNConfig, train_lockstep
from rl_rosetta_layer.agent.health import probe_observations
from rl_rosetta_layer.envs import GridConfig, VectorVideoGrid
from rl_rosetta_layer.layers import IdentityLayer, build_layers

GRID = GridConfig(size=4)
# Short epsilon decay, so the learned Q-values choose most actions within the tiny budget.
CONFIG = DQNConfig(episodes=12, learning_starts=50, buffer_size=500, batch_size=16,
                   eps_decay_steps=100, target_update=20)
DIVERGED = re.compile(r"^non-finite (gradient|TD error) at env step \d+ \(update \d+\)")


def train(layer_name, seeds, config=CONFIG):
    layer = build_layers([layer_name], GRID)[layer_name]
    return train_lockstep(VectorVideoGrid(len(seeds), GRID), layer, seeds, config)


def same_run(a, b):
    np.testing.assert_array_equal(a.returns, b.returns)
    np.testing.assert_array_equal(a.lengths, b.lengths)
    np.testing.assert_array_equal(a.successes, b.successes)


def test_result_shapes():
    (r,) = train("structured_mid", [0])
    assert len(r.returns) == len(r.lengths) == len(r.successes) == 12
    assert r.returns.dtype == np.float64 and r.lengths.dtype == np.int64
    assert r.successes.dtype == bool
    assert (r.lengths >= 1).all() and (r.lengths <= GRID.max_steps).all()
    # a success ends with +1 after (length - 1) steps of -0.01; a failure is max_steps of -0.01
    expected = np.where(r.successes, 1.0 - 0.01 * (r.lengths - 1), -0.01 * r.lengths)
    np.testing.assert_allclose(r.returns, expected, atol=1e-5)
    np.testing.assert_array_equal(r.env_steps, np.cumsum(r.lengths))
    assert r.status == "ok" and r.updates > 0 and not r.diverged


@pytest.mark.parametrize("layer", ["identity", "mlp_full"])
def test_same_seed_same_returns(layer):
    a, b = train(layer, [4]), train(layer, [4])
    same_run(a[0], b[0])


def test_seeds_differ():
    a, b = train("structured_mid", [0, 1])
    assert not np.array_equal(a.returns, b.returns)


@pytest.mark.parametrize("adapter", ["lowrank", "none", "dense"])
@pytest.mark.parametrize("layer", ["identity", "random_wide", "structured_mid"])
def test_seed_alone_equals_seed_in_lockstep(layer, adapter):
    # Every number, not only the returns: the run-health checks (Q-values, features,
    # gradient norms) must be bit-identical too, whatever the network encodes once.
    config = replace(CONFIG, adapter=adapter)
    probe = probe_observations(VectorVideoGrid(1, GRID))

    def run(seeds):
        layer_ = build_layers([layer], GRID)[layer]
        return train_lockstep(VectorVideoGrid(len(seeds), GRID), layer_, seeds, config,
                              probe=probe)

    (alone,) = run([3])
    together = run([1, 3, 5])
    assert [r.seed for r in together] == [1, 3, 5]
    same_run(alone, together[1])
    assert alone.health and json.dumps(alone.health) == json.dumps(together[1].health)


def test_divergence_marks_every_seed_and_keeps_arrays_consistent():
    config = DQNConfig(episodes=12, learning_starts=50, buffer_size=500, batch_size=16,
                       adapter_lr=1e30)
    with pytest.warns(RuntimeWarning):      # the overflow is reported, not silenced
        results = train("structured_mid", [0, 1], config)
    for r in results:
        assert r.diverged and r.status == "diverged"
        assert DIVERGED.match(r.error), r.error
        assert len(r.returns) == len(r.lengths) == len(r.successes) < 12
        assert np.isfinite(r.returns).all()


class PoisonFirstSeed(IdentityLayer):
    """Features of lockstep row 0 become infinite in training passes (acting is untouched)."""

    def forward_train(self, x):
        y = x.copy()
        y[0] = np.inf
        return y, x


def test_diverged_seed_does_not_affect_the_other():
    poison = PoisonFirstSeed("identity", GRID.obs_dim)
    with pytest.warns(RuntimeWarning):
        bad, good = train_lockstep(VectorVideoGrid(2, GRID), poison, [7, 3], CONFIG)
    assert bad.diverged and DIVERGED.match(bad.error), bad.error
    assert f"at env step {CONFIG.learning_starts} (update 1)" in bad.error
    assert len(bad.returns) == len(bad.lengths) < CONFIG.episodes
    assert not good.diverged and good.error == "" and len(good.returns) == CONFIG.episodes
    (alone,) = train("identity", [3])
    assert len(set(alone.returns)) > 3     # a run with varied episodes, not a stuck one
    same_run(alone, good)
