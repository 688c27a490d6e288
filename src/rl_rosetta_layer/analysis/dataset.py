"""Transitions collected with a uniformly random policy, for probing layers before RL."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class TransitionData:
    """N random-policy transitions. Shapes: obs/next_obs (N, D); actions, rewards (N,);
    terminated (N,) bool; state (N, S) true state at t; optimal_return (N,) the best
    achievable return from the state at t."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    state: np.ndarray
    optimal_return: np.ndarray
    n_actions: int

    def __len__(self) -> int:
        return len(self.actions)


def collect_transitions(env, steps: int, rng: np.random.Generator) -> TransitionData:
    """Step the vector env ``env`` with uniformly random actions until ``steps`` transitions.

    ``env`` must already be seeded (``seed_with``); actions are drawn from ``rng``.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 10:
        raise ConfigError(f"dataset steps must be an integer >= 10, got {steps!r}")
    n = env.num_envs
    rounds = -(-steps // n)
    obs, info = env.reset()
    cols: dict[str, list] = {k: [] for k in ("obs", "actions", "rewards", "next_obs",
                                              "terminated", "state", "optimal_return")}
    for _ in range(rounds):
        actions = rng.integers(env.n_actions, size=n)
        cols["obs"].append(obs)
        cols["state"].append(info["state"])
        cols["optimal_return"].append(info["optimal_return"])
        obs, reward, terminated, truncated, info = env.step(actions)
        done = terminated | truncated
        cols["next_obs"].append(info["final_obs"] if done.any() else obs)
        cols["actions"].append(actions)
        cols["rewards"].append(reward)
        cols["terminated"].append(terminated)
    # Interleave copies step by step, then cut to exactly ``steps`` transitions.
    data = {k: np.concatenate(v)[:steps] for k, v in cols.items()}
    return TransitionData(n_actions=env.n_actions, **data)
