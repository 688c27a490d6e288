"""Environments by name, so configs and the CLI can select them."""

from __future__ import annotations

from ..errors import ConfigError
from .grid import GridConfig, VectorVideoGrid

ENV_NAMES = ("grid",)


def make_vector_env(name: str, num_envs: int, *, grid_size: int = 8, history: int = 2,
                    max_steps: int = 60, autoreset: bool = True) -> VectorVideoGrid:
    """Build ``num_envs`` copies of the environment ``name`` (one of :data:`ENV_NAMES`)."""
    if name != "grid":
        raise ConfigError(f"unknown environment {name!r}; accepted: {', '.join(ENV_NAMES)}")
    config = GridConfig(size=grid_size, history=history, max_steps=max_steps)
    return VectorVideoGrid(num_envs, config, autoreset=autoreset)
