"""The project's grid as a real Gymnasium environment, registered as ``rosetta/GridVideo-v0``.

``GymGridEnv`` wraps :class:`~rl_rosetta_layer.envs.grid.VideoGridEnv`: observations are
``Box(0, 1, (obs_dim,), float32)`` (the grid's stacked one-hot frames, flattened), actions
``Discrete(5)`` (stay, up, down, left, right), and ``info`` carries the grid's ``"state"`` and
``"optimal_return"``. It declares its frame layout (``frame_layout = (history, 2, size,
size)``), which is how :class:`~rl_rosetta_layer.envs.gym_adapter.GymVectorEnv` reads its
flat observations as images. ``render_mode="rgb_array"`` draws the agent red and the goal
green on a ``size x size`` image.

Gymnasium is optional: this module imports it only when ``GymGridEnv`` is first looked up
(the class is built then) or :func:`register_envs` runs, so importing the module is free.

>>> import gymnasium as gym                                     # doctest: +SKIP
>>> register_envs()                                             # doctest: +SKIP
['rosetta/GridVideo-v0']
>>> gym.make("rosetta/GridVideo-v0", size=4).reset(seed=0)[0].shape   # doctest: +SKIP
(64,)
"""

from __future__ import annotations

from functools import cache

import numpy as np

from .grid import ACTION_NAMES, GridConfig, VideoGridEnv

ENV_ID = "rosetta/GridVideo-v0"
ENTRY_POINT = "rl_rosetta_layer.envs.gym_registration:GymGridEnv"


@cache
def _build_class():
    import gymnasium as gym
    from gymnasium import spaces

    class GymGridEnv(gym.Env):
        """The video-like grid behind Gymnasium's ``Env`` API (see the module docstring).

        Keyword arguments are :class:`~rl_rosetta_layer.envs.grid.GridConfig`'s fields.
        ``reset(seed=s)`` seeds Gymnasium's ``np_random``; each episode's layout is drawn
        from a seed taken from it, so seeded resets repeat and unseeded ones go on.
        """

        metadata = {"render_modes": ["rgb_array"], "render_fps": 4}
        action_names = ACTION_NAMES

        def __init__(self, size: int = 8, history: int = 2, max_steps: int = 60,
                     step_reward: float = -0.01, goal_reward: float = 1.0,
                     render_mode: str | None = None) -> None:
            from ..errors import ConfigError
            if render_mode not in (None, *self.metadata["render_modes"]):
                raise ConfigError(f"render_mode must be None or one of "
                                  f"{self.metadata['render_modes']}, got {render_mode!r}")
            self.render_mode = render_mode
            self.config = GridConfig(size=size, history=history, max_steps=max_steps,
                                     step_reward=step_reward, goal_reward=goal_reward)
            self._grid = VideoGridEnv(self.config)
            self.observation_space = spaces.Box(0.0, 1.0, (self.config.obs_dim,), np.float32)
            self.action_space = spaces.Discrete(self._grid.n_actions)
            self.frame_layout = self._grid.obs_shape
            self.max_steps = max_steps

        def reset(self, *, seed: int | None = None, options: dict | None = None):
            super().reset(seed=seed)
            obs, info = self._grid.reset(seed=int(self.np_random.integers(2**31 - 1)))
            return obs, info

        def step(self, action):
            return self._grid.step(int(action))

        def render(self):
            if self.render_mode != "rgb_array":
                return None
            s = self.config.size
            image = np.zeros((s, s, 3), np.uint8)
            (ax, ay), (gx, gy) = self._grid._vec.agent[0], self._grid._vec.goal[0]
            image[gy, gx, 1] = 255
            image[ay, ax, 0] = 255
            return image

    GymGridEnv.__module__ = __name__
    GymGridEnv.__qualname__ = "GymGridEnv"
    return GymGridEnv


def __getattr__(name: str):
    if name == "GymGridEnv":
        return _build_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register_envs() -> list[str]:
    """Register ``rosetta/GridVideo-v0`` with Gymnasium (again is a no-op); return the ids."""
    import gymnasium as gym
    if ENV_ID not in gym.envs.registry:
        gym.register(id=ENV_ID, entry_point=ENTRY_POINT)
    return [ENV_ID]
