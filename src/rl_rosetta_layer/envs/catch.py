"""Catch with drift: a ball falls with a hidden sideways velocity; a paddle must be under it.

The ball starts in the top row (y = 0) at a uniformly random column with a sideways drift
of -1 or +1 (uniform; flipped when it heads into a wall), and each step falls one row and
drifts one column, bouncing off the side walls (see :mod:`.motion`). The paddle covers
``paddle_width`` cells (default 2) of the bottom row; it starts at a uniformly random
position and moves one cell per step: 0 stay, 1 left, 2 right (clipped at the walls).
Within a step the paddle moves first, then the ball. When the ball reaches the bottom row
the episode ends (terminated): ``catch_reward`` if the ball's cell is under the paddle, else
``miss_reward``; every other step gives 0. The landing column is
``bounce_path(x, drift, size - 1 - y)``: it depends on the drift, which one frame does not
show. Episodes last ``size - history`` agent steps (the ball made ``history - 1`` moves
before the first observation), unless ``max_steps`` truncates them earlier.

Observation (see :mod:`.motion`): channel 0 marks every paddle cell, channel 1 the ball.
``info["state"]``: (paddle's leftmost cell, ball x, ball y) scaled to [0, 1] by
``size - 1``, then the drift (the direction of the ball's next sideways move, -1 or +1):
(num_envs, 4) float32. ``info["optimal_return"]`` is exact: ``catch_reward`` when the
paddle can still get under the landing column in the moves left, else ``miss_reward``
(0 once the ball has landed or when truncation comes first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .grid import GridConfig
from .motion import (
    MAX_HISTORY,
    MAX_SIZE,
    MotionVectorEnv,
    SingleMotionEnv,
    bounce_path,
    bounce_step,
    check_float,
    check_int,
)
from .reference import latest_cells, paddle_towards

#: Paddle move of each action.
PADDLE_MOVES = np.array([0, -1, 1], dtype=np.int64)
ACTION_NAMES = ("stay", "left", "right")

__all__ = ["ACTION_NAMES", "CatchConfig", "CatchEnv", "PADDLE_MOVES", "VectorCatch"]


@dataclass(frozen=True)
class CatchConfig:
    """Settings of the catch task."""

    size: int = GridConfig.size
    """Side of the square grid, in cells (>= 3)."""
    history: int = GridConfig.history
    """Frames stacked in one observation, in [1, size - 1] (the ball falls during the
    first ``history - 1`` of them; velocity is visible only with >= 2)."""
    paddle_width: int = 2
    """Cells the paddle covers, in [1, size - 1]."""
    max_steps: int = 40
    """Steps after which an episode is truncated (>= 1); only matters below
    ``size - history``, the steps a ball takes to land."""
    catch_reward: float = 1.0
    """Reward when the ball lands on the paddle."""
    miss_reward: float = -1.0
    """Reward when the ball lands beside the paddle."""

    def __post_init__(self) -> None:
        check_int("catch", "size", self.size, 3, MAX_SIZE)
        check_int("catch", "history", self.history, 1, min(self.size - 1, MAX_HISTORY))
        check_int("catch", "paddle_width", self.paddle_width, 1, self.size - 1)
        check_int("catch", "max_steps", self.max_steps, 1)
        check_float("catch", "catch_reward", self.catch_reward)
        check_float("catch", "miss_reward", self.miss_reward)

    @property
    def frame_dim(self) -> int:
        return 2 * self.size * self.size

    @property
    def obs_dim(self) -> int:
        return self.history * self.frame_dim


class VectorCatch(MotionVectorEnv):
    """``num_envs`` copies of the catch task (see the module docstring).

    Arrays of the true state, one row per copy: ``paddle`` (N,) its leftmost cell;
    ``ball`` (N, 2) cell (x, y); ``drift`` (N,) the ball's next sideways move;
    ``steps`` (N,) steps taken.
    """

    config_class = CatchConfig
    n_actions = len(PADDLE_MOVES)

    def __init__(self, num_envs: int, config: CatchConfig | None = None, *,
                 autoreset: bool = True) -> None:
        super().__init__(num_envs, config or CatchConfig(), autoreset=autoreset)
        n = self.num_envs
        self.paddle = np.zeros(n, dtype=np.int64)
        self.ball = np.zeros((n, 2), dtype=np.int64)
        self.drift = np.zeros(n, dtype=np.int64)

    def _start(self, i: int) -> None:
        """Ball column, drift and paddle position, uniform; the ball in the top row."""
        c = self.config
        rng = self._rngs[i]
        x = int(rng.integers(c.size))
        drift = 2 * int(rng.integers(2)) - 1
        if not 0 <= x + drift <= c.size - 1:
            drift = -drift
        self.ball[i] = (x, 0)
        self.drift[i] = drift
        self.paddle[i] = int(rng.integers(c.size - c.paddle_width + 1))

    def _advance(self, rows: np.ndarray) -> None:
        x, drift = self.ball[rows, 0], self.drift[rows]
        bounce_step(x, drift, self.config.size)
        self.ball[rows, 0], self.drift[rows] = x, drift
        self.ball[rows, 1] += 1

    def _transition(self, actions: np.ndarray):
        c = self.config
        if (self.ball[:, 1] == c.size - 1).any():
            i = int(np.flatnonzero(self.ball[:, 1] == c.size - 1)[0])
            raise ConfigError(f"the ball of copy {i} has landed: call reset() before step()")
        self.paddle += PADDLE_MOVES[actions]
        np.clip(self.paddle, 0, c.size - c.paddle_width, out=self.paddle)
        self._advance(self._rows)
        landed = self.ball[:, 1] == c.size - 1
        under = (self.paddle <= self.ball[:, 0]) & (self.ball[:, 0] < self.paddle + c.paddle_width)
        caught = landed & under
        reward = np.where(caught, c.catch_reward, np.where(landed, c.miss_reward, 0.0))
        return reward, landed, caught

    def _paint(self, frames: np.ndarray, rows: np.ndarray) -> None:
        s = self.config.size
        bottom = (s - 1) * s
        for k in range(self.config.paddle_width):
            frames[rows, bottom + self.paddle[rows] + k] = 1.0
        frames[rows, s * s + self.ball[rows, 1] * s + self.ball[rows, 0]] = 1.0

    def state(self) -> np.ndarray:
        """(paddle, ball x, ball y) / (size - 1), then drift: (num_envs, 4) float32."""
        cells = np.concatenate([self.paddle[:, None], self.ball], axis=1) / (self.config.size - 1)
        return np.concatenate([cells, self.drift[:, None]], axis=1).astype(np.float32)

    def landing_column(self) -> np.ndarray:
        """Column where each ball will reach the bottom row: (num_envs,) int64."""
        fall = self.config.size - 1 - self.ball[:, 1]
        return bounce_path(self.ball[:, 0], self.drift, fall, self.config.size).astype(np.int64)

    def reference_actions(self) -> np.ndarray:
        """The optimal policy: move the paddle under the landing column: (num_envs,) int64."""
        return paddle_towards(self.paddle, self.landing_column(), self.config.paddle_width)

    def one_frame_actions(self, obs: np.ndarray) -> np.ndarray:
        """Head for the nearer of the two columns the ball of the newest frame of ``obs``
        can land in (drift -1 or +1; the drift is unseen): (num_envs,) int64."""
        c = self.config
        mover, target = latest_cells(self, obs)
        paddle, (x, y) = mover[:, 0], target.T
        fall = c.size - 1 - y
        candidates = np.stack([bounce_path(x, 1, fall, c.size),
                               bounce_path(x, -1, fall, c.size)], axis=1)  # (N, 2)
        right_end = paddle[:, None] + c.paddle_width - 1
        gap = np.maximum(0, np.maximum(paddle[:, None] - candidates, candidates - right_end))
        centre = paddle[:, None] + (c.paddle_width - 1) / 2
        # nearer candidate; ties broken by distance to the paddle's centre, then the left one
        key = gap * 4 * c.size + np.abs(candidates - centre) * 2 \
            + (candidates > candidates[:, ::-1])
        column = candidates[np.arange(self.num_envs), key.argmin(axis=1)]
        return paddle_towards(paddle, column, c.paddle_width)

    def optimal_return(self) -> np.ndarray:
        """``catch_reward`` where the paddle can reach the landing column in time, else
        ``miss_reward``; 0 once landed or when truncation comes first: (num_envs,) float32."""
        c = self.config
        fall = c.size - 1 - self.ball[:, 1]
        land = self.landing_column()
        right_end = self.paddle + c.paddle_width - 1
        gap = np.maximum(0, np.maximum(self.paddle - land, land - right_end))
        value = np.where(gap <= fall, c.catch_reward, c.miss_reward)
        value = np.where((fall == 0) | (fall > c.max_steps - self.steps), 0.0, value)
        return value.astype(np.float32)


class CatchEnv(SingleMotionEnv):
    """One catch copy with a Gymnasium-style API (no autoreset).

    >>> env = CatchEnv()
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, info["state"].shape
    ((256,), (4,))
    """

    vector_class = VectorCatch
