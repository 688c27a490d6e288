"""The project's own tasks as real Gymnasium environments: ``rosetta/GridVideo-v0`` (the
grid), ``rosetta/MovingGoal-v0`` and ``rosetta/Catch-v0`` (the motion tasks).

``GymGridEnv`` wraps :class:`~rl_rosetta_layer.envs.grid.VideoGridEnv`: observations are
``Box(0, 1, (obs_dim,), float32)`` (the grid's stacked one-hot frames, flattened), actions
``Discrete(5)`` (stay, up, down, left, right), and ``info`` carries the grid's ``"state"`` and
``"optimal_return"``. It declares its frame layout (``frame_layout = (history, 2, size,
size)``), which is how :class:`~rl_rosetta_layer.envs.gym_adapter.GymVectorEnv` reads its
flat observations as images. ``render_mode="rgb_array"`` draws the agent red and the goal
green on a ``size x size`` image.

``GymMovingGoalEnv`` and ``GymCatchEnv`` do the same for
:class:`~rl_rosetta_layer.envs.moving_goal.MovingGoalEnv` (``Discrete(5)``, as the grid) and
:class:`~rl_rosetta_layer.envs.catch.CatchEnv` (``Discrete(3)``: stay, left, right); their
keyword arguments are the fields of ``MovingGoalConfig`` / ``CatchConfig``, their ``info``
also carries ``"success"`` on steps, and ``rgb_array`` renders draw channel 0 (agent or
paddle) red and channel 1 (goal or ball) green.

Gymnasium is optional: this module imports it only when one of the classes is first looked
up (it is built then) or :func:`register_envs` runs, so importing the module is free.
Registration follows Gymnasium's conventions: ``import rl_rosetta_layer`` registers the ids
when Gymnasium is already imported (see the package docstring). In a fresh interpreter, the
``module:id`` form imports the package and so registers them, and after that (or after a
plain ``import rl_rosetta_layer``) the plain ids work:

>>> import gymnasium as gym                                     # doctest: +SKIP
>>> env = gym.make("rl_rosetta_layer:rosetta/GridVideo-v0", size=4)  # doctest: +SKIP
>>> env.observation_space.shape                                 # doctest: +SKIP
(64,)
>>> gym.make("rosetta/Catch-v0").action_space                   # doctest: +SKIP
Discrete(3)

:func:`register_envs` registers them by hand (needed only when ``rl_rosetta_layer`` was
imported before Gymnasium):

>>> register_envs()                                             # doctest: +SKIP
['rosetta/GridVideo-v0', 'rosetta/MovingGoal-v0', 'rosetta/Catch-v0']

(Gymnasium 1.0 dropped the ``gymnasium.envs`` entry-point plugins of earlier versions, so
there is no way to register without an import.)
"""

from __future__ import annotations

from dataclasses import fields
from functools import cache

import numpy as np

from ..errors import ConfigError
from .copies import SEED_BOUND
from .grid import ACTION_NAMES, GridConfig, VideoGridEnv

ENV_ID = "rosetta/GridVideo-v0"
ENTRY_POINT = "rl_rosetta_layer.envs.gym_registration:GymGridEnv"
MOVING_GOAL_ID = "rosetta/MovingGoal-v0"
CATCH_ID = "rosetta/Catch-v0"
#: Class name of each motion task's Gymnasium environment, by id.
MOTION_CLASSES = {MOVING_GOAL_ID: "GymMovingGoalEnv", CATCH_ID: "GymCatchEnv"}
#: Every id :func:`register_envs` registers, in order.
ENV_IDS = (ENV_ID, MOVING_GOAL_ID, CATCH_ID)


def _check_render_mode(metadata: dict, render_mode: str | None) -> str | None:
    if render_mode not in (None, *metadata["render_modes"]):
        raise ConfigError(f"render_mode must be None or one of {metadata['render_modes']}, "
                          f"got {render_mode!r}")
    return render_mode


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

        def __init__(self, size: int = GridConfig.size, history: int = GridConfig.history,
                     max_steps: int = GridConfig.max_steps,
                     step_reward: float = GridConfig.step_reward,
                     goal_reward: float = GridConfig.goal_reward,
                     render_mode: str | None = None) -> None:
            self.render_mode = _check_render_mode(self.metadata, render_mode)
            self.config = GridConfig(size=size, history=history, max_steps=max_steps,
                                     step_reward=step_reward, goal_reward=goal_reward)
            self._grid = VideoGridEnv(self.config)
            self.observation_space = spaces.Box(0.0, 1.0, (self.config.obs_dim,), np.float32)
            self.action_space = spaces.Discrete(self._grid.n_actions)
            self.frame_layout = self._grid.obs_shape
            self.max_steps = max_steps

        def reset(self, *, seed: int | None = None, options: dict | None = None):
            super().reset(seed=seed)
            obs, info = self._grid.reset(seed=int(self.np_random.integers(SEED_BOUND)))
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


@cache
def _build_motion_class(class_name: str):
    """Build ``GymMovingGoalEnv`` or ``GymCatchEnv`` (see the module docstring)."""
    import gymnasium as gym
    from gymnasium import spaces

    from .catch import ACTION_NAMES as CATCH_ACTION_NAMES
    from .catch import CatchConfig, CatchEnv
    from .moving_goal import MovingGoalConfig, MovingGoalEnv

    task_env, task_config, names = {
        "GymMovingGoalEnv": (MovingGoalEnv, MovingGoalConfig, ACTION_NAMES),
        "GymCatchEnv": (CatchEnv, CatchConfig, CATCH_ACTION_NAMES)}[class_name]

    class GymMotionEnv(gym.Env):
        """A motion task behind Gymnasium's ``Env`` API (see the module docstring).

        Keyword arguments are the task config's fields. ``reset(seed=s)`` seeds
        Gymnasium's ``np_random``; each episode is drawn from a seed taken from it, so
        seeded resets repeat and unseeded ones go on.
        """

        metadata = {"render_modes": ["rgb_array"], "render_fps": 4}
        action_names = names

        def __init__(self, render_mode: str | None = None, **settings) -> None:
            render_mode = _check_render_mode(self.metadata, render_mode)
            accepted = [f.name for f in fields(task_config)]
            unknown = sorted(set(settings) - set(accepted))
            if unknown:
                raise ConfigError(f"unknown {class_name} setting(s) {', '.join(unknown)}; "
                                  f"accepted: render_mode, {', '.join(accepted)}")
            self.render_mode = render_mode
            self.config = task_config(**settings)
            self._task = task_env(self.config)
            self.observation_space = spaces.Box(0.0, 1.0, (self.config.obs_dim,), np.float32)
            self.action_space = spaces.Discrete(self._task.n_actions)
            self.frame_layout = self._task.obs_shape
            self.max_steps = self.config.max_steps
            self._last_obs = np.zeros(self.config.obs_dim, np.float32)

        def reset(self, *, seed: int | None = None, options: dict | None = None):
            super().reset(seed=seed)
            obs, info = self._task.reset(seed=int(self.np_random.integers(SEED_BOUND)))
            self._last_obs = obs
            return obs, info

        def step(self, action):
            obs, reward, terminated, truncated, info = self._task.step(int(action))
            self._last_obs = obs
            return obs, reward, terminated, truncated, info

        def render(self):
            if self.render_mode != "rgb_array":
                return None
            newest = self._last_obs.reshape(self.frame_layout)[-1]         # (2, size, size)
            image = np.zeros((*newest.shape[1:], 3), np.uint8)
            image[..., 0] = 255 * newest[0].astype(np.uint8)
            image[..., 1] = 255 * newest[1].astype(np.uint8)
            return image

    GymMotionEnv.__name__ = GymMotionEnv.__qualname__ = class_name
    GymMotionEnv.__module__ = __name__
    return GymMotionEnv


def __getattr__(name: str):
    if name == "GymGridEnv":
        return _build_class()
    if name in MOTION_CLASSES.values():
        return _build_motion_class(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register_envs() -> list[str]:
    """Register :data:`ENV_IDS` with Gymnasium (again is a no-op); return the ids."""
    import gymnasium as gym
    entry_points = {ENV_ID: ENTRY_POINT,
                    **{i: f"{__name__}:{c}" for i, c in MOTION_CLASSES.items()}}
    for env_id in ENV_IDS:
        if env_id not in gym.envs.registry:
            gym.register(id=env_id, entry_point=entry_points[env_id])
    return list(ENV_IDS)
