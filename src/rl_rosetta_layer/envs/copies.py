"""Per-copy generators shared by every vector environment of the package."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..seeding import check_seed

#: Seeds handed to an environment's own ``reset(seed=...)`` are drawn from a copy's
#: generator in [0, SEED_BOUND) (the Gymnasium adapter and registrations do).
SEED_BOUND = 2**31 - 1


class SeededCopies:
    """``num_envs`` copies, copy ``i`` drawing only from its own generator ``_rngs[i]``."""

    num_envs: int
    _rngs: list[np.random.Generator] | None = None

    def seed_with(self, rngs: list[np.random.Generator]) -> None:
        """Give copy ``i`` the generator ``rngs[i]`` (used by lockstep training)."""
        if len(rngs) != self.num_envs:
            raise ConfigError(f"need {self.num_envs} generators, got {len(rngs)}")
        self._rngs = list(rngs)

    def _seed(self, seed: int | list[int] | None) -> None:
        """Seed the copies from ``reset(seed=...)``: an int seeds copy i with seed + i; a
        list gives each copy its own; None keeps the current generators (or makes fresh)."""
        if seed is None:
            if self._rngs is None:
                self._rngs = [np.random.default_rng() for _ in range(self.num_envs)]
            return
        seeds = [check_seed(seed) + i for i in range(self.num_envs)] if not isinstance(
            seed, (list, tuple)) else [check_seed(s) for s in seed]
        if len(seeds) != self.num_envs:
            raise ConfigError(f"need {self.num_envs} seeds, got {len(seeds)}: {seed!r}")
        self._rngs = [np.random.default_rng(s) for s in seeds]


class SingleCopy:
    """One copy of a vector environment with a Gymnasium-style API (no autoreset).

    Subclasses set ``vector_class`` (a :class:`SeededCopies` vector environment taking
    ``(num_envs, config, autoreset=)``); the constructor takes that environment's config.
    """

    vector_class: type

    def __init__(self, config=None) -> None:
        self._vec = self.vector_class(1, config, autoreset=False)
        self.config = self._vec.config
        self.n_actions = self._vec.n_actions
        self.obs_dim = self._vec.obs_dim
        self.obs_shape = self._vec.obs_shape

    def reset(self, *, seed: int | None = None):
        obs, info = self._vec.reset(seed=seed)
        return obs[0], {k: v[0] for k, v in info.items()}

    def step(self, action: int):
        if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)) \
                or not 0 <= action < self.n_actions:
            raise ConfigError(f"action must be an integer in [0, {self.n_actions}), "
                              f"got {action!r}")
        obs, r, term, trunc, info = self._vec.step(np.array([action], dtype=np.int64))
        info = {k: v[0] for k, v in info.items()}
        return obs[0], float(r[0]), bool(term[0]), bool(trunc[0]), info
