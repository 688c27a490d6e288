"""Transitions collected with a uniformly random policy, for probing layers before RL."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import is_int
from ..errors import ConfigError

#: Discount of the random-policy return-to-go used as the value target when an
#: environment cannot say what the best achievable return is.
VALUE_GAMMA = 0.95


@dataclass(frozen=True)
class TransitionData:
    """N random-policy transitions. Shapes: obs/next_obs (N, D); actions, rewards (N,);
    terminated (N,) bool; state (N, S) true state at t; optimal_return (N,) the best
    achievable return from the state at t, or the random policy's discounted return-to-go
    where the environment does not know the best one (see ``value_target``)."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    state: np.ndarray
    optimal_return: np.ndarray
    n_actions: int
    value_target: str = "optimal_return"

    def __len__(self) -> int:
        return len(self.actions)


def collect_transitions(env, steps: int, rng: np.random.Generator) -> TransitionData:
    """Step the vector env ``env`` with uniformly random actions until ``steps`` transitions.

    ``env`` must already be seeded (``seed_with``); actions are drawn from ``rng``.
    """
    if not is_int(steps) or steps < 10:
        raise ConfigError(f"dataset steps must be an integer >= 10, got {steps!r}")
    n = env.num_envs
    rounds = -(-steps // n)
    obs, info = env.reset()
    cols: dict[str, list] = {k: [] for k in ("obs", "actions", "rewards", "next_obs",
                                              "terminated", "done", "state", "optimal_return")}
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
        cols["done"].append(done)
    value_target = "optimal_return"
    if np.isnan(np.concatenate(cols["optimal_return"])).any():
        cols["optimal_return"] = list(return_to_go(np.stack(cols["rewards"]),
                                                   np.stack(cols["done"]), VALUE_GAMMA))
        value_target = f"random-policy return-to-go (gamma {VALUE_GAMMA})"
    del cols["done"]
    # Interleave copies step by step, then cut to exactly ``steps`` transitions.
    data = {k: np.concatenate(v)[:steps] for k, v in cols.items()}
    return TransitionData(n_actions=env.n_actions, value_target=value_target, **data)


def return_to_go(rewards: np.ndarray, done: np.ndarray, gamma: float) -> np.ndarray:
    """Discounted return from each step to the end of its episode: (T, N) -> (T, N).

    Episodes still running when the data ends are cut there.

    >>> rtg = return_to_go(np.ones((3, 1)), np.array([[False], [True], [False]]), 0.5)
    >>> rtg[:, 0].tolist()
    [1.5, 1.0, 1.0]
    """
    out = np.zeros(rewards.shape, np.float64)
    running = np.zeros(rewards.shape[1])
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running * ~done[t]
        out[t] = running
    return out.astype(np.float32)
