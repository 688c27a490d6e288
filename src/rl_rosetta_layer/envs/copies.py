"""Per-copy generators shared by every vector environment of the package."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..seeding import check_seed


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
