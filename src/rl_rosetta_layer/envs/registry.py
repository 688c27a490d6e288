"""Environments by name, so configs and the CLI can select them.

``grid`` is the seed's video-like grid; ``moving-goal`` and ``catch`` are the tasks where
motion matters (:mod:`.moving_goal`, :mod:`.catch`), with the grid's observation format.
``gym:<id>`` is any Gymnasium environment with image observations and discrete actions,
through :class:`GymVectorEnv` (the ``gym`` extra); ``minigrid:<id>`` is the same for
MiniGrid ids, with a sensible action subset by default. :func:`register_env` adds any
other environment that keeps the contract of :mod:`.contract`.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ConfigError
from .catch import CatchConfig, VectorCatch
from .grid import GridConfig, VectorVideoGrid
from .moving_goal import MovingGoalConfig, VectorMovingGoal

ENV_NAMES = ("grid", "moving-goal", "catch", "gym:<id>", "minigrid:<id>")
#: The project's own tasks, built without Gymnasium.
OWN_ENVS = ("grid", "moving-goal", "catch")

#: Actions MiniGrid tasks need, by id prefix (the rest are unused there): 0 left, 1 right,
#: 2 forward, 3 pick up, 5 toggle.
MINIGRID_ACTIONS = {"MiniGrid-Empty": (0, 1, 2), "MiniGrid-FourRooms": (0, 1, 2),
                    "MiniGrid-DoorKey": (0, 1, 2, 3, 5)}
#: MiniGrid's symbolic view is 7x7 cells: keep one value per cell.
MINIGRID_FRAME = 7


#: Environments added by :func:`register_env`: name -> factory.
REGISTERED: dict[str, Callable[..., object]] = {}


def register_env(name: str, make: Callable[..., object]) -> None:
    """Make ``name`` an environment every command accepts (``--env NAME``, sweep files).

    ``make(num_envs, *, grid_size, history, max_steps, autoreset)`` returns a vector
    environment that keeps the contract of :mod:`.contract` (check it with
    :func:`.contract.check_vector_env`). Registration lives in this process: worker
    processes (``--workers`` above 1, Ray) see it only if the module that registers it is
    imported there too, e.g. by the package that defines the environment.
    """
    if not isinstance(name, str) or not name or ":" in name or name in OWN_ENVS:
        raise ConfigError(f"an environment name must be a non-empty string without ':' "
                          f"and not one of {', '.join(OWN_ENVS)}, got {name!r}")
    if not callable(make):
        raise ConfigError(f"register_env({name!r}, make): make must be callable, got "
                          f"{type(make).__name__}")
    REGISTERED[name] = make


def env_names() -> tuple[str, ...]:
    """Every accepted environment name (registered ones included)."""
    return ENV_NAMES + tuple(REGISTERED)


def split_env_name(name: str) -> tuple[str, str]:
    """``"minigrid:MiniGrid-Empty-6x6-v0"`` -> ("minigrid", "MiniGrid-Empty-6x6-v0")."""
    kind, sep, env_id = str(name).partition(":")
    if name in OWN_ENVS or name in REGISTERED:
        return name, ""
    if not sep or kind not in ("gym", "minigrid") or not env_id:
        raise ConfigError(f"unknown environment {name!r}; accepted: {', '.join(env_names())}")
    return kind, env_id


def make_vector_env(name: str, num_envs: int, *, grid_size: int = GridConfig.size,
                    history: int = GridConfig.history,
                    max_steps: int | None = None, autoreset: bool = True,
                    frame_size: int | None = None, actions: tuple[int, ...] | None = None):
    """Build ``num_envs`` copies of the environment ``name`` (see :data:`ENV_NAMES`).

    ``grid_size``, ``history`` and ``max_steps`` configure the grid (max_steps default 60)
    and the motion tasks (default 40, their configs' default); ``frame_size`` (default
    7 for MiniGrid, 8 otherwise) and ``actions`` configure Gymnasium environments, whose
    own step limit applies unless ``max_steps`` is given.
    """
    kind, env_id = split_env_name(name)
    if kind in REGISTERED:
        return REGISTERED[kind](num_envs, grid_size=grid_size, history=history,
                                max_steps=max_steps, autoreset=autoreset)
    if kind == "grid":
        config = GridConfig(size=grid_size, history=history,
                            max_steps=GridConfig.max_steps if max_steps is None else max_steps)
        return VectorVideoGrid(num_envs, config, autoreset=autoreset)
    if kind in ("moving-goal", "catch"):
        config_class = MovingGoalConfig if kind == "moving-goal" else CatchConfig
        steps = {} if max_steps is None else {"max_steps": max_steps}
        config = config_class(size=grid_size, history=history, **steps)
        env_class = VectorMovingGoal if kind == "moving-goal" else VectorCatch
        return env_class(num_envs, config, autoreset=autoreset)
    from .gym_adapter import GymVectorEnv

    if kind == "minigrid":
        try:
            import minigrid  # noqa: F401  (registers the MiniGrid ids)
        except ImportError as exc:
            raise ConfigError(f"environment {name!r} needs minigrid: "
                              f"pip install -e '.[gym]'") from exc
        if actions is None:
            actions = next((a for prefix, a in MINIGRID_ACTIONS.items()
                            if env_id.startswith(prefix)), None)
        frame_size = MINIGRID_FRAME if frame_size is None else frame_size
    return GymVectorEnv(env_id, num_envs, frame_size=8 if frame_size is None else frame_size,
                        history=history, actions=actions, max_steps=max_steps,
                        autoreset=autoreset)
