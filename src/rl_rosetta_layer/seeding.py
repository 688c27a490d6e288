"""One seeding helper: validate a seed and derive independent generators from it."""

from __future__ import annotations

import numpy as np

from .checks import is_int
from .errors import ConfigError

#: Named streams of one run. Each gets its own generator, so adding draws to one stream
#: never shifts another (e.g. more exploration draws never change the environment's layout).
STREAMS = ("env", "init", "explore", "replay")


def check_seed(seed: object) -> int:
    """Return ``seed`` as an int if it is a non-negative integer, else raise ConfigError."""
    if not is_int(seed) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def np_random(seed: int) -> np.random.Generator:
    """A PCG64 generator for a validated seed."""
    return np.random.default_rng(check_seed(seed))


def run_generators(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators for each stream in :data:`STREAMS` of run ``seed``.

    The same seed always gives the same streams, whatever else runs beside it.

    >>> a, b = run_generators(3), run_generators(3)
    >>> float(a["env"].random()) == float(b["env"].random())
    True
    """
    children = np.random.SeedSequence(check_seed(seed)).spawn(len(STREAMS))
    return {name: np.random.Generator(np.random.PCG64(s)) for name, s in zip(STREAMS, children)}
