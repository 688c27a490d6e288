"""The seed's video-like grid: an agent walks to a fixed goal; frames are one-hot maps.

Observation: the last ``history`` frames, oldest first, each frame 2 channels (agent map,
goal map) of ``size x size``, flattened to ``history * 2 * size * size`` float32 values.
Actions: 0 stay, 1 up (y-1), 2 down (y+1), 3 left (x-1), 4 right (x+1), clipped at the border.
Reward ``goal_reward`` when the agent lands on the goal (terminated), else ``step_reward``;
episodes are truncated after ``max_steps`` steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import is_int
from ..errors import ConfigError
from .copies import SeededCopies, SingleCopy
from .motion import MAX_HISTORY, MAX_SIZE, check_int
from .reference import latest_cells, walk_towards

#: (dx, dy) of each action.
MOVES = np.array([[0, 0], [0, -1], [0, 1], [-1, 0], [1, 0]], dtype=np.int64)
ACTION_NAMES = ("stay", "up", "down", "left", "right")


@dataclass(frozen=True)
class GridConfig:
    """Settings of the video-like grid (defaults are the prototype's)."""

    size: int = 8
    """Side of the square grid, in cells."""
    history: int = 2
    """Frames stacked in one observation."""
    max_steps: int = 60
    """Steps after which an episode is truncated."""
    step_reward: float = -0.01
    """Reward of every step that does not reach the goal."""
    goal_reward: float = 1.0
    """Reward of the step that reaches the goal."""

    def __post_init__(self) -> None:
        check_int("grid", "size", self.size, 2, MAX_SIZE)
        check_int("grid", "history", self.history, 1, MAX_HISTORY)
        check_int("grid", "max_steps", self.max_steps, 1)

    @property
    def frame_dim(self) -> int:
        return 2 * self.size * self.size

    @property
    def obs_dim(self) -> int:
        return self.history * self.frame_dim

    def path_return(self, steps):
        """Return of an episode that reaches the goal after ``steps`` >= 1 steps (an int or
        an array of them, same shape out): ``goal_reward + step_reward * (steps - 1)``."""
        return self.goal_reward + self.step_reward * (steps - 1)

    def start_distances(self) -> np.ndarray:
        """Shortest-path length (Manhattan distance) of every start ``reset`` can draw, the
        ordered (agent, goal) pairs of distinct cells, all equally likely:
        (cells * (cells - 1),) int64, with cells = size * size.

        >>> GridConfig(size=2).start_distances().tolist()
        [1, 1, 2, 1, 2, 1, 1, 2, 1, 2, 1, 1]
        """
        cells = np.arange(self.size * self.size)
        xy = np.stack([cells % self.size, cells // self.size], axis=1)
        d = np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2)
        return d[~np.eye(len(cells), dtype=bool)]

    def describe(self) -> dict:
        """JSON-ready settings of the grid and what they imply: ``n_actions``, ``obs_dim``,
        the mean and best shortest-path return over the starts ``reset`` draws
        (``optimal_return_mean``, ``optimal_return_max``) and the mean shortest path."""
        d = self.start_distances()
        optimal = self.path_return(d)
        return {"name": "grid", "size": self.size, "history": self.history,
                "max_steps": self.max_steps, "step_reward": self.step_reward,
                "goal_reward": self.goal_reward, "n_actions": int(len(MOVES)),
                "obs_dim": self.obs_dim, "optimal_return_mean": float(optimal.mean()),
                "optimal_return_max": float(optimal.max()),
                "shortest_path_mean": float(d.mean())}


class VectorVideoGrid(SeededCopies):
    """``num_envs`` independent copies of the grid stepped at once.

    Each copy draws from its own generator, so copy ``i`` behaves exactly like a single
    grid seeded the same way, whatever the other copies do. With ``autoreset`` a copy whose
    episode ended is reset in the same call; its last observation and info are returned in
    ``info["final_obs"]`` / ``info["final_state"]`` (rows valid where ``done``).
    """

    config_class = GridConfig
    n_actions = len(MOVES)
    #: Frames are the two one-hot maps (agent, goal) that ``structured_mid`` reads.
    maps = True

    def __init__(self, num_envs: int, config: GridConfig | None = None, *,
                 autoreset: bool = True) -> None:
        if not is_int(num_envs) or num_envs < 1:
            raise ConfigError(f"num_envs must be a positive integer, got {num_envs!r}")
        self.config = config or GridConfig()
        self.num_envs = int(num_envs)
        self.autoreset = autoreset
        c = self.config
        self.obs_dim = c.obs_dim
        self.obs_shape = (c.history, 2, c.size, c.size)
        self._rngs: list[np.random.Generator] | None = None
        n = self.num_envs
        self.agent = np.zeros((n, 2), dtype=np.int64)
        self.goal = np.zeros((n, 2), dtype=np.int64)
        self.steps = np.zeros(n, dtype=np.int64)
        self._obs = np.zeros((n, c.history, c.frame_dim), dtype=np.float32)
        self._rows = np.arange(n)

    # ----------------------------------------------------------------------------- dynamics
    def _place(self, i: int) -> None:
        """Draw agent and goal of copy ``i`` uniformly on distinct cells."""
        cells = self.config.size * self.config.size
        rng = self._rngs[i]
        a = int(rng.integers(cells))
        g = int(rng.integers(cells - 1))
        g += g >= a
        s = self.config.size
        self.agent[i] = (a % s, a // s)
        self.goal[i] = (g % s, g // s)
        self.steps[i] = 0

    def _draw_newest(self, rows: np.ndarray) -> None:
        """Write the current one-hot frame of copies ``rows`` into the newest history slot."""
        s = self.config.size
        newest = self._obs[:, -1]
        newest[rows] = 0.0
        newest[rows, self.agent[rows, 1] * s + self.agent[rows, 0]] = 1.0
        newest[rows, s * s + self.goal[rows, 1] * s + self.goal[rows, 0]] = 1.0

    def state(self) -> np.ndarray:
        """True state (ax, ay, gx, gy) scaled to [0, 1]: (num_envs, 4) float32."""
        return (np.concatenate([self.agent, self.goal], axis=1)
                / (self.config.size - 1)).astype(np.float32)

    def optimal_return(self) -> np.ndarray:
        """Undiscounted return of the shortest path from the current state: (num_envs,)."""
        d = np.abs(self.agent - self.goal).sum(axis=1)
        return np.where(d > 0, self.config.path_return(d), 0.0).astype(np.float32)

    def reference_actions(self) -> np.ndarray:
        """The optimal policy: a step along a shortest walk to the goal: (num_envs,) int64."""
        return walk_towards(self.agent, self.goal)

    def one_frame_actions(self, obs: np.ndarray) -> np.ndarray:
        """The same walk, read off the newest frame of ``obs``: (num_envs,) int64."""
        return walk_towards(*latest_cells(self, obs))

    def _info(self) -> dict[str, np.ndarray]:
        return {"state": self.state(), "optimal_return": self.optimal_return()}

    def _flat_obs(self) -> np.ndarray:
        return self._obs.reshape(self.num_envs, self.obs_dim).copy()

    def reset(self, *, seed: int | list[int] | None = None):
        """Reset every copy. Returns obs (num_envs, obs_dim) and info (arrays per copy)."""
        self._seed(seed)
        for i in range(self.num_envs):
            self._place(i)
        self._draw_newest(self._rows)
        self._obs[:, :-1] = self._obs[:, -1:]
        return self._flat_obs(), self._info()

    def step(self, actions: np.ndarray):
        """Step every copy with ``actions`` (num_envs,) ints in [0, 5).

        Returns obs (N, obs_dim), reward (N,), terminated (N,), truncated (N,), info.
        """
        if self._rngs is None:
            raise ConfigError("call reset() before step()")
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,) or actions.dtype.kind not in "iu" \
                or actions.min() < 0 or actions.max() >= self.n_actions:
            raise ConfigError(f"actions must be {self.num_envs} integers in [0, "
                              f"{self.n_actions}), got {actions!r}")
        c = self.config
        self.agent += MOVES[actions]
        np.maximum(self.agent, 0, out=self.agent)
        np.minimum(self.agent, c.size - 1, out=self.agent)
        self.steps += 1
        terminated = (self.agent == self.goal).all(axis=1)
        truncated = ~terminated & (self.steps >= c.max_steps)
        reward = np.where(terminated, c.goal_reward, c.step_reward)
        self._obs[:, :-1] = self._obs[:, 1:]
        self._draw_newest(self._rows)
        info = self._info()
        info["success"] = terminated.copy()
        done = terminated | truncated
        if self.autoreset and done.any():
            info["final_obs"] = self._flat_obs()
            info["final_state"] = info["state"].copy()
            for i in np.flatnonzero(done):
                self._place(i)
            rows = np.flatnonzero(done)
            self._draw_newest(rows)
            self._obs[rows, :-1] = self._obs[rows, -1:]
            fresh = self._info()
            info["state"], info["optimal_return"] = fresh["state"], fresh["optimal_return"]
        return self._flat_obs(), reward, terminated, truncated, info


class VideoGridEnv(SingleCopy):
    """One grid with a Gymnasium-style API (no autoreset).

    >>> env = VideoGridEnv()
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, info["state"].shape
    ((256,), (4,))
    >>> obs, reward, terminated, truncated, info = env.step(0)
    >>> float(reward), bool(terminated)
    (-0.01, False)
    """

    vector_class = VectorVideoGrid

    def __init__(self, config: GridConfig | None = None) -> None:
        super().__init__(config)

    def shortest_path_action(self) -> int:
        """The reference policy: an action that reduces the distance to the goal."""
        (ax, ay), (gx, gy) = self._vec.agent[0], self._vec.goal[0]
        if ax != gx:
            return 4 if gx > ax else 3
        if ay != gy:
            return 2 if gy > ay else 1
        return 0
