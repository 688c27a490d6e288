"""Environments by name, so configs and the CLI can select them.

``grid`` is the seed's video-like grid; ``moving-goal`` and ``catch`` are the tasks where
motion matters (:mod:`.moving_goal`, :mod:`.catch`), with the grid's observation format.
``gym:<id>`` is any Gymnasium environment with image observations and discrete actions,
through :class:`GymVectorEnv` (the ``gym`` extra); ``minigrid:<id>`` is the same for
MiniGrid ids, with a sensible action subset by default. :func:`register_env` adds any
other environment that keeps the contract of :mod:`.contract`.

What an environment can do is asked of it, not of its name (:func:`env_attribute`):
``maps`` (frames are the grid's two one-hot maps) and the reference policies'
``reference_actions`` / ``one_frame_actions`` are attributes of its class.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ConfigError
from .catch import VectorCatch
from .grid import GridConfig, VectorVideoGrid
from .moving_goal import VectorMovingGoal

#: The project's own tasks, built without Gymnasium: name -> vector environment class
#: (built as ``cls(num_envs, cls.config_class(size=, history=, max_steps=), autoreset=)``).
OWN_ENV_CLASSES: dict[str, type] = {"grid": VectorVideoGrid, "moving-goal": VectorMovingGoal,
                                    "catch": VectorCatch}
OWN_ENVS = tuple(OWN_ENV_CLASSES)
#: The environment every command uses unless told otherwise: the seed's grid.
DEFAULT_ENV = "grid"
ENV_NAMES = OWN_ENVS + ("gym:<id>", "minigrid:<id>")

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

    ``grid_size``, ``history`` and ``max_steps`` configure the grid-format tasks
    (``max_steps`` None: their config's default); ``frame_size`` (default
    :data:`MINIGRID_FRAME` for MiniGrid, :data:`.gym_adapter.FRAME_SIZE` otherwise) and
    ``actions`` configure Gymnasium environments, whose own step limit applies unless
    ``max_steps`` is given.
    """
    kind, env_id = split_env_name(name)
    if kind in REGISTERED:
        return REGISTERED[kind](num_envs, grid_size=grid_size, history=history,
                                max_steps=max_steps, autoreset=autoreset)
    if kind in OWN_ENV_CLASSES:
        env_class = OWN_ENV_CLASSES[kind]
        steps = {} if max_steps is None else {"max_steps": max_steps}
        config = env_class.config_class(size=grid_size, history=history, **steps)
        return env_class(num_envs, config, autoreset=autoreset)
    from .gym_adapter import FRAME_SIZE, GymVectorEnv

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
    return GymVectorEnv(env_id, num_envs,
                        frame_size=FRAME_SIZE if frame_size is None else frame_size,
                        history=history, actions=actions, max_steps=max_steps,
                        autoreset=autoreset)


def env_class(name: str) -> type | None:
    """The class :func:`make_vector_env` builds for ``name``, known without building one;
    None for a registered factory that is not itself a class."""
    kind, _ = split_env_name(name)
    if kind in REGISTERED:
        make = REGISTERED[kind]
        return make if isinstance(make, type) else None
    if kind in OWN_ENV_CLASSES:
        return OWN_ENV_CLASSES[kind]
    from .gym_adapter import GymVectorEnv

    return GymVectorEnv


def env_attribute(name: str, attribute: str, default=None):
    """``attribute`` of the environment ``name`` (``default`` where it has none): asked of
    its class, or of one copy built with the default settings for a registered factory.

    >>> env_attribute("catch", "maps"), env_attribute("gym:CartPole-v1", "maps", False)
    (True, False)
    """
    cls = env_class(name)
    if cls is not None:
        return getattr(cls, attribute, default)
    env = make_vector_env(name, 1)
    try:
        return getattr(env, attribute, default)
    finally:
        getattr(env, "close", lambda: None)()


def names_with(test: Callable[[str], bool]) -> tuple[str, ...]:
    """The project's own and the registered environment names for which ``test(name)``."""
    return tuple(n for n in OWN_ENVS + tuple(REGISTERED) if test(n))
