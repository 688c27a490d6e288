"""Hand-coded policies, to show what seeing velocity is worth; and their building blocks.

A policy takes a vector environment (for a single environment pass ``env.vector``) and
returns actions ``(num_envs,)`` int64. The environment says how it is played well: the
reference and one-frame policies call its ``reference_actions()`` and
``one_frame_actions(obs)`` methods (the grid, moving-goal and catch have them; see
:mod:`.contract`), so a new environment brings its own and nothing here changes. On the
grid the goal stands still, so the reference and the one-frame policy both walk straight
to it.

- :func:`reference_actions` reads the true state, velocity included, and is optimal: on
  moving-goal it walks to the earliest possible catch (:meth:`VectorMovingGoal.intercept`),
  on catch it moves the paddle under the ball's landing column. Its return equals
  ``info["optimal_return"]``.
- :func:`one_frame_actions` reads only the newest frame of the observation (positions, no
  velocity): on moving-goal it walks towards the goal's current cell; on catch it heads for
  the nearer of the two columns the ball can land in (drift -1 or +1). These are sensible
  heuristics, not proven the best memoryless policies: the agent's own position carries
  some memory a cleverer memoryless policy could exploit.
- :func:`random_actions` draws uniformly from ``rng``.

>>> from rl_rosetta_layer.envs.catch import VectorCatch
>>> env = VectorCatch(3)
>>> obs, info = env.reset(seed=0)
>>> reference_actions(env).shape, one_frame_actions(env, obs).dtype
((3,), dtype('int64'))
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

#: Policy names accepted by :func:`policy_actions`.
POLICIES = ("random", "one-frame", "reference")
#: The methods an environment needs for the reference and one-frame policies.
POLICY_METHODS = ("reference_actions", "one_frame_actions")


def has_reference_policies(env) -> bool:
    """Whether ``env`` (a vector environment or its class) has :data:`POLICY_METHODS`."""
    return all(callable(getattr(env, name, None)) for name in POLICY_METHODS)


def _check_env(env) -> None:
    if not has_reference_policies(env) or isinstance(env, type):
        raise ConfigError(f"reference policies need a vector environment with the methods "
                          f"reference_actions() and one_frame_actions(obs), got "
                          f"{type(env).__name__}")


def walk_towards(agent: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Grid action (0 stay, 1 up, 2 down, 3 left, 4 right) one step along a shortest walk
    from ``agent`` to ``target`` (both (N, 2) cells), x first when ``|dx| >= |dy|``: (N,).

    >>> walk_towards(np.array([[0, 0], [2, 2], [1, 1]]), np.array([[3, 1], [2, 0], [1, 1]]))
    array([4, 1, 0])
    """
    dx, dy = (target - agent).T
    along_x = (dx != 0) & (np.abs(dx) >= np.abs(dy))
    y_action = np.where(dy > 0, 2, np.where(dy < 0, 1, 0))
    return np.where(along_x, np.where(dx > 0, 4, 3), y_action).astype(np.int64)


def paddle_towards(paddle: np.ndarray, column: np.ndarray, width: int) -> np.ndarray:
    """Catch action (0 stay, 1 left, 2 right) bringing a paddle whose leftmost cell is
    ``paddle`` (N,) closer to covering ``column`` (N,): (N,).

    >>> paddle_towards(np.array([0, 4, 3]), np.array([5, 1, 4]), 2)
    array([2, 1, 0])
    """
    return np.where(column < paddle, 1, np.where(column > paddle + width - 1, 2, 0)).astype(
        np.int64)


def reference_actions(env) -> np.ndarray:
    """The optimal policy on the true state (velocity included): (num_envs,) int64."""
    _check_env(env)
    return env.reference_actions()


def latest_cells(env, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the first marked cell of each channel of the newest frame of ``obs``
    (num_envs, obs_dim): channel 0 (agent, or the paddle's leftmost cell) and channel 1
    (goal or ball), each (num_envs, 2) int64."""
    c = env.config
    obs = np.asarray(obs)
    if obs.shape != (env.num_envs, env.obs_dim):
        raise ConfigError(f"obs must have shape {(env.num_envs, env.obs_dim)}, "
                          f"got {obs.shape}")
    newest = obs.reshape(env.num_envs, c.history, 2, c.size * c.size)[:, -1]
    idx = newest.argmax(axis=2)                                        # (N, 2)
    cells = np.stack([idx % c.size, idx // c.size], axis=2).astype(np.int64)
    return cells[:, 0], cells[:, 1]


def one_frame_actions(env, obs: np.ndarray) -> np.ndarray:
    """The heuristic that sees only the newest frame of ``obs``: (num_envs,) int64."""
    _check_env(env)
    return env.one_frame_actions(obs)


def random_actions(env, rng: np.random.Generator) -> np.ndarray:
    """Uniformly random actions drawn from ``rng``: (num_envs,) int64."""
    return rng.integers(env.n_actions, size=env.num_envs).astype(np.int64)


def policy_actions(name: str, env, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Actions of the policy ``name`` (one of :data:`POLICIES`): (num_envs,) int64."""
    if name == "random":
        return random_actions(env, rng)
    if name == "one-frame":
        return one_frame_actions(env, obs)
    if name == "reference":
        return reference_actions(env)
    raise ConfigError(f"unknown policy {name!r}; accepted: {', '.join(POLICIES)}")
