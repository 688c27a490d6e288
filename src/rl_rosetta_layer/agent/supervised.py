"""Supervised training of the agent's own network through its own DQN update.

The DQN update (:mod:`.update`) regresses ``Q(s, a)`` on ``returns + discounts * Q'(s',
a')`` with a Huber loss, Adam and per-seed clipping. With every discount 0 the target is
``returns`` alone: the update *is* a supervised regression of the network's output for
action ``a`` on a given number. So any learner (:class:`.learner.Learner`: the numpy one,
the torch one for video blocks, any later one) trains its read-out and head on targets
through its public ``update``, with no second copy of the network, its gradient or its
optimisers.

:func:`fit_outputs` trains each of the learner's S seeds on its own targets (S, N, A) for
N states, one (state, action) pair per batch row; :func:`predict` reads the outputs.
"""

from __future__ import annotations

import numpy as np

from ..checks import is_int
from ..errors import ConfigError


def fit_outputs(learner, codes: np.ndarray, targets: np.ndarray, *, updates: int,
                batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """Regress every seed's outputs on its targets: seed s's output for action a on state
    i towards ``targets[s, i, a]``.

    ``codes`` (N, C) are the states as the learner reads them (its ``encode``), ``targets``
    (S, N, A) float. Each of ``updates`` steps draws ``batch_size`` (state, action) pairs
    uniformly from ``rng`` (the same pairs for every seed) and runs the learner's update
    with discount 0. Returns each update's gradient norm before clipping (updates, S)
    (NaN once a seed diverged: the learner parks it).
    """
    codes = np.asarray(codes, np.float32)
    targets = np.asarray(targets, np.float32)
    if targets.ndim != 3 or targets.shape[1] != len(codes):
        raise ConfigError(f"targets must have shape (seeds, {len(codes)}, actions), got "
                          f"{targets.shape}")
    for name, value in (("updates", updates), ("batch_size", batch_size)):
        if not is_int(value) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    n_seeds, n, n_actions = targets.shape
    seeds = np.arange(n_seeds)[:, None]
    discounts = np.zeros((n_seeds, batch_size), np.float32)
    norms = np.empty((updates, n_seeds))
    for u in range(updates):
        rows = rng.integers(n, size=batch_size)
        actions = rng.integers(n_actions, size=batch_size)
        batch = codes[rows]
        # [obs; next obs]: the next observations are never read with discount 0.
        both = np.broadcast_to(np.concatenate([batch, batch]), (n_seeds, 2 * batch_size,
                                                                codes.shape[1]))
        returns = targets[seeds, rows[None, :], actions[None, :]]
        norms[u], _ = learner.update(np.ascontiguousarray(both),
                                     np.broadcast_to(actions, (n_seeds, batch_size)).copy(),
                                     returns, discounts)
    return norms


def predict(learner, codes: np.ndarray) -> np.ndarray:
    """Every seed's outputs (S, N, A) float64 on codes (N, C)."""
    return np.asarray(learner.probe(np.asarray(codes, np.float32))["q"], np.float64)
