"""Any Gymnasium environment with image observations, behind :class:`VectorVideoGrid`'s API.

:class:`GymVectorEnv` steps ``num_envs`` copies of one Gymnasium environment and turns each
frame into the layout the project's grid uses, so the DQN trainer, the analysis and the
candidate layers work unchanged: observations are the last ``history`` frames (oldest
first), each ``C x frame_size x frame_size`` float32 values in [0, 1], flattened to
``obs_dim = history * C * frame_size * frame_size``; ``obs_shape = (history, C, frame_size,
frame_size)``. Copies whose episode ended are reset in the same call (``info["final_obs"]``).

Gymnasium and MiniGrid are optional (``pip install gymnasium minigrid``); they are imported
only when a :class:`GymVectorEnv` is built, never by ``import rl_rosetta_layer.envs``.

Where a frame comes from (``source``)
    ``"obs"``: the observation itself when it is an image: a ``Box`` of shape ``(H, W)`` or
    ``(H, W, C)`` (channel-last, any dtype), or a ``Dict`` with an ``"image"`` such Box
    (MiniGrid's symbolic 7x7x3 view). A 1-D ``Box`` counts as an image only when the
    environment declares its layout with a ``frame_layout = (history, C, H, W)`` attribute
    (the project's own ``rosetta/GridVideo-v0`` does; the newest of its frames is used).
    ``"render"``: the ``rgb_array`` frame of ``env.render()``. ``"auto"``: ``"obs"`` when the
    observation is an image, else ``"render"``.

How a frame becomes values in [0, 1] (the first rule that applies)
    1. MiniGrid's symbolic image (object, color, state indices; recognised as a 3-channel
       Box over the agent's view or the whole grid): each channel divided by the
       largest index of its table in ``minigrid.core.constants`` (``len(OBJECT_TO_IDX) - 1``,
       ``len(COLOR_TO_IDX) - 1``, ``len(STATE_TO_IDX) - 1``), then clipped to [0, 1] (only
       the agent-direction states 2-3 of ``FullyObsWrapper`` views saturate). MiniGrid
       indexes this view ``[x, y]``; it is transposed so that rows are y, as in renders and
       in the project's grid.
    2. ``uint8`` frames (and every ``rgb_array`` render): divided by 255.
    3. ``bool`` frames: 0 or 1.
    4. Observations whose Box bounds are all finite: ``(x - low) / (high - low)`` per element
       (0 where ``high == low``), clipped to [0, 1].
    5. Anything else (unbounded Boxes, non-uint8 renders), frame by frame: kept as is when it
       already lies in [0, 1], else ``(x - m) / (M - m)`` with ``m = min(0, frame.min())``
       and ``M = frame.max()`` (all zeros when ``M == m``). This rule loses the absolute
       scale between frames; it is recorded as ``"per_frame"`` in :meth:`describe`.

Resizing and colour
    Frames are resized to ``frame_size x frame_size`` by exact area averaging (each output
    pixel is the overlap-weighted mean of the input pixels its box covers), so sizes need not
    divide; when upsampling (e.g. MiniGrid's 7x7 view to 8x8) neighbouring cells blend at
    the seams, so ``frame_size=7`` keeps MiniGrid's symbolic cells intact. With ``grayscale``
    a 3- or 4-channel image becomes ``0.299 R + 0.587 G + 0.114 B`` (alpha ignored); any
    other channel count (MiniGrid's symbolic one included) becomes the channel mean.

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
from .copies import SeededCopies

SOURCES = ("auto", "obs", "render")
#: Reset seeds are drawn from each copy's generator in [0, SEED_BOUND).
SEED_BOUND = 2**31 - 1
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
LIST_IDS = 'python -c "import gymnasium, minigrid; print(sorted(gymnasium.envs.registry))"'


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of exact area resampling along one axis; rows sum to 1.

    >>> (3 * area_weights(3, 2)).round(4).tolist()      # thirds of each input pixel
    [[2.0, 1.0, 0.0], [0.0, 1.0, 2.0]]
    """
    edges = np.arange(n_out + 1) * (n_in / n_out)
    cells = np.arange(n_in + 1, dtype=np.float64)
    overlap = np.minimum(edges[1:, None], cells[None, 1:]) \
        - np.maximum(edges[:-1, None], cells[None, :-1])
    w = np.clip(overlap, 0.0, None)
    return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)


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


def _image_space(space, unwrapped):
    """How the observation holds an image: ('image' | 'dict_image' | 'layout', Box) or None."""
    from gymnasium import spaces
    if isinstance(space, spaces.Dict) and "image" in space.spaces:
        sub = space.spaces["image"]
        if isinstance(sub, spaces.Box) and len(sub.shape) in (2, 3):
            return "dict_image", sub
        return None
    if not isinstance(space, spaces.Box):
        return None
    if len(space.shape) in (2, 3):
        return "image", space
    layout = getattr(unwrapped, "frame_layout", None)
    if len(space.shape) == 1 and layout is not None and len(layout) == 4 \
            and int(np.prod(layout)) == space.shape[0]:
        return "layout", space
    return None


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


def _is_symbolic(box, env) -> bool:
    """Whether a MiniGrid image Box holds (object, color, state) indices, not RGB pixels:
    3 channels over the agent's view or the whole grid."""
    if box is None or len(box.shape) != 3 or box.shape[2] != 3:
        return False
    view = getattr(env, "agent_view_size", None)
    return tuple(box.shape[:2]) in {(view, view), (env.width, env.height)}


def _is_minigrid(unwrapped) -> bool:
    try:
        from minigrid.minigrid_env import MiniGridEnv
    except ImportError:
        return False
    return isinstance(unwrapped, MiniGridEnv)


class _MiniGridTracker:
    """True state and shortest-path return of one MiniGrid copy (updated once per reset)."""

    SIMPLE = frozenset({"wall", "floor", "goal"})
    PASSABLE = frozenset({"floor", "goal"})

    def __init__(self, moves: frozenset[int], with_goal: bool) -> None:
        self.moves = moves                 # exposed env actions among 0 left, 1 right, 2 fwd
        self.with_goal = with_goal
        self.goal: tuple[int, int] | None = None
        self.dist: np.ndarray | None = None   # (width, height, 4) steps to a goal, -1 never

    def on_reset(self, env) -> None:
        from minigrid.minigrid_env import MiniGridEnv
        w, h = env.width, env.height
        goals, simple = [], True
        passable = np.zeros((w, h), bool)
        for idx, cell in enumerate(env.grid.grid):
            x, y = idx % w, idx // w
            if cell is None:
                passable[x, y] = True
                continue
            if cell.type == "goal":
                goals.append((x, y))
            simple &= cell.type in self.SIMPLE
            passable[x, y] = cell.type in self.PASSABLE
        self.goal = goals[0] if goals else None
        standard = type(env).step is MiniGridEnv.step and type(env)._reward is MiniGridEnv._reward
        self.dist = self._distances(passable, goals) if simple and goals and standard else None

    def _distances(self, passable: np.ndarray, goals: list) -> np.ndarray:
        """Breadth-first search backwards from the goals over (x, y, direction)."""
        from collections import deque

        from minigrid.core.constants import DIR_TO_VEC
        w, h = passable.shape
        dist = np.full((w, h, 4), -1, np.int64)
        queue = deque()
        for gx, gy in goals:
            dist[gx, gy, :] = 0
            queue.extend((gx, gy, d) for d in range(4))
        while queue:
            x, y, d = queue.popleft()
            k = dist[x, y, d] + 1
            before = []
            if 0 in self.moves and (x, y) not in goals:      # left: direction d+1 -> d
                before.append((x, y, (d + 1) % 4))
            if 1 in self.moves and (x, y) not in goals:      # right: direction d-1 -> d
                before.append((x, y, (d - 1) % 4))
            if 2 in self.moves:                              # forward: from the cell behind
                dx, dy = DIR_TO_VEC[d]
                px, py = x - int(dx), y - int(dy)
                if 0 <= px < w and 0 <= py < h and passable[px, py] \
                        and (px, py) not in goals:
                    before.append((px, py, d))
            for s in before:
                if dist[s] < 0:
                    dist[s] = k
                    queue.append(s)
        return dist

    def state(self, env) -> np.ndarray:
        sx, sy = env.width - 1, env.height - 1
        (x, y), d = env.agent_pos, env.agent_dir
        values = [x / sx, y / sy, d / 3.0]
        if self.with_goal:
            values += [self.goal[0] / sx, self.goal[1] / sy] if self.goal else [np.nan] * 2
        return np.asarray(values, np.float32)

    def optimal_return(self, env) -> float:
        if self.dist is None:
            return float("nan")
        (x, y), d = env.agent_pos, env.agent_dir
        steps = int(self.dist[int(x), int(y), int(d)])
        total = env.step_count + steps
        if steps < 0 or total > env.max_steps:
            return 0.0
        return 1.0 - 0.9 * total / env.max_steps


class GymVectorEnv(SeededCopies):
    """``num_envs`` copies of the Gymnasium environment ``env_id``, with VectorVideoGrid's API.

    Each copy draws its reset seeds from its own generator (``seed_with``; every reset asks
    Gymnasium for ``reset(seed=int(rng.integers(2**31 - 1)))``), so copy ``i`` behaves
    exactly like a one-copy env given the same generator. ``actions`` picks which of the
    environment's ``Discrete(n)`` actions are exposed, in order (default: all ``n``); the
    agent's action ``a`` is the environment's ``actions[a]``. See the module docstring for
    how frames are taken, scaled, resized and stacked, and for what ``info`` holds.

    >>> env = GymVectorEnv("MiniGrid-Empty-6x6-v0", 2, actions=(0, 1, 2))  # doctest: +SKIP
    >>> obs, info = env.reset(seed=0)                                       # doctest: +SKIP
    >>> obs.shape, info["state"].shape                                      # doctest: +SKIP
    ((2, 384), (2, 5))
    """

    def __init__(self, env_id: str, num_envs: int, *, frame_size: int = 8, history: int = 2,
                 grayscale: bool = False, source: str = "auto",
                 actions: tuple[int, ...] | None = None, max_steps: int | None = None,
                 env_kwargs: dict | None = None, autoreset: bool = True) -> None:
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
        kwargs = dict(env_kwargs or {})
        make_kw: dict = {}
        probe = self._make(gym, kwargs, make_kw)

        space = probe.action_space
        if not isinstance(space, gym.spaces.Discrete):
            probe.close()
            raise ConfigError(f"{env_id} has the action space {space}; only Discrete(n) "
                              "action spaces are supported")
        n_env_actions = int(space.n)
        start = int(space.start)
        if actions is None:
            actions = tuple(range(n_env_actions))
        if not isinstance(actions, (tuple, list)) or not actions or any(
                not is_int(a)
                or not 0 <= a < n_env_actions for a in actions):
            probe.close()
            raise ConfigError(f"actions must be a non-empty tuple of {env_id}'s action "
                              f"indices in [0, {n_env_actions}), got {actions!r}")
        self.actions = tuple(int(a) for a in actions)
        self.n_actions = len(self.actions)
        self._env_actions = [np.int64(a + start) for a in self.actions]
        self.action_names = _action_names(probe.unwrapped, self.actions)

        if max_steps is not None:
            if hasattr(probe.unwrapped, "max_steps"):
                kwargs["max_steps"] = max_steps
            else:
                make_kw["max_episode_steps"] = max_steps
        self.max_steps = max_steps

        image = _image_space(probe.observation_space, probe.unwrapped)
        render_modes = list((probe.metadata or {}).get("render_modes", ()))
        render_ok = "rgb_array" in render_modes
        if source == "obs" and image is None:
            probe.close()
            raise ConfigError(f"{env_id} has no image observation (its observation space is "
                              f"{probe.observation_space}); source='obs' needs a Box of shape "
                              "(H, W) or (H, W, C), or a Dict with an 'image' Box; use "
                              "source='render' or 'auto'")
        if source == "render" and not render_ok:
            probe.close()
            raise ConfigError(f"{env_id} has no rgb_array render (its render modes: "
                              f"{render_modes}); source='render' needs one; use source='obs' "
                              "or 'auto'")
        if image is None and not render_ok:
            probe.close()
            raise ConfigError(f"{env_id} has no image observation (its observation space is "
                              f"{probe.observation_space}) and no rgb_array render (its "
                              f"render modes: {render_modes}); GymVectorEnv needs a Box "
                              "image (H, W) or (H, W, C), a Dict with an 'image' Box, or "
                              "render_mode='rgb_array'")
        self.source = "render" if source == "render" or image is None else "obs"
        self._kind, self._box = image if self.source == "obs" else ("render", None)
        if self.source == "render":
            kwargs["render_mode"] = "rgb_array"
        probe.close()

        # A throwaway copy with the final settings tells the frame size and the info layout.
        probe = self._make(gym, kwargs, make_kw)
        self._minigrid = _is_minigrid(probe.unwrapped)
        self._symbolic = self._minigrid and _is_symbolic(self._box, probe.unwrapped)
        if self._kind == "layout":
            self._layout = tuple(int(v) for v in probe.unwrapped.frame_layout)
        obs, info = probe.reset(seed=0)
        raw = self._raw_frame(probe, obs)
        if raw is None or raw.ndim != 3:
            probe.close()
            raise ConfigError(f"{env_id} gave the frame {type(raw).__name__} "
                              f"{getattr(raw, 'shape', '')}; GymVectorEnv needs an image "
                              "(H, W) or (H, W, C)")
        self._setup_scaling(raw, probe)
        goal_found = False
        if self._minigrid:
            tracker = _MiniGridTracker(frozenset(), True)
            tracker.on_reset(probe.unwrapped)
            goal_found = tracker.goal is not None
            self._info_source, k = "minigrid", 5 if goal_found else 3
        elif isinstance(info.get("state"), np.ndarray) and np.ndim(info["state"]) == 1:
            self._info_source, k = "info", int(np.size(info["state"]))
        else:
            self._info_source, k = "none", 0
        probe.close()

        h, w, c = raw.shape
        self.channels = 1 if self.grayscale else c
        f = self.frame_size
        self.frame_shape = (h, w, c)
        self.obs_shape = (self.history, self.channels, f, f)
        self.obs_dim = int(np.prod(self.obs_shape))
        self._resize = None if (h, w) == (f, f) else (area_weights(h, f), area_weights(w, f).T)

        n = self.num_envs
        self._envs = [self._make(gym, kwargs, make_kw) for _ in range(n)]
        moves = frozenset(self.actions) & {0, 1, 2}
        self._trackers = [_MiniGridTracker(moves, goal_found) for _ in range(n)] \
            if self._minigrid else None
        self._rngs: list[np.random.Generator] | None = None
        self._obs = np.zeros((n, self.history, self.channels * f * f), np.float32)
        self._state = np.zeros((n, k), np.float32)
        self._optimal = np.full(n, np.nan, np.float32)
        self._started = False

    # ----------------------------------------------------------------------------- building
    def _make(self, gym, kwargs: dict, make_kw: dict):
        try:
            return gym.make(self.env_id, disable_env_checker=True, **make_kw, **kwargs)
        except TypeError as exc:
            raise ConfigError(f"{self.env_id} does not accept the arguments {kwargs!r}: "
                              f"{exc}") from exc

    def _raw_frame(self, env, obs) -> np.ndarray | None:
        """The image of one copy as an (H, W, C) array, before scaling."""
        if self._kind == "render":
            frame = env.render()
            if frame is None:
                return None
        elif self._kind == "dict_image":
            frame = obs["image"]
            if self._symbolic:          # MiniGrid indexes its view [x, y]: make rows y
                frame = np.swapaxes(frame, 0, 1)
        elif self._kind == "layout":
            return np.asarray(obs).reshape(self._layout)[-1].transpose(1, 2, 0)
        else:
            frame = obs if not self._symbolic else np.swapaxes(obs, 0, 1)
        frame = np.asarray(frame)
        return frame[:, :, None] if frame.ndim == 2 else frame

    def _setup_scaling(self, raw: np.ndarray, probe) -> None:
        self._low = self._span = None
        if self._symbolic:
            from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX
            self.scaling = "minigrid_symbolic"
            self._divisor = np.array([len(OBJECT_TO_IDX) - 1, len(COLOR_TO_IDX) - 1,
                                      len(STATE_TO_IDX) - 1], np.float32)
        elif raw.dtype == np.uint8:
            self.scaling = "uint8"
        elif raw.dtype == np.bool_:
            self.scaling = "bool"
        elif self._box is not None and np.isfinite(self._box.low).all() \
                and np.isfinite(self._box.high).all():
            self.scaling = "box_bounds"
            shape = self._layout if self._kind == "layout" else self._box.shape
            low = np.broadcast_to(self._box.low, self._box.shape).reshape(shape)
            high = np.broadcast_to(self._box.high, self._box.shape).reshape(shape)
            if self._kind == "layout":
                low, high = low[-1].transpose(1, 2, 0), high[-1].transpose(1, 2, 0)
            elif low.ndim == 2:
                low, high = low[:, :, None], high[:, :, None]
            span = (high - low).astype(np.float32)
            self._low = low.astype(np.float32)
            self._span = np.where(span > 0, span, np.inf).astype(np.float32)
        else:
            self.scaling = "per_frame"

    def _frames(self, raw: list[np.ndarray]) -> np.ndarray:
        """Scale, recolour and resize raw (H, W, C) frames: (len(raw), C' * F * F) float32."""
        try:
            x = np.stack(raw).astype(np.float32)
        except ValueError as exc:
            raise ConfigError(f"{self.env_id} changed its frame shape from {self.frame_shape} "
                              f"to {[r.shape for r in raw]}") from exc
        if x.shape[1:] != self.frame_shape:
            raise ConfigError(f"{self.env_id} changed its frame shape from {self.frame_shape} "
                              f"to {x.shape[1:]}")
        if self.scaling == "minigrid_symbolic":
            x = np.clip(x / self._divisor, 0.0, 1.0)
        elif self.scaling == "uint8":
            x *= np.float32(1 / 255)
        elif self.scaling == "box_bounds":
            x = np.clip((x - self._low) / self._span, 0.0, 1.0)
        elif self.scaling == "per_frame":
            lo = np.minimum(x.min(axis=(1, 2, 3), keepdims=True), 0.0)
            hi = x.max(axis=(1, 2, 3), keepdims=True)
            inside = (lo >= 0.0) & (hi <= 1.0)
            span = np.where(hi > lo, hi - lo, np.inf)
            x = np.where(inside, x, (x - lo) / span).astype(np.float32)
        if self.grayscale:
            c = x.shape[3]
            x = x[..., :3] @ LUMA[:, None] if c in (3, 4) and self.scaling != \
                "minigrid_symbolic" else x.mean(axis=3, keepdims=True)
        x = x.transpose(0, 3, 1, 2)                                   # (N, C, H, W)
        if self._resize is not None:
            rows, cols = self._resize
            x = rows @ x @ cols
        x = np.clip(x, 0.0, 1.0, dtype=np.float32)     # resampling rounds a hair past 1
        return x.reshape(len(raw), -1)

    # ----------------------------------------------------------------------------- dynamics
    def _reset_copy(self, i: int) -> np.ndarray:
        env = self._envs[i]
        obs, info = env.reset(seed=int(self._rngs[i].integers(SEED_BOUND)))
        if self._trackers is not None:
            self._trackers[i].on_reset(env.unwrapped)
        self._update_info(i, info)
        return self._raw_frame(env, obs)

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
        self._obs[:] = self._frames(raw)[:, None, :]
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
            raw.append(self._raw_frame(env, obs))
        self._obs[:, :-1] = self._obs[:, 1:]
        self._obs[:, -1] = self._frames(raw)
        info = self._info()
        info["success"] = terminated & (reward > 0)
        done = terminated | truncated
        if self.autoreset and done.any():
            info["final_obs"] = self._flat_obs()
            info["final_state"] = info["state"]
            rows = np.flatnonzero(done)
            self._obs[rows] = self._frames([self._reset_copy(i) for i in rows])[:, None, :]
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
