"""Moving goal: the grid's walk-to-the-goal task, but the goal moves at a hidden velocity.

Actions as in the grid: 0 stay, 1 up (y-1), 2 down (y+1), 3 left (x-1), 4 right (x+1),
clipped at the border. The goal moves one step per env step at a constant velocity
``(vx, vy)``, each component in {-1, 0, +1}, not both 0 (8 directions, drawn uniformly at
reset), and bounces off the walls (see :mod:`.motion`); a diagonal goal moves one cell along
each axis per step, so it can outrun the agent.

**Catching rule.** Within a step the agent moves first, then the goal. The goal is caught
when the two share a cell *after the agent's move* (the agent stepped onto the goal; the
goal then stays put) or *after the goal's move* (the goal ran into the agent). So they can
never swap cells through each other (an agent stepping onto the goal's cell catches it
before the goal leaves). They can pass diagonally without ever sharing a cell: that is no
catch. Reward ``goal_reward`` on the catching step (terminated), else ``step_reward``;
truncated after ``max_steps`` steps.

Observation (see :mod:`.motion`): ``history`` frames, channel 0 the agent, channel 1 the
goal; episodes start with the goal already moving. ``info["state"]``: (ax, ay, gx, gy)
scaled to [0, 1] by ``size - 1``, then the goal's velocity (vx, vy) in {-1, 0, +1} (the
direction of its next move): (num_envs, 6) float32. ``info["optimal_return"]`` is exact: the
earliest step the goal can be caught is found from its known future path
(:meth:`VectorMovingGoal.intercept`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .grid import ACTION_NAMES, MOVES, GridConfig
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
from .reference import latest_cells, walk_towards

#: The 8 goal velocities (vx, vy) a reset draws from, uniformly.
VELOCITIES = np.array([[vx, vy] for vx in (-1, 0, 1) for vy in (-1, 0, 1) if vx or vy],
                      dtype=np.int64)

__all__ = ["ACTION_NAMES", "MovingGoalConfig", "MovingGoalEnv", "VELOCITIES",
           "VectorMovingGoal"]


@dataclass(frozen=True)
class MovingGoalConfig:
    """Settings of the moving-goal task."""

    size: int = GridConfig.size
    """Side of the square grid, in cells (>= 2)."""
    history: int = GridConfig.history
    """Frames stacked in one observation (>= 1; velocity is visible only with >= 2)."""
    max_steps: int = 40
    """Steps after which an episode is truncated (>= 1)."""
    step_reward: float = -0.01
    """Reward of every step that does not catch the goal."""
    goal_reward: float = 1.0
    """Reward of the step that catches the goal."""

    def __post_init__(self) -> None:
        check_int("moving-goal", "size", self.size, 2, MAX_SIZE)
        check_int("moving-goal", "history", self.history, 1, MAX_HISTORY)
        check_int("moving-goal", "max_steps", self.max_steps, 1)
        check_float("moving-goal", "step_reward", self.step_reward)
        check_float("moving-goal", "goal_reward", self.goal_reward)

    @property
    def frame_dim(self) -> int:
        return 2 * self.size * self.size

    @property
    def obs_dim(self) -> int:
        return self.history * self.frame_dim


class VectorMovingGoal(MotionVectorEnv):
    """``num_envs`` copies of the moving-goal task (see the module docstring).

    Arrays of the true state, one row per copy: ``agent`` (N, 2) and ``goal`` (N, 2) cells
    (x, y); ``velocity`` (N, 2) the goal's next move; ``steps`` (N,) steps taken.
    """

    config_class = MovingGoalConfig
    n_actions = len(MOVES)

    def __init__(self, num_envs: int, config: MovingGoalConfig | None = None, *,
                 autoreset: bool = True) -> None:
        super().__init__(num_envs, config or MovingGoalConfig(), autoreset=autoreset)
        n = self.num_envs
        self.agent = np.zeros((n, 2), dtype=np.int64)
        self.goal = np.zeros((n, 2), dtype=np.int64)
        self.velocity = np.zeros((n, 2), dtype=np.int64)

    def _start(self, i: int) -> None:
        """Goal cell and velocity uniform (heading into a wall: flipped), then the agent
        uniform on the other cells of where the goal is after the ``history - 1`` moves."""
        s = self.config.size
        rng = self._rngs[i]
        g = int(rng.integers(s * s))
        self.goal[i] = (g % s, g // s)
        self.velocity[i] = VELOCITIES[int(rng.integers(len(VELOCITIES)))]
        away = (self.goal[i] + self.velocity[i] < 0) | (self.goal[i] + self.velocity[i] > s - 1)
        self.velocity[i, away] *= -1
        now = bounce_path(self.goal[i], self.velocity[i], self.config.history - 1, s)
        g_now = int(now[1] * s + now[0])
        a = int(rng.integers(s * s - 1))
        a += a >= g_now
        self.agent[i] = (a % s, a // s)

    def _advance(self, rows: np.ndarray) -> None:
        pos, vel = self.goal[rows], self.velocity[rows]
        bounce_step(pos, vel, self.config.size)
        self.goal[rows], self.velocity[rows] = pos, vel

    def _transition(self, actions: np.ndarray):
        c = self.config
        self.agent += MOVES[actions]
        np.clip(self.agent, 0, c.size - 1, out=self.agent)
        caught = (self.agent == self.goal).all(axis=1)
        self._advance(np.flatnonzero(~caught))
        caught |= (self.agent == self.goal).all(axis=1)
        reward = np.where(caught, c.goal_reward, c.step_reward)
        return reward, caught, caught.copy()

    def _paint(self, frames: np.ndarray, rows: np.ndarray) -> None:
        s = self.config.size
        frames[rows, self.agent[rows, 1] * s + self.agent[rows, 0]] = 1.0
        frames[rows, s * s + self.goal[rows, 1] * s + self.goal[rows, 0]] = 1.0

    def state(self) -> np.ndarray:
        """(ax, ay, gx, gy) / (size - 1), then (vx, vy): (num_envs, 6) float32."""
        cells = np.concatenate([self.agent, self.goal], axis=1) / (self.config.size - 1)
        return np.concatenate([cells, self.velocity], axis=1).astype(np.float32)

    def intercept(self) -> tuple[np.ndarray, np.ndarray]:
        """Earliest catch from the current state, with the goal's known future path.

        Returns ``steps`` (N,) int64, the number of steps of the earliest possible catch
        (0 where the goal is already caught, -1 where it cannot be caught before
        truncation), and ``target`` (N, 2) int64, the cell to walk to for it (any shortest
        walk there catches the goal at step ``steps``; the current goal cell where
        ``steps`` is 0 or -1). The agent can be on the goal's cell after ``j`` moves when
        their Manhattan distance is at most ``j`` (it may wait), so step ``j`` catches the
        goal where ``|agent - g_(j-1)| <= j`` (on the agent's move) or ``|agent - g_j| <= j``
        (on the goal's), ``g_j`` being the goal's cell after ``j`` more moves.
        """
        c = self.config
        n = self.num_envs
        j = np.arange(c.max_steps + 1)
        path = bounce_path(self.goal[:, None, :], self.velocity[:, None, :], j[None, :, None],
                           c.size)                                    # (N, K + 1, 2)
        dist = np.abs(path - self.agent[:, None, :]).sum(axis=2)       # (N, K + 1)
        left = c.max_steps - self.steps
        live = j[None, 1:] <= left[:, None]
        on_agent_move = (dist[:, :-1] <= j[None, 1:]) & live           # (N, K): j = 1..K
        on_goal_move = (dist[:, 1:] <= j[None, 1:]) & live
        either = on_agent_move | on_goal_move
        found = either.any(axis=1)
        first = either.argmax(axis=1)                                  # index of j - 1
        rows = np.arange(n)
        before = on_agent_move[rows, first]
        target = np.where(before[:, None], path[rows, first], path[rows, first + 1])
        steps = np.where(found, first + 1, -1)
        done = (self.agent == self.goal).all(axis=1)
        steps[done] = 0
        target[done | ~found] = self.goal[done | ~found]
        return steps.astype(np.int64), target.astype(np.int64)

    def reference_actions(self) -> np.ndarray:
        """The optimal policy: walk to the earliest possible catch (:meth:`intercept`):
        (num_envs,) int64."""
        _, target = self.intercept()
        return walk_towards(self.agent, target)

    def one_frame_actions(self, obs: np.ndarray) -> np.ndarray:
        """Walk towards the goal's cell in the newest frame of ``obs`` (its velocity unseen):
        (num_envs,) int64."""
        return walk_towards(*latest_cells(self, obs))

    def optimal_return(self) -> np.ndarray:
        """Undiscounted return of the earliest catch (0 once caught; ``step_reward`` times
        the steps left when the goal cannot be caught in time): (num_envs,) float32."""
        c = self.config
        steps, _ = self.intercept()
        left = c.max_steps - self.steps
        value = np.where(steps > 0, c.goal_reward + c.step_reward * (steps - 1),
                         np.where(steps == 0, 0.0, c.step_reward * left))
        return value.astype(np.float32)


class MovingGoalEnv(SingleMotionEnv):
    """One moving-goal copy with a Gymnasium-style API (no autoreset).

    >>> env = MovingGoalEnv()
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, info["state"].shape
    ((256,), (6,))
    """

    vector_class = VectorMovingGoal
