"""Runs as data: what to train, with a stable id derived from the content."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache

from ..agent.config import DQNConfig
from ..envs.grid import GridConfig
from ..envs.registry import DEFAULT_ENV, env_attribute, make_vector_env, split_env_name
from ..errors import ConfigError
from ..layers.custom import layer_source, parse_custom
from ..layers.registry import Observations
from ..video.candidates.settings import VideoSettings, video_learner
from ..video.family import is_video_layer

#: Tasks drawn in the grid's format (two one-hot maps per frame: agent, goal or ball).
#: The seeds ``train`` and ``run`` use unless told otherwise (the seed's Run Order).
DEFAULT_SEEDS = "0,1,2"
#: Most seeds one command takes (a typo like 0-99999999999 would build 10^11 of them).
MAX_SEEDS = 10_000


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` -> [0, 1, 2]; ranges like ``"0-4"`` are accepted too.

    >>> parse_seeds("0,1,2"), parse_seeds("3-5")
    ([0, 1, 2], [3, 4, 5])
    """
    seeds: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        try:
            chunk = range(int(lo), int(hi) + 1) if sep else [int(part)]
        except ValueError:
            chunk = []
        if len(seeds) + len(chunk) > MAX_SEEDS:
            raise ConfigError(f"--seeds names more than {MAX_SEEDS} seeds, got {text!r}")
        if not chunk or any(s < 0 for s in chunk):
            raise ConfigError(f"--seeds must be comma-separated non-negative integers or "
                              f"ranges like 0-4, got {text!r}")
        seeds += list(chunk)
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds lists a seed twice: {text!r}")
    return seeds


@dataclass(frozen=True)
class EnvSpec:
    """Which environment, with its settings.

    ``grid_size`` is the side of the grid-format tasks (ignored by Gymnasium environments);
    ``max_steps`` None keeps the environment's own step limit (``GridConfig.max_steps``
    on the grid).
    """

    name: str = DEFAULT_ENV
    grid_size: int = GridConfig.size
    history: int = GridConfig.history
    max_steps: int | None = None

    def __post_init__(self) -> None:
        split_env_name(self.name)      # an unknown name fails here, with the accepted ones
        if self.name == "grid" and self.max_steps is None:
            object.__setattr__(self, "max_steps", GridConfig.max_steps)   # the seed's grid

    def grid_config(self) -> GridConfig:
        if self.name != "grid":
            raise ConfigError(f"environment {self.name!r} is not the grid")
        return GridConfig(size=self.grid_size, history=self.history,
                          max_steps=self.max_steps)

    @property
    def maps(self) -> bool:
        """Whether observations are the grid's one-hot maps (structured_mid reads them)."""
        return bool(env_attribute(self.name, "maps", False))

    @property
    def unavailable_layers(self) -> tuple[str, ...]:
        """Layers the groups leave out on this environment."""
        return () if self.maps else ("structured_mid",)

    def observations(self) -> Observations:
        """Shape of the observations, for building layers (makes one copy off the grid)."""
        if self.name == "grid":
            return Observations.of_grid(self.grid_config())
        if self.maps:
            shape = (self.history, 2, self.grid_size, self.grid_size)
            return Observations(self.history * 2 * self.grid_size ** 2, self.name, shape, True)
        env = self.make(1)
        try:
            return Observations(int(env.obs_dim), self.name, tuple(env.obs_shape), self.maps)
        finally:
            getattr(env, "close", lambda: None)()

    def check(self) -> Observations:
        """Build one copy of the environment: a bad name, size or Gymnasium id fails here,
        with one message, before any worker starts. Returns :meth:`observations`."""
        if self.maps:
            self.make(1)                 # a Gymnasium env is built by observations()
        return self.observations()

    def make(self, num_envs: int):
        return make_vector_env(self.name, num_envs, grid_size=self.grid_size,
                               history=self.history, max_steps=self.max_steps)


@lru_cache(maxsize=64)
def _observations(env: EnvSpec) -> Observations:
    return env.observations()


@dataclass(frozen=True)
class RunSpec:
    """One (env, layer, seed, config) run. ``selected`` fixes the random bank's shape;
    ``video`` says how a video block is loaded and run (video layers only);
    ``layer_source`` records a layer of your own (its import path, kind and own
    ``describe()``, as JSON text: :func:`~rl_rosetta_layer.layers.custom.layer_source`),
    filled in when left None. Under an env-step budget ``config.episodes`` is set back to
    its default: it is ignored there, so it changes neither the run nor its id.

    >>> budget = DQNConfig(env_steps=500, episodes=150)
    >>> RunSpec(EnvSpec(), "identity", 0, budget).run_id == RunSpec(
    ...     EnvSpec(), "identity", 0, DQNConfig(env_steps=500)).run_id
    True
    """

    env: EnvSpec
    layer: str
    seed: int
    config: DQNConfig
    selected: str | None = None
    video: VideoSettings | None = None
    layer_source: str | None = None

    def __post_init__(self) -> None:
        # Under an env-step budget ``episodes`` is ignored, so it must not make a new run:
        # it is kept at its default (which also keeps the ids of runs stored before).
        episodes = next(f.default for f in fields(DQNConfig) if f.name == "episodes")
        if self.config.env_steps is not None and self.config.episodes != episodes:
            object.__setattr__(self, "config", replace(self.config, episodes=episodes))
        # Video layers always carry their settings (so they enter the run id); others never.
        # A layer of your own enters it with its import path and its own description; a
        # stored run's (``layer_source`` given) is read back without importing anything.
        custom = self.layer_source is not None or parse_custom(self.layer) is not None
        if self.layer_source is not None:
            block = json.loads(self.layer_source).get("kind") == "block"
        else:
            block = is_video_layer(self.layer)
        video = (self.video or VideoSettings()) if block else None
        if video is not None:    # the learner that will train it: numpy only where it can
            learner = video_learner(video.learner, self.config.adapter, video.readout,
                                    video.feature_norm)
            video = replace(video, learner=learner)
        object.__setattr__(self, "video", video)
        if custom and self.layer_source is None:
            source = layer_source(self.layer, _observations(self.env), video)
            object.__setattr__(self, "layer_source", source)
        elif not custom:
            object.__setattr__(self, "layer_source", None)

    def to_dict(self) -> dict:
        d = {"env": asdict(self.env), "layer": self.layer, "seed": self.seed,
             "config": self.config.to_dict(),
             "selected": self.selected if self.layer.startswith("random_bank_") else None}
        if self.video is not None:
            d["video"] = self.video.to_dict()
            if self.video.learner == "numpy":      # numerics other than the torch learner's
                d["video"]["learner"] = "numpy"
        if self.layer_source is not None:
            d["layer_source"] = json.loads(self.layer_source)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RunSpec:
        """Inverse of :meth:`to_dict` (the ``config.json`` of a run folder)."""
        # A stored video run without "learner" was trained by the torch learner.
        video = VideoSettings(**{"learner": "torch", **d["video"]}) if d.get("video") else None
        source = d.get("layer_source")
        return cls(EnvSpec(**d["env"]), d["layer"], int(d["seed"]),
                   DQNConfig.from_dict(d["config"]), d.get("selected"), video,
                   None if source is None else json.dumps(source, sort_keys=True))

    @property
    def run_id(self) -> str:
        """12 hex digits of a hash of the content: the same run always gets the same id.

        >>> a = RunSpec(EnvSpec(), "structured_mid", 0, DQNConfig())
        >>> a.run_id == RunSpec(EnvSpec(), "structured_mid", 0, DQNConfig()).run_id
        True
        """
        text = json.dumps(self.to_dict(), sort_keys=True)
        return f"{self.layer}-s{self.seed}-" + hashlib.sha1(text.encode()).hexdigest()[:12]
