"""What each action is worth from the current state, found by playing copies of the task.

For an environment with an exact ``info["optimal_return"]`` (the grid, moving-goal, catch)
and a reference policy (:mod:`.reference`), one step of each action on a copy gives:

- :func:`optimal_action_values` (N, A): ``r(s, a) + V*(s')``, the best undiscounted return
  after taking ``a`` (``V*`` is ``optimal_return``, 0 once the episode ended);
- :func:`optimal_actions` (N, A) bool: the actions whose value is the best one, so every
  tie of the reference policy (on moving-goal most states have several optimal actions);
- :func:`reference_action_values` (N, A): the *discounted* return of taking ``a`` and then
  following the reference policy until the episode ends, what Q-learning with discount
  ``gamma`` fits when the reference is optimal (on these tasks a sooner catch is better
  with and without discounting, so the reference is optimal for every ``gamma``).

The environment itself is never stepped: each action is tried on a deep copy, so nothing
done there shifts the real copies' state or draws.
"""

from __future__ import annotations

import copy

import numpy as np

from ..errors import ConfigError
from .reference import has_reference_policies, reference_actions

#: Two action values closer than this are a tie (values are float32 sums of rewards).
TIE_ATOL = 1e-5


def _check(env) -> None:
    if isinstance(env, type) or not has_reference_policies(env):
        raise ConfigError(f"action values need a vector environment with a reference policy "
                          f"(reference_actions() and one_frame_actions(obs)), got "
                          f"{type(env).__name__}")


def _copy(env):
    """A deep copy of ``env`` that resets its copies when their episodes end (so a copy
    whose episode ended can be stepped on with the others).

    The copies' generators are not copied (slow: most of the time) but replaced by one
    scratch generator: a copy draws only at a reset, after its episode ended, and what
    follows an episode's end is never read here.
    """
    rngs = getattr(env, "_rngs", None)
    memo = {} if rngs is None else {id(rngs): [np.random.default_rng(0)] * len(rngs)}
    sim = copy.deepcopy(env, memo)
    if hasattr(sim, "autoreset"):
        sim.autoreset = True
    return sim


def _after(env, action: int):
    """A copy of ``env`` after every copy took ``action``: (copy, reward (N,), done (N,),
    info)."""
    sim = _copy(env)
    _, reward, terminated, truncated, info = sim.step(np.full(env.num_envs, action, np.int64))
    return sim, np.asarray(reward, np.float64), terminated | truncated, info


def optimal_action_values(env) -> np.ndarray:
    """Best undiscounted return after each action from each copy's current state: (N, A)
    float64 (exact where the environment's ``optimal_return`` is)."""
    _check(env)
    out = np.empty((env.num_envs, env.n_actions))
    for a in range(env.n_actions):
        _, reward, done, info = _after(env, a)
        after = np.asarray(info["optimal_return"], np.float64)
        if not np.isfinite(after[~done]).all():
            raise ConfigError(f"{type(env).__name__} does not know its optimal return "
                              f"(info['optimal_return'] is not finite), so its optimal "
                              f"actions cannot be found")
        out[:, a] = reward + np.where(done, 0.0, after)
    return out


def optimal_actions(env, atol: float = TIE_ATOL) -> np.ndarray:
    """Which actions are optimal from each copy's current state: (N, A) bool, at least one
    per row (the reference policy's action is always among them).

    >>> from rl_rosetta_layer.envs.grid import VectorVideoGrid
    >>> env = VectorVideoGrid(1)
    >>> _ = env.reset(seed=0)
    >>> env.agent[0], env.goal[0] = (1, 1), (3, 0)    # right and up both shorten the walk
    >>> optimal_actions(env)[0].tolist()               # stay, up, down, left, right
    [False, True, False, False, True]
    """
    q = optimal_action_values(env)
    return q >= q.max(axis=1, keepdims=True) - atol


def reference_return(env, gamma: float) -> np.ndarray:
    """Discounted return (N,) float64 of the reference policy from each copy's current
    state, played to the end of the episode on a copy of ``env``."""
    _check(env)
    if not 0.0 <= gamma <= 1.0:
        raise ConfigError(f"gamma must be in [0, 1], got {gamma!r}")
    sim = _copy(env)
    total = np.zeros(env.num_envs)
    scale = np.ones(env.num_envs)
    running = np.ones(env.num_envs, bool)
    while running.any():
        _, reward, terminated, truncated, _ = sim.step(reference_actions(sim))
        total += np.where(running, scale * reward, 0.0)
        scale *= gamma
        running &= ~(terminated | truncated)
    return total


def reference_action_values(env, gamma: float) -> np.ndarray:
    """Discounted return of each action followed by the reference policy, from each copy's
    current state: (N, A) float64, ``r(s, a) + gamma * V_ref(s')`` (0 after the end)."""
    _check(env)
    out = np.empty((env.num_envs, env.n_actions))
    for a in range(env.n_actions):
        sim, reward, done, _ = _after(env, a)
        after = reference_return(sim, gamma) if not done.all() else 0.0
        out[:, a] = reward + gamma * np.where(done, 0.0, after)
    return out
