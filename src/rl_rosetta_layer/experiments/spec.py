"""Runs as data: what to train, with a stable id derived from the content."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from ..agent.config import DQNConfig
from ..envs.grid import GridConfig
from ..envs.registry import make_vector_env


@dataclass(frozen=True)
class EnvSpec:
    """Which environment, with its settings."""

    name: str = "grid"
    grid_size: int = 8
    history: int = 2
    max_steps: int = 60

    def grid_config(self) -> GridConfig:
        return GridConfig(size=self.grid_size, history=self.history, max_steps=self.max_steps)

    def make(self, num_envs: int):
        return make_vector_env(self.name, num_envs, grid_size=self.grid_size,
                               history=self.history, max_steps=self.max_steps)


@dataclass(frozen=True)
class RunSpec:
    """One (env, layer, seed, config) run. ``selected`` fixes the random bank's shape."""

    env: EnvSpec
    layer: str
    seed: int
    config: DQNConfig
    selected: str | None = None

    def to_dict(self) -> dict:
        return {"env": asdict(self.env), "layer": self.layer, "seed": self.seed,
                "config": self.config.to_dict(),
                "selected": self.selected if self.layer.startswith("random_bank_") else None}

    @classmethod
    def from_dict(cls, d: dict) -> RunSpec:
        """Inverse of :meth:`to_dict` (the ``config.json`` of a run folder)."""
        return cls(EnvSpec(**d["env"]), d["layer"], int(d["seed"]),
                   DQNConfig.from_dict(d["config"]), d.get("selected"))

    @property
    def run_id(self) -> str:
        """12 hex digits of a hash of the content: the same run always gets the same id.

        >>> a = RunSpec(EnvSpec(), "structured_mid", 0, DQNConfig())
        >>> a.run_id == RunSpec(EnvSpec(), "structured_mid", 0, DQNConfig()).run_id
        True
        """
        text = json.dumps(self.to_dict(), sort_keys=True)
        return f"{self.layer}-s{self.seed}-" + hashlib.sha1(text.encode()).hexdigest()[:12]
