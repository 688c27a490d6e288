"""Any Gymnasium environment with image observations, behind :class:`VectorVideoGrid`'s API.

:class:`GymVectorEnv` steps ``num_envs`` copies of one Gymnasium environment and turns each
frame into the layout the project's grid uses, so the DQN trainer, the analysis and the
candidate layers work unchanged: observations are the last ``history`` frames (oldest
first), each ``C x frame_size x frame_size`` float32 values in [0, 1], flattened to
``obs_dim = history * C * frame_size * frame_size``; ``obs_shape = (history, C, frame_size,
frame_size)``. Copies whose episode ended are reset in the same call (``info["final_obs"]``).

Gymnasium and MiniGrid are optional (``pip install gymnasium minigrid``); they are imported
only when a :class:`GymVectorEnv` is built, never by ``import rl_rosetta_layer.envs``.

How frames are taken (``source``: ``"obs"``, ``"render"`` or ``"auto"``), scaled to [0, 1],
recoloured (``grayscale``) and resized (``frame_size``, default the grid's side): see
:mod:`.gym_frames`.

``info`` of every reset and step (arrays over copies)
    ``"state"`` (N, k) float32: for MiniGrid the agent's ``(x / (width - 1), y / (height -
    1), direction / 3)`` and, when the grid holds a ``Goal`` (looked up once per reset), the
    goal's ``(x / (width - 1), y / (height - 1))`` (NaN for an episode without one); for an
    environment whose own ``info`` has a 1-D ``"state"`` (``rosetta/GridVideo-v0``) that
    one; else an empty (N, 0) array. ``"optimal_return"`` (N,) float32: the undiscounted
    return of the best play from the current state, where it is known, else NaN. It is
    known for ``rosetta/GridVideo-v0`` (the grid's own value) and for MiniGrid grids made
    only of walls, floor and goals (the Empty and FourRooms families) with the standard
    reward ``1 - 0.9 * steps / max_steps``: a breadth-first search over (cell, direction)
    with the exposed turn/forward actions gives the fewest steps ``d`` to a goal, and the
    value is ``1 - 0.9 * (step_count + d) / max_steps`` (0 when unreachable in time). With
    doors, keys, boxes, balls or lava (DoorKey, LavaGap, ...) it is NaN. ``"success"``
    (steps only) (N,) bool: terminated with a positive reward.

Truncation is the environment's own (its ``TimeLimit``, or MiniGrid's ``max_steps``);
``max_steps`` overrides it: environments with a ``max_steps`` attribute (MiniGrid, the
project's grid) get it as a constructor argument, others as ``max_episode_steps``.
"""

from __future__ import annotations

import numpy as np

from ..checks import is_int
from ..errors import ConfigError
from .copies import SEED_BOUND, SeededCopies
from .grid import GridConfig
from .gym_frames import LUMA, FrameScaler, FrameSource, area_weights, image_space
from .gym_minigrid import MiniGridTracker, is_minigrid, is_symbolic

__all__ = ["FRAME_SIZE", "GymVectorEnv", "LUMA", "SEED_BOUND", "SOURCES", "area_weights"]

SOURCES = ("auto", "obs", "render")
#: Side frames are resized to unless told otherwise: the grid's.
FRAME_SIZE = GridConfig.size
LIST_IDS = 'python -c "import gymnasium, minigrid; print(sorted(gymnasium.envs.registry))"'


def _positive_int(name: str, value: object) -> int:
    if not is_int(value) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _import_gymnasium():
    try:
        import gymnasium
    except ImportError as exc:
        raise ConfigError("Gymnasium environments need the optional packages: "
                          "pip install gymnasium minigrid (or rl-rosetta-layer[gym])") from exc
    return gymnasium


def _check_env_id(gym, env_id: object) -> str:
    """Register MiniGrid's and the project's ids, then check that ``env_id`` is one."""
    try:
        import minigrid  # noqa: F401  (importing it registers the MiniGrid-* ids)
    except ImportError:
        pass
    from .gym_registration import register_envs
    register_envs()
    if not isinstance(env_id, str) or env_id not in gym.envs.registry:
        raise ConfigError(f"unknown Gymnasium environment id {env_id!r}; list the registered "
                          f"ids with `{LIST_IDS}`; MiniGrid ids (MiniGrid-*) need "
                          "`pip install minigrid`")
    return env_id


def _action_names(unwrapped, actions: tuple[int, ...]) -> tuple[str, ...]:
    """Names of the exposed actions: the env's ``action_names`` tuple or MiniGrid's
    ``actions`` enum where there is one, else the indices as text."""
    names = getattr(unwrapped, "action_names", None)
    if isinstance(names, (tuple, list)) and len(names) > max(actions):
        return tuple(str(names[a]) for a in actions)
    enum = getattr(unwrapped, "actions", None)
    try:
        return tuple(enum(a).name for a in actions)
    except (TypeError, ValueError, AttributeError):
        return tuple(str(a) for a in actions)


class GymVectorEnv(SeededCopies):
    """``num_envs`` copies of the Gymnasium environment ``env_id``, with VectorVideoGrid's API.

    Each copy draws its reset seeds from its own generator (``seed_with``; every reset asks
    Gymnasium for ``reset(seed=int(rng.integers(2**31 - 1)))``), so copy ``i`` behaves
    exactly like a one-copy env given the same generator. ``actions`` picks which of the
    environment's ``Discrete(n)`` actions are exposed, in order (default: all ``n``); the
    agent's action ``a`` is the environment's ``actions[a]``. See :mod:`.gym_frames` for
    how frames are taken, scaled and resized, and the module docstring for what ``info``
    holds.

    >>> env = GymVectorEnv("MiniGrid-Empty-6x6-v0", 2, actions=(0, 1, 2))  # doctest: +SKIP
    >>> obs, info = env.reset(seed=0)                                       # doctest: +SKIP
    >>> obs.shape, info["state"].shape                                      # doctest: +SKIP
    ((2, 384), (2, 5))
    """

    def __init__(self, env_id: str, num_envs: int, *, frame_size: int = FRAME_SIZE,
                 history: int = GridConfig.history, grayscale: bool = False,
                 source: str = "auto", actions: tuple[int, ...] | None = None,
                 max_steps: int | None = None, env_kwargs: dict | None = None,
                 autoreset: bool = True) -> None:
        self.num_envs = _positive_int("num_envs", num_envs)
        self.frame_size = _positive_int("frame_size", frame_size)
        self.history = _positive_int("history", history)
        if source not in SOURCES:
            raise ConfigError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
        if max_steps is not None:
            max_steps = _positive_int("max_steps", max_steps)
        if env_kwargs is not None and not isinstance(env_kwargs, dict):
            raise ConfigError(f"env_kwargs must be a dict or None, got {env_kwargs!r}")
        self.grayscale = bool(grayscale)
        self.autoreset = autoreset
        gym = _import_gymnasium()
        self.env_id = _check_env_id(gym, env_id)
        self._kwargs: dict = dict(env_kwargs or {})    # the environment's own arguments
        self._make_kw: dict = {}                        # gym.make's (max_episode_steps)
        probe = self._make(gym)
        try:
            self._set_actions(gym, probe, actions)
            self._set_max_steps(probe, max_steps)
            image = self._set_source(probe, source)
        finally:
            probe.close()
        # A throwaway copy with the final settings tells the frame size and the info layout.
        probe = self._make(gym)
        try:
            k, goal_found = self._inspect(probe, image)
        finally:
            probe.close()
        self._build_copies(gym, k, goal_found)

    # ----------------------------------------------------------------------------- building
    def _make(self, gym):
        try:
            return gym.make(self.env_id, disable_env_checker=True, **self._make_kw,
                            **self._kwargs)
        except TypeError as exc:
            raise ConfigError(f"{self.env_id} does not accept the arguments {self._kwargs!r}: "
                              f"{exc}") from exc

    def _set_actions(self, gym, probe, actions) -> None:
        """Check ``actions`` against the environment's ``Discrete(n)``; set the exposed ones."""
        space = probe.action_space
        if not isinstance(space, gym.spaces.Discrete):
            raise ConfigError(f"{self.env_id} has the action space {space}; only Discrete(n) "
                              "action spaces are supported")
        n_env_actions = int(space.n)
        start = int(space.start)
        if actions is None:
            actions = tuple(range(n_env_actions))
        if not isinstance(actions, (tuple, list)) or not actions or any(
                not is_int(a) or not 0 <= a < n_env_actions for a in actions):
            raise ConfigError(f"actions must be a non-empty tuple of {self.env_id}'s action "
                              f"indices in [0, {n_env_actions}), got {actions!r}")
        self.actions = tuple(int(a) for a in actions)
        self.n_actions = len(self.actions)
        self._env_actions = [np.int64(a + start) for a in self.actions]
        self.action_names = _action_names(probe.unwrapped, self.actions)

    def _set_max_steps(self, probe, max_steps: int | None) -> None:
        if max_steps is not None:
            if hasattr(probe.unwrapped, "max_steps"):
                self._kwargs["max_steps"] = max_steps
            else:
                self._make_kw["max_episode_steps"] = max_steps
        self.max_steps = max_steps

    def _set_source(self, probe, source: str):
        """Choose where frames come from; returns the observation's image (kind, Box) or None."""
        env_id, space = self.env_id, probe.observation_space
        image = image_space(space, probe.unwrapped)
        render_modes = list((probe.metadata or {}).get("render_modes", ()))
        render_ok = "rgb_array" in render_modes
        if source == "obs" and image is None:
            raise ConfigError(f"{env_id} has no image observation (its observation space is "
                              f"{space}); source='obs' needs a Box of shape "
                              "(H, W) or (H, W, C), or a Dict with an 'image' Box; use "
                              "source='render' or 'auto'")
        if source == "render" and not render_ok:
            raise ConfigError(f"{env_id} has no rgb_array render (its render modes: "
                              f"{render_modes}); source='render' needs one; use source='obs' "
                              "or 'auto'")
        if image is None and not render_ok:
            raise ConfigError(f"{env_id} has no image observation (its observation space is "
                              f"{space}) and no rgb_array render (its "
                              f"render modes: {render_modes}); GymVectorEnv needs a Box "
                              "image (H, W) or (H, W, C), a Dict with an 'image' Box, or "
                              "render_mode='rgb_array'")
        self.source = "render" if source == "render" or image is None else "obs"
        if self.source == "render":
            self._kwargs["render_mode"] = "rgb_array"
            return None
        return image

    def _inspect(self, probe, image) -> tuple[int, bool]:
        """Read one frame and one ``info`` of ``probe``: set up the frame source and scaler;
        returns the width of ``info["state"]`` and whether a MiniGrid goal was found."""
        self._minigrid = is_minigrid(probe.unwrapped)
        kind, box = image if image is not None else ("render", None)
        self._frame_source = FrameSource(
            kind, box, symbolic=self._minigrid and is_symbolic(box, probe.unwrapped),
            layout=tuple(int(v) for v in probe.unwrapped.frame_layout)
            if kind == "layout" else None)
        obs, info = probe.reset(seed=0)
        raw = self._frame_source.raw(probe, obs)
        if raw is None or raw.ndim != 3:
            raise ConfigError(f"{self.env_id} gave the frame {type(raw).__name__} "
                              f"{getattr(raw, 'shape', '')}; GymVectorEnv needs an image "
                              "(H, W) or (H, W, C)")
        self._scaler = FrameScaler(self.env_id, self._frame_source, raw,
                                   frame_size=self.frame_size, grayscale=self.grayscale)
        self.scaling = self._scaler.scaling
        self.frame_shape = self._scaler.frame_shape
        self.channels = self._scaler.channels
        if self._minigrid:
            tracker = MiniGridTracker(frozenset(), True)
            tracker.on_reset(probe.unwrapped)
            goal_found = tracker.goal is not None
            self._info_source = "minigrid"
            return (5 if goal_found else 3), goal_found
        if isinstance(info.get("state"), np.ndarray) and np.ndim(info["state"]) == 1:
            self._info_source = "info"
            return int(np.size(info["state"])), False
        self._info_source = "none"
        return 0, False

    def _build_copies(self, gym, k: int, goal_found: bool) -> None:
        """The ``num_envs`` copies, their trackers and the observation and info buffers."""
        f, n = self.frame_size, self.num_envs
        self.obs_shape = (self.history, self.channels, f, f)
        self.obs_dim = int(np.prod(self.obs_shape))
        self._envs = [self._make(gym) for _ in range(n)]
        moves = frozenset(self.actions) & {0, 1, 2}
        self._trackers = [MiniGridTracker(moves, goal_found) for _ in range(n)] \
            if self._minigrid else None
        self._rngs: list[np.random.Generator] | None = None
        self._obs = np.zeros((n, self.history, self.channels * f * f), np.float32)
        self._state = np.zeros((n, k), np.float32)
        self._optimal = np.full(n, np.nan, np.float32)
        self._started = False

    # ----------------------------------------------------------------------------- dynamics
    def _reset_copy(self, i: int) -> np.ndarray:
        env = self._envs[i]
        obs, info = env.reset(seed=int(self._rngs[i].integers(SEED_BOUND)))
        if self._trackers is not None:
            self._trackers[i].on_reset(env.unwrapped)
        self._update_info(i, info)
        return self._frame_source.raw(env, obs)

    def _update_info(self, i: int, info: dict) -> None:
        if self._info_source == "minigrid":
            env, tracker = self._envs[i].unwrapped, self._trackers[i]
            self._state[i] = tracker.state(env)
            self._optimal[i] = tracker.optimal_return(env)
        elif self._info_source == "info":
            if "state" in info:
                self._state[i] = np.asarray(info["state"], np.float32)
            self._optimal[i] = float(info.get("optimal_return", np.nan))

    def _info(self) -> dict[str, np.ndarray]:
        return {"state": self._state.copy(), "optimal_return": self._optimal.copy()}

    def _flat_obs(self) -> np.ndarray:
        return self._obs.reshape(self.num_envs, self.obs_dim).copy()

    def reset(self, *, seed: int | list[int] | None = None):
        """Reset every copy. Returns obs (num_envs, obs_dim) and info (arrays per copy)."""
        self._seed(seed)
        raw = [self._reset_copy(i) for i in range(self.num_envs)]
        self._obs[:] = self._scaler(raw)[:, None, :]
        self._started = True
        return self._flat_obs(), self._info()

    def step(self, actions: np.ndarray):
        """Step every copy with ``actions`` (num_envs,) ints in [0, n_actions).

        Returns obs (N, obs_dim), reward (N,), terminated (N,), truncated (N,), info.
        """
        if not self._started:
            raise ConfigError("call reset() before step()")
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,) or actions.dtype.kind not in "iu" \
                or actions.min() < 0 or actions.max() >= self.n_actions:
            raise ConfigError(f"actions must be {self.num_envs} integers in [0, "
                              f"{self.n_actions}), got {actions!r}")
        n = self.num_envs
        reward = np.zeros(n)
        terminated = np.zeros(n, bool)
        truncated = np.zeros(n, bool)
        raw = []
        for i, env in enumerate(self._envs):
            obs, r, term, trunc, info = env.step(self._env_actions[actions[i]])
            reward[i], terminated[i], truncated[i] = float(r), bool(term), bool(trunc)
            self._update_info(i, info)
            raw.append(self._frame_source.raw(env, obs))
        self._obs[:, :-1] = self._obs[:, 1:]
        self._obs[:, -1] = self._scaler(raw)
        info = self._info()
        info["success"] = terminated & (reward > 0)
        done = terminated | truncated
        if self.autoreset and done.any():
            info["final_obs"] = self._flat_obs()
            info["final_state"] = info["state"]
            rows = np.flatnonzero(done)
            self._obs[rows] = self._scaler([self._reset_copy(i) for i in rows])[:, None, :]
            fresh = self._info()
            info["state"], info["optimal_return"] = fresh["state"], fresh["optimal_return"]
        return self._flat_obs(), reward, terminated, truncated, info

    # ----------------------------------------------------------------------------- misc
    def describe(self) -> dict:
        """Settings and derived layout, for run records."""
        return {"env_id": self.env_id, "num_envs": self.num_envs,
                "frame_size": self.frame_size, "history": self.history,
                "grayscale": self.grayscale, "source": self.source, "scaling": self.scaling,
                "actions": list(self.actions), "action_names": list(self.action_names),
                "max_steps": self.max_steps, "frame_shape": list(self.frame_shape),
                "obs_shape": list(self.obs_shape), "obs_dim": self.obs_dim,
                "state_dim": int(self._state.shape[1])}

    def close(self) -> None:
        """Close every copy."""
        for env in self._envs:
            env.close()
