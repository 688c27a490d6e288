"""The vector-environment contract every part of the pipeline relies on, and its checker.

An environment is ``num_envs`` copies stepped at once (autoreset: a copy whose episode ended
starts a new one within the same ``step``). The analysis, the agent, the health checks and
the report use only what :class:`VectorEnv` lists; an environment that passes
:func:`check_vector_env` can be registered (:func:`.registry.register_env`) and used by
``rosetta analyze``, ``train``, ``report`` and sweeps without a change anywhere else.

Optional, asked of the environment (its class) by the parts that need them
(:func:`.registry.env_attribute`), never looked up by its name:

- ``maps = True``: frames are the grid's two one-hot maps (agent, goal), which the
  ``structured_mid`` layer reads;
- ``reference_actions()`` and ``one_frame_actions(obs)`` -> (num_envs,) int64: the best
  play on the true state and a heuristic that sees only the newest frame
  (:mod:`.reference`); ``rosetta study`` needs them to read returns against them.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..checks import is_int
from ..errors import ConfigError

#: ``info`` keys of ``reset`` and ``step``, each (num_envs, ...): ``state`` (N, k) float32
#: (the true state the analysis probes for), ``optimal_return`` (N,) float (the best
#: return reachable from here: the value probe's target).
INFO_KEYS = ("state", "optimal_return")
#: Extra ``info`` keys of ``step``: ``success`` (N,) bool (the episode just ended in
#: success) and, when any copy's episode ended, ``final_obs`` (N, obs_dim): the last
#: observation of each ended episode (rows where not done are unspecified).
STEP_INFO_KEYS = ("success", "final_obs")


@runtime_checkable
class VectorEnv(Protocol):
    """``num_envs`` copies of one task with discrete actions and flat float32 observations.

    ``obs_shape``: the observation's shape before flattening, (frames, channels, height,
    width) for frames (video layers need that), else (obs_dim,).
    """

    num_envs: int
    obs_dim: int
    obs_shape: tuple[int, ...]
    n_actions: int

    def seed_with(self, rngs: list[np.random.Generator]) -> None:
        """Give copy ``i`` the generator ``rngs[i]``: every draw of copy i comes from it."""

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict]:
        """(obs (N, obs_dim) float32, info with :data:`INFO_KEYS`)."""

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                 np.ndarray, dict]:
        """actions (N,) ints in [0, n_actions) -> (obs (N, obs_dim) float32, reward (N,),
        terminated (N,) bool, truncated (N,) bool, info with :data:`INFO_KEYS` and
        :data:`STEP_INFO_KEYS`)."""


def _fail(env, what: str) -> None:
    raise ConfigError(f"{type(env).__name__} breaks the vector-environment contract "
                      f"(envs/contract.py): {what}")


def _check_info(env, info: dict, keys, n: int) -> None:
    for key in keys:
        if key not in info:
            _fail(env, f"info lacks {key!r}; it has {sorted(info)}")
        if np.shape(info[key])[:1] != (n,):
            _fail(env, f"info[{key!r}] has shape {np.shape(info[key])}, expected ({n}, ...)")


def _check_obs(env, obs, n: int) -> None:
    obs = np.asarray(obs)
    if obs.shape != (n, env.obs_dim) or obs.dtype != np.float32:
        _fail(env, f"observations are {obs.dtype} {obs.shape}, expected float32 "
                   f"({n}, {env.obs_dim})")
    if not np.isfinite(obs).all():
        _fail(env, "observations are not all finite")


def check_vector_env(env, steps: int = 200, seed: int = 0) -> None:
    """Raise ConfigError naming the first way ``env`` breaks the contract: attributes and
    their types, shapes and dtypes of ``reset`` and ``step`` and of the info keys,
    ``final_obs`` whenever an episode ends, and the same numbers from the same seeds."""
    if not isinstance(env, VectorEnv):
        missing = [a for a in ("num_envs", "obs_dim", "obs_shape", "n_actions", "seed_with",
                               "reset", "step") if not hasattr(env, a)]
        _fail(env, f"it lacks {', '.join(missing)}")
    n = env.num_envs
    for name in ("num_envs", "obs_dim", "n_actions"):
        value = getattr(env, name)
        if not is_int(value) or value < 1:
            _fail(env, f"{name} must be a positive integer, got {value!r}")
    if int(np.prod(env.obs_shape)) != env.obs_dim:
        _fail(env, f"obs_shape {env.obs_shape} does not hold obs_dim {env.obs_dim} values")

    def rollout() -> list:
        env.seed_with([np.random.default_rng([seed, i]) for i in range(n)])
        obs, info = env.reset()
        _check_obs(env, obs, n)
        _check_info(env, info, INFO_KEYS, n)
        actions_rng = np.random.default_rng(seed)
        trace = [obs.copy()]
        for _ in range(steps):
            obs, reward, terminated, truncated, info = env.step(
                actions_rng.integers(env.n_actions, size=n))
            _check_obs(env, obs, n)
            for name, x in (("reward", reward), ("terminated", terminated),
                            ("truncated", truncated)):
                if np.shape(x) != (n,):
                    _fail(env, f"{name} has shape {np.shape(x)}, expected ({n},)")
            done = np.asarray(terminated, bool) | np.asarray(truncated, bool)
            _check_info(env, info, INFO_KEYS + (("success", "final_obs") if done.any()
                                                else ("success",)), n)
            if done.any():
                _check_obs(env, np.asarray(info["final_obs"])[done],
                           int(done.sum()))
            trace += [obs.copy(), np.asarray(reward, np.float64).copy(), done]
        return trace

    first, second = rollout(), rollout()
    if any(not np.array_equal(a, b) for a, b in zip(first, second)):
        _fail(env, "the same generators and actions gave different observations or rewards")
