"""Play a hand-coded policy for a number of episodes: what random and optimal returns are.

The environment draws only at resets, so the k-th episode of copy i starts in the same
state for every policy played with the same seed: comparisons between policies are paired.
"""

from __future__ import annotations

import numpy as np

from ..checks import is_int
from ..errors import ConfigError
from .reference import policy_actions


def play(env, policy: str, per_copy: int, seed: int) -> dict[str, np.ndarray]:
    """Play ``per_copy`` episodes of ``policy`` (see :data:`~.reference.POLICIES`) in each
    copy of the vector env ``env``, copies seeded ``seed + i``.

    Returns arrays of shape (num_envs, per_copy): ``return``, ``success``, ``length`` and
    ``optimal`` (the optimal return at the episode's start).
    """
    if not is_int(per_copy) or per_copy < 1:
        raise ConfigError(f"episodes per copy must be a positive integer, got {per_copy!r}")
    copies = env.num_envs
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)          # the random policy's actions only
    out = {k: np.zeros((copies, per_copy)) for k in ("return", "success", "length", "optimal")}
    done_count = np.zeros(copies, dtype=np.int64)
    running = np.zeros(copies)
    length = np.zeros(copies, dtype=np.int64)
    start_optimal = info["optimal_return"].astype(np.float64)
    while done_count.min() < per_copy:
        obs, reward, terminated, truncated, info = env.step(
            policy_actions(policy, env, obs, rng))
        running += reward
        length += 1
        rows = np.flatnonzero((terminated | truncated) & (done_count < per_copy))
        cols = done_count[rows]
        out["return"][rows, cols] = running[rows]
        out["success"][rows, cols] = info.get("success", terminated)[rows]
        out["length"][rows, cols] = length[rows]
        out["optimal"][rows, cols] = start_optimal[rows]
        done = terminated | truncated
        done_count[done] += 1
        running[done] = 0.0
        length[done] = 0
        start_optimal[done] = info["optimal_return"][done]
    return out


def summary(result: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean return with a 95 % normal interval, success rate, mean length, mean optimal."""
    r = result["return"].ravel()
    half = 1.96 * r.std(ddof=1) / np.sqrt(len(r)) if len(r) > 1 else float("nan")
    return {"episodes": len(r), "mean_return": float(r.mean()), "ci_low": float(r.mean() - half),
            "ci_high": float(r.mean() + half), "success_rate": float(result["success"].mean()),
            "mean_length": float(result["length"].mean()),
            "mean_optimal_return": float(result["optimal"].mean())}
